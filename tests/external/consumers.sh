#!/bin/bash
# The external slot with correct signing commands (tests/external/signer.sh
# over openssl pkeyutl and PEM keys): the objects it shows (a sign-only,
# sensitive, never extractable, not local private key and its public key;
# backend, security level and provider URI), then signatures made through it
# by pkcs11-tool (ECDSA P-256 and P-384, RSA PKCS#1 v1.5 and PSS, Ed25519,
# every input and output mode), by the OpenSSL engine and by p11tool, each
# verified by plain openssl or GnuTLS; the command's environment is the
# minimal one; with "pin": "env" the PIN reaches the command and nothing
# signs before a login.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
. "$HWAGG_SRCDIR/tests/external/common.sh"
ext_setup

ext_key ec p256
ext_key p384 p384
ext_key rsa rsa
ext_key ed ed25519
export HW_PASS_ME=passed HW_NOT_PASSED=leaked
ext_conf "$(ext_keyjson ec 01 ec good '"security":"hardware"'),
$(ext_keyjson rsa 02 rsa good),
$(ext_keyjson pss 03 rsa good '"rsa_padding":"pss"'),
$(ext_keyjson p384 04 p384 stdin '"input":"digest-stdin"'),
$(ext_keyjson raw 05 ec raw '"input":"digest-stdin","output":"raw"'),
$(ext_keyjson env 07 ec env)" \
	'"env_pass":["HW_PASS_ME"],"env":{"HW_EXT_MARK":"'"$TMP/env.out"'"}'

# --- the objects ---
hw_run "list objects" hw_p11 --list-objects
cp "$TMP/run.out" "$TMP/objects"
awk '/^Private Key Object/ {p = 1} /^Public Key Object/ {p = 0} p' "$TMP/objects" >"$TMP/privs"
[ "$(grep -c '^Private Key Object' "$TMP/objects")" = 6 ] || hw_fail "expected 6 private keys:
$(cat "$TMP/objects")"
[ "$(grep -c '^Public Key Object' "$TMP/objects")" = 6 ] || hw_fail "expected 6 public keys"
hw_expect "private keys only sign" '^  Usage: +sign$' "$TMP/privs"
grep -E '^  Usage:' "$TMP/privs" | grep -qv '^  Usage: *sign$' && hw_fail "a private key does more than sign:
$(cat "$TMP/privs")"
hw_expect "private keys are sensitive, never extractable" \
	'^  Access: +sensitive, always sensitive, never extractable$' "$TMP/privs"
grep -q 'local' "$TMP/privs" && hw_fail "a private key says CKA_LOCAL (hwagg did not make it)"
hw_expect "EC key: ECDSA with SHA-256 only (the contract)" 'Allowed mechanisms: ECDSA,ECDSA-SHA256$' "$TMP/privs"
hw_expect "P-384 key with digest-stdin: SHA-384 too" 'Allowed mechanisms: ECDSA,ECDSA-SHA256,ECDSA-SHA384$' "$TMP/privs"
hw_expect "PSS key" 'Allowed mechanisms: RSA-PKCS-PSS,SHA256-RSA-PKCS-PSS$' "$TMP/privs"
HWAGG_PIN=$PIN hw_run "hwagg keys" "$HWAGG_CLI" keys --slot ext
hw_expect "vendor attributes: backend and a hardware key" '^ec-p256 +external +hardware ' "$TMP/run.out"
hw_expect "vendor attributes: an external key" '^rsa-2048 +external +external ' "$TMP/run.out"
hw_pass "6 key pairs: sign-only private keys, sensitive, never extractable, not local; vendor attributes"

# --- pkcs11-tool signs, openssl verifies ---
head -c 3000 /dev/urandom >"$TMP/msg"
hw_run "sign ECDSA-SHA256" hw_p11 --sign -m ECDSA-SHA256 --id 01 -i "$TMP/msg" -o "$TMP/sig-ec" \
	--signature-format openssl
hw_check_sig "ECDSA P-256 (hex-digest-file, base64 DER -> r||s)" "$TMP/ec.pub" "$TMP/msg" "$TMP/sig-ec"
hw_run "sign SHA256-RSA-PKCS" hw_p11 --sign -m SHA256-RSA-PKCS --id 02 -i "$TMP/msg" -o "$TMP/sig-rsa"
hw_check_sig "RSA PKCS#1 v1.5" "$TMP/rsa.pub" "$TMP/msg" "$TMP/sig-rsa"
hw_run "sign SHA256-RSA-PKCS-PSS" hw_p11 --sign -m SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 --id 03 \
	-i "$TMP/msg" -o "$TMP/sig-pss"
hw_check_sig "RSA PSS" "$TMP/rsa.pub" "$TMP/msg" "$TMP/sig-pss" \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
hw_run "sign ECDSA-SHA384" hw_p11 --sign -m ECDSA-SHA384 --id 04 -i "$TMP/msg" -o "$TMP/sig-384" \
	--signature-format openssl
HW_MD=sha384 hw_check_sig "ECDSA P-384 (digest-stdin)" "$TMP/p384.pub" "$TMP/msg" "$TMP/sig-384"
hw_run "sign ECDSA-SHA256, raw output" hw_p11 --sign -m ECDSA-SHA256 --id 05 -i "$TMP/msg" \
	-o "$TMP/sig-raw" --signature-format openssl
hw_check_sig "ECDSA (digest-stdin, raw output)" "$TMP/ec.pub" "$TMP/msg" "$TMP/sig-raw"
ls "$TMP/digests" | grep -q . && hw_fail "digest files were left behind: $(ls "$TMP/digests")"
hw_pass "pkcs11-tool: ECDSA P-256/P-384, RSA v1.5/PSS verify with openssl; no digest file left"

