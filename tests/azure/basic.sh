#!/bin/bash
# The azure-kv slot end to end on the loopback fake of Key Vault: no request
# at C_Initialize; the challenge first, then a client-secret token; key pairs
# created in the vault (EC-HSM P-256, P-384, RSA-HSM 2048), signed with
# ES256/ES384, RS256, PS256 and verified by OpenSSL; RSA-OAEP and
# RSA-OAEP-256 decrypt what OpenSSL encrypted; a fresh process finds the keys
# again by their tags; destroy deletes the key; then each other identity
# (workload identity, App Service, IMDS) signs with the same key; software
# keys only with allow_software_keys, and labelled software.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=azure-kv
hw_setup

hw_run "list slots" pkcs11-tool --module "$MODULE" --list-slots
hw_expect "token present" "token label *: *$TOKEN" "$TMP/run.out"
[ "$(hw_az_stat '["requests"]')" = 0 ] || hw_fail "listing slots sent requests to the vault"
[ "$(hw_az_stat '["tokens_by"]')" = "{}" ] || hw_fail "listing slots fetched a token"
hw_pass "C_Initialize, C_GetSlotList and C_GetTokenInfo sent no request and fetched no token"

head -c 1000 /dev/urandom >"$TMP/data"
hw_keygen_ec "az-ec" 01
[ "$(hw_az_stat '["challenges"]')" -ge 1 ] || hw_fail "the slot did not go through the vault's challenge"
[ "$(hw_az_stat '["tokens_by"]["client secret"]')" = 1 ] || hw_fail "expected one client-secret token"
hw_pubkey_pem 01 "$TMP/pub01.pem"
hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/sig01" --signature-format openssl
hw_check_sig "ES256" "$TMP/pub01.pem" "$TMP/data" "$TMP/sig01"
[ "$(hw_az_stat '["by_op"]["sign"]')" = 1 ] || hw_fail "expected one sign request"
hw_pass "EC-HSM P-256 created after the challenge with a client-secret token; ES256 verified by OpenSSL"

hw_keygen_ec "az ec/384" 02 secp384r1
hw_pubkey_pem 02 "$TMP/pub02.pem"
hw_sign ECDSA-SHA384 02 "$TMP/data" "$TMP/sig02" --signature-format openssl
HW_MD=sha384 hw_check_sig "ES384" "$TMP/pub02.pem" "$TMP/data" "$TMP/sig02"
hw_run_fails "ECDSA-SHA256 on P-384" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 02 \
	-i "$TMP/data" -o "$TMP/bad"
hw_expect "ECDSA-SHA256 on P-384" "CKR_DATA_LEN_RANGE" "$TMP/run.err"
hw_pass "P-384 (label with a space and a slash): ES384 verified; a SHA-256 digest refused with CKR_DATA_LEN_RANGE"

hw_keygen_rsa "az-rsa" 03
hw_pubkey_pem 03 "$TMP/pub03.pem"
hw_sign SHA256-RSA-PKCS 03 "$TMP/data" "$TMP/sig03"
hw_check_sig "RS256" "$TMP/pub03.pem" "$TMP/data" "$TMP/sig03"
hw_sign SHA256-RSA-PKCS-PSS 03 "$TMP/data" "$TMP/sig03p" --mgf MGF1-SHA256 --salt-len 32
hw_check_sig "PS256" "$TMP/pub03.pem" "$TMP/data" "$TMP/sig03p" -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32
hw_run_fails "PSS with salt 20" hw_p11 --login --pin "$PIN" --sign -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 \
	--salt-len 20 --id 03 -i "$TMP/data" -o "$TMP/bad"
