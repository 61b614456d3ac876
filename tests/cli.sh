#!/bin/bash
# The hwagg CLI: `config check` gives the module's verdict with its exact
# message and exit code; `status` reports slots, token state, key counts and
# where the module is; `keygen` prints the new key's RFC 7512 URI, which
# pkcs11-tool (by its id) and p11tool (the whole URI) use to sign, and
# openssl verifies; `keys` lists the keys with URI, backend, security level
# and creation time; the PIN comes from --pin-file, $HWAGG_PIN or the
# terminal without echo, never from the command line; no log line names a C
# function or carries a PIN.
set -u
CLI=${HWAGG_CLI:?}
MODULE=${HWAGG_MODULE:?}
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HWAGG_LOG=error

cat > "$tmp/good.json" <<EOF
{"environment": "development", "store": "$tmp/store", "slots": [{"name": "clitest", "type": "soft"}]}
EOF
out=$("$CLI" config check "$tmp/good.json") || fail "config check of a good file exited $?"
grep -q "ok" <<<"$out" && grep -q "clitest" <<<"$out" || fail "config check output: $out"

# the exact messages: tests/cli_messages.sh
echo '{"slots": [' > "$tmp/syntax.json"
"$CLI" config check "$tmp/syntax.json" >/dev/null 2>&1 && fail "truncated JSON accepted"

"$CLI" --help >/dev/null || fail "--help exited $?"
"$CLI" frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown command should exit 2"

export HWAGG_CONF="$tmp/good.json"
out=$("$CLI" status) || true
grep -q "clitest" <<<"$out" && grep -q "not initialized" <<<"$out" || fail "status before init: $out"
pkcs11-tool --module "$MODULE" --init-token --label clitest --so-pin 12345678 >/dev/null 2>&1 || fail "init token"
pkcs11-tool --module "$MODULE" --token-label clitest --login --login-type so --so-pin 12345678 \
	--init-pin --pin 123456 >/dev/null 2>&1 || fail "init pin"
pkcs11-tool --module "$MODULE" --token-label clitest --login --pin 123456 --keypairgen \
	--key-type EC:prime256v1 --label k >/dev/null 2>&1 || fail "keygen"
