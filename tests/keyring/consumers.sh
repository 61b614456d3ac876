#!/bin/bash
# Every consumer test (tests/consumers/*.sh) against the keyring slot, all on
# one private session bus with one gnome-keyring-daemon: pkcs11-tool,
# OpenSSL engine + TLS, OpenSSH, NSS, p11tool, Java, p11-kit proxy and the
# concurrent processes. Each script gets a collection of its own in that
# daemon (created with the PIN as its password, named by path in its config),
# so their keys never meet. HW_KEYRING_TESTS="ssh nss" runs a subset.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=keyring
hw_setup

# every script on this bus and daemon, each in a collection of its own
hw_consumers keyring "${HW_KEYRING_TESTS:-pkcs11_tool openssl_engine ssh nss p11tool java p11kit concurrency}" \
	HW_TARGET=keyring HW_KEYRING_SHARED=1
