#!/bin/bash
# Rotation of aws-kms keys on the loopback fake (tests/rotate/cloud.sh):
# retire "destroy" schedules the old key's deletion (ScheduleKeyDeletion),
# "disable" disables it (DisableKey); both keep the old public key, which
# KMS no longer serves, for the verification of old signatures.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup
. "$HWAGG_SRCDIR/tests/rotate/cloud.sh"
HW_STAT=hw_kms_stat
hw_cloud_rotate rot-del 31 destroy ScheduleKeyDeletion
hw_cloud_rotate rot-dis 32 disable DisableKey