out=$("$CLI" status) || fail "status exited $? with a healthy slot: $out"
grep -q "initialized, 1 private key(s), 1 public key(s)" <<<"$out" || fail "status after keygen: $out"
# where the module is, and either the module file that registers it with
# p11-kit or the line that would
modline=$(grep '^module: ' <<<"$out") || fail "status does not say where the module is: $out"
modfile=$(sed -E 's/^module: +([^ ]+) .*/\1/' <<<"$modline")
[[ $modfile == /*/libhwagg-pkcs11.so ]] || fail "status names no module file: $modline"
grep -q "^p11-kit: *loads it, registered by /" <<<"$out" || grep -qx " *module: $modfile" <<<"$out" ||
	fail "status neither names the p11-kit module file nor says how to register $modfile: $out"

# ---- keygen and keys ---------------------------------------------------------
# helpers of the consumer tests: hw_run, hw_pubkey_pem, hw_check_sig
TMP=$tmp TOKEN=clitest PIN=123456
. "$HWAGG_SRCDIR/tests/lib.sh"
printf '%s\n' "$PIN" >"$tmp/pin"
printf '%s\r\n' "$PIN" >"$tmp/pin-crlf"
printf '654321\n' >"$tmp/wrong-pin"
: >"$tmp/empty-pin"
chmod 600 "$tmp"/*pin*
printf 'hello from hwagg keygen\n' >"$tmp/msg"
unset HWAGG_PIN
# the CKA_ID of a URI as hex, as pkcs11-tool --id takes it
id_of() { sed -n 's/.*;id=\([^;?]*\).*/\1/p' <<<"$1" | tr -d %; }
nkeys() { HWAGG_PIN=$PIN "$CLI" keys --slot clitest | grep -c ';type=private$'; }

t0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
declare -A uri
n=0
for t in ec-p256 ec-p384 rsa-2048 rsa-3072 ed25519; do
	n=$((n + 1))
	# ec-p256 without --id: the module derives it from the public key
	idarg=() want_id=""
	[ "$t" = ec-p256 ] || { idarg=(--id "c1$(printf %02x $n)"); want_id=";id=%C1%$(printf %02X $n)"; }
	pinarg=(--pin-file "$tmp/pin")
	[ "$t" = rsa-2048 ] && pinarg=(--pin-file "$tmp/pin-crlf")   # a CR LF line end goes too
	out=$("$CLI" keygen --slot clitest --type "$t" --label "cli-$t" "${idarg[@]}" "${pinarg[@]}" \
		2>"$tmp/err" </dev/null) || fail "keygen --type $t exited $?: $(cat "$tmp/err")"
	uri[$t]=$out
	if [ -n "$want_id" ]; then
		[ "$out" = "pkcs11:token=clitest;object=cli-$t$want_id;type=private" ] ||
			fail "keygen --type $t printed '$out'"
	else
		[[ $out =~ ^pkcs11:token=clitest\;object=cli-$t\;id=(%[0-9A-F]{2}){20}\;type=private$ ]] ||
			fail "keygen --type $t without --id printed '$out'"
	fi
done
t1=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "PASS: keygen prints the URI of each key type"

# `keys` lists each with its URI, backend, security level and creation time
HWAGG_PIN=$PIN "$CLI" keys --slot clitest >"$tmp/keys" 2>"$tmp/err" </dev/null ||
	fail "keys with HWAGG_PIN exited $?: $(cat "$tmp/err")"
for t in "${!uri[@]}"; do
	line=$(awk -v u="${uri[$t]}" '$NF == u' "$tmp/keys")
	read -r alg backend sec created _ <<<"$line"
	[ "$alg $backend $sec" = "$t soft software" ] || fail "keys shows '$line' for ${uri[$t]}:
$(cat "$tmp/keys")"
	[[ $created =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ && ! $created < $t0 && ! $created > $t1 ]] ||
		fail "creation time of $t is '$created', not between $t0 and $t1"
done
# without --slot: the only initialized token
HWAGG_PIN=$PIN "$CLI" keys >"$tmp/keys2" </dev/null || fail "keys without --slot exited $?"
cmp -s "$tmp/keys" "$tmp/keys2" || fail "keys without --slot differs from keys --slot clitest"
echo "PASS: keys lists URI, backend, security level and creation time"

# the URI's id works with pkcs11-tool, the whole URI with p11tool; openssl verifies
for t in "${!uri[@]}"; do
	id=$(id_of "${uri[$t]}")
	case $t in
	ec-*) mech=ECDSA-SHA256 fmt=(--signature-format openssl) ;;
	rsa-*) mech=SHA256-RSA-PKCS fmt=() ;;
	*) mech=EDDSA fmt=() ;;
	esac
	hw_run "sign with the $t key (id $id from its URI)" hw_p11 --login --pin "$PIN" --sign -m "$mech" \
		--id "$id" "${fmt[@]}" -i "$tmp/msg" -o "$tmp/sig-$t"
	if [ "$t" = ed25519 ]; then
		# pkcs11-tool 0.23 writes an Ed25519 public key as PEM
		hw_run "read the ed25519 public key" hw_p11 --read-object --type pubkey --id "$id" -o "$tmp/ed.out"
		hw_run "ed25519 public key" openssl pkey -pubin -in "$tmp/ed.out" -out "$tmp/pub-$t.pem"
		hw_run "verify Ed25519" openssl pkeyutl -verify -pubin -inkey "$tmp/pub-$t.pem" -rawin \
			-in "$tmp/msg" -sigfile "$tmp/sig-$t"
		hw_expect "verify Ed25519" "Signature Verified Successfully" "$TMP/run.out"
		printf 'X' | cat - "$tmp/msg" >"$tmp/msg.x"
		hw_run_fails "Ed25519 over another message" openssl pkeyutl -verify -pubin \
			-inkey "$tmp/pub-$t.pem" -rawin -in "$tmp/msg.x" -sigfile "$tmp/sig-$t"
	else
		hw_pubkey_pem "$id" "$tmp/pub-$t.pem"
		hw_check_sig "$t, signed by its URI's id" "$tmp/pub-$t.pem" "$tmp/msg" "$tmp/sig-$t"
		# GnuTLS does no EdDSA test signature; the rest take the whole URI
		hw_run "p11tool --test-sign ${uri[$t]}" p11tool --provider "$MODULE" --login --set-pin "$PIN" \
			--test-sign "${uri[$t]}"
	fi
