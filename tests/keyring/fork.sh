#!/bin/bash
# The keyring slot across fork(), as prefork servers use it (initialize, then
# fork workers), with one long-running application (tests/keyring/krclient):
#  - the parent initializes, logs in, generates a key and signs; a child
#    forked from it initializes the module again, logs in, signs with that key
#    and verifies the signature with the public key; the parent signs on after
#    the child exited (the child connected afresh and left the parent's
#    connection alone). Twice, with a key made between the forks, so the
#    parent's connection keeps working for reads, writes and change signals;
#  - a child's wrong PIN is CKR_PIN_INCORRECT: it really logs in on its own;
#  - no thread is started: the parent's thread count (/proc/self/task) after
#    all that is what it was before C_Initialize, and each child's count
#    after initializing, logging in, signing and verifying is what it was
#    right after fork (CKF_LIBRARY_CANT_CREATE_OS_THREADS holds);
#  - the application's own threads share the slot's one connection: 8
#    threads signing at once with a key read from the keyring for every
#    signature all succeed (every reply reaches the call that waits for it,
#    none is lost to another thread or to change detection).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=keyring
hw_setup

hw_kr_open a "$HWAGG_CONF"
hw_kr a open CKR_OK
hw_kr a "login $PIN" CKR_OK
hw_kr_fork_suite a

hw_kr a threads
read -r before now <<<"$HW_KR_REPLY"
[ -n "$now" ] && [ "$before" -ge 1 ] || hw_fail "no thread count from krclient: $HW_KR_REPLY"
[ "$now" = "$before" ] || hw_fail "the application had $before thread(s) before C_Initialize and $now after using the keyring slot"
hw_pass "no thread started: $now thread(s) before C_Initialize and after connecting, signing and forking"

hw_kr a "parallel 01 8 40" CKR_OK
hw_kr a sign-again CKR_OK
hw_pass "8 threads signed 40 times each at once, each signature reading the key from the keyring"
hw_pass "all keyring fork checks passed"
