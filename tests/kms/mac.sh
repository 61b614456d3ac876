#!/bin/bash
# HMAC keys in AWS KMS on the loopback fake: C_GenerateKey makes an
# HMAC_256 key (GENERATE_VERIFY_MAC); C_Sign with CKM_SHA256_HMAC (one call
# and three parts) gives exactly the HMAC-SHA-256 the fake computes from the
# key bytes it holds; C_Verify accepts it and refuses a changed MAC with
# CKR_SIGNATURE_INVALID; _GENERAL truncates; more than 4096 bytes is
# CKR_DATA_LEN_RANGE; a new process lists the key as a CKO_SECRET_KEY that
# never leaves KMS; a length KMS has no spec for is refused.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup
hw_sk_client

hw_run "generate an HMAC-SHA-256 key" sk keygen mac256 sha256 32
hw_expect "C_GenerateKey" '^CKR_OK$' "$TMP/run.out"
[ "$(hw_kms_stat '["by_op"]["CreateKey"]')" = 1 ] || hw_fail "expected one CreateKey"

# a new process finds it by its tags, as a secret key KMS holds
hw_run "attributes (fresh process)" sk attrs mac256
# CKO_SECRET_KEY = 4, CKK_SHA256_HMAC = 0x2b = 43
hw_expect "secret key" '^class 4 type 43 len 32 sign 1 verify 1 sensitive 1 extractable 0 never_extractable 1 value CKR_ATTRIBUTE_SENSITIVE uri arn:aws:kms:' "$TMP/run.out"
arn=$(sed -n 's/.* uri //p' "$TMP/run.out")
hw_pass "HMAC_256 key made in KMS; a new process lists it as CKO_SECRET_KEY, CKK_SHA256_HMAC, sensitive, never extractable"

head -c 1000 /dev/urandom >"$TMP/data"
want=$(hw_kms_ctl /_mac '{"KeyId":"'"$arn"'","Message":"'"$(base64 -w0 "$TMP/data")"'"}' |
	python3 -c 'import sys,json,base64; print(base64.b64decode(json.load(sys.stdin)["Mac"]).hex())')
