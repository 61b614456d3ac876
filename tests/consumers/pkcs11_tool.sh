#!/bin/bash
# pkcs11-tool (OpenSC) against the module: the token is listed, the expected
# mechanisms are offered, EC P-256/P-384 and RSA-2048 keys are generated on
# it, and every signature it makes (ECDSA raw and hashed, RSA PKCS#1 v1.5 raw
# and hashed, RSA-PSS) verifies with plain openssl against the public key read
# back from the token, while a tampered message fails; RSA decryption (PKCS#1
# v1.5 and OAEP) returns the plaintext openssl encrypted; a wrong PIN gives
# CKR_PIN_INCORRECT; and pkcs11-tool's own --test passes.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
hw_setup

# --- token and mechanisms ---
hw_run "list slots" pkcs11-tool --module "$MODULE" --list-slots
hw_expect "list slots shows the token" "token label +: $TOKEN\$" "$TMP/run.out"

required="ECDSA RSA-PKCS SHA256-RSA-PKCS RSA-PKCS-PSS SHA256-RSA-PKCS-PSS RSA-PKCS-KEY-PAIR-GEN ECDSA-KEY-PAIR-GEN"
# SoftHSM2 2.6.1 has no CKM_ECDSA_SHA256; hwagg hashes then signs, so it must list it.
[ "$HW_TARGET" != softhsm ] && required="$required ECDSA-SHA256"
for m in $required; do
	hw_has_mech "$m" || hw_fail "mechanism $m not in --list-mechanisms:
$(hw_mechs)"
done
hw_pass "token listed; mechanisms: $required"

# pkcs11-tool --test decrypts with RSA-OAEP/SHA-256 whenever an RSA key is
# on the token, so run it before the RSA key exists, and again later if the
# token can do that.
hw_keygen_ec ec256 01 prime256v1
hw_keygen_ec ec384 02 secp384r1
hw_run "pkcs11-tool --test (EC keys only)" hw_p11 --test --login --pin "$PIN"
hw_keygen_rsa rsa2048 03 2048
for id in 01 02 03; do hw_pubkey_pem "$id" "$TMP/pub$id.pem"; done
hw_run "public key 02 is P-384" openssl pkey -pubin -in "$TMP/pub02.pem" -text -noout
hw_expect "public key 02 is P-384" 'NIST CURVE: P-384|secp384r1' "$TMP/run.out"
hw_run "public key 03 is RSA-2048" openssl pkey -pubin -in "$TMP/pub03.pem" -text -noout
hw_expect "public key 03 is RSA-2048" 'Public-Key: \(2048 bit\)' "$TMP/run.out"

head -c 1000 /dev/urandom >"$TMP/msg"

