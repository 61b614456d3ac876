#!/bin/bash
# Profiles of the shared config file that do more than hold keys, on the
# fake: role_arn (STS AssumeRole signed with source_profile's keys, a chain
# of two roles, credential_source), IAM Identity Center (sso_session and the
# legacy sso_start_url; the token "aws sso login" cached), credential_process
# (quoted arguments, no shell); the assumed credentials cached until shortly
# before they expire; the failures: an expired SSO token (no request at
# all), a process that fails, hangs or prints garbage — each the slot's
# CKR_DEVICE_ERROR and a log line naming the profile, never the secret.
# The fake verifies SigV4 on every request and counts which source issued
# the credentials of each verified KMS request ("signed_by").
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup
hw_kms_ec_key prof-ec

# every service on its own override, as the CLI honours them
export AWS_ENDPOINT_URL_KMS=$AWS_ENDPOINT_URL AWS_ENDPOINT_URL_STS=$AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SSO=$AWS_ENDPOINT_URL
unset AWS_ENDPOINT_URL
hw_kms_no_env_creds
export AWS_EC2_METADATA_DISABLED=true HWAGG_LOG=info
mkdir -p "$HOME/.aws/sso/cache"

stat() { hw_kms_stat "$1"; }
kms_by() { stat '.get("signed_by", {}).get("kms", {}).get("'"$1"'", 0)'; }
sign_as() {	# PROFILE STEP: sign in a fresh process with the slot's profile, verify
	hw_kms_conf '"profile":"'"$1"'"'
	hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/sig" --signature-format openssl
	hw_verify "$2" "$TMP/pub.pem" "$TMP/data" "$TMP/sig"
}
# A failure shows on a key the process already found: open_ok signs once
# with PROFILE on credentials valid for 30 s (so every call asks again);
# the caller then changes the world, and fails_now expects the next
# signature to end in CKR_DEVICE_ERROR; its log: $TMP/f.log.
nf=0
open_ok() {	# PROFILE
	nf=$((nf + 1))
	hw_kms_ctl /_creds '{"expire_in": 30}'
	hw_kms_conf '"profile":"'"$1"'","timeout_ms":3000'
	hw_kr_open "f$nf" "$HWAGG_CONF"
	hw_kr "f$nf" open CKR_OK
	hw_kr "f$nf" "login $PIN" CKR_OK
	hw_kr "f$nf" "sign 01" CKR_OK
}
fails_now() {
	hw_kr "f$nf" sign-again CKR_DEVICE_ERROR
	hw_kr_quit "f$nf"
	cp "$TMP/f$nf.log" "$TMP/f.log"
	hw_kms_ctl /_creds '{"expire_in": 3600}'
}

cat >"$HOME/.aws/config" <<EOF
[profile base]
aws_access_key_id = $HW_KMS_AKID
aws_secret_access_key = $HW_KMS_SECRET

[profile signer]
role_arn = arn:aws:iam::111122223333:role/hwagg-signer
source_profile = base
role_session_name = hwagg-test
external_id = ext-4242
duration_seconds = 1800

[profile chained]
role_arn = arn:aws:iam::111122223333:role/hwagg-second
source_profile = signer

[profile from-env]
role_arn = arn:aws:iam::111122223333:role/hwagg-env
credential_source = Environment

