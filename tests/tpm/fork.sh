#!/bin/bash
# The tpm slot across fork(), one long-running application
# (tests/keyring/krclient) on a bare swtpm that parent and children share
# (tpm2-abrmd's TCTI cannot serve a forked child: GLib's D-Bus connection
# does not survive fork). On a bare TPM the three object slots are everyone's:
# the SRK is persisted first and the slot keeps one key loaded, so the
# parent and a child fit:
#  - the parent initializes, logs in, generates a key and signs; a child
#    forked from it initializes the module again, logs in, signs with that
#    key and verifies the signature with the public key; the parent signs on
#    after the child exited (the child opened a TPM connection of its own and
#    never flushed or logged out anything of the parent's). Twice, with a key
#    made between the forks;
#  - a child's wrong PIN is CKR_PIN_INCORRECT: it really logs in on its own
#    (the TPM checks the PIN), and the parent signs on;
#  - 4 threads of the parent sign at once after the children.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=tpm
HW_TPM_PERSIST_SRK=1
HW_TPM_SLOT_KEYS=',"loaded_keys":1'
hw_setup

hw_kr_open a "$HWAGG_CONF"
hw_kr a open CKR_OK
hw_kr a "login $PIN" CKR_OK
hw_kr_fork_suite a
hw_kr a "parallel 01 4 20" CKR_OK
hw_kr a sign-again CKR_OK
hw_kr_quit a
hw_pass "all tpm fork checks passed"