done
# a derived id is the SHA-1 of the SubjectPublicKeyInfo
spki=$(openssl pkey -pubin -in "$tmp/pub-ec-p256.pem" -outform DER | sha1sum | cut -d' ' -f1)
[ "$spki" = "$(id_of "${uri[ec-p256]}" | tr A-F a-f)" ] || fail "derived id is not the SPKI's SHA-1"
echo "PASS: the URIs sign through pkcs11-tool and p11tool, openssl verifies"

# percent-encoding of a label with reserved and non-ASCII characters
out=$("$CLI" keygen --slot clitest --type ec-p256 --label 'web key;1/é%' --id 0a1B --pin-file "$tmp/pin") ||
	fail "keygen with an odd label exited $?"
[ "$out" = 'pkcs11:token=clitest;object=web%20key%3B1%2F%C3%A9%25;id=%0A%1B;type=private' ] ||
	fail "odd label encoded as '$out'"
hw_run "p11tool --test-sign $out" p11tool --provider "$MODULE" --login --set-pin "$PIN" --test-sign "$out"
"$CLI" keygen --slot clitest --type ec-p256 --label again --id 0a1b --pin-file "$tmp/pin" 2>"$tmp/err" &&
	fail "a second key with id 0a1b was generated"
grep -q "already has a private key with id" "$tmp/err" || fail "duplicate id: $(cat "$tmp/err")"
echo "PASS: labels are percent-encoded per RFC 7512; a taken id is refused"

# a public key without a private key is listed; a certificate of a listed key is not
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
	openssl pkey -pubout -outform DER -out "$tmp/lone.der" || fail "make a public key"
hw_run "write a lone public key" hw_p11 --login --pin "$PIN" --write-object "$tmp/lone.der" \
	--type pubkey --id 77 --label lone
hw_issue_cert "$tmp/pub-ec-p384.pem" cli-ec-p384 "$tmp/cert.pem"
hw_write_cert "$tmp/cert.pem" "$(id_of "${uri[ec-p384]}")" cli-ec-p384-cert
HWAGG_PIN=$PIN "$CLI" keys --slot clitest >"$tmp/keys" </dev/null || fail "keys exited $?"
grep -q ' pkcs11:token=clitest;object=lone;id=%77;type=public$' "$tmp/keys" ||
	fail "the lone public key is not listed: $(cat "$tmp/keys")"
grep -q ';type=cert$' "$tmp/keys" && fail "a key's certificate is listed apart: $(cat "$tmp/keys")"
echo "PASS: keys shows unpaired public keys, not a key's certificate"

# the PIN: wrong, missing, empty, or on the command line
before=$(nkeys)
"$CLI" keygen --slot clitest --type ec-p256 --label w --pin-file "$tmp/wrong-pin" >/dev/null 2>"$tmp/err" &&
	fail "keygen with a wrong PIN succeeded"
grep -q 'slot "clitest": wrong PIN (CKR_PIN_INCORRECT)' "$tmp/err" || fail "wrong PIN: $(cat "$tmp/err")"
HWAGG_PIN=654321 "$CLI" keys --slot clitest >/dev/null 2>"$tmp/err" && fail "keys with a wrong HWAGG_PIN succeeded"
grep -q 'wrong PIN' "$tmp/err" || fail "wrong HWAGG_PIN: $(cat "$tmp/err")"
"$CLI" keys --slot clitest --pin-file "$tmp/empty-pin" >/dev/null 2>"$tmp/err" && fail "an empty PIN file was used"
grep -q 'the PIN is empty' "$tmp/err" || fail "empty PIN file: $(cat "$tmp/err")"
"$CLI" keys --slot clitest --pin-file "$tmp/nope" >/dev/null 2>"$tmp/err" && fail "a missing PIN file was used"
grep -q "$tmp/nope: No such file" "$tmp/err" || fail "missing PIN file: $(cat "$tmp/err")"
"$CLI" keys --slot clitest </dev/null >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q 'needs its user PIN: give --pin-file FILE, set HWAGG_PIN' "$tmp/err" ||
	fail "no PIN and no terminal: exit $rc: $(cat "$tmp/err")"
