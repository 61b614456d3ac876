#!/bin/bash
# The gcp-kms slot end to end on the loopback fake, with both identities
# (the metadata server, then a service-account key file whose JWT the fake
# verifies): no request at C_Initialize; key pairs generated in Cloud KMS
# (P-256, P-384, RSA-2048 PKCS#1 and PSS), signed and verified by OpenSSL;
# a fresh process finds them again by CKA_LABEL and CKA_ID (labels);
# destroy schedules the version's destruction; an RSA decryption key
# decrypts OAEP SHA-256.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=gcp-kms
hw_setup

# listing the slots and the token asks Cloud KMS nothing, nor the token source
hw_run "list slots" pkcs11-tool --module "$MODULE" --list-slots
hw_expect "token present" "token label *: *$TOKEN" "$TMP/run.out"
[ "$(hw_gcp_stat '["requests"]')" = 0 ] || hw_fail "listing slots sent $(hw_gcp_stat '["requests"]') requests"
[ "$(hw_gcp_stat '["tokens_issued"]')" = "{}" ] || hw_fail "listing slots fetched an access token"
hw_pass "C_Initialize, C_GetSlotList and C_GetTokenInfo sent no request"

head -c 1000 /dev/urandom >"$TMP/data"
hw_keygen_ec "gcp-ec" 01
hw_pubkey_pem 01 "$TMP/pub01.pem"
hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/sig01" --signature-format openssl
hw_check_sig "ECDSA P-256" "$TMP/pub01.pem" "$TMP/data" "$TMP/sig01"
[ "$(hw_gcp_stat '["by_op"]["AsymmetricSign"]')" = 1 ] || hw_fail "expected one asymmetricSign request"
# the request carried the digest's CRC32C and the fake checked it
[ "$(hw_gcp_stat '["crc_checked"]')" -ge 1 ] || hw_fail "no digestCrc32c was sent"
hw_gcp_stat '["last"]["CreateCryptoKey"]["body"]' >"$TMP/create.json"
hw_expect "create body" '"purpose": ?"ASYMMETRIC_SIGN"' "$TMP/create.json"
hw_expect "algorithm from the template" '"algorithm": ?"EC_SIGN_P256_SHA256"' "$TMP/create.json"
hw_expect "HSM by default" '"protectionLevel": ?"HSM"' "$TMP/create.json"
# CKA_LABEL "gcp-ec" as hex in a GCP label, CKA_ID 01 likewise
hw_expect "labels" '"label-0": ?"6763702d6563"' "$TMP/create.json"
hw_expect "id label" '"id-0": ?"01"' "$TMP/create.json"
# the fake's HSM version is PENDING_GENERATION at its first read: read again
[ "$(hw_gcp_stat '["by_op"]["GetCryptoKeyVersion"]')" = 2 ] || hw_fail "the pending version was not awaited"
[ "$(hw_gcp_stat '["tokens_issued"].get("metadata", 0)')" -ge 1 ] || hw_fail "no token from the metadata server"
hw_pass "P-256 key created (pending, then ENABLED), ECDSA-SHA256 verified by OpenSSL; metadata-server token"

hw_keygen_ec "gcp-ec384" 02 secp384r1
hw_pubkey_pem 02 "$TMP/pub02.pem"
hw_sign ECDSA-SHA384 02 "$TMP/data" "$TMP/sig02" --signature-format openssl
HW_MD=sha384 hw_check_sig "ECDSA P-384" "$TMP/pub02.pem" "$TMP/data" "$TMP/sig02"
# the algorithm fixes the hash: SHA-256 on P-384 is refused, not signed wrongly
hw_run_fails "ECDSA-SHA256 on P-384" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 02 \
	-i "$TMP/data" -o "$TMP/bad"
hw_expect "ECDSA-SHA256 on P-384" "CKR_DATA_LEN_RANGE" "$TMP/run.err"
hw_pass "P-384: ECDSA-SHA384 verified; a SHA-256 digest refused with CKR_DATA_LEN_RANGE"

