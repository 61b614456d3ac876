#!/bin/bash
# The consumer tests (tests/consumers/*.sh) against the gcp-kms slot, each on
# a fake of its own (tests/gcp/lib.sh): the OpenSSL engine (CSR, TLS client
# authentication with EC and RSA keys), NSS (certutil -K, CSRs), Java
# SunPKCS11 (keytool, SHA256withECDSA and SHA256withRSA), GnuTLS p11tool and
# OpenSSH, with EC and RSA keys. A Cloud KMS version's algorithm fixes
# padding and hash (README, "Not supported on gcp-kms"), so the RSA parts run
# with HW_RSA_SHA256_ONLY=1: ssh offers the RSA key as rsa-sha2-256 (not
# rsa-sha2-512) and p11tool skips its RSA-PSS test-sign. HW_GCP_TESTS="..."
# picks others; pkcs11_tool's own --test mixes paddings on one RSA key.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
[ "${HWAGG_SKIP_CONSUMERS:-}" = 1 ] && hw_skip "HWAGG_SKIP_CONSUMERS=1"
python3 -c 'import cryptography' 2>/dev/null || hw_skip "python3-cryptography is not installed (the fake needs it)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hwagg-gcp-consumers.XXXXXX") || hw_fail "mktemp -d failed"
trap hw_cleanup EXIT
hw_consumers gcp-kms "${HW_GCP_TESTS:-openssl_engine nss java p11tool ssh}" HW_TARGET=gcp-kms HW_RSA_SHA256_ONLY=1
