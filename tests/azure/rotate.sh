#!/bin/bash
# Rotation of azure-kv keys on the loopback fake (tests/rotate/cloud.sh): a
# new version of the same key name (CreateKey on the existing name); the
# vault deletes only whole keys, so both "destroy" and "disable" disable
# the old version (PATCH attributes.enabled false); the old public key
# stays for the verification of old signatures.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=azure-kv
hw_setup
. "$HWAGG_SRCDIR/tests/rotate/cloud.sh"
HW_STAT=hw_az_stat
hw_cloud_rotate rot-del 31 destroy update '["new_versions"]' '["new_keys"]'
hw_cloud_rotate rot-dis 32 disable update '["new_versions"]' '["new_keys"]'
