#!/bin/bash
# Envelope encryption on the azure-kv slot with the loopback fake: an RSA
# decryption key made through the slot has key_ops wrapKey and unwrapKey
# (its public key CKA_WRAP, its private key CKA_UNWRAP); while its private
# key may decrypt it wraps no sensitive key (C_Decrypt would read it), so
# CKA_DECRYPT is set false on it first; a session AES-256
# data key made in hwagg encrypts data with CKM_AES_GCM, is wrapped with
# CKM_HWAGG_KMS_WRAP (the vault's wrapkey, RSA-OAEP-256) and destroyed; a new
# process unwraps it (unwrapkey) and decrypts the earlier ciphertext; a
# changed blob is CKR_WRAPPED_KEY_INVALID.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=azure-kv
hw_setup
hw_sk_client
kc="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/kms/kmsclient"
[ -x "$kc" ] || hw_skip "$kc is not built (make check builds it)"

hw_run "an RSA decryption key" "$kc" "$MODULE" "$TOKEN" "$PIN" keygen-dec azkek
hw_run "list it (fresh process)" hw_p11 --login --pin "$PIN" --list-objects --id 0d
hw_expect "public key wraps" 'Usage:.* wrap' "$TMP/run.out"
hw_expect "private key unwraps" 'Usage:.* unwrap' "$TMP/run.out"
hw_pass "an RSA decryption key made on the vault wraps (public key) and unwraps (private key)"

head -c 3000 /dev/urandom >"$TMP/data"
mkdir -p "$TMP/env"
hw_run "seal" sk seal azkek "$TMP/data" "$TMP/env" pair
hw_expect "value unreadable" '^value CKR_ATTRIBUTE_SENSITIVE$' "$TMP/run.out"
hw_expect "no wrap while the private key decrypts" '^refused CKR_KEY_NOT_WRAPPABLE$' "$TMP/run.out"
hw_expect "decryption taken away" '^no decrypt CKR_OK$' "$TMP/run.out"
hw_expect "wrapped" '^wrapped 256$' "$TMP/run.out"
hw_expect "destroyed" '^after destroy CKR_(OBJECT|KEY)_HANDLE_INVALID$' "$TMP/run.out"
[ "$(hw_az_stat '["by_op"].get("wrapkey", 0)')" -ge 2 ] || hw_fail "expected two wrapkey requests: $(hw_az_stat '["by_op"]')"
hw_run "open (fresh process)" sk open azkek "$TMP/env" "$TMP/out" pair
hw_expect "opened" '^opened 3000$' "$TMP/run.out"
cmp -s "$TMP/data" "$TMP/out" || hw_fail "the unwrapped data key decrypted something else"
hw_expect "tampered" '^tampered CKR_WRAPPED_KEY_INVALID$' "$TMP/run.out"
hw_expect "token refused" '^token CKR_TEMPLATE_INCONSISTENT$' "$TMP/run.out"
hw_pass "data key wrapped by the vault's wrapkey (RSA-OAEP-256, 256 bytes) and destroyed; a new process unwraps it and decrypts the earlier AES-GCM ciphertext; a changed blob is CKR_WRAPPED_KEY_INVALID"