[profile sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = KmsSigner

[profile sso-legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = $HW_KMS_REGION
sso_account_id = 444455556666
sso_role_name = LegacySigner

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = $HW_KMS_REGION

[profile loop]
role_arn = arn:aws:iam::111122223333:role/x
source_profile = loop2

[profile loop2]
role_arn = arn:aws:iam::111122223333:role/y
source_profile = loop
EOF

# ---- role_arn ----------------------------------------------------------------
n=$(kms_by "assumed role")
sign_as signer "role from source_profile"
python3 - "$(stat '["assume_role"]')" "$HW_KMS_AKID" <<'PY' || hw_fail "AssumeRole request not as configured"
import ast, sys
a = ast.literal_eval(sys.argv[1])
assert len(a) == 1, a
r = a[0]
assert r == {"RoleArn": "arn:aws:iam::111122223333:role/hwagg-signer", "RoleSessionName": "hwagg-test",
             "ExternalId": "ext-4242", "DurationSeconds": "1800", "caller": sys.argv[2]}, r
PY
[ "$(kms_by "assumed role")" -gt "$n" ] || hw_fail "no KMS request was signed with the assumed role's credentials"
hw_pass "role_arn: AssumeRole signed with source_profile's keys (session name, external id, duration sent); KMS signed with the role's credentials"

sign_as chained "a role assumed with another role's credentials"
python3 - "$(stat '["assume_role"]')" <<'PY' || hw_fail "the second role was not assumed with the first's credentials"
import ast, sys
a = ast.literal_eval(sys.argv[1])
assert [r["RoleArn"].rsplit("/", 1)[1] for r in a[-2:]] == ["hwagg-signer", "hwagg-second"], a
assert a[-1]["caller"].startswith("ASIA") and a[-1]["RoleSessionName"].startswith("hwagg-"), a[-1]
PY
hw_kms_static_creds
sign_as from-env "credential_source Environment"
[ "$(stat '["assume_role"][-1]["caller"]')" = "$HW_KMS_AKID" ] || hw_fail "credential_source did not sign AssumeRole"
hw_kms_no_env_creds
hw_pass "role_arn: a chain of two roles (the second signed with the first's temporary keys); credential_source = Environment"

# cached: one AssumeRole for many signatures in one process; credentials
# near their expiry (refresh starts 5 minutes before) are fetched again
roles() { stat '["assume_role"].__len__()'; }
hw_kms_conf '"profile":"signer"'
before=$(roles)
hw_kr_open c "$HWAGG_CONF"
hw_kr c open CKR_OK
hw_kr c "login $PIN" CKR_OK
hw_kr c "sign 01" CKR_OK
hw_kr c sign-again CKR_OK
hw_kr c sign-again CKR_OK
[ "$(roles)" = $((before + 1)) ] || hw_fail "the role's credentials were not cached ($before, then $(roles) AssumeRole calls)"
hw_kr_quit c
hw_kms_ctl /_creds '{"expire_in": 200}'
before=$(roles)
hw_kr_open c2 "$HWAGG_CONF"
hw_kr c2 open CKR_OK
hw_kr c2 "login $PIN" CKR_OK
hw_kr c2 "sign 01" CKR_OK
hw_kr c2 sign-again CKR_OK
[ "$(roles)" -ge $((before + 2)) ] || hw_fail "role credentials near expiry were not refreshed"
hw_kr_quit c2
hw_kms_ctl /_creds '{"expire_in": 3600}'
hw_pass "role_arn: the assumed credentials are cached across signatures, and assumed again shortly before they expire"

hw_kms_conf '"profile":"loop"'
hw_run_fails "a source_profile loop" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 01 -i "$TMP/data" -o "$TMP/x"
hw_expect "loop named" 'configuration error: profile loop2?: source_profile names profiles in a loop' "$TMP/run.err"
hw_pass "role_arn: a source_profile loop is a configuration error, not a hang"

# ---- IAM Identity Center --------------------------------------------------------
sso_cache() {	# NAME TOKEN EXPIRES-AT: the CLI's cache file for NAME (session name or start URL)
	local f
	f="$HOME/.aws/sso/cache/$(printf '%s' "$1" | sha1sum | cut -d' ' -f1).json"
	printf '{"startUrl": "x", "region": "%s", "accessToken": "%s", "expiresAt": "%s"}\n' "$HW_KMS_REGION" "$2" "$3" >"$f"
}
future=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ) past=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
hw_kms_ctl /_sso '{"token": "sso-access-token-corp"}'
sso_cache corp sso-access-token-corp "$future"
n=$(kms_by "IAM Identity Center")
sign_as sso "sso_session"
[ "$(stat '["sso"][-1]')" = "{'role_name': 'KmsSigner', 'account_id': '111122223333'}" ] ||
	hw_fail "GetRoleCredentials asked for $(stat '["sso"][-1]')"
[ "$(kms_by "IAM Identity Center")" -gt "$n" ] || hw_fail "no KMS request was signed with the SSO role's credentials"
hw_kms_ctl /_sso '{"token": "sso-access-token-legacy"}'
sso_cache https://legacy.awsapps.com/start sso-access-token-legacy "$future"
sign_as sso-legacy "sso_start_url"
[ "$(stat '["sso"][-1]["account_id"]')" = 444455556666 ] || hw_fail "legacy SSO profile not used"
hw_pass "IAM Identity Center: the cached token (sso-session and legacy start URL) exchanged at GetRoleCredentials; KMS signed with the role's credentials"

hw_kms_ctl /_sso '{"token": "sso-access-token-corp"}'
sso_cache corp sso-access-token-corp "$future"
open_ok sso
sso_cache corp sso-access-token-corp "$past"
asked=$(stat '["sso"].__len__()') reqs=$(stat '["requests"]')
fails_now
hw_expect "expired token named" 'profile sso: the SSO session expired \(run: aws sso login --profile sso\)' "$TMP/f.log"
[ "$(stat '["sso"].__len__()')" = "$asked" ] && [ "$(stat '["requests"]')" = "$reqs" ] ||
	hw_fail "an expired SSO token still sent a request"
! grep -q sso-access-token "$TMP/f.log" || hw_fail "the SSO token is in the log"
sso_cache corp sso-access-token-corp "$future"
open_ok sso
sso_cache corp not-the-token "$future"
fails_now
hw_expect "refused token" 'profile sso: the SSO portal refused the session' "$TMP/f.log"
hw_pass "IAM Identity Center: an expired token fails with CKR_DEVICE_ERROR naming the profile and sends nothing; a refused one says so"

# ---- credential_process ----------------------------------------------------------
mkdir -p "$TMP/cred dir"
proc="$TMP/cred dir/helper.sh"
cat >"$proc" <<'EOF'
#!/bin/sh
# $1: a word with a space in it (it arrives as one argument); what to do is in $CRED_MODE
[ "$1" = "one arg" ] || { echo "argument split wrong: $1" >&2; exit 9; }
case $(cat "$CRED_MODE") in
ok) cat "$CRED_FILE" ;;
fail) cat "$CRED_FILE"; exit 3 ;;
hang) echo $$ >"$CRED_PIDFILE"; sleep 60 ;;
garbage) printf 'SecretAccessKey=%s\n' "$(cat "$CRED_FILE")" ;;
v2) sed 's/"Version": 1/"Version": 2/' "$CRED_FILE" ;;
esac
EOF
chmod +x "$proc"
export CRED_FILE="$TMP/proc-creds.json" CRED_PIDFILE="$TMP/proc.pid" CRED_MODE="$TMP/proc.mode"
printf '[profile proc]\ncredential_process = "%s" '"'"'one arg'"'"'\n' "$proc" >>"$HOME/.aws/config"
issue() {	# fresh credentials for the helper, valid for $1 s
	hw_kms_ctl /_creds '{"expire_in": '"$1"'}'
	hw_kms_ctl /_issue '{"source": "credential process"}' |
		python3 -c 'import json,sys; d=json.load(sys.stdin); d["Version"]=1; print(json.dumps(d))' >"$CRED_FILE"
	hw_kms_ctl /_creds '{"expire_in": 3600}'
}
echo ok >"$CRED_MODE"
issue 3600
n=$(kms_by "credential process")
sign_as proc "credential_process"
[ "$(kms_by "credential process")" -gt "$n" ] || hw_fail "no KMS request was signed with the process's credentials"
hw_pass "credential_process: a quoted path with a space and a quoted argument, run without a shell; its Version 1 JSON signs"

