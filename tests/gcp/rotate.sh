#!/bin/bash
# Rotation of gcp-kms keys on the loopback fake (tests/rotate/cloud.sh): a
# new version of the same crypto key (CreateCryptoKeyVersion); retire "destroy" schedules the old version's destruction, "disable" sets
# its state DISABLED (UpdateCryptoKeyVersion); the old public
# key stays for the verification of old signatures.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=gcp-kms
hw_setup
. "$HWAGG_SRCDIR/tests/rotate/cloud.sh"
HW_STAT=hw_gcp_stat
NEWVER='["by_op"].get("CreateCryptoKeyVersion", 0)'
NEWKEY='["by_op"].get("CreateCryptoKey", 0)'
hw_cloud_rotate rot-del 31 destroy DestroyCryptoKeyVersion "$NEWVER" "$NEWKEY"
hw_cloud_rotate rot-dis 32 disable UpdateCryptoKeyVersion "$NEWVER" "$NEWKEY"
