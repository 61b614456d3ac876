#!/bin/bash
# Secret keys on the keyring slot, on a private session bus with its own
# gnome-keyring-daemon:
#  - the soft slot's C cases (tests/dlopen/test_keyring_secret: AES and
#    HMAC known answers single- and multi-part, the length rules, generated
#    keys' attributes, sticky CKA_SENSITIVE / CKA_EXTRACTABLE, imported keys'
#    attributes and check value, AES key wrap known answers, the envelope
#    round trip and the wrap refusals), plus token keys read back from their
#    items by another module instance and a token KEK that unwraps into a
#    token key; once with keys read for every operation, once with
#    "cache_keys";
#  - as pkcs11-tool uses them, each call a new process: an AES-256 token key
#    generated in one encrypts (AES-CBC-PAD) what another decrypts; an
#    imported AES-128 key encrypts exactly as `openssl enc`; an HMAC key
#    wrapped by `openssl enc -id-aes128-wrap` under an imported KEK and
#    unwrapped on the token verifies the MAC `openssl mac` made (and not for
#    other data); that unextractable key does not wrap; an extractable
#    AES-256 token key wraps to what OpenSSL unwraps to the key that
#    encrypts as the token key did, and unwrapped on the token decrypts;
#  - the Secret Service's view: each secret key is an item of class
#    "secret-key" whose searchable attributes and label hold no key bytes,
#    whose secret is hwagg's container (not the bare key), and the keyring
#    file on disk holds neither the bytes nor their hex.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=keyring
hw_setup

# ---- the C cases ------------------------------------------------------------------
suite="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/dlopen/test_keyring_secret"
if [ -x "$suite" ]; then
	HWAGG_MODULE=$MODULE HWAGG_LOG=error hw_run "the C cases, keys read for each operation" "$suite"
	hw_pass "the C cases pass with keys read from the keyring for each operation: $(grep -Eo '[0-9]+%: Checks: [0-9]+' "$TMP/run.out")"
	conf_cached="$TMP/cached.json"
	sed 's/"type":"keyring"/"type":"keyring","cache_keys":true/' "$HWAGG_CONF" >"$conf_cached"
	grep -q '"cache_keys":true' "$conf_cached" || hw_fail "could not write the cache_keys config"
	HWAGG_CONF=$conf_cached HWAGG_MODULE=$MODULE HWAGG_LOG=error hw_run "the C cases, cache_keys" "$suite"
	hw_pass "the C cases pass with cache_keys: $(grep -Eo '[0-9]+%: Checks: [0-9]+' "$TMP/run.out")"
else
	hw_log "$suite is not built (no check library): C cases not run"
fi

# ---- pkcs11-tool, one process per call ------------------------------------------
user() { hw_run "pkcs11-tool $*" hw_p11 --login --pin "$PIN" "$@"; }
# import HEX as a secret key of KEY-TYPE (AES:16 ...) with CKA_ID ID, LABEL, USAGE
import_key() {
	printf '%s' "$1" | xxd -r -p >"$TMP/$3.key"
	user --write-object "$TMP/$3.key" --type secrkey --key-type "$2" --id "$3" --label "$4" "$5"
}
IV=000102030405060708090a0b0c0d0e0f
head -c 45 /dev/urandom >"$TMP/plain"

user --keygen --key-type AES:32 --id a1 --label aes256
user --encrypt -m AES-CBC-PAD --iv $IV --id a1 -i "$TMP/plain" -o "$TMP/ct"
[ "$(stat -c %s "$TMP/ct")" = 48 ] || hw_fail "45 bytes gave $(stat -c %s "$TMP/ct") bytes of AES-CBC-PAD"
user --decrypt -m AES-CBC-PAD --iv $IV --id a1 -i "$TMP/ct" -o "$TMP/back"
cmp -s "$TMP/plain" "$TMP/back" || hw_fail "another process did not decrypt what the first encrypted"
hw_pass "an AES-256 token key generated in one process decrypts in another what a third encrypted"

KEY16=000102030405060708090a0b0c0d0e0f
import_key "$KEY16" AES:16 a2 kat --usage-decrypt
user --encrypt -m AES-CBC-PAD --iv $IV --id a2 -i "$TMP/plain" -o "$TMP/ct2"
openssl enc -aes-128-cbc -K "$KEY16" -iv $IV -in "$TMP/plain" -out "$TMP/ossl" || hw_fail "openssl enc"
cmp -s "$TMP/ct2" "$TMP/ossl" || hw_fail "AES-CBC-PAD differs from openssl enc -aes-128-cbc"
user --decrypt -m AES-CBC-PAD --iv $IV --id a2 -i "$TMP/ossl" -o "$TMP/back2"
cmp -s "$TMP/plain" "$TMP/back2" || hw_fail "what openssl enc encrypted did not decrypt"
hw_pass "an imported AES-128 key encrypts as openssl enc does, and decrypts what it encrypted"

# a known key-encryption key; a known HMAC key wrapped by OpenSSL (RFC 3394)
# and unwrapped on the token (pkcs11-tool gives it CKA_VERIFY, not CKA_SIGN;
# --sensitive: an unwrapped key is always sensitive)
KEK=0f0e0d0c0b0a09080706050403020100
import_key "$KEK" AES:16 b1 kek --usage-wrap
MACKEY=4a65666520697320746865206b657920666f7220484d41432074657374732121
printf '%s' "$MACKEY" | xxd -r -p >"$TMP/k32"
openssl enc -id-aes128-wrap -K "$KEK" -iv A6A6A6A6A6A6A6A6 -in "$TMP/k32" -out "$TMP/mac.wrapped" ||
	hw_fail "openssl enc -id-aes128-wrap"
