#!/bin/bash
# The aws-kms slot under every fault the fake injects, in one long-running
# client (tests/keyring/krclient): throttling, 429, 500, a reset connection,
# a malformed answer and expired credentials each end in a signature once
# the fault clears (retries within the deadline); a persistent fault ends in
# CKR_DEVICE_ERROR and one log line naming the cause class, the provider's
# code and the request id; a wrong signature is not retried; an unreachable
# service makes the token absent (C_GetTokenInfo does not wait) and it comes
# back by itself.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup
hw_kms_conf '"timeout_ms":4000,"refresh_s":0'
export HWAGG_LOG=info

hw_kr_open c "$HWAGG_CONF"
hw_kr c open CKR_OK
hw_kr c "login $PIN" CKR_OK
hw_kr c "keygen 01" CKR_OK
hw_kr c "sign 01" CKR_OK

faults=$(hw_kms_stat '["faults"]')
for mode in throttle http429 http500 reset malformed expired; do
	hw_kms_fault '{"mode":"'$mode'","count":2,"ops":["Sign"]}'
	hw_kr c sign-again CKR_OK
	now=$(hw_kms_stat '["faults"]')
	[ "$now" = $((faults + 2)) ] || hw_fail "$mode: the fake injected $((now - faults)) faults, expected 2"
	faults=$now
done
hw_pass "throttling, 429, 500, reset, malformed JSON and expired credentials, twice each: retried to a signature"

# a fault that does not clear: the right code within the deadline, and the cause in the log
hw_kms_fault '{"mode":"throttle","count":-1,"ops":["Sign"]}'
start=$(date +%s%N)
hw_kr c sign-again CKR_DEVICE_ERROR
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 8000 ] || hw_fail "a throttled sign took $ms ms (deadline 4000 ms)"
hw_expect "throttling logged" 'Sign failed: provider error ThrottlingException: HTTP 400: Rate exceeded \(request id [0-9a-f-]{36}\): CKR_DEVICE_ERROR' "$TMP/c.log"
hw_kms_fault '{"mode":"none"}'
hw_kr c sign-again CKR_OK
hw_pass "persistent throttling: CKR_DEVICE_ERROR after $ms ms, logged as a provider error with its request id"

# a wrong signature is the credentials' fault: no retry
before=$(hw_kms_stat '["by_op"]["Sign"]')
hw_kms_fault '{"mode":"badsig","count":-1}'
hw_kr c sign-again CKR_DEVICE_ERROR
hw_kms_fault '{"mode":"none"}'
[ "$(hw_kms_stat '["by_op"]["Sign"]')" = $((before + 1)) ] || hw_fail "a rejected signature was retried"
hw_expect "bad signature logged" 'Sign failed: credentials error InvalidSignatureException' "$TMP/c.log"
hw_kr c sign-again CKR_OK
hw_pass "a rejected SigV4 signature: CKR_DEVICE_ERROR at once, logged as a credentials error, not retried"

# slower than the deadline: connectivity, bounded by timeout_ms
# (bounds far from both the deadline and the service's delay: a loaded
# machine adds seconds to neither side of the verdict)
hw_kms_fault '{"latency_ms":12000}'
start=$(date +%s%N)
hw_kr c sign-again CKR_DEVICE_ERROR
ms=$((($(date +%s%N) - start) / 1000000))
hw_kms_fault '{"latency_ms":0}'
[ "$ms" -lt 9000 ] || hw_fail "a slow service held the caller $ms ms (deadline 4000 ms)"
hw_expect "timeout logged" 'Sign failed: connectivity error' "$TMP/c.log"
hw_pass "a service slower than the deadline: CKR_DEVICE_ERROR after $ms ms (timeout_ms 4000)"

# unreachable: the token goes absent without waiting, and comes back
hw_kms_fault '{"mode":"reset","count":-1}'
hw_kr c sign-again CKR_DEVICE_ERROR
start=$(date +%s%N)
hw_kr c present 0
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 2000 ] || hw_fail "asking for the token took $ms ms"
hw_expect "absence logged" 'token absent until the service answers again' "$TMP/c.log"
hw_kms_fault '{"mode":"none"}'
for _ in $(seq 1 50); do
	hw_kr c present
	[ "$HW_KR_REPLY" = 1 ] && break
	sleep 0.2
done
[ "$HW_KR_REPLY" = 1 ] || hw_fail "the token did not come back within 10 s"
hw_kr c sign-again CKR_OK
hw_pass "unreachable: token absent (answered in $ms ms), present again once the service answers, signing resumes"

# fork: the child opens connections of its own and the parent's still work
conns=$(hw_kms_stat '["tls_connections"]')
hw_kr c "fork $PIN 01" CKR_OK
[ "$(hw_kms_stat '["tls_connections"]')" -gt "$conns" ] || hw_fail "the child signed without a connection of its own"
conns=$(hw_kms_stat '["tls_connections"]')
hw_kr c sign-again CKR_OK
hw_kr c sign-again CKR_OK
[ "$(hw_kms_stat '["tls_connections"]')" = "$conns" ] || hw_fail "the parent had to reconnect after the fork"
hw_pass "a forked child signs on a connection of its own; the parent keeps signing on its kept-alive one"

# CreateKey is not idempotent: after an answer that never came, the key the
# lost request made is found by its request tag and used, not made twice
keys=$(hw_kms_stat '["by_op"].get("CreateKey", 0)')
hw_kms_fault '{"mode":"lost","count":1,"ops":["CreateKey"]}'
hw_kr c "keygen 02" CKR_OK
[ "$(hw_kms_stat '["by_op"].get("CreateKey", 0)')" = $((keys + 1)) ] ||
	hw_fail "CreateKey was sent again after its answer was lost"
hw_expect "lost CreateKey recovered" 'the key of an interrupted CreateKey exists: using it' "$TMP/c.log"
hw_kr c "sign 02" CKR_OK
hw_pass "CreateKey whose answer was lost: its key found by the request tag and used, no second key"

# another process schedules a key's deletion: this one's next signature
# fails with CKR_KEY_FUNCTION_NOT_PERMITTED and the key leaves its listing
hw_kr c count
before=$HW_KR_REPLY
hw_run "delete key 01 in another process" hw_p11 --login --pin "$PIN" --delete-object --type privkey --id 01
hw_kr c "sign 01" CKR_0x68
hw_kr c count
[ "$HW_KR_REPLY" = $((before - 2)) ] || hw_fail "the deleted key pair is still listed ($HW_KR_REPLY objects, were $before)"
hw_pass "a key deleted by another process: CKR_KEY_FUNCTION_NOT_PERMITTED, then gone from the listing"
