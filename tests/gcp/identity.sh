#!/bin/bash
# The gcp-kms slot's other identities, on the loopback fake (its STS, IAM
# Credentials and OAuth endpoints check every request field):
#   - workload identity federation (an external_account file): the subject
#     token from a file, exchanged at the STS; the same through service
#     account impersonation (generateAccessToken with the STS token); a url
#     credential source with a header and a JSON answer;
#   - an authorized_user file (refresh_token grant).
# The fake hands out tokens that name their source and counts which source's
# token each KMS request carried. One STS exchange serves a whole process
# (20 signatures and the listings), short-lived federated tokens are
# exchanged again before they expire; a missing subject token file and an STS
# refusal fail with CKR_DEVICE_ERROR and a log line naming the credentials
# file, never a token.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=gcp-kms
hw_setup
hw_kmsclient

d="$TMP/gcp"
base="https://127.0.0.1:$HW_GCP_PORT"
aud="//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/hwagg/providers/test"
jwt_type="urn:ietf:params:oauth:token-type:jwt"
# a subject token as a Kubernetes projected token looks (its signature is the
# identity provider's business, not this test's)
subject="eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.$(head -c 48 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=').c2ln"
printf '%s\n' "$subject" >"$d/subject.jwt"
hw_kms_ctl /_wif '{"audience":"'"$aud"'","subject_token":"'"$subject"'","subject_token_type":"'"$jwt_type"'","service_account":"'"$HW_GCP_SA"'"}'

# ext FILE SOURCE-JSON [EXTRA-MEMBERS] — an external_account file
ext() {
	printf '{"type":"external_account","audience":"%s","subject_token_type":"%s","token_url":"%s/v1/token","credential_source":%s%s}\n' \
		"$aud" "$jwt_type" "$base" "$2" "${3:+,$3}" >"$1"
}
stat() { hw_gcp_stat "$1"; }
no_tokens_logged() {	# the log never shows the subject token or an access token
	! grep -qF -- "$subject" "$TMP/run.err" && ! grep -q 'ya29\.' "$TMP/run.err" ||
		hw_fail "a token appears in the log"
}

# 1. federation, subject token from a file: one STS exchange per process
ext "$d/wif-file.json" '{"file":"'"$d/subject.jwt"'"}'
export GOOGLE_APPLICATION_CREDENTIALS="$d/wif-file.json"
hw_run "generate a P-256 key (federated identity)" "$client" "$MODULE" "$TOKEN" "$PIN" keygen-ec wif-ec
hw_expect "keygen" '^CKR_OK' "$TMP/run.out"
sts0=$(stat '["sts"]["ok"]')
hw_run "2 threads x 10 signatures" "$client" "$MODULE" "$TOKEN" "$PIN" threads 2 10 wif-ec
hw_expect "all verified" '^signed 20 verified 20 ' "$TMP/run.out"
[ "$(stat '["sts"]["ok"]')" = $((sts0 + 1)) ] || hw_fail "expected one STS exchange for the process, got $(($(stat '["sts"]["ok"]') - sts0))"
[ "$(stat '["sts"]["rejected"]')" = 0 ] || hw_fail "the STS refused a request: $(stat '["sts"].get("last_error")')"
[ "$(stat '["used_by"].get("sts", 0)')" -ge 20 ] || hw_fail "KMS requests did not carry the STS token: $(stat '["used_by"]')"
[ "$(stat '["used_by"].get("metadata", 0)')" = 0 ] || hw_fail "the metadata server's token was used"
[ "$(stat '["tokens_issued"].get("metadata", 0)')" = 0 ] || hw_fail "the metadata server was asked"
no_tokens_logged
hw_pass "external_account (file source): every KMS request carries the STS token; one exchange for 20 signatures and listings"

# short-lived federated tokens: exchanged again before they expire, never refused
hw_kms_ctl /_token '{"expire_in": 4}'
sts0=$(stat '["sts"]["ok"]')
unauth0=$(stat '["unauthenticated"]')
hw_run "sign for 5 s on 4-second tokens" "$client" "$MODULE" "$TOKEN" "$PIN" bench 1 5 wif-ec
hw_kms_ctl /_token '{"expire_in": 3600}'
[ $(($(stat '["sts"]["ok"]') - sts0)) -ge 2 ] || hw_fail "4-second tokens were not renewed ($(($(stat '["sts"]["ok"]') - sts0)) exchanges in 5 s)"
[ "$(stat '["unauthenticated"]')" = "$unauth0" ] || hw_fail "a KMS request carried an expired token"
hw_pass "federated tokens living 4 s: $(($(stat '["sts"]["ok"]') - sts0)) exchanges in 5 s of signing, none used after expiry"

# 2. the same with service account impersonation
ext "$d/wif-imp.json" '{"file":"'"$d/subject.jwt"'"}' \
	'"service_account_impersonation_url":"'"$base/v1/projects/-/serviceAccounts/$HW_GCP_SA:generateAccessToken"'"'
export GOOGLE_APPLICATION_CREDENTIALS="$d/wif-imp.json"
sts0=$(stat '["sts"]["ok"]')
used_sts=$(stat '["used_by"].get("sts", 0)')
hw_run "sign (impersonated service account)" "$client" "$MODULE" "$TOKEN" "$PIN" threads 1 5 wif-ec
hw_expect "all verified" '^signed 5 verified 5 ' "$TMP/run.out"
[ "$(stat '["iam"]["ok"]')" = 1 ] && [ "$(stat '["iam"]["rejected"]')" = 0 ] ||
	hw_fail "generateAccessToken: $(stat '["iam"]')"
