#!/bin/bash
# The consumer tests (tests/consumers/*.sh) against the gcp-kms slot, each on
# a fake of its own (tests/gcp/lib.sh): the OpenSSL engine (CSR, TLS client
# authentication with EC and RSA keys). HW_GCP_TESTS="..." picks others; the
# pkcs11_tool, ssh and p11tool scripts sign with one RSA key both PKCS#1 v1.5
# and PSS, or with SHA-512 (OpenSSH's rsa-sha2-512), which one Cloud KMS
# version cannot (its algorithm fixes padding and hash: README, "Not
# supported on gcp-kms"); their EC parts pass.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
[ "${HWAGG_SKIP_CONSUMERS:-}" = 1 ] && hw_skip "HWAGG_SKIP_CONSUMERS=1"
python3 -c 'import cryptography' 2>/dev/null || hw_skip "python3-cryptography is not installed (the fake needs it)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hwagg-gcp-consumers.XXXXXX") || hw_fail "mktemp -d failed"
trap hw_cleanup EXIT
hw_consumers gcp-kms "${HW_GCP_TESTS:-openssl_engine}" HW_TARGET=gcp-kms