# each failure on a client that signed with the process's 30-second credentials
secrets=""
proc_fails() {	# MODE
	echo ok >"$CRED_MODE"
	issue 30
	secrets="$secrets $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["SecretAccessKey"])' "$CRED_FILE")"
	open_ok proc
	echo "$1" >"$CRED_MODE"
	took=$(date +%s)
	fails_now
	took=$(($(date +%s) - took))
}
proc_fails fail
hw_expect "exit status logged" 'profile proc: credential_process failed \(exit status 3\)' "$TMP/f.log"
proc_fails hang
[ "$took" -lt 10 ] || hw_fail "a hanging credential_process held the call ${took} s (the slot's timeout_ms is 3 s)"
hw_expect "time limit logged" 'profile proc: credential_process did not finish in time' "$TMP/f.log"
! kill -0 "$(cat "$CRED_PIDFILE")" 2>/dev/null || hw_fail "the hanging credential_process was left running"
proc_fails garbage
hw_expect "garbage logged" 'profile proc: credential_process did not print Version 1 credentials' "$TMP/f.log"
proc_fails v2
hw_expect "version logged" 'profile proc: credential_process did not print Version 1' "$TMP/f.log"
for s in $secrets; do
	! grep -qF -- "$s" "$TMP"/*.log "$TMP/run.err" || hw_fail "a credential_process secret reached a log"
done
hw_pass "credential_process: failure, hang (stopped at the deadline), garbage and Version 2 each end in CKR_DEVICE_ERROR with a log line naming the profile and no secret"

# what is not supported says so
printf '[profile mfa]\nrole_arn = arn:aws:iam::111122223333:role/m\nsource_profile = base\nmfa_serial = arn:aws:iam::111122223333:mfa/u\n' \
	>>"$HOME/.aws/config"
hw_kms_conf '"profile":"mfa"'
hw_run_fails "mfa_serial" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 01 -i "$TMP/data" -o "$TMP/x"
hw_expect "mfa refused" 'profile mfa: mfa_serial .* is not supported.*CKR_FUNCTION_NOT_SUPPORTED' "$TMP/run.err"
hw_pass "a role profile with mfa_serial: CKR_FUNCTION_NOT_SUPPORTED and a log line naming the profile"
