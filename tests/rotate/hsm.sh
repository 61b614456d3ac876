#!/bin/bash
# Rotation on an hsm slot over SoftHSM2: the lower token cannot hold
# hwagg's key version, so the slot keeps it in its versions file; a new
# process (p11attr reads after C_Finalize/C_Initialize) sees one private
# key for the label, the new key pair at version 2 (the public key with a
# start date), the old public key at version 1 with an end date, and the
# old signature still verifies.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=hsm
hw_setup
p11attr="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/rotate/p11attr"
[ -x "$p11attr" ] || hw_fail "tests/rotate/p11attr is not built"
today=$(date -u +%Y%m%d)

echo "signed before the rotation" >"$TMP/msg"
hw_keygen_ec hsmrot 51
hw_pubkey_pem 51 "$TMP/old.pem"
hw_sign ECDSA-SHA256 51 "$TMP/msg" "$TMP/old.sig" --signature-format openssl
echo "$PIN" >"$TMP/pin"
chmod 600 "$TMP/pin"
"$HWAGG_CLI" rotate "pkcs11:token=$TOKEN;object=hsmrot;type=private" --pin-file "$TMP/pin" >"$TMP/rot.out" \
	2>"$TMP/rot.err" || hw_fail "rotate: $(cat "$TMP/rot.err")"

"$p11attr" "$MODULE" "$TOKEN" "$PIN" show hsmrot >"$TMP/show.out" || hw_fail "p11attr show"
# (SoftHSM2 2.6 fails to read back a date set on a private key: the slot
# leaves the date out and still lists the key)
grep -qx "priv label=hsmrot version=2 start=\($today\)\? end= sign=1" "$TMP/show.out" ||
	hw_fail "the new private key: $(cat "$TMP/show.out")"
grep -qx "pub label=hsmrot version=2 start=$today end= sign=-" "$TMP/show.out" ||
	hw_fail "the new public key: $(cat "$TMP/show.out")"
grep -qx "pub label=hsmrot version=1 start= end=$today sign=-" "$TMP/show.out" ||
	hw_fail "the old public key: $(cat "$TMP/show.out")"
[ "$(grep -c '^priv ' "$TMP/show.out")" = 1 ] || hw_fail "private keys: $(cat "$TMP/show.out")"
ls "$TMP"/store/hsm-*.versions >/dev/null 2>&1 || hw_fail "no versions file in the store"
hw_pass "the new key pair is version 2 in a new process (kept in the store), the old public key version 1"

hw_pubkey_pem 51 "$TMP/kept.pem"
hw_check_sig "the old signature after the rotation" "$TMP/kept.pem" "$TMP/msg" "$TMP/old.sig"
hw_pass "the old public key stays on the lower token and verifies the old signature"
