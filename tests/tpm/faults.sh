#!/bin/bash
# The tpm slot on a bare swtpm of its own (tests/lib.sh, hw_tpm_start):
#  - EC P-256, EC P-384 and RSA-2048 keys made in the TPM sign (ECDSA,
#    RSASSA, and raw RSA for a hash the TPM lacks) and OpenSSL verifies the
#    signatures with the public keys read from the token (and rejects them
#    over a changed message); the private keys say sensitive, never
#    extractable, local; the token names the TPM's maker; the store holds TPM
#    blobs, not keys;
#  - a wrong PIN is CKR_PIN_INCORRECT and counts in the TPM (the token says
#    "count low"); at the TPM's lockout even the right PIN is CKR_PIN_LOCKED,
#    and after the TPM's recovery time the right PIN works again;
#  - one application (tests/keyring/krclient) makes 20 keys and signs with
#    each in turn, twice around (more keys than the TPM has object slots);
#    4 threads sign at once;
#  - swtpm killed under the application: the token is absent, a signature
#    fails; swtpm started again: the token is back without a restart, and
#    the application logs in again and signs;
#  - another SRK persisted at 0x81000001 after keys were made: they still
#    sign, and keys made then sign too;
#  - a damaged key blob in the store: CKR_DEVICE_ERROR for that key, and
#    the other keys still sign.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=tpm
hw_setup

# ---- keys, signatures, attributes -----------------------------------------------
printf 'hwagg tpm slot test message\n' >"$TMP/msg"
hw_keygen_ec ec256 01
hw_keygen_ec ec384 02 secp384r1
hw_keygen_rsa rsa2048 03
for k in 01 02 03; do hw_pubkey_pem $k "$TMP/pub$k.pem"; done
hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01" --signature-format openssl
hw_check_sig "ECDSA P-256" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01"
hw_sign ECDSA-SHA384 02 "$TMP/msg" "$TMP/sig02" --signature-format openssl
HW_MD=sha384 hw_check_sig "ECDSA P-384" "$TMP/pub02.pem" "$TMP/msg" "$TMP/sig02"
hw_sign ECDSA-SHA512 01 "$TMP/msg" "$TMP/sig01b" --signature-format openssl
HW_MD=sha512 hw_check_sig "ECDSA P-256 over SHA-512" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01b"
hw_sign SHA256-RSA-PKCS 03 "$TMP/msg" "$TMP/sig03"
hw_check_sig "RSA PKCS#1 v1.5 SHA-256" "$TMP/pub03.pem" "$TMP/msg" "$TMP/sig03"
hw_sign SHA224-RSA-PKCS 03 "$TMP/msg" "$TMP/sig03b"
HW_MD=sha224 hw_check_sig "RSA PKCS#1 v1.5 SHA-224 (raw RSA in the TPM)" "$TMP/pub03.pem" "$TMP/msg" "$TMP/sig03b"
hw_pass "EC P-256, P-384 and RSA-2048 keys made in the TPM sign; OpenSSL verifies every signature"

hw_run "list private keys" hw_p11 --login --pin "$PIN" --list-objects --type privkey
[ "$(grep -c 'sensitive, always sensitive, never extractable, local' "$TMP/run.out")" = 3 ] ||
	hw_fail "private keys not all sensitive, never extractable, local:
$(cat "$TMP/run.out")"
hw_run "module info" hw_p11 -T
hw_expect "token info from the TPM" 'token manufacturer *: IBM' "$TMP/run.out"
python3 - "$TMP/store/hwagg.db" <<'PY' || hw_fail "the store holds something else than TPM key blobs"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT secret FROM objects WHERE secret IS NOT NULL").fetchall()
sys.exit(0 if len(rows) == 3 and all(bytes(r[0])[:4] == b"HWT1" for r in rows) else 1)
PY
hw_pass "private keys are sensitive, never extractable and local; the store holds TPM blobs"

# ---- PINs and the TPM's lockout ---------------------------------------------------------
hw_run_fails "wrong PIN" hw_p11 --login --pin 999999 --list-objects
hw_expect "wrong PIN" CKR_PIN_INCORRECT "$TMP/run.err"
hw_run "token flags after a wrong PIN" hw_p11 -T
hw_expect "token flags after a wrong PIN" 'user PIN count low' "$TMP/run.out"
# recovery after 6 s: the two checks made in lockout (each a process of
# its own) must come before it, also on a loaded machine
hw_tpm_da 2 6
hw_run_fails "wrong PIN 1 of 2" hw_p11 --login --pin 999999 --list-objects
hw_run_fails "wrong PIN 2 of 2" hw_p11 --login --pin 999999 --list-objects
hw_run_fails "right PIN in lockout" hw_p11 --login --pin "$PIN" --list-objects
hw_expect "right PIN in lockout" CKR_PIN_LOCKED "$TMP/run.err"
hw_run "token flags in lockout" hw_p11 -T
hw_expect "token flags in lockout" 'user PIN locked' "$TMP/run.out"
sleep 6.5
hw_run "right PIN after the recovery time" hw_p11 --login --pin "$PIN" --list-objects
hw_tpm_da 1000
hw_run "token flags after the lockout is cleared" hw_p11 -T
grep -Eq 'user PIN (count low|locked|final try)' "$TMP/run.out" &&
	hw_fail "the token still shows PIN failures after the TPM's lockout was cleared:
