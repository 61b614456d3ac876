#!/bin/bash
# p11-kit with the module registered as the only module (private mount
# namespace over the system module directory): p11-kit list-modules shows the
# module and token, and through p11-kit-proxy.so pkcs11-tool lists the same
# token, generates EC and RSA keys on it (visible directly through the module
# too) and signs; openssl verifies the signatures against the public keys.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
hw_setup

[ -e "$HW_P11KIT_PROXY" ] || hw_fail "p11-kit proxy not found at $HW_P11KIT_PROXY"
proxy_p11() { hw_in_p11kit_ns pkcs11-tool --module "$HW_P11KIT_PROXY" --token-label "$TOKEN" "$@"; }

# --- p11-kit list-modules: our module, our token, nothing else ---
hw_run "p11-kit list-modules" hw_in_p11kit_ns p11-kit list-modules
cp "$TMP/run.out" "$TMP/modules"
hw_expect "list-modules shows the module" "^hwtest: $MODULE\$" "$TMP/modules"
hw_expect "list-modules shows the token" "^ +token: $TOKEN\$" "$TMP/modules"
[ "$(grep -c '^[^ ].*: ' "$TMP/modules")" -eq 1 ] || hw_fail "p11-kit loaded other modules too:
$(grep '^[^ ]' "$TMP/modules")"
hw_pass "p11-kit list-modules shows only our module, with token $TOKEN"

# --- the proxy sees the same token ---
hw_run "proxy --list-slots" hw_in_p11kit_ns pkcs11-tool --module "$HW_P11KIT_PROXY" --list-slots
hw_expect "proxy lists the token" "token label +: $TOKEN\$" "$TMP/run.out"
hw_run "proxy --list-token-slots serial" proxy_p11 --list-token-slots
grep -E 'serial num' "$TMP/run.out" >"$TMP/serial.proxy"
hw_run "module --list-token-slots serial" hw_p11 --list-token-slots
grep -E 'serial num' "$TMP/run.out" >"$TMP/serial.direct"
[ -s "$TMP/serial.proxy" ] && cmp -s "$TMP/serial.proxy" "$TMP/serial.direct" ||
	hw_fail "token serial differs between proxy and module"
hw_pass "p11-kit-proxy shows the same token"

# --- keys made and used through the proxy ---
hw_run "proxy: generate EC key" proxy_p11 --login --pin "$PIN" --keypairgen \
	--key-type EC:prime256v1 --label kit-ec --id 71 --usage-sign
hw_run "proxy: generate RSA key" proxy_p11 --login --pin "$PIN" --keypairgen \
	--key-type rsa:2048 --label kit-rsa --id 72 --usage-sign
hw_run "module sees the proxy's keys" hw_p11 --list-objects --type pubkey
hw_expect "module sees kit-ec" 'label: +kit-ec$' "$TMP/run.out"
hw_expect "module sees kit-rsa" 'label: +kit-rsa$' "$TMP/run.out"
hw_pubkey_pem 71 "$TMP/pub71.pem"
hw_pubkey_pem 72 "$TMP/pub72.pem"

head -c 3000 /dev/urandom >"$TMP/msg"
hw_run "digest" openssl dgst -sha256 -binary -out "$TMP/msg.sha256" "$TMP/msg"
hw_run "proxy: ECDSA sign" proxy_p11 --login --pin "$PIN" --sign -m ECDSA --id 71 \
	--signature-format openssl -i "$TMP/msg.sha256" -o "$TMP/sig71"
hw_check_sig "ECDSA via p11-kit proxy" "$TMP/pub71.pem" "$TMP/msg" "$TMP/sig71"
hw_run "proxy: RSA sign" proxy_p11 --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 72 \
	-i "$TMP/msg" -o "$TMP/sig72"
hw_check_sig "SHA256-RSA-PKCS via p11-kit proxy" "$TMP/pub72.pem" "$TMP/msg" "$TMP/sig72"
hw_pass "keys generated and signatures made through p11-kit-proxy verify"
hw_pass "all p11-kit checks passed"
