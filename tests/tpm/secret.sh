#!/bin/bash
# AES and HMAC keys inside the TPM (slots/tpm_secret.c), on swtpm through
# the bus recorder (tests/tpm/tpm_proxy.py):
#  - tests/tpm/skclient kat: imported keys give the NIST SP 800-38A answers
#    (ECB, CBC, CTR) and the RFC 4231 / 2202 HMACs, single-part and in
#    uneven parts; several TPM buffers of CBC-PAD, CTR and HMAC as OpenSSL
#    with the same key; the spec's length errors, a bad padding, a changed
#    MAC; GCM refused; a short CTR counter field up to its wrap;
#    imported keys not local;
#  - skclient gen / again: token keys the TPM made (sensitive, never
#    extractable, local, value unreadable) give the same answers in a new
#    process; an AES answer changed on the bus is refused (CKR_DEVICE_ERROR);
#  - the work is the TPM's: TPM2_HMAC and TPM2_EncryptDecrypt2 cross the
#    bus, on the salted session, with the data encrypted both ways
#    (continueSession|decrypt|encrypt = 61; HMAC: decrypt = 21), and an
#    imported key's value never appears on the bus;
#  - pkcs11-tool: the mechanism list (no GCM), an AES key made with --keygen
#    round-trips AES-CBC-PAD, an imported one matches `openssl enc`, a
#    generic secret signs and verifies SHA256-HMAC;
#  - with an RSA SRK (the slot's own session off: ESAPI's carries the
#    commands) the same known answers, length rules and refusals.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=tpm
hw_setup
client="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/tpm/skclient"
[ -x "$client" ] || hw_skip "$client is not built (make check builds it)"

hw_tpm_proxy
: >"$state/log"
: >"$state/bus"

# ---- known answers, length rules, attributes ----------------------------------------
hw_run "known answers with imported keys" "$client" "$MODULE" "$TOKEN" "$PIN" kat
cat "$TMP/run.out"
[ "$(grep -c '^ok ' "$TMP/run.out")" -ge 18 ] || hw_fail "skclient kat: too few checks ran"
hw_run "keys made by the TPM" "$client" "$MODULE" "$TOKEN" "$PIN" gen "$TMP"
cat "$TMP/run.out"
hw_run "the same keys in a new process" "$client" "$MODULE" "$TOKEN" "$PIN" again "$TMP"
hw_expect "a new process gets the same answers" "^ok a new process" "$TMP/run.out"

# an answer to TPM2_EncryptDecrypt2 changed on the bus is refused (the
# session HMAC), not handed out as ciphertext; it works again after
echo 193 >"$state/tamper"
HWAGG_LOG=warn hw_run "encrypt with a changed answer" "$client" "$MODULE" "$TOKEN" "$PIN" once
rm -f "$state/tamper"
hw_expect "a changed answer is CKR_DEVICE_ERROR" "^rv 0x30$" "$TMP/run.out"
hw_expect "the log says the answer does not authenticate" "does not authenticate" "$TMP/run.err"
hw_run "encrypt after the tampering stopped" "$client" "$MODULE" "$TOKEN" "$PIN" once
hw_expect "encryption works again" "^rv 0x0$" "$TMP/run.out"
hw_pass "a changed TPM2_EncryptDecrypt2 answer is refused, and encryption works again after"

# ---- what crossed the bus -----------------------------------------------------------
hmacs=$(grep -c '^155 21 salted' "$state/log" || true)
aes=$(grep -c '^193 61 salted' "$state/log" || true)
[ "$hmacs" -ge 10 ] || hw_fail "expected TPM2_HMAC on the salted session with the data encrypted; log: $(sort "$state/log" | uniq -c)"
[ "$aes" -ge 20 ] || hw_fail "expected TPM2_EncryptDecrypt2 on the salted session, encrypted both ways; log: $(sort "$state/log" | uniq -c)"
grep -E '^(155|193) ' "$state/log" | grep -qv ' salted$' && hw_fail "an HMAC or AES command on an unsalted session"
grep -q '^15b ' "$state/log" || hw_fail "no TPM2_HMAC_Start: the 3000-byte HMAC did not run as a sequence in the TPM"
hw_pass "TPM2_HMAC ($hmacs), TPM2_EncryptDecrypt2 ($aes) and an HMAC sequence ran in the TPM, data encrypted on the bus"
# the imported keys' values (SP 800-38A's AES-256 key, the 80-byte 0xaa
# key) never travel in clear
python3 - "$state/bus" <<'PY' || hw_fail "an imported key's value appears on the TPM's bus"
import sys
bus = open(sys.argv[1], "rb").read()
k256 = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
# nor does the data: SP 800-38A's first plaintext block, RFC 4231's message
plain = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
assert len(bus) > 10000, "the bus recording is empty"
sys.exit(1 if k256 in bus or b"\xaa" * 80 in bus or plain in bus or b"what do ya want" in bus else 0)
PY
hw_pass "imported key values and the data never on the bus in clear"