for argv in "--pin $PIN" "--pin=$PIN" "-p $PIN" "--so-pin $PIN" "--pin"; do
	# shellcheck disable=SC2086 # one word per option
	HWAGG_PIN=$PIN "$CLI" keygen --slot clitest --type ec-p256 --label argv $argv >/dev/null 2>"$tmp/err" </dev/null
	rc=$?
	[ $rc -eq 2 ] && grep -q 'a PIN on the command line is readable by every user' "$tmp/err" ||
		fail "a PIN given as '$argv' was not refused (exit $rc): $(cat "$tmp/err")"
done
[ "$(nkeys)" = "$before" ] || fail "a refused command generated a key"
echo "PASS: a wrong, empty or missing PIN fails clearly; a PIN on the command line is refused"

# on a terminal: asked without echo, and the terminal is as it was after
command -v python3 >/dev/null || fail "python3 is needed for the terminal test"
python3 "$HWAGG_SRCDIR/tests/typepin.py" "$PIN" sh -c '"$@"; rc=$?; stty -a; exit $rc' sh \
	"$CLI" keys --slot clitest >"$tmp/tty" 2>&1 || fail "keys on a terminal exited $?: $(cat "$tmp/tty")"
grep -q 'PIN for slot "clitest": ' "$tmp/tty" || fail "no PIN prompt: $(cat "$tmp/tty")"
grep -q "$PIN" "$tmp/tty" && fail "the PIN was echoed: $(cat "$tmp/tty")"
grep -qF "${uri[ed25519]}" "$tmp/tty" || fail "keys on a terminal: $(cat "$tmp/tty")"
# stty -a shows "echo" when it is on, "-echo" when off
grep -Eq '(^| )echo( |$)' "$tmp/tty" && ! grep -Eq '(^| )-echo( |$)' "$tmp/tty" ||
	fail "echo is still off after the prompt: $(cat "$tmp/tty")"
echo "PASS: the PIN prompt does not echo and restores the terminal"

# no PIN ever reaches a log line, even at debug level
export HWAGG_LOG=debug
log="$tmp/debug.log"
{
	pkcs11-tool --module "$MODULE" --token-label clitest --login --pin 123456 --change-pin \
		--new-pin pinmarker-7731
	pkcs11-tool --module "$MODULE" --token-label clitest --login --pin pinmarker-7731 --keypairgen \
		--key-type EC:prime256v1 --label k2
	pkcs11-tool --module "$MODULE" --token-label clitest --login --pin wrongmarker-5519 -O
	pkcs11-tool --module "$MODULE" --token-label clitest --login --login-type so \
		--so-pin 12345678 --change-pin --new-pin somarker-8842
	HWAGG_PIN=pinmarker-7731 "$CLI" keygen --slot clitest --type ec-p256 --label k3
	HWAGG_PIN=wrongmarker-5519 "$CLI" keys --slot clitest
} > "$log" 2>&1
grep -q "hwagg: \(info\|debug\)" "$log" || fail "no debug log lines were written"
grep -n "pinmarker\|wrongmarker\|somarker" "$log" | grep -v "^.*Using\|pkcs11-tool" | grep "hwagg" &&
	fail "a PIN reached the log"
# a line names the slot or subsystem it is about, never a C function
grep -E "^hwagg: (error|warn|info|debug): [A-Za-z0-9]*_[A-Za-z0-9_]*:" "$log" &&
	fail "log lines name C functions"
grep -q '^hwagg: info: slot "clitest": ' "$log" || fail "no log line names the slot: $(head -n 5 "$log")"
echo "PASS: hwagg config check, status, keygen and keys"
