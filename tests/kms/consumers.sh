#!/bin/bash
# The consumer tests (tests/consumers/*.sh) against the aws-kms slot, each
# on a fake of its own: pkcs11-tool, the OpenSSL engine with TLS client
# authentication, OpenSSH and GnuTLS p11tool. HW_KMS_TESTS="..." picks
# others: "nss java p11kit" pass as well and are left out by default to keep
# make check short.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
# what each script would skip on its own, skipped here as a whole, so that
# a run of nothing but skips is not reported as a pass
[ "${HWAGG_SKIP_CONSUMERS:-}" = 1 ] && hw_skip "HWAGG_SKIP_CONSUMERS=1"
python3 -c 'import cryptography' 2>/dev/null || hw_skip "python3-cryptography is not installed (the fake needs it)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hwagg-kms-consumers.XXXXXX") || hw_fail "mktemp -d failed"
trap hw_cleanup EXIT
hw_consumers aws-kms "${HW_KMS_TESTS:-pkcs11_tool openssl_engine ssh p11tool}" HW_TARGET=aws-kms
