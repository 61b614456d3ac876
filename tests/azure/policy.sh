#!/bin/bash
# The azure-kv slot as a member of the policy slot in production: the
# default precedence puts cloud KMS first, so a key generated on the policy
# token lands in the vault (a create request, an EC-HSM key), and a signature
# by the policy token is the vault's, verified by OpenSSL.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=azure-kv
hw_setup
printf '{"environment":"production","store":"%s","slots":[%s,%s]}\n' "$TMP/store" \
	'{"name":"vault","type":"azure-kv","vault_url":"https://127.0.0.1:'"$HW_AZ_PORT"'","ca_file":"'"$TMP/kms/ca.pem"'","pin":"'"$PIN"'"}' \
	'{"name":"'"$TOKEN"'","type":"policy"}' >"$TMP/hwagg.json"
export HWAGG_CONF="$TMP/hwagg.json"
head -c 1000 /dev/urandom >"$TMP/data"
hw_keygen_ec "placed" 61
[ "$(hw_az_stat '["created_kty"]["EC-HSM"]')" = 1 ] || hw_fail "the policy token did not place the key in the vault"
hw_pubkey_pem 61 "$TMP/pub.pem"
hw_sign ECDSA-SHA256 61 "$TMP/data" "$TMP/sig" --signature-format openssl
hw_check_sig "ES256 through the policy token" "$TMP/pub.pem" "$TMP/data" "$TMP/sig"
[ "$(hw_az_stat '["by_op"]["sign"]')" = 1 ] || hw_fail "the signature was not the vault's"
hw_pass "production policy token: the key is placed in Key Vault (EC-HSM) and signs there"
