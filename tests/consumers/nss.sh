#!/bin/bash
# NSS (modutil/certutil) with the module loaded into a fresh NSS database:
# modutil lists the module and token, certutil -K finds the EC and RSA
# private keys (by label, from their CKA_ID), and certutil -R builds a
# certificate request signed by each token key that openssl accepts and that
# carries exactly the token's public key.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
hw_setup

hw_keygen_ec nss-ec 41
hw_keygen_rsa nss-rsa 42
hw_pubkey_pem 41 "$TMP/pub41.pem"
hw_pubkey_pem 42 "$TMP/pub42.pem"

DB="sql:$TMP/nss"
mkdir -p "$TMP/nss"
printf '%s\n' "$PIN" >"$TMP/pinfile"
hw_run "certutil -N" certutil -N -d "$DB" --empty-password
hw_run "modutil -add" modutil -dbdir "$DB" -add hwagg -libfile "$MODULE" -force
hw_run "modutil -list hwagg" modutil -dbdir "$DB" -list hwagg -force
hw_expect "modutil lists the module" "Library file: $MODULE" "$TMP/run.out"
hw_expect "modutil lists the token" "Token Name: $TOKEN *\$" "$TMP/run.out"
awk -v t="$TOKEN" '$0 ~ "Token Name: " t " *$" {b=1} b && /^ *$/ {exit} b' "$TMP/run.out" |
	grep -q 'User Pin: Initialized' ||
	hw_fail "modutil: token $TOKEN has no initialized user PIN"
hw_pass "modutil shows module and token $TOKEN"

hw_run "certutil -K" certutil -K -d "$DB" -h "$TOKEN" -f "$TMP/pinfile"
cp "$TMP/run.out" "$TMP/keys"
hw_expect "certutil -K lists the EC key" '^< *[0-9]+> ec +.* nss-ec$' "$TMP/keys"
hw_expect "certutil -K lists the RSA key" '^< *[0-9]+> rsa +.* nss-rsa$' "$TMP/keys"
hw_pass "certutil -K lists both token keys"

# certutil -k takes the key's CKA_ID in hex.
for id in 41 42; do
	hw_run "certutil -R with key id $id" certutil -R -d "$DB" -h "$TOKEN" -f "$TMP/pinfile" \
		-k "$id" -s "CN=hwagg-nss-$id,O=hwagg test" -o "$TMP/req$id.der"
	hw_run "openssl req -verify (key $id)" openssl req -inform DER -in "$TMP/req$id.der" -verify -noout -subject
	cat "$TMP/run.out" "$TMP/run.err" >"$TMP/verify$id.out"
	hw_expect "CSR $id self-signature" 'verify OK' "$TMP/verify$id.out"
	hw_expect "CSR $id subject" "CN ?= ?hwagg-nss-$id" "$TMP/verify$id.out"
	hw_run "CSR $id public key" openssl req -inform DER -in "$TMP/req$id.der" -pubkey -noout -out "$TMP/csr$id.pub"
	cmp -s "$TMP/csr$id.pub" "$TMP/pub$id.pem" || hw_fail "CSR $id carries another public key than token key $id"
	hw_pass "certutil -R with token key $id: CSR verifies with the token's public key"
done
hw_pass "all NSS checks passed"
