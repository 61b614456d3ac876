#!/bin/bash
# `hwagg sign` both ways. An "inner" configuration has a soft slot and an
# hsm slot over SoftHSM2 (security "hardware"); `hwagg sign` signs a hex
# digest file with their keys (base64 DER or raw r||s, RSA PKCS#1 v1.5),
# each verified by openssl, and --json says signer_type software for the
# soft key, hardware for the hsm key. Then the chain: an external slot of an
# "outer" configuration whose command is `hwagg sign` on the inner soft
# keys signs for pkcs11-tool, verified by openssl, and `hwagg sign` on that
# external key says signer_type external. Exit codes: 2 for usage (options,
# URI, digest file), 1 when signing fails, with nothing on stdout.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
. "$HWAGG_SRCDIR/tests/external/common.sh"
ext_setup
[ -e "$HW_SOFTHSM_MODULE" ] || hw_skip "SoftHSM2 is not installed ($HW_SOFTHSM_MODULE)"
SO_PIN=12345678
H=$HWAGG_CLI

# --- the inner world: a soft slot and an hsm slot over SoftHSM2 ---
TOKEN=hsmtok hw_init_softhsm
printf '{"environment":"development","store":"%s","slots":[{"name":"inner","type":"soft"},{"name":"hsmtok","type":"hsm","module":"%s","token":"hsmtok","security":"hardware"}]}\n' \
	"$TMP/inner-store" "$HW_SOFTHSM_MODULE" >"$TMP/inner.json"
INNER=$TMP/inner.json
export HWAGG_CONF=$INNER
hw_run "init the soft token" pkcs11-tool --module "$MODULE" --slot-index 0 --init-token --label inner --so-pin "$SO_PIN"
TOKEN=inner
hw_run "init the user PIN" hw_p11 --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$PIN"
hw_keygen_ec soft-ec 31
hw_keygen_rsa soft-rsa 32
hw_pubkey_pem 31 "$TMP/soft-ec.pub"
hw_pubkey_pem 32 "$TMP/soft-rsa.pub"
TOKEN=hsmtok
hw_keygen_ec hsm-ec 41
hw_pubkey_pem 41 "$TMP/hsm-ec.pub"
printf '%s\n' "$PIN" >"$TMP/pin"
chmod 600 "$TMP/pin"

head -c 2000 /dev/urandom >"$TMP/msg"
openssl dgst -sha256 -binary "$TMP/msg" | od -An -tx1 -v | tr -d ' \n' >"$TMP/msg.hex"
echo >>"$TMP/msg.hex"

# sign_ok STEP OUT ARGS... — hwagg sign must exit 0 with one line on stdout.
sign_ok() {
	local step=$1 out=$2
	shift 2
	hw_run "$step" "$H" sign "$@"
	[ "$(wc -l <"$TMP/run.out")" = 1 ] || hw_fail "$step: expected one line on stdout:
$(cat "$TMP/run.out")"
	cp "$TMP/run.out" "$out"
}

sign_ok "hwagg sign, soft EC key" "$TMP/s1" --key "pkcs11:token=inner;object=soft-ec" --pin-file "$TMP/pin" "$TMP/msg.hex"
base64 -d "$TMP/s1" >"$TMP/s1.der" || hw_fail "the signature is not base64"
hw_check_sig "hwagg sign (soft EC, DER)" "$TMP/soft-ec.pub" "$TMP/msg" "$TMP/s1.der"
HWAGG_PIN=$PIN sign_ok "hwagg sign --format raw" "$TMP/s2" --format raw --key "pkcs11:token=inner;id=%31;type=private" "$TMP/msg.hex"
base64 -d "$TMP/s2" >"$TMP/s2.raw"
[ "$(stat -c %s "$TMP/s2.raw")" = 64 ] || hw_fail "--format raw: not 64 bytes of r||s"
sign_ok "hwagg sign, soft RSA key" "$TMP/s3" --key "pkcs11:token=inner;object=soft-rsa" --pin-file "$TMP/pin" "$TMP/msg.hex"
base64 -d "$TMP/s3" >"$TMP/s3.sig"
hw_check_sig "hwagg sign (soft RSA)" "$TMP/soft-rsa.pub" "$TMP/msg" "$TMP/s3.sig"
sign_ok "hwagg sign, hsm EC key" "$TMP/s4" --key "pkcs11:token=hsmtok;object=hsm-ec" --pin-file "$TMP/pin" "$TMP/msg.hex"
base64 -d "$TMP/s4" >"$TMP/s4.der"
hw_check_sig "hwagg sign (hsm EC over SoftHSM2)" "$TMP/hsm-ec.pub" "$TMP/msg" "$TMP/s4.der"
hw_pass "hwagg sign: soft EC (DER, raw), soft RSA and hsm EC signatures verify with openssl"

