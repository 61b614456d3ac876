#!/bin/bash
# Every consumer test (tests/consumers/*.sh) against the tpm slot: each script
# on a swtpm of its own with tpm2-abrmd in front of it on a private session
# bus (as the kernel resource manager is on a real machine: several
# processes at once, and what a process leaves loaded is flushed when it
# exits). HW_TPM_TESTS="ssh nss" runs a subset.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=tpm
hw_setup

# HW_KEYRING_BUS empty: each script starts a bus (and an abrmd) of its own
hw_consumers tpm "${HW_TPM_TESTS:-pkcs11_tool openssl_engine ssh p11tool nss java p11kit concurrency}" \
	HW_TARGET=tpm HW_TPM_ABRMD=1 HW_KEYRING_BUS=
