#!/bin/bash
# HMAC keys in Cloud KMS on the loopback fake: C_GenerateKey of a
# CKK_SHA256_HMAC key makes a crypto key of purpose MAC (HMAC_SHA256);
# CKM_SHA256_HMAC in one call and in three parts is macSign (data and MAC
# with their CRC32C) and equals the HMAC-SHA-256 the fake computes from the
# key bytes it holds; C_Verify is macVerify: the MAC verifies, a changed one
# is CKR_SIGNATURE_INVALID; more than 64 KiB is CKR_DATA_LEN_RANGE; a new
# process lists the key as a CKO_SECRET_KEY that never leaves Cloud KMS.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=gcp-kms
hw_setup
hw_sk_client

hw_run "generate an HMAC-SHA-256 key" sk keygen gmac sha256 32
hw_expect "C_GenerateKey" '^CKR_OK$' "$TMP/run.out"
hw_gcp_stat '["last"]["CreateCryptoKey"]["body"]' >"$TMP/create.json"
hw_expect "purpose MAC" '"purpose": ?"MAC"' "$TMP/create.json"
hw_expect "HMAC_SHA256" '"algorithm": ?"HMAC_SHA256"' "$TMP/create.json"
hw_run "attributes (fresh process)" sk attrs gmac
# CKO_SECRET_KEY = 4, CKK_SHA256_HMAC = 0x2b = 43
hw_expect "secret key" '^class 4 type 43 len 32 sign 1 verify 1 sensitive 1 extractable 0 never_extractable 1 value CKR_ATTRIBUTE_SENSITIVE uri projects/.*/cryptoKeyVersions/1$' "$TMP/run.out"
version=$(sed -n 's/.* uri //p' "$TMP/run.out")
hw_pass "HMAC_SHA256 crypto key (purpose MAC) made; a new process lists it as CKO_SECRET_KEY, sensitive, never extractable"

head -c 5000 /dev/urandom >"$TMP/data"
want=$(hw_kms_ctl /_mac '{"name":"'"$version"'","data":"'"$(base64 -w0 "$TMP/data")"'"}' |
	python3 -c 'import sys,json,base64; print(base64.b64decode(json.load(sys.stdin)["mac"]).hex())')
[ ${#want} = 64 ] || hw_fail "the fake gave no MAC"
crc_before=$(hw_gcp_stat '["crc_checked"]')
hw_mac_checks gmac "$TMP/data" "$want" MacSign MacVerify
[ "$(hw_gcp_stat '["crc_checked"]')" -ge $((crc_before + 6)) ] || hw_fail "requests went without their CRC32C"
hw_pass "CKM_SHA256_HMAC (5000 bytes, one call, three parts) equals HMAC-SHA-256 under the key Cloud KMS holds; macVerify accepts it, a changed MAC is CKR_SIGNATURE_INVALID"

head -c 65537 /dev/urandom >"$TMP/over"
before=$(hw_gcp_stat '["by_op"]["MacSign"]')
hw_run "sign 64 KiB + 1" sk sign gmac sha256-hmac "$TMP/over"
[ "$(tr '\n' ' ' <"$TMP/run.out")" = "CKR_DATA_LEN_RANGE multi CKR_DATA_LEN_RANGE " ] ||
	hw_fail "64 KiB + 1: $(cat "$TMP/run.out")"
[ "$(hw_gcp_stat '["by_op"]["MacSign"]')" = "$before" ] || hw_fail "64 KiB + 1 reached Cloud KMS"
hw_run "a generic secret" sk keygen ggen generic 32
hw_expect "generic refused" '^CKR_TEMPLATE_INCONSISTENT$' "$TMP/run.out"
hw_pass "more than 64 KiB is CKR_DATA_LEN_RANGE without a request; a CKK_GENERIC_SECRET template is refused"
