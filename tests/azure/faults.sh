#!/bin/bash
# The azure-kv slot under the faults the fake injects, in one long-running
# client (tests/keyring/krclient): 429 with Retry-After, 500, 503 and a
# malformed answer each end in a signature once the fault clears (retried
# within the deadline, Retry-After honoured); an expired token is answered
# with a new challenge and a new token; a token near its expiry is renewed
# before it is refused; 403 is CKR_KEY_FUNCTION_NOT_PERMITTED at once; a
# persistent 429 ends in CKR_DEVICE_ERROR within the deadline; a garbled
# JWK fails key generation with CKR_DEVICE_ERROR; a challenge naming another
# service's audience gets no token; an unreachable IMDS fails fast as a
# credentials error. Every failure leaves one
# log line with its cause class, code and request id, and never the token.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=azure-kv
hw_setup
hw_az_conf '"timeout_ms":4000,"refresh_s":0'
export HWAGG_LOG=info

hw_kr_open c "$HWAGG_CONF"
hw_kr c open CKR_OK
hw_kr c "login $PIN" CKR_OK
hw_kr c "keygen 01" CKR_OK
hw_kr c "sign 01" CKR_OK

faults=$(hw_az_stat '["faults"]')
for mode in http429 http500 http503 malformed; do
	start=$(date +%s%N)
	hw_az_fault '{"mode":"'$mode'","count":2,"ops":["sign"]}'
	hw_kr c sign-again CKR_OK
	ms=$((($(date +%s%N) - start) / 1000000))
	now=$(hw_az_stat '["faults"]')
	[ "$now" = $((faults + 2)) ] || hw_fail "$mode: the fake injected $((now - faults)) faults, expected 2"
	# Retry-After: 1 twice: at least 2 s, not the backoff's few ms
	[ "$mode" != http429 ] || [ "$ms" -ge 1900 ] || hw_fail "429 with Retry-After: 1 retried after $ms ms"
	faults=$now
done
hw_pass "429 (Retry-After honoured), 500, 503 and malformed JSON, twice each: retried to a signature"

tokens=$(hw_az_stat '["tokens_by"]["client secret"]')
hw_az_fault '{"mode":"expired","count":1,"ops":["sign"]}'
hw_kr c sign-again CKR_OK
[ "$(hw_az_stat '["tokens_by"]["client secret"]')" = $((tokens + 1)) ] || hw_fail "no new token after a 401 challenge"
hw_pass "a token the vault refuses (401 + challenge): one new token, then the signature"

# tokens of 4 s from now on: the next one is renewed before the vault refuses it
hw_az_ctl /_tokens '{"expire_in":4}'
hw_az_fault '{"mode":"expired","count":1,"ops":["sign"]}'
hw_kr c sign-again CKR_OK
rejected=$(hw_az_stat '["rejected_tokens"]')
tokens=$(hw_az_stat '["tokens_by"]["client secret"]')
sleep 3
hw_kr c sign-again CKR_OK
[ "$(hw_az_stat '["tokens_by"]["client secret"]')" = $((tokens + 1)) ] || hw_fail "the token was not renewed"
[ "$(hw_az_stat '["rejected_tokens"]')" = "$rejected" ] || hw_fail "the vault saw an expired token"
hw_az_ctl /_tokens '{"expire_in":3600}'
hw_pass "a token near its expiry is renewed before use; the vault never sees it expired"

hw_az_fault '{"mode":"forbidden","count":1,"ops":["sign"]}'
hw_kr c sign-again "CKR_KEY_FUNCTION_NOT_PERMITTED|CKR_0x68"  # krclient names few codes
hw_expect "403 logged" 'Sign failed: credentials error Forbidden: HTTP 403: .* \(request id [0-9a-f-]{36}\): CKR_KEY_FUNCTION_NOT_PERMITTED' "$TMP/c.log"
hw_pass "403 (no role or access policy): CKR_KEY_FUNCTION_NOT_PERMITTED, logged as a credentials error with the request id"

hw_az_fault '{"mode":"http429","count":-1,"ops":["sign"]}'
start=$(date +%s%N)
hw_kr c sign-again CKR_DEVICE_ERROR
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 8000 ] || hw_fail "a throttled sign took $ms ms (deadline 4000 ms)"
hw_expect "throttling logged" 'Sign failed: provider error Throttled: HTTP 429 \(throttled\): .* \(request id [0-9a-f-]{36}\): CKR_DEVICE_ERROR' "$TMP/c.log"
hw_az_fault '{"mode":"none"}'
hw_kr c sign-again CKR_OK
hw_pass "persistent throttling: CKR_DEVICE_ERROR after $ms ms, logged as a provider error with its request id"

hw_az_fault '{"mode":"badjwk","count":1,"ops":["create"]}'
hw_kr c "keygen 02" CKR_DEVICE_ERROR
hw_expect "bad JWK logged" 'CreateKey answered a key bundle hwagg cannot use' "$TMP/c.log"
hw_pass "a key bundle with a garbled JWK: CKR_DEVICE_ERROR, logged"

# a challenge for another service's audience: no token is fetched for it
tokens=$(hw_az_stat '["tokens_by"]["client secret"]')
hw_az_fault '{"mode":"badaudience","count":1,"ops":["sign"]}'
hw_kr c sign-again CKR_DEVICE_ERROR
hw_expect "foreign audience logged" 'configuration error BadChallenge: the vault asks for a token for https://management.azure.com, which is not a Key Vault audience' "$TMP/c.log"
[ "$(hw_az_stat '["tokens_by"]["client secret"]')" = "$tokens" ] || hw_fail "a token was fetched for a foreign audience"
hw_kr c sign-again CKR_OK
hw_pass "a challenge naming a foreign audience: no token fetched for it, CKR_DEVICE_ERROR, then a new challenge and a signature"

# the identity endpoint unreachable (IMDS where there is none): a credentials error, quickly
hw_az_auth imds
export AZURE_POD_IDENTITY_AUTHORITY_HOST="http://127.0.0.1:$(hw_free_port)"
hw_kr_open d "$HWAGG_CONF"
hw_kr d open CKR_OK
hw_kr d "login $PIN" CKR_OK
start=$(date +%s%N)
hw_kr d "sign 01"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$HW_KR_REPLY" != CKR_OK ] || hw_fail "signed without a token"
[ "$ms" -lt 8000 ] || hw_fail "an unreachable IMDS took $ms ms"
hw_expect "IMDS unreachable logged" 'failed: credentials error' "$TMP/d.log"
hw_pass "IMDS unreachable: no signature ($HW_KR_REPLY) after $ms ms, a credentials error in the log"

grep -q 'eyJ0eXAiOiJKV1QifQ\.' "$TMP/c.log" && hw_fail "a bearer token is in the log"
grep -q "$HW_AZ_SECRET" "$TMP/c.log" && hw_fail "the client secret is in the log"
hw_pass "neither a token nor the client secret is in the log"