# --- ECDSA on a digest made by openssl (signature converted to DER) ---
for pair in 01:sha256 02:sha384; do
	id=${pair%%:*} md=${pair#*:}
	openssl dgst "-$md" -binary -out "$TMP/msg.$md" "$TMP/msg"
	hw_sign ECDSA "$id" "$TMP/msg.$md" "$TMP/sig-ecdsa-$id" --signature-format openssl
	HW_MD=$md hw_check_sig "ECDSA key $id over $md digest" "$TMP/pub$id.pem" "$TMP/msg" "$TMP/sig-ecdsa-$id"
done
hw_pass "ECDSA P-256/P-384 signatures verify"

if hw_has_mech ECDSA-SHA256; then
	hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig-ecdsa-sha256" --signature-format openssl
	hw_check_sig "ECDSA-SHA256" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig-ecdsa-sha256"
	hw_pass "ECDSA-SHA256 signature verifies"
else
	hw_log "ECDSA-SHA256 not offered by target $HW_TARGET: not tested"
fi

# --- RSA PKCS#1 v1.5: hashed on the token, and raw over a DigestInfo ---
hw_sign SHA256-RSA-PKCS 03 "$TMP/msg" "$TMP/sig-rsa-sha256"
hw_check_sig "SHA256-RSA-PKCS" "$TMP/pub03.pem" "$TMP/msg" "$TMP/sig-rsa-sha256"
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$TMP/msg.sha256"; } >"$TMP/msg.di"
hw_sign RSA-PKCS 03 "$TMP/msg.di" "$TMP/sig-rsa-raw"
hw_check_sig "RSA-PKCS over DigestInfo" "$TMP/pub03.pem" "$TMP/msg" "$TMP/sig-rsa-raw"
hw_pass "RSA PKCS#1 v1.5 signatures verify"

# --- RSA-PSS: pkcs11-tool uses MGF1 with the same hash and salt = hash length ---
hw_sign SHA256-RSA-PKCS-PSS 03 "$TMP/msg" "$TMP/sig-pss"
hw_expect "PSS parameters" 'salt_len=32' "$TMP/run.err"
pss="-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 -sigopt rsa_mgf1_md:sha256"
# shellcheck disable=SC2086
hw_check_sig "SHA256-RSA-PKCS-PSS" "$TMP/pub03.pem" "$TMP/msg" "$TMP/sig-pss" $pss
hw_sign RSA-PKCS-PSS 03 "$TMP/msg.sha256" "$TMP/sig-pss-raw" --hash-algorithm SHA256 --mgf MGF1-SHA256
# shellcheck disable=SC2086
hw_check_sig "RSA-PKCS-PSS over digest" "$TMP/pub03.pem" "$TMP/msg" "$TMP/sig-pss-raw" $pss
hw_pass "RSA-PSS signatures verify"

# --- decryption ---
head -c 32 /dev/urandom >"$TMP/secret"
decrypt_check() {	# NAME MECH [pkcs11-tool args] — decrypt $TMP/ct, compare
	local name=$1 mech=$2
	shift 2
	hw_run "decrypt $name" hw_p11 --login --pin "$PIN" --decrypt -m "$mech" --id 03 \
		-i "$TMP/ct" -o "$TMP/pt" "$@"
	cmp -s "$TMP/secret" "$TMP/pt" || hw_fail "decrypt $name: plaintext differs"
}
if [ "$HW_TARGET" = aws-kms ]; then
	# a KMS key either signs or decrypts (OAEP only), and pkcs11-tool cannot
	# ask for a key that does not sign: tests/kms/basic.sh tests decryption
	hw_log "aws-kms: RSA decryption is tested by tests/kms/basic.sh"
elif [ "$HW_TARGET" = azure-kv ]; then
	# Key Vault decrypts RSA with OAEP only (RSA1_5 is not offered here)
	hw_log "azure-kv: no RSA-PKCS decryption; OAEP below"
else
	hw_run "openssl encrypt PKCS#1 v1.5" openssl pkeyutl -encrypt -pubin -inkey "$TMP/pub03.pem" \
		-pkeyopt rsa_padding_mode:pkcs1 -in "$TMP/secret" -out "$TMP/ct"
	decrypt_check "RSA-PKCS" RSA-PKCS
	hw_pass "RSA-PKCS decryption returns the plaintext"
fi

oaep_sha256=no
if hw_has_mech RSA-PKCS-OAEP && [ "$HW_TARGET" != aws-kms ]; then
	hw_run "openssl encrypt OAEP SHA-256" openssl pkeyutl -encrypt -pubin -inkey "$TMP/pub03.pem" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
		-in "$TMP/secret" -out "$TMP/ct"
	if hw_p11 --login --pin "$PIN" --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA256 \
		--mgf MGF1-SHA256 --id 03 -i "$TMP/ct" -o "$TMP/pt" >"$TMP/oaep.out" 2>&1; then
		cmp -s "$TMP/secret" "$TMP/pt" || hw_fail "decrypt RSA-PKCS-OAEP SHA-256: plaintext differs"
		oaep_sha256=yes
		hw_pass "RSA-OAEP (SHA-256) decryption returns the plaintext"
	elif grep -Eq 'CKR_(ARGUMENTS_BAD|MECHANISM_PARAM_INVALID)' "$TMP/oaep.out"; then
		# The token refuses these OAEP parameters (SoftHSM2: SHA-1 only).
		hw_log "OAEP with SHA-256 rejected by the token; testing OAEP with SHA-1"
		hw_run "openssl encrypt OAEP SHA-1" openssl pkeyutl -encrypt -pubin -inkey "$TMP/pub03.pem" \
			-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 \
			-in "$TMP/secret" -out "$TMP/ct"
		decrypt_check "RSA-PKCS-OAEP SHA-1" RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1
		hw_pass "RSA-OAEP (SHA-1) decryption returns the plaintext"
	else
		hw_fail "decrypt RSA-PKCS-OAEP SHA-256 failed:
$(cat "$TMP/oaep.out")"
	fi
else
	hw_log "RSA-PKCS-OAEP not offered by target $HW_TARGET: not tested"
fi

# --- wrong PIN, then pkcs11-tool's self test ---
hw_run_fails "sign with a wrong PIN" hw_p11 --login --pin 000000 --sign -m SHA256-RSA-PKCS \
	--id 03 -i "$TMP/msg" -o "$TMP/sig-wrongpin"
cat "$TMP/run.out" "$TMP/run.err" >"$TMP/wrongpin.out"
hw_expect "wrong PIN reports CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT' "$TMP/wrongpin.out"
hw_pass "wrong PIN rejected with CKR_PIN_INCORRECT"

if [ "$HW_TARGET" = azure-kv ]; then
	# its OAEP check sends a label, which Key Vault's RSA-OAEP(-256) has not
	hw_log "pkcs11-tool --test with the RSA key skipped: azure-kv decrypts OAEP without a label only"
elif [ "$oaep_sha256" = yes ]; then
	hw_run "pkcs11-tool --test (with RSA key)" hw_p11 --test --login --pin "$PIN"
	hw_pass "pkcs11-tool --test passes with EC and RSA keys"
else
	hw_log "pkcs11-tool --test with the RSA key skipped: it needs RSA-OAEP with SHA-256"
fi
hw_pass "all pkcs11-tool checks passed"
