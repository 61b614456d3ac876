#!/bin/bash
# The consumer tests (tests/consumers/*.sh) against the aws-kms slot, each
# on a fake of its own: pkcs11-tool, the OpenSSL engine with TLS client
# authentication, OpenSSH and GnuTLS p11tool. HW_KMS_TESTS="..." picks
# others: "nss java p11kit" pass as well and are left out by default to keep
# make check short.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hwagg-kms-consumers.XXXXXX") || hw_fail "mktemp -d failed"
trap hw_cleanup EXIT
hw_consumers aws-kms "${HW_KMS_TESTS:-pkcs11_tool openssl_engine ssh p11tool}" HW_TARGET=aws-kms