# the service-account identity from here on (new processes read the file)
hw_gcp_auth sa
hw_run "generate RSA-2048 key" hw_p11 --login --pin "$PIN" --keypairgen --key-type rsa:2048 --label gcp-rsa \
	--id 03 --usage-sign
[ "$(hw_gcp_stat '["jwt_verified"]')" -ge 1 ] || hw_fail "no JWT assertion reached the token endpoint"
[ "$(hw_gcp_stat '["jwt_rejected"]')" = 0 ] || hw_fail "the token endpoint rejected a JWT"
hw_pubkey_pem 03 "$TMP/pub03.pem"
hw_sign SHA256-RSA-PKCS 03 "$TMP/data" "$TMP/sig03"
hw_check_sig "RSA PKCS#1 v1.5" "$TMP/pub03.pem" "$TMP/data" "$TMP/sig03"
openssl dgst -sha256 -binary "$TMP/data" >"$TMP/md"
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$TMP/md"; } >"$TMP/di"
hw_sign RSA-PKCS 03 "$TMP/di" "$TMP/sig03r"
hw_check_sig "RSA PKCS#1 v1.5 over a DigestInfo" "$TMP/pub03.pem" "$TMP/data" "$TMP/sig03r"
# a PKCS#1 key does not sign PSS
hw_run_fails "PSS on a PKCS#1 key" hw_p11 --login --pin "$PIN" --sign -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 \
	--salt-len 32 --id 03 -i "$TMP/data" -o "$TMP/bad"
hw_expect "PSS refused" "CKR_KEY_FUNCTION_NOT_PERMITTED" "$TMP/run.err"
hw_pass "RSA-2048 (RSA_SIGN_PKCS1_2048_SHA256) with a service-account token (JWT verified by the fake): verified"

client="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/kms/kmsclient"
if [ -x "$client" ]; then
	# kmsclient's PSS key: CKA_ALLOWED_MECHANISMS asks for PSS only
	hw_run "generate an RSA PSS key" "$client" "$MODULE" "$TOKEN" "$PIN" keygen-pss gcp-pss
	hw_gcp_stat '["last"]["CreateCryptoKey"]["body"]' >"$TMP/create.json"
	hw_expect "PSS algorithm" '"algorithm": ?"RSA_SIGN_PSS_2048_SHA256"' "$TMP/create.json"
	hw_pubkey_pem 0f "$TMP/pub0f.pem"
	hw_sign SHA256-RSA-PKCS-PSS 0f "$TMP/data" "$TMP/sig0f" --mgf MGF1-SHA256 --salt-len 32
	hw_check_sig "RSA PSS" "$TMP/pub0f.pem" "$TMP/data" "$TMP/sig0f" -sigopt rsa_padding_mode:pss \
		-sigopt rsa_pss_saltlen:32
	hw_pass "CKA_ALLOWED_MECHANISMS asking for PSS: RSA_SIGN_PSS_2048_SHA256, SHA256-RSA-PKCS-PSS verified"
fi

# another process finds the keys by their labels
hw_run "list objects (fresh process)" hw_p11 --login --pin "$PIN" --list-objects
for l in gcp-ec gcp-ec384 gcp-rsa; do
	hw_expect "label $l listed" "label: *$l\$" "$TMP/run.out"
done
hw_expect "id 03 listed" "ID: *03" "$TMP/run.out"
hw_expect "HSM: sensitive, never extractable" "Access: *sensitive, always sensitive, never extractable, local" "$TMP/run.out"
hw_pass "a new process lists the key pairs by CKA_LABEL and CKA_ID (hex labels)"

hw_run "delete the P-256 private key" hw_p11 --login --pin "$PIN" --delete-object --type privkey --id 01
[ "$(hw_gcp_stat '["by_op"]["DestroyCryptoKeyVersion"]')" = 1 ] || hw_fail "no :destroy request"
hw_run "list objects after delete" hw_p11 --login --pin "$PIN" --list-objects --type privkey
grep -q 'label: *gcp-ec$' "$TMP/run.out" && hw_fail "the destroyed version is still listed"
hw_pass "C_DestroyObject scheduled the version's destruction and it is no longer listed"