[ ${#want} = 64 ] || hw_fail "the fake gave no MAC"
hw_mac_checks mac256 "$TMP/data" "$want" GenerateMac VerifyMac
hw_pass "CKM_SHA256_HMAC (one call, three parts) equals HMAC-SHA-256 under the key KMS holds; VerifyMac accepts it, a changed MAC is CKR_SIGNATURE_INVALID"

if [ "${want:0:1}" = f ]; then bad=0${want:1}; else bad=f${want:1}; fi
hw_run "sign, 16-byte _GENERAL" sk sign mac256 sha256-hmac-general "$TMP/data" 16
[ "$(sed -n 1p "$TMP/run.out")" = "${want:0:32}" ] || hw_fail "_GENERAL: $(sed -n 1p "$TMP/run.out")"
hw_run "verify, 16-byte _GENERAL" sk verify mac256 sha256-hmac-general "$TMP/data" "${want:0:32}"
[ "$(tr '\n' ' ' <"$TMP/run.out")" = "CKR_OK multi CKR_OK " ] || hw_fail "_GENERAL verify: $(cat "$TMP/run.out")"
hw_run "verify, 16-byte _GENERAL, changed" sk verify mac256 sha256-hmac-general "$TMP/data" "${bad:0:32}"
hw_expect "_GENERAL changed" '^CKR_SIGNATURE_INVALID$' "$TMP/run.out"
hw_pass "CKM_SHA256_HMAC_GENERAL: the first 16 bytes; they verify and a changed one does not"

# KMS takes 1 to 4096 bytes; the slot says so before asking
head -c 4096 /dev/urandom >"$TMP/max"
head -c 4097 /dev/urandom >"$TMP/over"
hw_run "sign 4096 bytes" sk sign mac256 sha256-hmac "$TMP/max"
hw_expect "4096 bytes" '^multi [0-9a-f]{64}$' "$TMP/run.out"
before=$(hw_kms_stat '["by_op"]["GenerateMac"]')
hw_run "sign 4097 bytes" sk sign mac256 sha256-hmac "$TMP/over"
[ "$(tr '\n' ' ' <"$TMP/run.out")" = "CKR_DATA_LEN_RANGE multi CKR_DATA_LEN_RANGE " ] ||
	hw_fail "4097 bytes: $(cat "$TMP/run.out")"
[ "$(hw_kms_stat '["by_op"]["GenerateMac"]')" = "$before" ] || hw_fail "4097 bytes reached KMS"
hw_run "SHA-384 HMAC with the SHA-256 key" sk sign mac256 sha384-hmac "$TMP/data"
hw_expect "wrong digest" '^CKR_KEY_TYPE_INCONSISTENT$' "$TMP/run.out"
hw_pass "4096 bytes sign, 4097 are CKR_DATA_LEN_RANGE (single and multi-part) without a request; SHA-384 on it is refused"

# a generic secret key: its length picks the spec, its type stays generic
hw_run "generate a 64-byte generic secret" sk keygen mac512 generic 64
hw_expect "generic 64" '^CKR_OK$' "$TMP/run.out"
hw_run "attributes of the generic key" sk attrs mac512
hw_expect "generic secret" '^class 4 type 16 len 64 ' "$TMP/run.out"
hw_run "sign with it (SHA-512)" sk sign mac512 sha512-hmac "$TMP/data"
hw_expect "SHA-512 HMAC" '^[0-9a-f]{128}$' "$TMP/run.out"
hw_run "a 40-byte key" sk keygen mac40 generic 40
hw_expect "40 bytes" '^CKR_ATTRIBUTE_VALUE_INVALID$' "$TMP/run.out"
hw_run "a SHA-256 HMAC key of 48 bytes" sk keygen mac48 sha256 48
hw_expect "48-byte SHA-256 key" '^CKR_ATTRIBUTE_VALUE_INVALID$' "$TMP/run.out"
hw_pass "CKK_GENERIC_SECRET of 64 bytes is HMAC_512 and stays CKK_GENERIC_SECRET in a new process; 40 bytes refused"

# destroy schedules the deletion, as for key pairs
hw_run "delete the HMAC key" hw_p11 --login --pin "$PIN" --delete-object --type secrkey --label mac256
[ "$(hw_kms_stat '["by_op"]["ScheduleKeyDeletion"]')" = 1 ] || hw_fail "no ScheduleKeyDeletion request"
sk attrs mac256 >"$TMP/run.out" 2>&1 || true
hw_expect "gone" '^no key$' "$TMP/run.out"
hw_pass "C_DestroyObject of the HMAC key scheduled its deletion; it is no longer listed"

# the fake's GenerateMac and VerifyMac as botocore speaks them (its own
# SigV4 and its service-2.json shapes); skipped without boto3
if /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
	cat >"$TMP/boto.py" <<'PY'
import boto3, botocore, hashlib, hmac, sys
kms = boto3.client("kms", endpoint_url=sys.argv[1], region_name="eu-west-1")
k = kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
assert k["MacAlgorithms"] == ["HMAC_SHA_384"], k
mac = kms.generate_mac(KeyId=k["Arn"], Message=b"m" * 4096, MacAlgorithm="HMAC_SHA_384")["Mac"]
assert len(mac) == 48
assert kms.verify_mac(KeyId=k["Arn"], Message=b"m" * 4096, MacAlgorithm="HMAC_SHA_384", Mac=mac)["MacValid"]
for bad in (dict(Mac=bytes(48)), dict(MacAlgorithm="HMAC_SHA_256", Mac=mac)):
    args = dict(KeyId=k["Arn"], Message=b"m" * 4096, MacAlgorithm="HMAC_SHA_384", Mac=mac)
    args.update(bad)
    try:
        kms.verify_mac(**args)
        sys.exit("verify_mac accepted %r" % bad)
    except botocore.exceptions.ClientError as e:
        print(e.response["Error"]["Code"])
PY
	hw_run "boto3 HMAC" /usr/bin/python3 "$TMP/boto.py" "$AWS_ENDPOINT_URL"
	[ "$(tr '\n' ' ' <"$TMP/run.out")" = "KMSInvalidMacException InvalidKeyUsageException " ] ||
		hw_fail "boto3: $(cat "$TMP/run.out")"
	hw_pass "boto3: CreateKey HMAC_384, GenerateMac and VerifyMac parse; a wrong MAC is KMSInvalidMacException"
fi