# json_field FILE NAME — a top-level string of the JSON object in FILE.
json_field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if v is None else v)' "$1" "$2"; }
sign_ok "hwagg sign --json, soft key" "$TMP/j1" --json --key "pkcs11:token=inner;object=soft-ec" --pin-file "$TMP/pin" "$TMP/msg.hex"
[ "$(json_field "$TMP/j1" signer_type)" = software ] || hw_fail "soft key: signer_type is not software: $(cat "$TMP/j1")"
[ "$(json_field "$TMP/j1" key_id)" = 31 ] || hw_fail "soft key: key_id is not 31: $(cat "$TMP/j1")"
[ "$(json_field "$TMP/j1" algorithm)" = ecdsa-p256-sha256 ] || hw_fail "soft key: algorithm: $(cat "$TMP/j1")"
json_field "$TMP/j1" signature | base64 -d >"$TMP/j1.der"
hw_check_sig "--json signature" "$TMP/soft-ec.pub" "$TMP/msg" "$TMP/j1.der"
sign_ok "hwagg sign --json, hsm key" "$TMP/j2" --json --key "pkcs11:token=hsmtok;object=hsm-ec" --pin-file "$TMP/pin" "$TMP/msg.hex"
[ "$(json_field "$TMP/j2" signer_type)" = hardware ] || hw_fail "hsm key: signer_type is not hardware: $(cat "$TMP/j2")"
json_field "$TMP/j2" provider_uri | grep -q '^pkcs11:.*libsofthsm2' || hw_fail "hsm key: provider_uri: $(cat "$TMP/j2")"
grep -q '"attestation"' "$TMP/j1" "$TMP/j2" && hw_fail "attestation given for keys that have none"
hw_pass "hwagg sign --json: signer_type software (soft), hardware (hsm), key_id, algorithm, provider_uri"

# --- exit codes ---
# sign_exit STEP WANT ARGS... — hwagg sign exits WANT with nothing on stdout.
sign_exit() {
	local step=$1 want=$2 rc=0
	shift 2
	timeout "$HW_TIMEOUT" "$H" sign "$@" >"$TMP/x.out" 2>"$TMP/x.err" </dev/null || rc=$?
	[ "$rc" = "$want" ] || hw_fail "$step: exit $rc, expected $want:
$(cat "$TMP/x.err")"
	[ ! -s "$TMP/x.out" ] || hw_fail "$step: something on stdout: $(cat "$TMP/x.out")"
	[ -s "$TMP/x.err" ] || hw_fail "$step: no message on stderr"
}
printf 'not hex\n' >"$TMP/bad.hex"
printf '%s\n' 999999 >"$TMP/badpin"
sign_exit "no --key" 2 "$TMP/msg.hex"
sign_exit "unknown option" 2 --key "pkcs11:token=inner;object=soft-ec" --bogus "$TMP/msg.hex"
sign_exit "a digest file that is not hex" 2 --key "pkcs11:token=inner;object=soft-ec" --pin-file "$TMP/pin" "$TMP/bad.hex"
sign_exit "a missing digest file" 2 --key "pkcs11:token=inner;object=soft-ec" --pin-file "$TMP/pin" "$TMP/none.hex"
sign_exit "not a URI" 2 --key "token=inner" --pin-file "$TMP/pin" "$TMP/msg.hex"
sign_exit "a PIN in the URI" 2 --key "pkcs11:token=inner;object=soft-ec?pin-value=$PIN" "$TMP/msg.hex"
sign_exit "a public key" 2 --key "pkcs11:token=inner;object=soft-ec;type=public" --pin-file "$TMP/pin" "$TMP/msg.hex"
sign_exit "a wrong PIN" 1 --key "pkcs11:token=inner;object=soft-ec" --pin-file "$TMP/badpin" "$TMP/msg.hex"
sign_exit "no such key" 1 --key "pkcs11:token=inner;object=nope" --pin-file "$TMP/pin" "$TMP/msg.hex"
hw_pass "hwagg sign: exit 2 for usage, 1 for a failed signing, stdout empty"

# --- the chain: an external slot whose command is hwagg sign ---
chain_key() {	# LABEL ID INNER-LABEL PUB
	printf '{"label":"%s","id":"%s","public_key":"%s","command":["%s","sign","--key","pkcs11:token=inner;object=%s","--pin-file","%s"]}' \
		"$1" "$2" "$4" "$H" "$3" "$TMP/pin"
}
ext_conf "$(chain_key chain-ec 51 soft-ec "$TMP/soft-ec.pub"),$(chain_key chain-rsa 52 soft-rsa "$TMP/soft-rsa.pub")" \
	'"env":{"HWAGG_CONF":"'"$INNER"'"}'
TOKEN=ext
hw_run "chain: pkcs11-tool signs ECDSA-SHA256" hw_p11 --sign -m ECDSA-SHA256 --id 51 -i "$TMP/msg" \
	-o "$TMP/c1" --signature-format openssl
hw_check_sig "chain (EC)" "$TMP/soft-ec.pub" "$TMP/msg" "$TMP/c1"
hw_run "chain: pkcs11-tool signs SHA256-RSA-PKCS" hw_p11 --sign -m SHA256-RSA-PKCS --id 52 -i "$TMP/msg" -o "$TMP/c2"
hw_check_sig "chain (RSA)" "$TMP/soft-rsa.pub" "$TMP/msg" "$TMP/c2"
sign_ok "hwagg sign --json on the external key" "$TMP/j3" --json --key "pkcs11:token=ext;object=chain-ec" "$TMP/msg.hex"
[ "$(json_field "$TMP/j3" signer_type)" = external ] || hw_fail "external key: signer_type: $(cat "$TMP/j3")"
[ "$(json_field "$TMP/j3" provider_uri)" = "$H" ] || hw_fail "external key: provider_uri: $(cat "$TMP/j3")"
json_field "$TMP/j3" signature | base64 -d >"$TMP/j3.der"
hw_check_sig "hwagg sign -> external -> hwagg sign -> soft" "$TMP/soft-ec.pub" "$TMP/msg" "$TMP/j3.der"
hw_pass "chain: external slot -> hwagg sign -> soft slot signs for pkcs11-tool and for hwagg sign (signer_type external)"
