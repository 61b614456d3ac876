#!/bin/bash
# Envelope encryption on the aws-kms slot with the loopback fake: a token
# AES key is a KMS SYMMETRIC_DEFAULT key (CKA_WRAP/CKA_UNWRAP); a session
# AES-256 data key made in hwagg encrypts data with CKM_AES_GCM, is wrapped
# with CKM_HWAGG_KMS_WRAP (KMS Encrypt, encryption context hwagg=data-key)
# and destroyed; a new process unwraps it (KMS Decrypt) and decrypts the
# earlier ciphertext. The data key's value is never readable, an
# unextractable one is not wrapped, a changed blob is CKR_WRAPPED_KEY_INVALID
# and unwrapping into a token key is refused.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup
hw_sk_client

hw_run "make the key-encryption key" sk kekgen kek
hw_expect "C_GenerateKey (token AES)" '^CKR_OK$' "$TMP/run.out"
hw_run "attributes (fresh process)" sk attrs kek
# CKO_SECRET_KEY = 4, CKK_AES = 0x1f = 31
hw_expect "KEK listed" '^class 4 type 31 len 32 sign 0 verify 0 sensitive 1 extractable 0 never_extractable 1 value CKR_ATTRIBUTE_SENSITIVE uri arn:aws:kms:' "$TMP/run.out"
arn=$(sed -n 's/.* uri //p' "$TMP/run.out")
# the README's way: pkcs11-tool makes one too
hw_run "pkcs11-tool --keygen AES:32" hw_p11 --login --pin "$PIN" --keygen --key-type AES:32 --label kek2 --usage-wrap
hw_run "attributes of pkcs11-tool's KEK" sk attrs kek2
hw_expect "pkcs11-tool's KEK" '^class 4 type 31 len 32 ' "$TMP/run.out"
[ "$(hw_kms_stat '["by_op"]["CreateKey"]')" = 2 ] || hw_fail "expected two CreateKey requests"
hw_pass "a token CKM_AES_KEY_GEN key (skclient, pkcs11-tool) is a KMS SYMMETRIC_DEFAULT key, listed as a sensitive CKK_AES secret key"

head -c 3000 /dev/urandom >"$TMP/data"
mkdir -p "$TMP/env"
hw_run "seal" sk seal kek "$TMP/data" "$TMP/env"
hw_expect "value unreadable" '^value CKR_ATTRIBUTE_SENSITIVE$' "$TMP/run.out"
hw_expect "unextractable" '^unextractable CKR_KEY_UNEXTRACTABLE$' "$TMP/run.out"
hw_expect "wrapped" '^wrapped [0-9]+$' "$TMP/run.out"
hw_expect "destroyed" '^after destroy CKR_(OBJECT|KEY)_HANDLE_INVALID$' "$TMP/run.out"
[ "$(hw_kms_stat '["by_op"]["Encrypt"]')" = 2 ] || hw_fail "expected two Encrypt requests (size query, wrap)"
cmp -s "$TMP/data" "$TMP/env/ct" && hw_fail "the ciphertext is the plaintext"
[ "$(stat -c %s "$TMP/env/ct")" = 3016 ] || hw_fail "AES-GCM ciphertext of 3000 bytes is not 3000 + 16"
# the blob is KMS's: the fake decrypts it only with the context hwagg=data-key
python3 - "$TMP/env/wrapped" "$arn" <<'PY' || hw_fail "the wrapped key is not a KMS blob of the KEK"
import sys
blob = open(sys.argv[1], "rb").read()
assert blob[:36].decode() == sys.argv[2].rsplit("/", 1)[1], blob[:36]
PY
hw_pass "data key: AES-256-GCM over 3000 bytes, wrapped by KMS Encrypt into a blob of the KEK, destroyed; CKA_VALUE unreadable, an unextractable data key is not wrapped"

hw_run "open (fresh process)" sk open kek "$TMP/env" "$TMP/out"
hw_expect "opened" '^opened 3000$' "$TMP/run.out"
cmp -s "$TMP/data" "$TMP/out" || hw_fail "the unwrapped data key decrypted something else"
hw_expect "tampered" '^tampered CKR_WRAPPED_KEY_INVALID$' "$TMP/run.out"
hw_expect "token refused" '^token CKR_TEMPLATE_INCONSISTENT$' "$TMP/run.out"
[ "$(hw_kms_stat '["by_op"]["Decrypt"]')" = 2 ] || hw_fail "expected two Decrypt requests"
hw_pass "a new process unwraps the data key (KMS Decrypt) and decrypts the earlier ciphertext; a changed blob is CKR_WRAPPED_KEY_INVALID, a token data key is refused"
