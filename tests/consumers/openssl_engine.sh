#!/bin/bash
# OpenSSL 3 through the libp11 "pkcs11" engine: pkeyutl signs a digest with a
# token key addressed by a pkcs11: URI and plain openssl verifies it; a CSR
# signed by the token key verifies; and a TLS client-authenticated handshake
# completes with the token key against openssl s_server, which reports the
# client certificate issued for that key — EC over TLS 1.3, RSA over TLS 1.2
# (RSA+SHA256, PKCS#1 v1.5).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
hw_setup
export PKCS11_MODULE_PATH="$MODULE"

key_uri() { printf '%s;object=%s;type=private?pin-value=%s' "$URI" "$1" "$PIN"; }

hw_keygen_ec tls-ec 21
hw_keygen_rsa tls-rsa 22
hw_pubkey_pem 21 "$TMP/ec.pub"
hw_pubkey_pem 22 "$TMP/rsa.pub"

# --- pkeyutl sign through the engine, verify with plain openssl ---
head -c 4096 /dev/urandom >"$TMP/msg"
hw_run "digest" openssl dgst -sha256 -binary -out "$TMP/msg.sha256" "$TMP/msg"
hw_run "engine pkeyutl sign (EC)" openssl pkeyutl -engine pkcs11 -keyform engine \
	-inkey "$(key_uri tls-ec)" -sign -in "$TMP/msg.sha256" -out "$TMP/sig-ec"
hw_check_sig "engine ECDSA signature" "$TMP/ec.pub" "$TMP/msg" "$TMP/sig-ec"
hw_run "engine pkeyutl sign (RSA)" openssl pkeyutl -engine pkcs11 -keyform engine \
	-inkey "$(key_uri tls-rsa)" -sign -pkeyopt digest:sha256 -in "$TMP/msg.sha256" -out "$TMP/sig-rsa"
hw_check_sig "engine RSA signature" "$TMP/rsa.pub" "$TMP/msg" "$TMP/sig-rsa"
hw_pass "pkeyutl -engine pkcs11 signatures verify (EC, RSA)"

# --- client certificates: EC from a CSR the token signed, RSA by -force_pubkey ---
hw_run "CSR signed by the token key" openssl req -new -engine pkcs11 -keyform engine \
	-key "$(key_uri tls-ec)" -subj "/CN=hwagg-client-ec" -out "$TMP/ec.csr"
hw_run "CSR verifies" openssl req -in "$TMP/ec.csr" -verify -noout
hw_expect "CSR verifies" 'verify OK|Certificate request self-signature verify OK' "$TMP/run.err"
hw_run "CSR carries the token public key" openssl req -in "$TMP/ec.csr" -pubkey -noout -out "$TMP/csr.pub"
cmp -s "$TMP/csr.pub" "$TMP/ec.pub" || hw_fail "CSR public key differs from the token's"
hw_ca
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$TMP/client.ext"
hw_run "CA signs the CSR" openssl x509 -req -in "$TMP/ec.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
	-set_serial 0x2101 -days 2 -extfile "$TMP/client.ext" -out "$TMP/ec.pem"
hw_issue_cert "$TMP/rsa.pub" hwagg-client-rsa "$TMP/rsa.pem"
hw_write_cert "$TMP/ec.pem" 21 tls-ec
hw_write_cert "$TMP/rsa.pem" 22 tls-rsa
hw_run "read the EC cert back" hw_p11 --read-object --type cert --id 21 -o "$TMP/ec-back.der"
cmp -s "$TMP/cert-21.der" "$TMP/ec-back.der" || hw_fail "certificate read back from the token differs"
hw_pass "CSR from the token verifies; certificates stored on the token"

# --- server ---
hw_run "server key" openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/server.key"
hw_run "server public key" openssl pkey -in "$TMP/server.key" -pubout -out "$TMP/server.pub"
hw_issue_cert "$TMP/server.pub" 127.0.0.1 "$TMP/server.pem" serverAuth

# tls_round NAME LABEL CERT CN PROTO SERVER-ARGS CLIENT-ARGS — one handshake
# with client authentication by the token key LABEL.
tls_round() {
	local name=$1 label=$2 cert=$3 cn=$4 proto=$5 sargs=$6 cargs=$7 port spid
	port=$(hw_free_port)
	# shellcheck disable=SC2086
	hw_bg "server-$name" openssl s_server -www -naccept 1 -Verify 1 -CAfile "$TMP/ca.pem" \
		-cert "$TMP/server.pem" -key "$TMP/server.key" -accept "127.0.0.1:$port" $sargs
	spid=$HW_BG_PID
	hw_wait_port "$port" "$spid"
	printf 'GET / HTTP/1.0\r\n\r\n' >"$TMP/get"
	# shellcheck disable=SC2086
	timeout "$HW_TIMEOUT" openssl s_client -engine pkcs11 -keyform engine -key "$(key_uri "$label")" \
		-cert "$cert" -CAfile "$TMP/ca.pem" -verify_return_error -quiet \
		-connect "127.0.0.1:$port" $cargs <"$TMP/get" >"$TMP/client-$name.out" 2>"$TMP/client-$name.err" ||
		hw_fail "TLS $name: s_client failed:
$(tail -n 30 "$TMP/client-$name.err")
--- server ---
$(tail -n 30 "$TMP/server-$name.log")"
	wait "$spid" || hw_fail "TLS $name: s_server exited with an error:
$(tail -n 30 "$TMP/server-$name.log")"
	local out="$TMP/client-$name.out"
	hw_expect "TLS $name: HTTP response" '^HTTP/1.0 200 ok' "$out"
	hw_expect "TLS $name: protocol" "Protocol +: $proto\$" "$out"
	hw_expect "TLS $name: server saw the client certificate" '^Client certificate' "$out"
	hw_expect "TLS $name: client certificate subject" "Subject: CN ?= ?$cn\$" "$out"
	hw_expect "TLS $name: server verified the client" "depth=0 CN = $cn" "$TMP/server-$name.log"
	hw_expect "TLS $name: handshake finished" '1 server accepts that finished' "$TMP/server-$name.log"
	# The certificate the server received is the one issued for the token key.
	sed -n '/^Client certificate/,/END CERTIFICATE/p' "$out" |
		sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' >"$TMP/seen-$name.pem"
	hw_run "TLS $name: certificate seen by the server" openssl x509 -in "$TMP/seen-$name.pem" \
		-noout -fingerprint -sha256
	mv "$TMP/run.out" "$TMP/seen-$name.fp"
	hw_run "TLS $name: certificate issued" openssl x509 -in "$cert" -noout -fingerprint -sha256
	cmp -s "$TMP/run.out" "$TMP/seen-$name.fp" || hw_fail "TLS $name: server saw another certificate"
	hw_pass "TLS $name handshake with the token key; server got CN=$cn"
}

tls_round ec tls-ec "$TMP/ec.pem" hwagg-client-ec TLSv1.3 "" ""
tls_round rsa tls-rsa "$TMP/rsa.pem" hwagg-client-rsa TLSv1.2 "-client_sigalgs RSA+SHA256" "-tls1_2"
hw_expect "TLS rsa: client signed with RSA PKCS#1" 'Peer signature type: RSA$' "$TMP/client-rsa.out"
hw_pass "all OpenSSL engine checks passed"
