#!/bin/bash
# Every consumer test (tests/consumers/*.sh) against an hsm slot passing
# through to SoftHSM2 (HW_TARGET=hsm in tests/lib.sh): pkcs11-tool, OpenSSL
# engine + TLS client auth, OpenSSH, NSS, p11tool, Java, the p11-kit proxy
# and concurrent processes. Each script builds its own SoftHSM2 token and
# hwagg config. HW_HSM_TESTS="ssh nss" runs a subset.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=hsm
hw_setup
hw_consumers hsm "${HW_HSM_TESTS:-pkcs11_tool openssl_engine ssh nss p11tool java p11kit concurrency}" HW_TARGET=hsm
