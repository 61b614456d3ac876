#!/bin/bash
# The hwagg CLI: `config check` gives the module's verdict with its exact
# message and exit code; `status` reports slots, token state and key counts.
set -u
CLI=${HWAGG_CLI:?}
MODULE=${HWAGG_MODULE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HWAGG_LOG=error

cat > "$tmp/good.json" <<EOF
{"environment": "development", "store": "$tmp/store", "slots": [{"name": "clitest", "type": "soft"}]}
EOF
out=$("$CLI" config check "$tmp/good.json") || fail "config check of a good file exited $?"
grep -q "ok" <<<"$out" && grep -q "clitest" <<<"$out" || fail "config check output: $out"

echo '{"slots": [{"name": "x", "type": "soft", "pin_max_trys": 3}]}' > "$tmp/typo.json"
err=$("$CLI" config check "$tmp/typo.json" 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] || fail "config check of a bad file exited $rc, want 1"
grep -q "$tmp/typo.json" <<<"$err" && grep -q "slots\[0\].pin_max_trys" <<<"$err" &&
	grep -q "expected" <<<"$err" || fail "message does not name file, key and expectation: $err"

# a backend's own value check runs too, not only the JSON shape
echo '{"store": "/tmp", "slots": [{"name": "x", "type": "soft", "pin_max_tries": 0}]}' > "$tmp/value.json"
err=$("$CLI" config check "$tmp/value.json" 2>&1 >/dev/null) && fail "pin_max_tries 0 accepted"
grep -q "pin_max_tries" <<<"$err" || fail "value error does not name the key: $err"

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
grep -q "initialized, 1 private key(s)" <<<"$out" || fail "status after keygen: $out"
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
} > "$log" 2>&1
grep -q "hwagg: \(info\|debug\)" "$log" || fail "no debug log lines were written"
grep -n "pinmarker\|wrongmarker\|somarker" "$log" | grep -v "^.*Using\|pkcs11-tool" | grep "hwagg" &&
	fail "a PIN reached the log"
echo "PASS: hwagg config check and status"
