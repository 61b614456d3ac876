#!/bin/bash
# Consumer tests (tests/consumers/*.sh) against the policy slot
# (HW_TARGET=policy in tests/lib.sh): the application names the policy
# token only; the keys are placed on, and used from, the SoftHSM2 token
# behind its hsm member. HW_POLICY_TESTS="ssh" runs a subset.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=policy
hw_setup
hw_consumers policy "${HW_POLICY_TESTS:-pkcs11_tool openssl_engine ssh p11tool}" HW_TARGET=policy
