#!/bin/bash
# The region of an aws-kms slot that configures none (no "region", no
# AWS_REGION/AWS_DEFAULT_REGION, no profile region): looked up in instance
# metadata (IMDSv2: token PUT, then placement/region) by the first call
# that needs it, never at C_Initialize or C_GetTokenInfo; and the clear
# error when instance metadata is off too.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup
hw_kms_ec_key region-ec

unset AWS_REGION AWS_DEFAULT_REGION
export HWAGG_LOG=info
hw_write_conf '{"name":"'"$TOKEN"'","type":"aws-kms","pin":"'"$PIN"'"}'
imds=$(hw_kms_stat '.get("imds", 0)') reqs=$(hw_kms_stat '["requests"]')
hw_run "list slots and tokens" pkcs11-tool --module "$MODULE" -L
hw_expect "token present" "token label *: *$TOKEN" "$TMP/run.out"
[ "$(hw_kms_stat '.get("imds", 0)')" = "$imds" ] && [ "$(hw_kms_stat '["requests"]')" = "$reqs" ] ||
	hw_fail "C_Initialize or C_GetTokenInfo went to the network"
hw_expect "region deferred" 'region from instance metadata on first use' "$TMP/run.err"
hw_pass "no region configured: C_Initialize and C_GetTokenInfo send nothing, the token is present"

hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/sig" --signature-format openssl
hw_expect "region logged" "region $HW_KMS_REGION \\(from instance metadata\\)" "$TMP/run.err"
hw_verify "region from instance metadata" "$TMP/pub.pem" "$TMP/data" "$TMP/sig"
[ "$(hw_kms_stat '.get("imds", 0)')" -ge $((imds + 2)) ] || hw_fail "instance metadata was not asked for the region"
hw_pass "the first call takes the region from IMDSv2 (token, placement/region) and signs there"

export AWS_EC2_METADATA_DISABLED=true
reqs=$(hw_kms_stat '["requests"]')
hw_run_fails "no region anywhere" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 01 -i "$TMP/data" -o "$TMP/x"
hw_expect "no region logged" 'configuration error NoRegion.*no region: set the slot.s "region", AWS_REGION or the profile.s region' "$TMP/run.err"
[ "$(hw_kms_stat '["requests"]')" = "$reqs" ] || hw_fail "a request went to KMS without a region"
hw_pass "no region and no instance metadata: the call fails with a log line saying how to set one, nothing sent to KMS"
