#!/bin/bash
# `hwagg config check`: the exact line of each kind of problem (golden
# lines), one line per problem and every problem of a file, exit 1; a good
# file is "ok" with where its name came from; checking creates no log file
# and no store.
set -u
CLI=${HWAGG_CLI:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HWAGG_LOG=error
unset HWAGG_CONF HWAGG_ENVIRONMENT

# check FILE: stderr into $tmp/err, the exit status into rc
check() { "$CLI" config check "$1" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
# golden FILE LINE...: exactly these lines, then the count, exit 1
golden() {
	local f=$1 n=$(($# - 1)) i=1
	shift
	check "$f"
	[ $rc -eq 1 ] || fail "$f: exit $rc, want 1"
	for want in "$@"; do
		got=$(sed -n "${i}p" "$tmp/err")
		[ "$got" = "$f: $want" ] || fail "line $i of $(basename "$f"):
  got:  $got
  want: $f: $want"
		i=$((i + 1))
	done
	[ "$(sed -n "${i}p" "$tmp/err")" = "hwagg: $n problem(s) in the configuration" ] ||
		fail "$f: not $n problem(s): $(cat "$tmp/err")"
	[ "$(wc -l <"$tmp/err")" -eq $((n + 1)) ] || fail "$f: more lines than problems: $(cat "$tmp/err")"
}

soft_keys="name, type, rsa_min_bits, mechanisms, refresh_s, timeout_ms, allow_import, pin_max_tries, pin_min_len, pin_max_len"

# a typo in a key: named, with the closest key, before anything is missing
echo '{"slots": [{"name": "x", "type": "soft", "pin_max_trys": 3}]}' >"$tmp/typo.json"
golden "$tmp/typo.json" \
	"slots[0] (\"x\").pin_max_trys: unknown key; did you mean \"pin_max_tries\"? expected one of $soft_keys"
echo '{"slots": [{"name": "x", "tpye": "soft"}]}' >"$tmp/tpye.json"
check "$tmp/tpye.json"
sed -n 1p "$tmp/err" | grep -qF "$tmp/tpye.json: slots[0] (\"x\").tpye: unknown key; did you mean \"type\"? expected one of name, type," ||
	fail "tpye: $(cat "$tmp/err")"
sed -n 2p "$tmp/err" | grep -qF "$tmp/tpye.json: slots[0] (\"x\").type: missing required key; expected one of soft, hsm" ||
	fail "missing type after the typo: $(cat "$tmp/err")"
# the types this build leaves out (its config.h) are set apart, by name;
# a build with all of them sets none apart
unbuilt=
for sw in KEYRING:keyring TPM:tpm KMS:aws-kms KMS:gcp-kms KMS:azure-kv; do
	grep -q "^#define WITH_${sw%%:*} 1" "${HWAGG_BUILDDIR:?}/config.h" || unbuilt="$unbuilt ${sw#*:}"
done
if [ -z "$unbuilt" ]; then
	sed -n 2p "$tmp/err" | grep -q "known but not built" && fail "a full build sets types apart: $(cat "$tmp/err")"
	sed -n 2p "$tmp/err" | grep -qE "expected one of [^(]*azure-kv" || fail "azure-kv not offered: $(cat "$tmp/err")"
fi
for t in $unbuilt; do
	sed -n 2p "$tmp/err" | grep -qE "\(known but not built into this module: [^)]*$t" ||
		fail "type $t not built is not set apart: $(cat "$tmp/err")"
done

# every value problem of a file, in file order, each with its range
cat >"$tmp/values.json" <<JSON
{ "store": "$tmp/store",
  "log": { "level": "verbose" },
  "slots": [ { "name": "dev", "type": "soft", "pin_max_tries": "ten", "pin_min_len": 0 },
             { "name": "hsm", "type": "hsm", "module": "/etc/passwd", "security": "hard" },
             { "name": "dev", "type": "soft", "refresh_s": 100000 } ] }
JSON
golden "$tmp/values.json" \
	'log.level: expected one of error, warn, info, debug, got "verbose"' \
	'slots[0] ("dev").pin_max_tries: expected an integer 1..1000, got "ten"' \
	'slots[0] ("dev").pin_min_len: expected an integer 1..255 (bytes), got 0' \
	'slots[1] ("hsm").security: expected one of hardware, software, got "hard"' \
	'slots[2] ("dev").refresh_s: expected an integer 0..86400 (seconds), got 100000' \
	'slots[2].name: duplicate slot name "dev" (also slots[0]); expected a unique name'

# what JSON does not allow, said as such
printf '{\n  "slots": [\n    {"name": "a", "type": "soft"},\n  ]\n}\n' >"$tmp/comma.json"
golden "$tmp/comma.json" 'line 3: trailing comma is not allowed in JSON; expected no comma before ]'
printf '{\n  // development slots\n  "slots": []\n}\n' >"$tmp/comment.json"
golden "$tmp/comment.json" 'line 2: comments are not allowed in JSON; expected plain JSON without // comments'

# checks that look at files: the module is a shared object, the store can be
# created, a backend's own rule (pin_min_len <= pin_max_len)
cat >"$tmp/files.json" <<JSON
{ "store": "/etc/passwd/store",
  "slots": [ { "name": "dev", "type": "soft", "pin_min_len": 9, "pin_max_len": 5 },
             { "name": "hsm", "type": "hsm", "module": "$tmp/missing.so" } ] }
JSON
golden "$tmp/files.json" \
	'slots[0] ("dev").pin_min_len: expected at most pin_max_len (5), got 9' \
	'store: "/etc/passwd/store": /etc/passwd is not a directory; expected a directory this user can create or write' \
	"slots[1] (\"hsm\").module: \"$tmp/missing.so\": No such file or directory; expected a PKCS#11 module (a shared object)"

# the origin: the command line, or $HWAGG_CONF; an unreadable file says which
golden "$tmp/nothere.json" 'cannot read: No such file or directory; expected a readable JSON file (named by the command line)'
HWAGG_CONF=$tmp/nothere.json "$CLI" config check 2>"$tmp/err" >/dev/null
grep -qxF "$tmp/nothere.json: cannot read: No such file or directory; expected a readable JSON file (named by \$HWAGG_CONF)" "$tmp/err" ||
	fail "origin of \$HWAGG_CONF: $(cat "$tmp/err")"

# a good file: ok, where its name came from; no log file, no store made
cat >"$tmp/good.json" <<JSON
{ "environment": "development", "store": "$tmp/store", "log": { "file": "$tmp/hwagg.log" },
  "slots": [ { "name": "dev", "type": "soft" } ] }
JSON
check "$tmp/good.json"
[ $rc -eq 0 ] || fail "good file: exit $rc: $(cat "$tmp/err")"
grep -qxF "$tmp/good.json: ok (named by the command line): environment development, store $tmp/store, 1 slot(s)" "$tmp/out" ||
	fail "ok line: $(cat "$tmp/out")"
[ ! -e "$tmp/hwagg.log" ] || fail "config check left a log file behind"
[ ! -e "$tmp/store" ] || fail "config check created the store"
echo "cli_messages: ok"