hw_expect "PSS salt 20" "CKR_MECHANISM_PARAM_INVALID" "$TMP/run.err"
head -c 32 /dev/urandom >"$TMP/secret"
for md in sha256 sha1; do
	HASH=$(echo "$md" | tr a-z A-Z)
	[ "$HASH" = SHA1 ] && HASH=SHA-1
	hw_run "openssl encrypt OAEP $md" openssl pkeyutl -encrypt -pubin -inkey "$TMP/pub03.pem" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:$md -pkeyopt rsa_mgf1_md:$md \
		-in "$TMP/secret" -out "$TMP/ct"
	hw_run "decrypt OAEP $md" hw_p11 --login --pin "$PIN" --decrypt -m RSA-PKCS-OAEP \
		--hash-algorithm "$HASH" --mgf "MGF1-$(echo "$HASH" | tr -d -)" --id 03 -i "$TMP/ct" -o "$TMP/pt"
	cmp -s "$TMP/secret" "$TMP/pt" || hw_fail "OAEP $md: the plaintext differs"
done
hw_pass "RSA-HSM 2048: RS256 and PS256 (salt 32) verified, salt 20 refused; RSA-OAEP-256 and RSA-OAEP decrypt"

hw_run "list objects (fresh process)" hw_p11 --login --pin "$PIN" --list-objects
for l in az-ec "az ec/384" az-rsa; do
	hw_expect "label $l listed" "label: *$l\$" "$TMP/run.out"
done
hw_expect "hardware, not extractable" "Access: *sensitive, always sensitive, never extractable, local" "$TMP/run.out"
hw_pass "a new process lists the three key pairs by CKA_LABEL and CKA_ID (tags)"

hw_run "delete the P-384 private key" hw_p11 --login --pin "$PIN" --delete-object --type privkey --id 02
[ "$(hw_az_stat '["by_op"]["delete"]')" = 1 ] || hw_fail "no DELETE request"
hw_run "list objects after delete" hw_p11 --login --pin "$PIN" --list-objects --type privkey
grep -q 'label: *az ec/384$' "$TMP/run.out" && hw_fail "the deleted key is still listed"
hw_pass "C_DestroyObject deleted the key (soft delete) and it is no longer listed"

# every other identity signs with the P-256 key, each in a new process
for mode in workload appservice imds; do
	hw_az_auth "$mode"
	hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/sig-$mode" --signature-format openssl
	hw_check_sig "ES256 ($mode)" "$TMP/pub01.pem" "$TMP/data" "$TMP/sig-$mode"
done
[ "$(hw_az_stat '["tokens_by"]["workload identity"]')" = 1 ] || hw_fail "no workload identity token"
[ "$(hw_az_stat '["tokens_by"]["app service"]')" = 1 ] || hw_fail "no App Service token"
[ "$(hw_az_stat '["tokens_by"]["imds"]')" = 1 ] || hw_fail "no IMDS token"
hw_pass "workload identity (federated token file), App Service and IMDS tokens each signed with the vault key"

# the token is never logged
HWAGG_LOG=debug hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/sig-log" --signature-format openssl
grep -q 'eyJ0eXAiOiJKV1QifQ\.' "$TMP/run.err" "$TMP/run.out" && hw_fail "a bearer token is in the log"
hw_pass "debug log has no bearer token"

# software keys only when the configuration allows them, and then labelled so
[ "$(hw_az_stat '["created_kty"]')" = "{'EC-HSM': 2, 'RSA-HSM': 1}" ] ||
	hw_fail "expected only HSM keys so far: $(hw_az_stat '["created_kty"]')"
hw_az_auth secret
hw_az_conf '"allow_software_keys":true'
hw_keygen_ec "az-soft" 09
[ "$(hw_az_stat '["created_kty"]["EC"]')" = 1 ] || hw_fail "allow_software_keys did not create an EC (software) key"
HWAGG_PIN=$PIN hw_run "hwagg keys" "${HWAGG_CLI:?}" keys --slot "$TOKEN" --json
python3 - "$TMP/run.out" <<'PY' || hw_fail "security levels: $(cat "$TMP/run.out")"
import json, sys
keys = {k["label"]: k["security"] for k in json.load(open(sys.argv[1]))["keys"]}
assert keys["az-soft"] == "software" and keys["az-ec"] == "hardware", keys
PY
hw_pass "EC-HSM/RSA-HSM by default; allow_software_keys makes an EC key, shown with security level software"
