#!/bin/bash
# Fidelity of the fake, and the slot against keys made by other tools: the
# real AWS CLI and boto3 drive the fake (their SigV4, their JSON 1.1), and
# the aws-kms slot lists and signs with keys they created (tagged for hwagg,
# or named in "keys" by alias); the CLI verifies hwagg's signature in KMS.
# The fake's STS AssumeRole and SSO portal are checked with botocore's own
# credential providers. Skips when awscli or boto3 is not installed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
command -v aws >/dev/null || hw_skip "awscli is not installed"
/usr/bin/python3 -c 'import boto3' 2>/dev/null || hw_skip "python3-boto3 is not installed"
hw_setup
aws_kms() { hw_run "aws kms $1" aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$HW_KMS_REGION" --output json kms "$@"; }
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$TMP/run.out" "$1"; }

aws_kms create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY \
	--tags TagKey=hwagg,TagValue=pkcs11 TagKey=CKA_LABEL,TagValue=cli-key TagKey=CKA_ID,TagValue=c1
arn=$(json '["KeyMetadata"]["Arn"]')
aws_kms get-public-key --key-id "$arn"
json '["PublicKey"]' | base64 -d >"$TMP/cli.der"
hw_run "the CLI's public key parses" openssl pkey -pubin -inform DER -in "$TMP/cli.der" -out "$TMP/cli.pem"
head -c 300 /dev/urandom >"$TMP/data"
openssl dgst -sha256 -binary "$TMP/data" >"$TMP/md"
aws_kms sign --key-id "$arn" --message "fileb://$TMP/md" --message-type DIGEST --signing-algorithm ECDSA_SHA_256
json '["Signature"]' | base64 -d >"$TMP/cli.sig"
hw_verify "the CLI's DIGEST signature" "$TMP/cli.pem" "$TMP/data" "$TMP/cli.sig"
hw_pass "aws CLI: CreateKey with tags, GetPublicKey, Sign (DIGEST) against the fake; OpenSSL verifies"

# boto3: another SigV4 implementation, with an untagged key under an alias
cat >"$TMP/boto.py" <<'PY'
import boto3, sys
kms = boto3.client("kms", endpoint_url=sys.argv[1], region_name="eu-west-1")
k = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
kms.create_alias(AliasName="alias/boto-rsa", TargetKeyId=k["KeyId"])
assert kms.describe_key(KeyId="alias/boto-rsa")["KeyMetadata"]["Arn"] == k["Arn"]
sig = kms.sign(KeyId="alias/boto-rsa", Message=b"\x11" * 32, MessageType="DIGEST",
               SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
assert kms.verify(KeyId=k["Arn"], Message=b"\x11" * 32, MessageType="DIGEST", Signature=sig,
                  SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]
print("boto3 ok", len(kms.list_keys()["Keys"]))
PY
hw_run "boto3" /usr/bin/python3 "$TMP/boto.py" "$AWS_ENDPOINT_URL"
hw_expect "boto3" '^boto3 ok 2$' "$TMP/run.out"
hw_pass "boto3: CreateKey, CreateAlias, DescribeKey by alias, Sign and Verify (PSS) against the fake"

# the slot: the tagged CLI key by its tags, the boto3 key because the config names its alias
hw_kms_conf '"keys":["alias/boto-rsa"]'
hw_run "list the slot's keys" hw_p11 --login --pin "$PIN" --list-objects --type privkey
hw_expect "CLI key by its tags" 'label: *cli-key$' "$TMP/run.out"
hw_expect "boto3 key by alias" 'label: *alias/boto-rsa$' "$TMP/run.out"
[ "$(grep -c 'Private Key Object' "$TMP/run.out")" = 2 ] || hw_fail "expected exactly two keys:
$(cat "$TMP/run.out")"
hw_sign ECDSA-SHA256 c1 "$TMP/data" "$TMP/hw.sig"
python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
def i(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80: b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b
body = i(d[:32]) + i(d[32:])
open(sys.argv[2], "wb").write(b"\x30" + bytes([len(body)]) + body)' "$TMP/hw.sig" "$TMP/hw.der"
aws_kms verify --key-id "$arn" --message "fileb://$TMP/md" --message-type DIGEST \
	--signing-algorithm ECDSA_SHA_256 --signature "fileb://$TMP/hw.der"
[ "$(json '["SignatureValid"]')" = True ] || hw_fail "KMS Verify rejected hwagg's signature"
hw_pass "the slot lists the CLI's tagged key and the configured alias, and KMS Verify accepts hwagg's signature"

# boto3's own credential providers against the fake's STS AssumeRole and SSO
# portal: the fake answers what botocore parses, and verifies botocore's
# SigV4 of AssumeRole (service sts). Needs a botocore that honours
# AWS_ENDPOINT_URL (1.31 and later); skipped with an older one.
py=""
for p in python3 /usr/bin/python3; do
	"$p" -c 'import botocore, sys; sys.exit(tuple(map(int, botocore.__version__.split(".")[:2])) < (1, 31))' \
		2>/dev/null && { py=$p; break; }
done
if [ -z "$py" ]; then
	hw_log "no botocore >= 1.31: the profile providers are not checked against the fake"
else
	mkdir -p "$HOME/.aws/sso/cache"
	cat >"$HOME/.aws/config" <<EOF
[profile base]
aws_access_key_id = $HW_KMS_AKID
aws_secret_access_key = $HW_KMS_SECRET
[profile role]
role_arn = arn:aws:iam::111122223333:role/boto
source_profile = base
external_id = boto-ext
region = $HW_KMS_REGION
[profile sso]
sso_session = botosso
sso_account_id = 111122223333
sso_role_name = BotoRole
region = $HW_KMS_REGION
[sso-session botosso]
sso_start_url = https://boto.awsapps.com/start
sso_region = $HW_KMS_REGION
EOF
	hw_kms_ctl /_sso '{"token": "boto-sso-token"}'
	printf '{"startUrl": "https://boto.awsapps.com/start", "region": "%s", "accessToken": "boto-sso-token", "expiresAt": "%s"}\n' \
		"$HW_KMS_REGION" "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" \
		>"$HOME/.aws/sso/cache/$(printf botosso | sha1sum | cut -d' ' -f1).json"
	cat >"$TMP/boto-profiles.py" <<'PY'
import boto3
for profile in ("role", "sso"):
    s = boto3.Session(profile_name=profile)
    c = s.get_credentials().get_frozen_credentials()
    assert c.access_key.startswith("ASIA") and c.token, profile
    s.client("kms").list_keys(Limit=1)
print("boto3 profiles ok")
PY
	hw_run "boto3 with role and SSO profiles" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_REGION \
		"$py" "$TMP/boto-profiles.py"
	hw_expect "boto3 profiles" '^boto3 profiles ok$' "$TMP/run.out"
	[ "$(hw_kms_stat '["assume_role"][-1]["ExternalId"]')" = boto-ext ] || hw_fail "botocore's AssumeRole not seen"
	[ "$(hw_kms_stat '["sso"][-1]["role_name"]')" = BotoRole ] || hw_fail "botocore's GetRoleCredentials not seen"
	hw_pass "botocore's AssumeRole (SigV4 verified) and SSO providers (the same token cache file) work against the fake"
fi