[ "$(stat '["sts"]["ok"]')" = $((sts0 + 1)) ] || hw_fail "expected one STS exchange before impersonation"
[ "$(stat '["used_by"].get("iam", 0)')" -ge 5 ] || hw_fail "KMS requests did not carry the IAM token: $(stat '["used_by"]')"
[ "$(stat '["used_by"].get("sts", 0)')" = "$used_sts" ] || hw_fail "the STS token itself reached Cloud KMS"
hw_pass "external_account with impersonation: the STS token buys the service account's token (bearer, scope, lifetime checked); KMS sees only that"

# 3. a url source: a JSON answer behind a header (as Azure IMDS serves an OIDC token)
ext "$d/wif-url.json" '{"url":"http://127.0.0.1:'"$HW_GCP_HTTP"'/_subject","headers":{"Metadata":"true"},"format":{"type":"json","subject_token_field_name":"access_token"}}'
export GOOGLE_APPLICATION_CREDENTIALS="$d/wif-url.json"
hw_run "sign (url source)" "$client" "$MODULE" "$TOKEN" "$PIN" threads 1 3 wif-ec
hw_expect "all verified" '^signed 3 verified 3 ' "$TMP/run.out"
[ "$(stat '["subject_url"]')" = 1 ] || hw_fail "the subject token URL was asked $(stat '["subject_url"]') times"
[ "$(stat '["sts"]["rejected"]')" = 0 ] || hw_fail "the STS refused the url source's token"
hw_pass "external_account with a url source (header sent, JSON member read): signatures verified"

# 4. gcloud's user credentials
secret="GOCSPX-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
refresh="1//0g$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
hw_kms_ctl /_user '{"client_id":"764086051850-test.apps.googleusercontent.com","client_secret":"'"$secret"'","refresh_token":"'"$refresh"'"}'
printf '{"type":"authorized_user","client_id":"764086051850-test.apps.googleusercontent.com","client_secret":"%s","refresh_token":"%s","token_uri":"%s/token"}\n' \
	"$secret" "$refresh" "$base" >"$d/user.json"
export GOOGLE_APPLICATION_CREDENTIALS="$d/user.json"
head -c 1000 /dev/urandom >"$TMP/data"
hw_pubkey_pem 0e "$TMP/pub0e.pem"
hw_sign ECDSA-SHA256 0e "$TMP/data" "$TMP/sig0e" --signature-format openssl
hw_check_sig "ECDSA P-256 (user credentials)" "$TMP/pub0e.pem" "$TMP/data" "$TMP/sig0e"
[ "$(stat '["refresh"]["ok"]')" -ge 1 ] && [ "$(stat '["refresh"]["rejected"]')" = 0 ] ||
	hw_fail "refresh_token grant: $(stat '["refresh"]')"
[ "$(stat '["used_by"].get("refresh", 0)')" -ge 1 ] || hw_fail "no KMS request carried the user's token"
grep -qF -- "$refresh" "$TMP/run.err" && hw_fail "the refresh token appears in the log"
hw_pass "authorized_user: the refresh_token grant (client id, secret, refresh token checked) gives the token KMS sees"

# 5. failures: a missing subject token file, then a subject token the STS refuses
ext "$d/wif-missing.json" '{"file":"'"$d/no-such-token"'"}'
GOOGLE_APPLICATION_CREDENTIALS="$d/wif-missing.json" hw_run_fails "keygen without a subject token" \
	hw_p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label x --id 09 --usage-sign
hw_expect "error code" "CKR_DEVICE_ERROR" "$TMP/run.err"
hw_expect "the log names both files" "cannot read the subject token file $d/no-such-token \(credential_source.file of $d/wif-missing.json\)" "$TMP/run.err"
printf 'eyJhbGciOiJub25lIn0.e30.revoked\n' >"$d/wrong.jwt"
ext "$d/wif-wrong.json" '{"file":"'"$d/wrong.jwt"'"}'
rej=$(stat '["sts"]["rejected"]')
GOOGLE_APPLICATION_CREDENTIALS="$d/wif-wrong.json" hw_run_fails "keygen with a refused subject token" \
	hw_p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label x --id 09 --usage-sign
hw_expect "error code" "CKR_DEVICE_ERROR" "$TMP/run.err"
hw_expect "the STS error and the file" "credentials error invalid_grant: the STS endpoint answered HTTP 400 \(credentials file $d/wif-wrong.json\)" "$TMP/run.err"
# a refusal is final: each failed call (the listing, the creation) asked once
n=$(($(stat '["sts"]["rejected"]') - rej))
[ "$n" -ge 1 ] && [ "$n" = "$(grep -c 'invalid_grant' "$TMP/run.err")" ] ||
	hw_fail "$n refused exchanges for $(grep -c 'invalid_grant' "$TMP/run.err") failed calls: a refusal was retried"
grep -q 'revoked' "$TMP/run.err" && hw_fail "the subject token appears in the log"
no_tokens_logged
hw_pass "missing subject token file and STS refusal: CKR_DEVICE_ERROR, one log line naming the credentials file, no token logged"
