#!/bin/bash
# The azure-kv slot under concurrency (tests/kms/kmsclient): 8 threads each
# sign 15 digests with one vault key (each in a session of its own) while
# another thread lists the token again and again, through 30 injected 503s;
# every signature is verified with OpenSSL against the public key object.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=azure-kv
hw_setup
client="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/kms/kmsclient"
[ -x "$client" ] || hw_skip "$client is not built (make check builds it)"
hw_az_conf '"refresh_s":0,"timeout_ms":20000'
hw_run "generate a P-256 key" "$client" "$MODULE" "$TOKEN" "$PIN" keygen-ec threads-ec
hw_az_fault '{"mode":"http503","count":30,"ops":["sign"]}'
hw_run "8 signers and a lister under 503s" "$client" "$MODULE" "$TOKEN" "$PIN" threads 8 15 threads-ec
hw_expect "all verified" '^signed 120 verified 120 listings [1-9]' "$TMP/run.out"
[ "$(hw_az_stat '["faults"]')" = 30 ] || hw_fail "the fake injected $(hw_az_stat '["faults"]') 503s, expected 30"
[ "$(hw_az_stat '["tokens_by"]["client secret"]')" -le 2 ] ||
	hw_fail "$(hw_az_stat '["tokens_by"]["client secret"]') tokens for two processes: the token cache is not shared by the threads"
hw_pass "8 threads x 15 signatures, all verified, while listing $(awk '{print $6}' "$TMP/run.out") times through 30 injected 503s; one token per process"
