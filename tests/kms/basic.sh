#!/bin/bash
# The aws-kms slot end to end on the loopback fake: no request at
# C_Initialize; key pairs generated in KMS (P-256, P-384, RSA-2048), signed
# with ECDSA, PKCS#1 v1.5 and PSS and verified by OpenSSL; a fresh process
# finds them again by label and id (tags); destroy schedules the deletion.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup

# listing the slots and the token asks KMS nothing
hw_run "list slots" pkcs11-tool --module "$MODULE" --list-slots
hw_expect "token present" "token label *: *$TOKEN" "$TMP/run.out"
[ "$(hw_kms_stat '["requests"]')" = 0 ] || hw_fail "listing slots sent $(hw_kms_stat '["requests"]') requests to KMS"
hw_pass "C_Initialize, C_GetSlotList and C_GetTokenInfo sent no request"

head -c 1000 /dev/urandom >"$TMP/data"
hw_keygen_ec "kms-ec" 01
hw_pubkey_pem 01 "$TMP/pub01.pem"
hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/sig01" --signature-format openssl
hw_check_sig "ECDSA P-256" "$TMP/pub01.pem" "$TMP/data" "$TMP/sig01"
# the fake signed exactly one digest for it, with MessageType DIGEST
[ "$(hw_kms_stat '["by_op"]["Sign"]')" = 1 ] || hw_fail "expected one Sign request"
hw_pass "P-256 key generated in KMS, ECDSA-SHA256 verified by OpenSSL"

hw_keygen_ec "kms-ec384" 02 secp384r1
hw_pubkey_pem 02 "$TMP/pub02.pem"
hw_sign ECDSA-SHA384 02 "$TMP/data" "$TMP/sig02" --signature-format openssl
HW_MD=sha384 hw_check_sig "ECDSA P-384" "$TMP/pub02.pem" "$TMP/data" "$TMP/sig02"
# KMS fixes the hash per curve: SHA-256 on P-384 is refused, not signed wrongly
hw_run_fails "ECDSA-SHA256 on P-384" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 02 \
	-i "$TMP/data" -o "$TMP/bad"
hw_expect "ECDSA-SHA256 on P-384" "CKR_DATA_LEN_RANGE" "$TMP/run.err"
hw_pass "P-384: ECDSA-SHA384 verified; a SHA-256 digest refused with CKR_DATA_LEN_RANGE"

hw_run "generate RSA-2048 key" hw_p11 --login --pin "$PIN" --keypairgen --key-type rsa:2048 --label kms-rsa \
	--id 03 --usage-sign
hw_pubkey_pem 03 "$TMP/pub03.pem"
hw_sign SHA256-RSA-PKCS 03 "$TMP/data" "$TMP/sig03"
hw_check_sig "RSA PKCS#1 v1.5" "$TMP/pub03.pem" "$TMP/data" "$TMP/sig03"
hw_sign SHA256-RSA-PKCS-PSS 03 "$TMP/data" "$TMP/sig03p" --mgf MGF1-SHA256 --salt-len 32
hw_check_sig "RSA PSS" "$TMP/pub03.pem" "$TMP/data" "$TMP/sig03p" -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32
# raw CKM_RSA_PKCS over a DigestInfo the application built
openssl dgst -sha256 -binary "$TMP/data" >"$TMP/md"
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$TMP/md"; } >"$TMP/di"
hw_sign RSA-PKCS 03 "$TMP/di" "$TMP/sig03r"
hw_check_sig "RSA PKCS#1 v1.5 over a DigestInfo" "$TMP/pub03.pem" "$TMP/data" "$TMP/sig03r"
hw_pass "RSA-2048 in KMS: SHA256-RSA-PKCS, PSS (salt 32) and RSA-PKCS over a DigestInfo verified"

# another process finds the keys by their tags
hw_run "list objects (fresh process)" hw_p11 --login --pin "$PIN" --list-objects
for l in kms-ec kms-ec384 kms-rsa; do
	hw_expect "label $l listed" "label: *$l\$" "$TMP/run.out"
done
hw_expect "hardware, not extractable" "Access: *sensitive, always sensitive, never extractable, local" "$TMP/run.out"
hw_pass "a new process lists the three key pairs by CKA_LABEL and CKA_ID"

# destroy schedules the deletion; the key is gone from the next listing
hw_run "delete the P-256 private key" hw_p11 --login --pin "$PIN" --delete-object --type privkey --id 01
[ "$(hw_kms_stat '["by_op"]["ScheduleKeyDeletion"]')" = 1 ] || hw_fail "no ScheduleKeyDeletion request"
hw_run "list objects after delete" hw_p11 --login --pin "$PIN" --list-objects --type privkey
grep -q 'label: *kms-ec$' "$TMP/run.out" && hw_fail "the deleted key is still listed"
hw_pass "C_DestroyObject scheduled the key's deletion (7 days) and it is no longer listed"

# decryption: a decrypt-only RSA key (KMS ENCRYPT_DECRYPT), OAEP SHA-256 and SHA-1
client="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/kms/kmsclient"
if [ -x "$client" ]; then
	hw_run "generate an RSA decryption key" "$client" "$MODULE" "$TOKEN" "$PIN" keygen-dec kms-dec
	# pkcs11-tool picks keys by CKA_ID only (kmsclient gives it 0d)
	decid=0d
	hw_p11 --read-object --type pubkey --id 0d -o "$TMP/dec.der" >/dev/null 2>&1 ||
		hw_fail "read the decryption key's public key"
	hw_run "public key to PEM" openssl pkey -pubin -inform DER -in "$TMP/dec.der" -out "$TMP/dec.pem"
	head -c 32 /dev/urandom >"$TMP/secret"
	for md in sha256 sha1; do
		HASH=$(echo "$md" | tr a-z A-Z) MGF=MGF1-$(echo "$md" | tr a-z A-Z)
		[ "$HASH" = SHA1 ] && HASH=SHA-1
		hw_run "openssl encrypt OAEP $md" openssl pkeyutl -encrypt -pubin -inkey "$TMP/dec.pem" \
			-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:$md -pkeyopt rsa_mgf1_md:$md \
			-in "$TMP/secret" -out "$TMP/ct"
		hw_run "decrypt OAEP $md" hw_p11 --login --pin "$PIN" --decrypt -m RSA-PKCS-OAEP \
			--hash-algorithm "$HASH" --mgf "$MGF" --id "$decid" -i "$TMP/ct" -o "$TMP/pt"
		cmp -s "$TMP/secret" "$TMP/pt" || hw_fail "OAEP $md: the plaintext differs"
	done
	hw_run_fails "sign with the decryption key" hw_p11 --login --pin "$PIN" --sign -m SHA256-RSA-PKCS \
		--id "$decid" -i "$TMP/data" -o "$TMP/x"
	hw_pass "a decrypt-only KMS key: OAEP SHA-256 and SHA-1 return the plaintext; it does not sign"
fi
