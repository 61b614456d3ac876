#!/bin/bash
# The AWS credential chain of the aws-kms slot, each source on its own and
# in the SDKs' order: environment, shared files (with a profile), web
# identity (STS AssumeRoleWithWebIdentity on the fake), container
# credentials (EKS Pod Identity style, with an authorization token file),
# IMDSv2; refresh before expiry, the token file read again on refresh, and
# no source at all. Each step is a fresh pkcs11-tool process signing with
# one key; the fake says which source issued the credentials it accepted.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export FAKE_KMS_CONTAINER_AUTH="container-auth-token-1234"
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup
hw_kms_ec_key creds-ec

# sign_ok STEP — sign in a fresh process, verify with OpenSSL
sign_ok() {
	hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/sig" --signature-format openssl
	hw_verify "$1" "$TMP/pub.pem" "$TMP/data" "$TMP/sig"
}
issued() { hw_kms_stat '.get("issued_by", {}).get("'"$1"'", 0)'; }
clear_all() {
	hw_kms_no_env_creds
	unset AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_CONTAINER_CREDENTIALS_FULL_URI \
		AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE AWS_EC2_METADATA_DISABLED AWS_PROFILE
	rm -rf "$HOME/.aws"
}

# shared files: the credentials file's [default], then a profile of the config file
clear_all
export AWS_EC2_METADATA_DISABLED=true
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$HW_KMS_AKID" "$HW_KMS_SECRET" \
	>"$HOME/.aws/credentials"
sign_ok "shared credentials file"
rm "$HOME/.aws/credentials"
printf '[profile ops]\nregion = %s\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$HW_KMS_REGION" \
	"$HW_KMS_AKID" "$HW_KMS_SECRET" >"$HOME/.aws/config"
hw_run_fails "no default profile" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 01 -i "$TMP/data" -o "$TMP/x"
hw_kms_conf '"profile":"ops"'
# a slot that names a profile ignores the environment's keys
export AWS_ACCESS_KEY_ID=AKIDWRONG AWS_SECRET_ACCESS_KEY=wrong
sign_ok "profile ops of the config file"
hw_kms_conf
hw_pass "shared files: [default] of the credentials file; the slot's profile from the config file, over the environment"

# web identity: the token file exchanged at STS
clear_all
export AWS_EC2_METADATA_DISABLED=true
export AWS_WEB_IDENTITY_TOKEN_FILE="$TMP/kms/web-token" AWS_ROLE_ARN="arn:aws:iam::111122223333:role/hwagg"
sign_ok "web identity"
[ "$(issued "web identity")" = 1 ] || hw_fail "STS issued $(issued "web identity") credentials, expected 1"
hw_pass "web identity: STS AssumeRoleWithWebIdentity with the token file, credentials accepted"

# container credentials with an authorization token file; web identity set
# too goes first, so it is taken away
unset AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
printf '%s\n' "$FAKE_KMS_CONTAINER_AUTH" >"$TMP/kms/container-token"
export AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$HW_KMS_HTTP/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$TMP/kms/container-token"
sign_ok "container credentials"
[ "$(issued container)" = 1 ] || hw_fail "the container endpoint issued $(issued container) credentials"
printf 'wrong\n' >"$TMP/kms/container-token"
hw_run_fails "container token refused" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 01 -i "$TMP/data" -o "$TMP/x"
hw_pass "container credentials: the agent's token from the file; a wrong token is refused"

# IMDSv2 when nothing else is there
clear_all
sign_ok "instance metadata"
[ "$(issued "instance metadata")" = 1 ] || hw_fail "IMDS issued $(issued "instance metadata") credentials"
hw_pass "IMDSv2: token PUT, role, credentials; accepted by KMS"

# precedence: environment > web identity > container > IMDS
before_w=$(issued "web identity") before_c=$(issued container) before_i=$(issued "instance metadata")
export AWS_WEB_IDENTITY_TOKEN_FILE="$TMP/kms/web-token" AWS_ROLE_ARN="arn:aws:iam::111122223333:role/hwagg"
printf '%s\n' "$FAKE_KMS_CONTAINER_AUTH" >"$TMP/kms/container-token"
export AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$HW_KMS_HTTP/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$TMP/kms/container-token"
hw_kms_static_creds
sign_ok "environment first"
hw_kms_no_env_creds
sign_ok "web identity before container"
[ "$(issued "web identity")" = $((before_w + 1)) ] && [ "$(issued container)" = "$before_c" ] &&
	[ "$(issued "instance metadata")" = "$before_i" ] || hw_fail "the chain took the wrong source"
hw_pass "precedence: environment, then web identity before container and instance metadata"

# refresh before expiry, reading the token file again: credentials that
# expire in 200 s are refreshed on use (refresh starts 300 s before)
hw_kms_ctl /_creds '{"expire_in": 200}'
hw_kr_open c "$HWAGG_CONF"
hw_kr c open CKR_OK
hw_kr c "login $PIN" CKR_OK
hw_kr c "sign 01" CKR_OK
n=$(issued "web identity")
hw_kr c sign-again CKR_OK
[ "$(issued "web identity")" = $((n + 1)) ] || hw_fail "credentials near expiry were not refreshed"
# a rotated-away token: the refresh fails, the cached credentials still sign
printf 'not-the-token\n' >"$TMP/kms/web-token"
hw_kr c sign-again CKR_OK
hw_expect "refresh failure logged" 'refreshing the credentials failed \(InvalidIdentityToken' "$TMP/c.log"
hw_kms_ctl /_creds '{"expire_in": 3600}'
hw_pass "credentials near expiry refreshed on use; the token file read again; a failed refresh keeps the valid ones"

# no source at all
clear_all
export AWS_EC2_METADATA_DISABLED=true HWAGG_LOG=warn
hw_run_fails "no credentials" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 01 -i "$TMP/data" -o "$TMP/x"
hw_expect "no credentials logged" 'credentials error NoCredentials' "$TMP/run.err"
hw_pass "no credentials anywhere: the call fails and the log says so"
