#!/bin/bash
# The CLI's commands as softhsm2-util and p11tool users expect them:
# init-token, init-pin, set-pin, unlock, delete, export-pubkey, import-cert;
# status and health tell the truth (private objects of an hsm token need a
# login to be counted; a locked or final-try PIN and an absent backend are
# not ok, and health exits 3); --json output parses; --help for every
# command; an unknown command exits 2.
set -u
CLI=${HWAGG_CLI:?}
MODULE=${HWAGG_MODULE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HWAGG_LOG=error
unset HWAGG_PIN HWAGG_SO_PIN HWAGG_NEW_PIN HWAGG_ENVIRONMENT
cd "$tmp" || exit 1
printf '12345678\n' >so; printf '123456\n' >pin; printf '654321\n' >newpin; printf '000000\n' >wrong
chmod 600 so pin newpin wrong
json() { python3 -m json.tool >"$tmp/json.out" 2>&1 || fail "not JSON: $(cat "$tmp/json.out")"; }
jget() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

# ---- help and unknown commands ----------------------------------------------------
"$CLI" list >out 2>err
[ $? -eq 2 ] || fail "unknown command: exit $?"
grep -qxF 'hwagg: unknown command "list"; see hwagg --help' err || fail "unknown command message: $(cat err)"
"$CLI" --help >help || fail "--help exited $?"
cmds=$(sed -n 's/^  \([a-z-]*\)  .*/\1/p' help)
[ "$(wc -w <<<"$cmds")" -ge 12 ] || fail "--help lists too few commands: $cmds"
for c in $cmds; do
	"$CLI" "$c" --help >out || fail "$c --help exited $?"
	grep -q "^usage: hwagg $c" out || fail "$c --help: $(cat out)"
done

# ---- a soft token through the CLI alone ------------------------------------------------
cat >hwagg.json <<JSON
{ "environment": "development", "store": "$tmp/store",
  "slots": [ { "name": "dev", "type": "soft", "pin_max_tries": 3 } ] }
JSON
export HWAGG_CONF=$tmp/hwagg.json
"$CLI" init-token --slot dev --so-pin-file so >out || fail "init-token: $(cat out)"
"$CLI" init-pin --slot dev --so-pin-file so --new-pin-file pin >out || fail "init-pin"
uri=$("$CLI" keygen --slot dev --type ec-p256 --label web --id 01 --pin-file pin) || fail "keygen"
"$CLI" health >out || fail "health of a good token exited $?: $(cat out)"
"$CLI" health --json | json
[ "$(jget json.out "d['ok']")" = True ] || fail "health --json: $(cat json.out)"
"$CLI" status --json >status.json || fail "status --json exited $?"
json <status.json
[ "$(jget json.out "d['slots'][0]['objects']['private_keys']")" = 1 ] || fail "status --json: $(cat json.out)"
[ "$(jget json.out "d['slots'][0]['user_pin']")" = ok ] || fail "user_pin: $(cat json.out)"
"$CLI" keys --slot dev --pin-file pin --json | json
[ "$(jget json.out "d['keys'][0]['uri']")" = "$uri" ] || fail "keys --json: $(cat json.out)"
[ "$(jget json.out "d['keys'][0]['id']")" = 01 ] || fail "keys --json id: $(cat json.out)"

# export-pubkey: the same key pkcs11-tool reads, DER and PEM
"$CLI" export-pubkey "$uri" >pub.der || fail "export-pubkey"
pkcs11-tool --module "$MODULE" --token-label dev --read-object --type pubkey --id 01 -o ref.der >/dev/null 2>&1 ||
	fail "pkcs11-tool --read-object"
cmp -s pub.der ref.der || fail "export-pubkey differs from the token's public key"
"$CLI" export-pubkey "$uri" --pem >pub.pem || fail "export-pubkey --pem"
openssl pkey -pubin -in pub.pem -outform DER -out pem.der && cmp -s pem.der ref.der || fail "PEM is not the key"

# import-cert next to the key (by object= alone: the id is looked up)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem -subj /CN=cli -days 1 \
	2>/dev/null || fail "openssl req"
"$CLI" import-cert 'pkcs11:token=dev;object=web' c.pem --pin-file pin >out || fail "import-cert: $(cat out)"
pkcs11-tool --module "$MODULE" --token-label dev -O --type cert 2>/dev/null | grep -q "ID: *01" ||
	fail "the certificate is not on the token with the key's id"

# set-pin: the old PIN no longer works, the new one does
"$CLI" set-pin --slot dev --pin-file pin --new-pin-file newpin >out || fail "set-pin"
"$CLI" keys --slot dev --pin-file pin >/dev/null 2>&1 && fail "the old PIN still works"
"$CLI" keys --slot dev --pin-file newpin >/dev/null || fail "the new PIN does not work"

# a PIN at its final try, then locked: not ok, health exits 3; unlock
"$CLI" keys --slot dev --pin-file wrong >/dev/null 2>&1
"$CLI" keys --slot dev --pin-file wrong >/dev/null 2>&1
"$CLI" health >out
[ $? -eq 3 ] || fail "health at the final try: exit $?, want 3"
grep -qxF 'NOT OK slot dev (soft): the user PIN locks at the next wrong PIN' out || fail "final try: $(cat out)"
"$CLI" status >out
grep -qF "; user PIN: 1 of 3 tries left" out || fail "status does not show the tries left: $(cat out)"
"$CLI" keys --slot dev --pin-file wrong >/dev/null 2>&1
"$CLI" status >out
[ $? -eq 3 ] || fail "status with a locked PIN: exit $?, want 3"
grep -q "USER PIN LOCKED" out || fail "status does not show the lock: $(cat out)"
"$CLI" health --json >h.json
[ $? -eq 3 ] || fail "health --json with a locked PIN: exit $?"
json <h.json
[ "$(jget json.out "d['slots'][0]['problems'][0]")" = "the user PIN is locked (hwagg unlock --slot dev)" ] ||
	fail "health --json problems: $(cat json.out)"
"$CLI" unlock --slot dev --so-pin-file so --new-pin-file pin >out || fail "unlock"
"$CLI" health >out || fail "health after unlock: exit $?"

# delete: on a terminal it asks, and anything but "yes" keeps the key; not
# without --yes off a terminal; with it, the pair and the certificate go
TYPEPIN_PROMPT='Type yes:' python3 "${HWAGG_SRCDIR:?}/tests/typepin.py" no "$CLI" delete "$uri" --pin-file pin >out 2>&1
[ $? -eq 2 ] || fail "delete answered no on a terminal: exit $?: $(cat out)"
grep -q "Destroy the key pair with id 01 on slot \"dev\" and its certificate? This cannot be undone." out ||
	fail "no confirmation question on the terminal: $(cat out)"
"$CLI" keys --slot dev --pin-file pin | grep -qF "$uri" || fail "the key is gone although the answer was no"
"$CLI" delete "$uri" --pin-file pin </dev/null >out 2>err
[ $? -eq 2 ] || fail "delete without --yes off a terminal"
grep -q "give --yes" err || fail "delete without --yes: $(cat err)"
"$CLI" delete "$uri" --pin-file pin --yes >out || fail "delete --yes"
grep -qxF 'slot "dev": 3 object(s) destroyed' out || fail "delete: $(cat out)"
[ -z "$(pkcs11-tool --module "$MODULE" --token-label dev --login --pin 123456 -O 2>/dev/null | grep 'ID: *01')" ] ||
	fail "objects with id 01 left after delete"

# ---- an hsm token: private objects need a login; a backend that is absent ------------
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$tmp" >softhsm2.conf
export SOFTHSM2_CONF=$tmp/softhsm2.conf
softhsm2-util --init-token --free --label lower --so-pin 12345678 --pin 123456 >/dev/null || fail "softhsm2-util"
cat >hsm.json <<JSON
{ "environment": "development", "store": "$tmp/store2",
  "slots": [ { "name": "hsm", "type": "hsm", "module": "/usr/lib/softhsm/libsofthsm2.so", "token": "lower",
               "security": "software" } ] }
JSON
export HWAGG_CONF=$tmp/hsm.json
"$CLI" keygen --slot hsm --type ec-p256 --label h --pin-file pin >/dev/null || fail "keygen on hsm"
"$CLI" status >out || fail "status of the hsm slot: exit $?"
grep -qF 'private objects: login required (hwagg status --slot hsm --pin-file F to count them), 1 public key(s)' out ||
	fail "hsm status without a login: $(cat out)"
"$CLI" status --json | json
[ "$(jget json.out "d['slots'][0]['private_objects']")" = login-required ] &&
	[ "$(jget json.out "d['slots'][0]['objects']['private_keys']")" = None ] || fail "status --json, hsm: $(cat json.out)"
"$CLI" status --slot hsm --pin-file pin >out || fail "status --pin-file"
grep -q "initialized, 1 private key(s), 1 public key(s)" out || fail "status --pin-file does not count: $(cat out)"
sed 's|/usr/lib/softhsm/libsofthsm2.so|/nonexistent/libvendor.so|' hsm.json >absent.json
HWAGG_CONF=$tmp/absent.json "$CLI" health >out
[ $? -eq 3 ] || fail "health with the backend absent: exit $?, want 3"
grep -q "^NOT OK slot hsm (hsm): the token is absent" out || fail "backend absent: $(cat out)"
echo "cli_commands: ok"
