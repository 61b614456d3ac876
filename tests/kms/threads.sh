#!/bin/bash
# 8 threads sign with one aws-kms key while a ninth lists the token's
# objects (refresh_s 0: every listing goes to KMS) and the fake answers 429
# to many of the requests: every signature verifies with OpenSSL, nothing
# fails, and the fake really did throttle.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup
client="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/kms/kmsclient"
[ -x "$client" ] || hw_skip "$client is not built (make check builds it)"
hw_kms_conf '"refresh_s":0,"timeout_ms":20000'
hw_run "generate a P-256 key" "$client" "$MODULE" "$TOKEN" "$PIN" keygen-ec threads-ec
# every fourth request answered 429, 60 times
hw_kms_fault '{"mode":"http429","count":60,"every":4}'
hw_run "8 signers and a lister under 429s" "$client" "$MODULE" "$TOKEN" "$PIN" threads 8 15 threads-ec
hw_expect "all verified" '^signed 120 verified 120 listings [1-9]' "$TMP/run.out"
# 120 signatures alone are 120 requests: at least 30 of them were refused
n429=$(hw_kms_stat '["faults"]')
[ "$n429" -ge 30 ] || hw_fail "the fake injected only $n429 429s"
hw_pass "8 threads x 15 signatures, all verified, while listing $(awk '{print $6}' "$TMP/run.out") times through $n429 injected 429s"