# ---- pkcs11-tool ------------------------------------------------------------------------
hw_write_conf '{"name":"'"$TOKEN"'","type":"tpm","tcti":"'"$HW_TPM_TCTI"'"}'
hw_run "mechanism list" hw_p11 -M
for m in AES-KEY-GEN AES-CBC AES-CBC-PAD AES-ECB AES-CTR SHA256-HMAC GENERIC-SECRET-KEY-GEN; do
	hw_expect "mechanism $m listed" "^ *${m}[ ,]" "$TMP/run.out"
done
grep -q "AES-GCM" "$TMP/run.out" && hw_fail "AES-GCM listed: the TPM has no GCM"
IV=000102030405060708090a0b0c0d0e0f
user() { hw_run "$1" hw_p11 --login --pin "$PIN" "${@:2}"; }
head -c 1000 /dev/urandom >"$TMP/plain"
user "keygen AES-256" --keygen --key-type AES:32 --id a1 --label aes256
user "encrypt" --encrypt -m AES-CBC-PAD --iv $IV --id a1 -i "$TMP/plain" -o "$TMP/ct"
[ "$(stat -c %s "$TMP/ct")" = 1008 ] || hw_fail "1000 bytes gave $(stat -c %s "$TMP/ct") bytes of AES-CBC-PAD"
user "decrypt" --decrypt -m AES-CBC-PAD --iv $IV --id a1 -i "$TMP/ct" -o "$TMP/back"
cmp -s "$TMP/plain" "$TMP/back" || hw_fail "AES-CBC-PAD did not decrypt back"
printf '0123456789abcdef0123456789abcdef' >"$TMP/k32"
user "import AES-256" --write-object "$TMP/k32" --type secrkey --key-type AES:32 --id a2 --label kat --usage-decrypt
user "encrypt with the imported key" --encrypt -m AES-CBC-PAD --iv $IV --id a2 -i "$TMP/plain" -o "$TMP/ct2"
openssl enc -aes-256-cbc -K "$(xxd -p -c 64 "$TMP/k32")" -iv $IV -in "$TMP/plain" -out "$TMP/ossl" ||
	hw_fail "openssl enc"
cmp -s "$TMP/ct2" "$TMP/ossl" || hw_fail "AES-CBC-PAD in the TPM differs from openssl enc -aes-256-cbc"
user "keygen HMAC" --keygen --key-type GENERIC:32 --id a3 --label mac
user "sign" --sign -m SHA256-HMAC --id a3 -i "$TMP/plain" -o "$TMP/mac"
[ "$(stat -c %s "$TMP/mac")" = 32 ] || hw_fail "an HMAC-SHA256 of $(stat -c %s "$TMP/mac") bytes"
user "verify" --verify -m SHA256-HMAC --id a3 -i "$TMP/plain" --signature-file "$TMP/mac"
hw_expect "the MAC verifies" "Signature is valid" "$TMP/run.out"
hw_pass "pkcs11-tool: AES-CBC-PAD round trip, openssl enc known answer, SHA256-HMAC sign/verify"

# ---- the same through ESAPI's session (an RSA SRK turns the slot's own off) ----------
hw_tpm_stop
rm -rf "$TMP/tpm" "$TMP/store"
HW_TPM_PORT=""
hw_tpm_start
hw_tpm_da 1000
for step in "createprimary -C o -g sha256 -G rsa2048:aes128cfb -c $TMP/rsa-srk.ctx" \
	"evictcontrol -C o -c $TMP/rsa-srk.ctx 0x81000001" "flushcontext -t"; do
	# shellcheck disable=SC2086
	TPM2TOOLS_TCTI=$HW_TPM_TCTI hw_run "an RSA SRK: tpm2_$step" tpm2_$step
done
hw_write_conf '{"name":"'"$TOKEN"'","type":"tpm","tcti":"'"$HW_TPM_TCTI"'"}'
hw_run "init token (RSA SRK)" pkcs11-tool --module "$MODULE" --slot-index 0 --init-token --label "$TOKEN" \
	--so-pin "$SO_PIN"
hw_run "init user PIN (RSA SRK)" hw_p11 --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$PIN"
HWAGG_LOG=info hw_run "known answers through ESAPI" "$client" "$MODULE" "$TOKEN" "$PIN" kat
hw_expect "the slot's own session is off" "go through ESAPI.*not ECC P-256" "$TMP/run.err"
[ "$(grep -c '^ok ' "$TMP/run.out")" -ge 18 ] || hw_fail "skclient kat through ESAPI: too few checks ran"
hw_pass "with an RSA SRK (ESAPI's session): the same known answers, length rules and refusals"
