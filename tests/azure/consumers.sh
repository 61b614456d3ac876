#!/bin/bash
# The consumer tests (tests/consumers/*.sh) against the azure-kv slot, each
# on a fake of its own: pkcs11-tool, the OpenSSL engine with TLS client
# authentication, OpenSSH and GnuTLS p11tool. HW_AZ_TESTS="..." picks others
# (nss, java, p11kit).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
[ "${HWAGG_SKIP_CONSUMERS:-}" = 1 ] && hw_skip "HWAGG_SKIP_CONSUMERS=1"
python3 -c 'import cryptography' 2>/dev/null || hw_skip "python3-cryptography is not installed (the fake needs it)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hwagg-azure-consumers.XXXXXX") || hw_fail "mktemp -d failed"
trap hw_cleanup EXIT
hw_consumers azure-kv "${HW_AZ_TESTS:-pkcs11_tool openssl_engine ssh p11tool}" HW_TARGET=azure-kv