# --- the command's environment ---
hw_run "sign with the env key" hw_p11 --sign -m ECDSA-SHA256 --id 07 -i "$TMP/msg" -o "$TMP/sig-env"
hw_expect "env_pass passes HW_PASS_ME" '^HW_PASS_ME=passed$' "$TMP/env.out"
hw_expect "the digest's hash is named" '^HWAGG_DIGEST_ALG=sha256$' "$TMP/env.out"
hw_expect "PATH is passed" '^PATH=' "$TMP/env.out"
grep -q HW_NOT_PASSED "$TMP/env.out" && hw_fail "a variable not in env_pass reached the command"
grep -Eq '^(HOME|HWAGG_CONF)=' "$TMP/env.out" && hw_fail "the host's environment reached the command:
$(cat "$TMP/env.out")"
hw_pass "the command gets PATH, env_pass and env, nothing else of the host's environment"

# --- the OpenSSL engine ---
export PKCS11_MODULE_PATH="$MODULE"
hw_run "digest" openssl dgst -sha256 -binary -out "$TMP/msg.sha256" "$TMP/msg"
hw_run "engine pkeyutl sign (EC)" openssl pkeyutl -engine pkcs11 -keyform engine \
	-inkey "$URI;object=ec;type=private" -sign -in "$TMP/msg.sha256" -out "$TMP/eng-ec"
hw_check_sig "engine ECDSA signature" "$TMP/ec.pub" "$TMP/msg" "$TMP/eng-ec"
hw_run "engine pkeyutl sign (RSA)" openssl pkeyutl -engine pkcs11 -keyform engine \
	-inkey "$URI;object=rsa;type=private" -sign -pkeyopt digest:sha256 -in "$TMP/msg.sha256" -out "$TMP/eng-rsa"
hw_check_sig "engine RSA signature" "$TMP/rsa.pub" "$TMP/msg" "$TMP/eng-rsa"
hw_run "CSR signed through the engine" openssl req -new -engine pkcs11 -keyform engine \
	-key "$URI;object=ec;type=private" -subj "/CN=hwagg-external" -out "$TMP/ec.csr"
hw_run "CSR verifies" openssl req -in "$TMP/ec.csr" -verify -noout
hw_expect "CSR verifies" 'verify OK|Certificate request self-signature verify OK' "$TMP/run.err"
hw_pass "OpenSSL engine: EC and RSA signatures and a CSR verify"

# --- p11tool ---
P11TOOL="p11tool --provider $MODULE"
for k in ec:ECDSA-SHA256 rsa:RSA-SHA256; do
	# shellcheck disable=SC2086
	hw_run "p11tool --test-sign ${k%%:*}" $P11TOOL --test-sign "$URI;object=${k%%:*}"
	cat "$TMP/run.out" "$TMP/run.err" >"$TMP/ts"
	hw_expect "test-sign ${k%%:*} signs" "Signing using ${k#*:}\\.\\.\\. ok" "$TMP/ts"
	hw_expect "test-sign ${k%%:*} verifies" 'Verifying against public key in the token\.\.\. ok' "$TMP/ts"
done
hw_pass "p11tool --test-sign ok for EC and RSA"

# --- Ed25519 (a slot of its own: libp11 stops listing at a key type it does not know) ---
ext_conf "$(ext_keyjson ed 06 ed message '"input":"message-stdin"')"
# EdDSA is single-part: pkcs11-tool uses C_Sign for input below 1 KiB
head -c 700 "$TMP/msg" >"$TMP/short"
hw_run "sign EDDSA" hw_p11 --sign -m EDDSA --id 06 -i "$TMP/short" -o "$TMP/sig-ed"
[ "$(stat -c %s "$TMP/sig-ed")" = 64 ] || hw_fail "Ed25519 signature is not 64 bytes"
hw_run "openssl verifies Ed25519" openssl pkeyutl -verify -pubin -inkey "$TMP/ed.pub" -rawin \
	-in "$TMP/short" -sigfile "$TMP/sig-ed"
hw_expect "openssl verifies Ed25519" 'Signature Verified Successfully' "$TMP/run.out"
hw_pass "pkcs11-tool: Ed25519 over message-stdin verifies with openssl"

# --- "pin": "env" ---
export HW_EXT_PIN=$PIN
ext_conf "$(ext_keyjson pinned 11 ec pin)" '"pin":"env","env":{"HW_EXT_PIN":"'"$PIN"'"}'
hw_run "token info" hw_p11 --list-token-slots
hw_expect "the token needs a login" 'login required' "$TMP/run.out"
hw_run_fails "no key before a login" hw_p11 --sign -m ECDSA-SHA256 --id 11 -i "$TMP/msg" -o "$TMP/never"
hw_run "sign after a login" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 11 -i "$TMP/msg" \
	-o "$TMP/sig-pin" --signature-format openssl
hw_check_sig "signature with the PIN" "$TMP/ec.pub" "$TMP/msg" "$TMP/sig-pin"
hw_run_fails "a wrong PIN fails the command" hw_p11 --login --pin 999999 --sign -m ECDSA-SHA256 --id 11 \
	-i "$TMP/msg" -o "$TMP/never"
hw_expect "a wrong PIN: the command's stderr is logged" 'exit 4; stderr: signer: wrong PIN' "$TMP/run.err"
hw_pass "\"pin\": \"env\": login required, the PIN reaches the command, a wrong one fails"