if [ -x "$client" ]; then
	hw_run "generate an RSA decryption key" "$client" "$MODULE" "$TOKEN" "$PIN" keygen-dec gcp-dec
	hw_gcp_stat '["last"]["CreateCryptoKey"]["body"]' >"$TMP/create.json"
	hw_expect "decrypt purpose" '"purpose": ?"ASYMMETRIC_DECRYPT"' "$TMP/create.json"
	hw_p11 --read-object --type pubkey --id 0d -o "$TMP/dec.der" >/dev/null 2>&1 ||
		hw_fail "read the decryption key's public key"
	hw_run "public key to PEM" openssl pkey -pubin -inform DER -in "$TMP/dec.der" -out "$TMP/dec.pem"
	head -c 32 /dev/urandom >"$TMP/secret"
	hw_run "openssl encrypt OAEP sha256" openssl pkeyutl -encrypt -pubin -inkey "$TMP/dec.pem" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
		-in "$TMP/secret" -out "$TMP/ct"
	hw_run "decrypt OAEP sha256" hw_p11 --login --pin "$PIN" --decrypt -m RSA-PKCS-OAEP \
		--hash-algorithm SHA256 --mgf MGF1-SHA256 --id 0d -i "$TMP/ct" -o "$TMP/pt"
	cmp -s "$TMP/secret" "$TMP/pt" || hw_fail "OAEP: the plaintext differs"
	# the algorithm fixes OAEP's hash: SHA-1 is refused
	hw_run_fails "decrypt OAEP sha1" hw_p11 --login --pin "$PIN" --decrypt -m RSA-PKCS-OAEP \
		--hash-algorithm SHA-1 --mgf MGF1-SHA1 --id 0d -i "$TMP/ct" -o "$TMP/pt"
	hw_pass "a decrypt-only key (RSA_DECRYPT_OAEP_2048_SHA256): OAEP SHA-256 returns the plaintext; SHA-1 refused"
fi

# the fake against what Google's own client sends (tests/data/gcp/): every
# captured request answered 200 with the fields that client reads
hw_kms_ctl /_pending '{"polls":0}'
hw_run "replay the Node client's requests" python3 "$HWAGG_SRCDIR/tests/gcp/replay.py" \
	"$HWAGG_SRCDIR/tests/data/gcp/gcp-nodejs-kms-6.3.0-rest-fallback-requests.txt" "$HW_GCP_PORT" "$HW_GCP_HTTP" \
	"$HW_GCP_RING" "$TMP/kms/ca.pem"
hw_expect "all replayed" "replay: 10 requests answered as the client expects" "$TMP/run.out"
hw_pass "the fake answers the 10 requests Google's Node client made (enum numbers, no CRCs, labels PATCH)"

# a slot making SOFTWARE keys: no pending generation, the level in the request
hw_gcp_conf '"protection_level":"SOFTWARE"'
gets=$(hw_gcp_stat '["by_op"]["GetCryptoKeyVersion"]')
hw_keygen_ec "gcp-soft" 05
hw_gcp_stat '["last"]["CreateCryptoKey"]["body"]' >"$TMP/create.json"
hw_expect "SOFTWARE requested" '"protectionLevel": ?"SOFTWARE"' "$TMP/create.json"
[ "$(hw_gcp_stat '["by_op"]["GetCryptoKeyVersion"]')" = $((gets + 1)) ] || hw_fail "a SOFTWARE version was awaited"
hw_sign ECDSA-SHA256 05 "$TMP/data" "$TMP/sig05" --signature-format openssl
hw_pubkey_pem 05 "$TMP/pub05.pem"
hw_check_sig "ECDSA P-256 (SOFTWARE)" "$TMP/pub05.pem" "$TMP/data" "$TMP/sig05"
hw_pass "protection_level SOFTWARE: the key is made in software, enabled at once, and signs"
