#!/bin/bash
# The gcp-kms slot under every fault the fake injects, in one long-running
# client (tests/keyring/krclient): 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE,
# a malformed answer, a reset connection and a refused (expired) token each
# end in a signature once the fault clears; a signature whose CRC32C is
# wrong, or whose digest the service did not verify, is asked for once more
# and never returned; a persistent fault ends in CKR_DEVICE_ERROR within
# the deadline with one log line naming the cause, the status and the
# request id; tokens are refreshed before they expire and never logged; an
# unreachable service makes the token absent without waiting; a creation
# whose answer was lost makes one key; a credentials file with a source not
# supported (AWS) says so.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=gcp-kms
hw_setup
hw_gcp_conf '"timeout_ms":4000,"refresh_s":0'
# debug: the most the module ever logs, so that "never the token" means it
export HWAGG_LOG=debug

hw_kr_open c "$HWAGG_CONF"
hw_kr c open CKR_OK
hw_kr c "login $PIN" CKR_OK
hw_kr c "keygen 01" CKR_OK
hw_kr c "sign 01" CKR_OK

faults=$(hw_gcp_stat '["faults"]')
tokens=$(hw_gcp_stat '["tokens_issued"]["metadata"]')
for mode in http429 http503 malformed reset expired; do
	hw_gcp_fault '{"mode":"'$mode'","count":2,"ops":["AsymmetricSign"]}'
	hw_kr c sign-again CKR_OK
	now=$(hw_gcp_stat '["faults"]')
	[ "$now" = $((faults + 2)) ] || hw_fail "$mode: the fake injected $((now - faults)) faults, expected 2"
	faults=$now
done
# each refused token was dropped and a new one fetched
[ "$(hw_gcp_stat '["tokens_issued"]["metadata"]')" = $((tokens + 2)) ] ||
	hw_fail "an expired token was not replaced by a new one"
hw_pass "429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, malformed JSON, reset and an expired token, twice each: retried to a signature"

# integrity: a damaged answer is asked for once more, never returned
signs=$(hw_gcp_stat '["by_op"]["AsymmetricSign"]')
hw_gcp_fault '{"mode":"badcrc","count":1,"ops":["AsymmetricSign"]}'
hw_kr c sign-again CKR_OK
hw_gcp_fault '{"mode":"noverify","count":1,"ops":["AsymmetricSign"]}'
hw_kr c sign-again CKR_OK
[ "$(hw_gcp_stat '["by_op"]["AsymmetricSign"]')" = $((signs + 4)) ] || hw_fail "a damaged answer was not asked for again"
hw_gcp_fault '{"mode":"badcrc","count":-1,"ops":["AsymmetricSign"]}'
signs=$(hw_gcp_stat '["by_op"]["AsymmetricSign"]')
hw_kr c sign-again CKR_DEVICE_ERROR
hw_gcp_fault '{"mode":"none"}'
[ "$(hw_gcp_stat '["by_op"]["AsymmetricSign"]')" = $((signs + 2)) ] || hw_fail "a damaged answer was retried more than once"
hw_expect "CRC mismatch logged" 'AsymmetricSign failed: provider error DataLoss: the answer failed its CRC32C checks' "$TMP/c.log"
hw_kr c sign-again CKR_OK
hw_pass "a wrong signatureCrc32c or verifiedDigestCrc32c false: asked once more; twice wrong: CKR_DEVICE_ERROR, logged"

# a fault that does not clear: the right code within the deadline, and the cause in the log
hw_gcp_fault '{"mode":"http429","count":-1,"ops":["AsymmetricSign"]}'
start=$(date +%s%N)
hw_kr c sign-again CKR_DEVICE_ERROR
ms=$((($(date +%s%N) - start) / 1000000))
hw_gcp_fault '{"mode":"none"}'
[ "$ms" -lt 8000 ] || hw_fail "a throttled sign took $ms ms (deadline 4000 ms)"
hw_expect "throttling logged" 'AsymmetricSign failed: provider error RESOURCE_EXHAUSTED: HTTP 429: Quota exceeded.*\(request id [0-9a-f-]{36}\): CKR_DEVICE_ERROR' "$TMP/c.log"
hw_kr c sign-again CKR_OK
hw_pass "persistent RESOURCE_EXHAUSTED: CKR_DEVICE_ERROR after $ms ms, logged with its status and request id"

