#!/bin/bash
# Secret keys on the soft slot as pkcs11-tool uses them: an AES-256 key
# (pkcs11-tool picks the secret key of an operation by --id, not by label)
# generated on the token encrypts and decrypts with AES-CBC-PAD and an IV;
# an AES-128 key written to the token (an import) encrypts exactly as
# `openssl enc` does with the same key and IV; a generic secret key signs
# with SHA256-HMAC and the MAC verifies (and a changed one does not); an
# EC private key written to the token signs for OpenSSL and derives the
# ECDH secret OpenSSL derives; a data key wrapped and unwrapped (only as a
# sensitive key) decrypts what it encrypted.
set -u
MODULE=${HWAGG_MODULE:?}
command -v pkcs11-tool >/dev/null || { echo "SKIP secret_tool: no pkcs11-tool"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL secret_tool: $*"; exit 1; }
printf '{"environment": "development", "store": "%s/store", "slots": [{"name": "sk", "type": "soft"}]}\n' \
	"$tmp" >"$tmp/hwagg.json"
export HWAGG_CONF=$tmp/hwagg.json HWAGG_LOG=error
p11() { pkcs11-tool --module "$MODULE" "$@" >>"$tmp/log" 2>&1 || fail "pkcs11-tool $*: $(tail -n 5 "$tmp/log")"; }
user() { p11 --login --pin 123456 "$@"; }
IV=000102030405060708090a0b0c0d0e0f
p11 --init-token --label sk --so-pin 12345678
p11 --init-pin --login --login-type so --so-pin 12345678 --new-pin 123456

# (pkcs11-tool picks the secret key of an operation by --id, not by label)
# generated on the token
user --keygen --key-type AES:32 --id a1 --label aes256
head -c 45 /dev/urandom >"$tmp/plain"
user --encrypt -m AES-CBC-PAD --iv $IV --id a1 --label aes256 -i "$tmp/plain" -o "$tmp/ct"
[ "$(stat -c %s "$tmp/ct")" = 48 ] || fail "45 bytes gave $(stat -c %s "$tmp/ct") bytes of AES-CBC-PAD"
user --decrypt -m AES-CBC-PAD --iv $IV --id a1 --label aes256 -i "$tmp/ct" -o "$tmp/back"
cmp -s "$tmp/plain" "$tmp/back" || fail "decryption did not give the plaintext back"

# imported, against OpenSSL
printf '0123456789abcdef' >"$tmp/k16"
user --write-object "$tmp/k16" --type secrkey --key-type AES:16 --id a2 --label kat --usage-decrypt
user --encrypt -m AES-CBC-PAD --iv $IV --id a2 --label kat -i "$tmp/plain" -o "$tmp/ct2"
openssl enc -aes-128-cbc -K "$(xxd -p "$tmp/k16")" -iv $IV -in "$tmp/plain" -out "$tmp/ossl" ||
	fail "openssl enc"
cmp -s "$tmp/ct2" "$tmp/ossl" || fail "AES-CBC-PAD differs from openssl enc -aes-128-cbc: $(xxd -p "$tmp/ct2") $(xxd -p "$tmp/ossl")"

# HMAC
user --keygen --key-type GENERIC:32 --id a3 --label mac
user --sign -m SHA256-HMAC --id a3 --label mac -i "$tmp/plain" -o "$tmp/mac"
[ "$(stat -c %s "$tmp/mac")" = 32 ] || fail "an HMAC-SHA256 of $(stat -c %s "$tmp/mac") bytes"
user --verify -m SHA256-HMAC --id a3 --label mac -i "$tmp/plain" --signature-file "$tmp/mac"
grep -q "Signature is valid" "$tmp/log" || fail "the MAC did not verify: $(tail -n 5 "$tmp/log")"
printf 'x' >>"$tmp/plain"
if pkcs11-tool --module "$MODULE" --login --pin 123456 --verify -m SHA256-HMAC --id a3 --label mac -i "$tmp/plain" \
	--signature-file "$tmp/mac" >"$tmp/bad" 2>&1 && grep -q "Signature is valid" "$tmp/bad"; then
	fail "the MAC verified for other data"
fi

# a private key written to the token (an import) signs for OpenSSL's
# public key, and derives with ECDH the secret OpenSSL derives
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/mine.pem" 2>/dev/null || fail "openssl genpkey"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/peer.pem" 2>/dev/null || fail "openssl genpkey"
openssl pkey -in "$tmp/mine.pem" -outform DER -out "$tmp/mine.der"
openssl pkey -in "$tmp/peer.pem" -pubout -outform DER -out "$tmp/peer.der"
openssl pkey -in "$tmp/mine.pem" -pubout -out "$tmp/mine.pub"
user --write-object "$tmp/mine.der" --type privkey --id b1 --label mine --usage-sign --usage-derive
user --sign -m ECDSA-SHA256 --id b1 --signature-format openssl -i "$tmp/plain" -o "$tmp/ecsig"
openssl dgst -sha256 -verify "$tmp/mine.pub" -signature "$tmp/ecsig" "$tmp/plain" >/dev/null ||
	fail "the imported key's signature does not verify with OpenSSL"
user --derive -m ECDH1-DERIVE --id b1 -i "$tmp/peer.der" -o "$tmp/shared"
openssl pkeyutl -derive -inkey "$tmp/mine.pem" -peerkey <(openssl pkey -in "$tmp/peer.pem" -pubout) -out "$tmp/z"
cmp -s "$tmp/shared" "$tmp/z" || fail "ECDH gave $(xxd -p "$tmp/shared" | tr -d '\n'), OpenSSL $(xxd -p "$tmp/z" | tr -d '\n')"

# a data key wrapped under a key-encryption key, unwrapped (as a sensitive
# key: an unwrapped key is never readable), decrypts what it encrypted
user --keygen --key-type AES:32 --id c1 --label kek --usage-wrap
user --keygen --key-type AES:16 --id c2 --label dk --extractable
user --encrypt -m AES-CBC-PAD --iv $IV --id c2 -i "$tmp/plain" -o "$tmp/ct3"
user --wrap -m 0x210A --id c1 --application-id c2 -o "$tmp/wrapped"
[ "$(stat -c %s "$tmp/wrapped")" = 24 ] || fail "AES-KWP of 16 bytes gave $(stat -c %s "$tmp/wrapped") bytes"
if pkcs11-tool --module "$MODULE" --login --pin 123456 --unwrap -m 0x210A --id c1 -i "$tmp/wrapped" --key-type AES:16 \
	--application-id c3 >"$tmp/bad" 2>&1; then
	fail "a key unwrapped as not sensitive"
fi
grep -q CKR_TEMPLATE_INCONSISTENT "$tmp/bad" || fail "unwrap as not sensitive: $(tail -n 3 "$tmp/bad")"
user --unwrap -m 0x210A --id c1 -i "$tmp/wrapped" --key-type AES:16 --application-id c3 --application-label back --sensitive
user --decrypt -m AES-CBC-PAD --iv $IV --id c3 -i "$tmp/ct3" -o "$tmp/back3"
cmp -s "$tmp/plain" "$tmp/back3" || fail "the unwrapped key did not decrypt what the data key encrypted"
echo "PASS secret_tool: AES generate/encrypt/decrypt, import matches OpenSSL, HMAC sign/verify, private key import, ECDH, wrap/unwrap"