user --unwrap -m AES-KEY-WRAP --id b1 -i "$TMP/mac.wrapped" --key-type GENERIC:32 --application-id a3 \
	--application-label mac --sensitive
openssl mac -digest SHA256 -macopt "hexkey:$MACKEY" -in "$TMP/plain" -binary -out "$TMP/mac" HMAC ||
	hw_fail "openssl mac"
user --verify -m SHA256-HMAC --id a3 -i "$TMP/plain" --signature-file "$TMP/mac"
hw_expect "the MAC of openssl mac verifies" "Signature is valid" "$TMP/run.out"
printf 'x' >"$TMP/other"
cat "$TMP/plain" >>"$TMP/other"
if hw_p11 --login --pin "$PIN" --verify -m SHA256-HMAC --id a3 -i "$TMP/other" --signature-file "$TMP/mac" \
	>"$TMP/bad" 2>&1 && grep -q "Signature is valid" "$TMP/bad"; then
	hw_fail "the MAC verified for other data"
fi
hw_pass "an HMAC key wrapped by openssl and unwrapped on the token verifies the MAC of openssl mac, and not for other data"

# the unwrapped key is not extractable (CKA_EXTRACTABLE false by default)
hw_run_fails "wrap an unextractable key" hw_p11 --login --pin "$PIN" --wrap -m AES-KEY-WRAP --id b1 \
	--application-id a3 -o "$TMP/no"
hw_expect "the token refuses" "CKR_KEY_UNEXTRACTABLE" "$TMP/run.err"
# an extractable one leaves wrapped: OpenSSL unwraps it to a key that
# encrypts as the token key did, and the token unwraps it to one that
# decrypts it
user --keygen --key-type AES:32 --id a4 --label out --extractable
user --encrypt -m AES-CBC-PAD --iv $IV --id a4 -i "$TMP/plain" -o "$TMP/ct4"
user --wrap -m AES-KEY-WRAP --id b1 --application-id a4 -o "$TMP/a4.wrapped"
[ "$(stat -c %s "$TMP/a4.wrapped")" = 40 ] || hw_fail "a wrapped AES-256 key of $(stat -c %s "$TMP/a4.wrapped") bytes"
openssl enc -d -id-aes128-wrap -K "$KEK" -iv A6A6A6A6A6A6A6A6 -in "$TMP/a4.wrapped" -out "$TMP/a4.key" ||
	hw_fail "openssl does not unwrap what the token wrapped"
openssl enc -aes-256-cbc -K "$(xxd -p -c 64 "$TMP/a4.key")" -iv $IV -in "$TMP/plain" -out "$TMP/ossl4" ||
	hw_fail "openssl enc with the unwrapped key"
cmp -s "$TMP/ct4" "$TMP/ossl4" || hw_fail "the key OpenSSL unwrapped does not encrypt as the token key"
user --unwrap -m AES-KEY-WRAP --id b1 -i "$TMP/a4.wrapped" --key-type AES:32 --application-id a5 \
	--application-label back --sensitive
user --decrypt -m AES-CBC-PAD --iv $IV --id a5 -i "$TMP/ct4" -o "$TMP/back4"
cmp -s "$TMP/plain" "$TMP/back4" || hw_fail "the unwrapped key does not decrypt"
hw_pass "an extractable token key wraps (RFC 3394) to what openssl unwraps to the same key; unwrapped on the token it decrypts"

# ---- what the Secret Service holds ----------------------------------------------
hw_run "list the secret-key items" hw_secrets items "$TOKEN" secret-key
cp "$TMP/run.out" "$TMP/items"
[ "$(wc -l <"$TMP/items")" = 6 ] || hw_fail "expected 6 secret-key items (aes256 kat kek mac out back):
$(cat "$TMP/items")"
/usr/bin/python3 - "$TMP/items" "$KEY16" "$KEK" "$MACKEY" "$(xxd -p -c 64 "$TMP/a4.key")" <<'EOF' || hw_fail "a secret key's bytes are in an item's attributes or label, or its secret is not hwagg's"
import json, sys
keys = [k.lower() for k in sys.argv[2:]]
for line in open(sys.argv[1]):
    it = json.loads(line)
    shown = (json.dumps(it['attributes']) + it['label']).lower()
    raw = [bytes.fromhex(k).decode('latin-1').lower() for k in keys]
    if any(k in shown for k in keys) or any(r in shown for r in raw):
        sys.exit('key bytes in the attributes or label of %r' % it['label'])
    if not it['secret'].startswith(b'HWAGGKR1'.hex()) or it['secret'] in keys:
        sys.exit('the secret of %r is not a hwagg object' % it['label'])
    if it['attributes'].get('hwagg-key-type') not in ('aes', 'generic-secret'):
        sys.exit('key type %r' % it['attributes'].get('hwagg-key-type'))
EOF
files=$(find "$TMP/keyring/home" -name '*.keyring')
[ -n "$files" ] || hw_fail "gnome-keyring wrote no keyring file under $TMP/keyring/home"
for f in $files; do
	for k in $KEY16 $KEK $MACKEY $(xxd -p -c 64 "$TMP/a4.key"); do
		if xxd -p "$f" | tr -d '\n' | grep -q "$k" || grep -q "$k" "$f"; then
			hw_fail "$f holds a secret key in clear"
		fi
	done
done
hw_pass "the secret-key items hold no key bytes in their attributes or label; the keyring file on disk holds none in clear"
hw_pass "all keyring secret-key checks passed"