# tokens: refreshed before they expire (no request refused), never logged
hw_gcp_ctl() { hw_kms_ctl "$@"; }
hw_gcp_ctl /_token '{"expire_in":4}'
hw_gcp_fault '{"mode":"expired","count":1,"ops":["AsymmetricSign"]}'
hw_kr c sign-again CKR_OK          # refused once, then a token living 4 s
refused=$(hw_gcp_stat '["unauthenticated"]')
tokens=$(hw_gcp_stat '["tokens_issued"]["metadata"]')
sleep 2.5
hw_kr c sign-again CKR_OK          # past half its life: a new one first
[ "$(hw_gcp_stat '["tokens_issued"]["metadata"]')" = $((tokens + 1)) ] || hw_fail "the token was not refreshed"
[ "$(hw_gcp_stat '["unauthenticated"]')" = "$refused" ] || hw_fail "a request went out with an expiring token"
hw_gcp_ctl /_token '{"expire_in":3600}'
grep -q 'ya29\.fake' "$TMP/c.log" && hw_fail "an access token is in the log"
hw_pass "a short-lived token is replaced before it expires (no request refused); no token in the debug log"

# unreachable: the token goes absent without waiting, and comes back
hw_gcp_fault '{"mode":"reset","count":-1}'
hw_kr c sign-again CKR_DEVICE_ERROR
start=$(date +%s%N)
hw_kr c present 0
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 2000 ] || hw_fail "asking for the token took $ms ms"
hw_expect "absence logged" 'gcp-kms\): token absent until the service answers again' "$TMP/c.log"
hw_gcp_fault '{"mode":"none"}'
hw_kr_until c present 1 100
hw_kr c open CKR_OK
hw_kr c "login $PIN" CKR_OK
hw_kr c "sign 01" CKR_OK
hw_pass "unreachable: token absent (answered in $ms ms), present again once the service answers, signing resumes"

# a creation whose answer was lost: resent with the same key id, found made
creates=$(hw_gcp_stat '["by_op"]["CreateCryptoKey"]')
hw_gcp_fault '{"mode":"lost","count":1,"ops":["CreateCryptoKey"]}'
hw_kr c "keygen 02" CKR_OK
[ "$(hw_gcp_stat '["by_op"]["CreateCryptoKey"]')" = $((creates + 2)) ] || hw_fail "the lost creation was not resent"
hw_expect "lost creation recovered" 'the key of an interrupted creation exists: using it' "$TMP/c.log"
hw_kr c "sign 02" CKR_OK
hw_pass "CreateCryptoKey whose answer was lost: resent, ALREADY_EXISTS taken as done, one key, it signs"

# an AWS credential source (a signed GetCallerIdentity) is not read: said so
printf '{"type":"external_account","audience":"//iam.googleapis.com/x","subject_token_type":"urn:ietf:params:aws:token-type:aws4_request","token_url":"https://127.0.0.1/v1/token","credential_source":{"environment_id":"aws1","region_url":"http://169.254.169.254/latest/meta-data/placement/availability-zone"}}\n' \
	>"$TMP/gcp/external.json"
GOOGLE_APPLICATION_CREDENTIALS="$TMP/gcp/external.json" hw_run_fails "keygen with an AWS-sourced external_account file" \
	hw_p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label x --id 09 --usage-sign
hw_expect "not supported" "CKR_FUNCTION_NOT_SUPPORTED" "$TMP/run.err"
hw_expect "the cause logged" "configuration error: $TMP/gcp/external.json: credentials type or credential_source not supported" "$TMP/run.err"
hw_pass "an external_account file with an AWS credential source: CKR_FUNCTION_NOT_SUPPORTED and a log line saying why"