$(cat "$TMP/run.out")"
hw_pass "wrong PIN: CKR_PIN_INCORRECT, counted by the TPM; lockout: CKR_PIN_LOCKED; recovery by the TPM's clock"

# ---- many keys, threads --------------------------------------------------------------------
hw_kr_open a "$HWAGG_CONF"
hw_kr a open CKR_OK
hw_kr a "login $PIN" CKR_OK
for i in $(seq 10 29); do hw_kr a "keygen $i" CKR_OK; done
for round in 1 2; do
	for i in $(seq 10 29); do hw_kr a "sign $i" CKR_OK; done
done
hw_pass "20 keys signed in turn, twice around (the TPM holds 3 objects at a time)"
hw_kr a "parallel 10 4 25" CKR_OK
hw_kr a "parallel 01 4 10" CKR_OK
hw_pass "4 threads signed 25 times each at once"

# ---- the TPM goes away and comes back ----------------------------------------------------
hw_kr a "sign 10" CKR_OK
hw_tpm_stop
hw_kr a sign-again CKR_DEVICE_REMOVED
# an absent token is a removed one: its sessions are gone (B 5.1.7)
hw_kr a sign-again CKR_SESSION_HANDLE_INVALID
hw_kr a present 0
hw_tpm_start
hw_kr_until a present 1 50
hw_kr a open CKR_OK
hw_kr a "login $PIN" CKR_OK
hw_kr a "sign 10" CKR_OK
hw_kr a "sign 29" CKR_OK
hw_kr_quit a
hw_pass "swtpm killed: token absent, signing fails; swtpm back: token back, login and signing work"

# ---- another SRK persisted at 0x81000001 -----------------------------------------------
# (tpm2-pkcs11 persists its own there): keys made before still load, under
# the SRK of hwagg's template, and keys made after it sign too
TPM2TOOLS_TCTI=$HW_TPM_TCTI hw_run "persist a foreign SRK" \
	tpm2_createprimary -C o -g sha256 -G rsa2048 -c "$TMP/foreign.ctx"
TPM2TOOLS_TCTI=$HW_TPM_TCTI hw_run "persist a foreign SRK" tpm2_evictcontrol -C o -c "$TMP/foreign.ctx" 0x81000001
TPM2TOOLS_TCTI=$HW_TPM_TCTI hw_run "flush transient objects" tpm2_flushcontext -t
hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01d" --signature-format openssl
hw_check_sig "ECDSA P-256 under a foreign persisted SRK" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01d"
hw_keygen_ec after 05
hw_pubkey_pem 05 "$TMP/pub05.pem"
hw_sign ECDSA-SHA256 05 "$TMP/msg" "$TMP/sig05" --signature-format openssl
hw_check_sig "a key made under the foreign SRK" "$TMP/pub05.pem" "$TMP/msg" "$TMP/sig05"
hw_pass "another SRK persisted at 0x81000001: old keys and new keys sign"

# ---- a damaged blob --------------------------------------------------------------------------
hw_keygen_ec victim 99
python3 - "$TMP/store/hwagg.db" <<'PY' || hw_fail "could not damage the blob in the store"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
oid, blob = db.execute("SELECT id, secret FROM objects WHERE secret IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
blob = bytearray(blob)
blob[-5] ^= 0x5a                # inside the encrypted private part
db.execute("UPDATE objects SET secret = ? WHERE id = ?", (bytes(blob), oid))
db.commit()
PY
hw_run_fails "sign with a damaged blob" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 99 \
	-i "$TMP/msg" -o "$TMP/sig99"
hw_expect "sign with a damaged blob" CKR_DEVICE_ERROR "$TMP/run.err"
hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01c" --signature-format openssl
hw_check_sig "ECDSA P-256 after the damage" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01c"
hw_pass "a damaged blob: CKR_DEVICE_ERROR for its key; the other keys sign"
hw_pass "all tpm fault checks passed"
