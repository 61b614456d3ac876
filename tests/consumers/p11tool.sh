#!/bin/bash
# GnuTLS p11tool with the module as provider: --list-all shows the token's EC
# and RSA keys with their labels and IDs, --export-pubkey returns the same
# public key pkcs11-tool reads, and --test-sign (which signs on the token and
# verifies the signature with GnuTLS against the token's public key) succeeds
# for ECDSA, RSA PKCS#1 v1.5 and, when offered, RSA-PSS — with the PIN given
# by --set-pin and by GNUTLS_PIN; a wrong GNUTLS_PIN makes it fail.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
hw_setup

hw_keygen_ec gt-ec 51
hw_keygen_rsa gt-rsa 52
P11TOOL="p11tool --provider $MODULE"

# --- listing ---
# shellcheck disable=SC2086
hw_run "p11tool --list-all" $P11TOOL --list-all "$URI"
cp "$TMP/run.out" "$TMP/list"
for pair in gt-ec:51:EC gt-rsa:52:RSA; do
	IFS=: read -r label id type <<<"$pair"
	awk -v l="$label" '/^Object/ {b = ""} {b = b $0 "\n"} /^\tID:/ && b ~ "Label: " l "\n" {print b}' \
		"$TMP/list" >"$TMP/obj-$label"
	hw_expect "--list-all shows $label" "type=public" "$TMP/obj-$label"
	hw_expect "--list-all: $label is a $type public key" "Type: Public key \\($type" "$TMP/obj-$label"
	hw_expect "--list-all: $label has ID $id" "ID: $id\$" "$TMP/obj-$label"
done
# shellcheck disable=SC2086
hw_run "p11tool --list-all-privkeys" $P11TOOL --login --set-pin "$PIN" --list-all-privkeys "$URI"
hw_expect "private EC key listed" "object=gt-ec;type=private" "$TMP/run.out"
hw_expect "private RSA key listed" "object=gt-rsa;type=private" "$TMP/run.out"
hw_pass "p11tool lists the public and private EC and RSA keys"

# --- the public key p11tool exports is the one pkcs11-tool reads ---
for id in 51 52; do
	hw_pubkey_pem "$id" "$TMP/pub$id.pem"
	# shellcheck disable=SC2086
	hw_run "p11tool --export-pubkey id $id" $P11TOOL --login --set-pin "$PIN" --export-pubkey \
		--outfile "$TMP/gt$id.pem" "$URI;id=%$id;type=public"
	cmp -s "$TMP/pub$id.pem" "$TMP/gt$id.pem" || hw_fail "p11tool and pkcs11-tool export different public keys for id $id"
done
hw_pass "p11tool exports the same public keys as pkcs11-tool"

# --- test-sign ---
# shellcheck disable=SC2086
hw_run "p11tool --test-sign EC (--set-pin)" $P11TOOL --login --set-pin "$PIN" --test-sign "$URI;object=gt-ec"
cat "$TMP/run.out" "$TMP/run.err" >"$TMP/ts-ec"
hw_expect "test-sign EC signs" 'Signing using ECDSA-SHA256\.\.\. ok' "$TMP/ts-ec"
hw_expect "test-sign EC verifies" 'Verifying against public key in the token\.\.\. ok' "$TMP/ts-ec"

# shellcheck disable=SC2086
GNUTLS_PIN=$PIN hw_run "p11tool --test-sign RSA (GNUTLS_PIN)" $P11TOOL --login --test-sign "$URI;object=gt-rsa"
cat "$TMP/run.out" "$TMP/run.err" >"$TMP/ts-rsa"
hw_expect "test-sign RSA signs" 'Signing using RSA-SHA256\.\.\. ok' "$TMP/ts-rsa"
hw_expect "test-sign RSA verifies" 'Verifying against public key in the token\.\.\. ok' "$TMP/ts-rsa"
hw_pass "p11tool --test-sign ok for EC (--set-pin) and RSA (GNUTLS_PIN)"

# HW_RSA_SHA256_ONLY=1: the target's RSA key signs PKCS#1 v1.5 only (gcp-kms)
if hw_has_mech RSA-PKCS-PSS && [ "${HW_RSA_SHA256_ONLY:-}" != 1 ]; then
	# shellcheck disable=SC2086
	hw_run "p11tool --test-sign RSA-PSS" $P11TOOL --login --set-pin "$PIN" --sign-params RSA-PSS \
		--test-sign "$URI;object=gt-rsa"
	cat "$TMP/run.out" "$TMP/run.err" >"$TMP/ts-pss"
	hw_expect "test-sign RSA-PSS signs" 'Signing using RSA-PSS-SHA256\.\.\. ok' "$TMP/ts-pss"
	hw_expect "test-sign RSA-PSS verifies" 'Verifying against public key in the token\.\.\. ok' "$TMP/ts-pss"
	hw_pass "p11tool --test-sign ok for RSA-PSS"
else
	hw_log "RSA-PKCS-PSS not offered on this key by target $HW_TARGET: RSA-PSS test-sign not run"
fi

# shellcheck disable=SC2086
GNUTLS_PIN=000000 hw_run_fails "p11tool --test-sign with a wrong PIN" $P11TOOL --login --test-sign "$URI;object=gt-ec"
hw_pass "wrong GNUTLS_PIN is refused"
hw_pass "all p11tool checks passed"
