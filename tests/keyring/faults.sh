#!/bin/bash
# The keyring slot when the world changes under it, with one long-running
# application (tests/keyring/krclient) and fresh pkcs11-tool processes:
#  - the daemon killed mid-run: the call fails cleanly (CKR_DEVICE_REMOVED),
#    the token is removed (absent, its sessions closed: then
#    CKR_SESSION_HANDLE_INVALID), and a new session signs again once the
#    daemon is back;
#  - the collection locked: uncached keys give CKR_USER_NOT_LOGGED_IN, a new
#    process sees no objects, a wrong password is CKR_PIN_INCORRECT and
#    leaves it locked, C_Login with the password unlocks it; with
#    "cache_keys" a key read during the login session keeps signing;
#  - an item's secret overwritten with garbage: a clean error for that key,
#    the others unaffected, the item skipped (and named in the log);
#  - no Secret Service on the bus, no session bus at all, a collection that
#    does not exist: the token is absent at once (nothing waits), the log
#    says why, and a soft slot next to it keeps working.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=keyring
hw_setup
CONF=$HWAGG_CONF
slot_json() { printf '{"environment":"development","store":"%s","slots":[%s]}\n' "$TMP/store" "$1"; }
slot_json '{"name":"'"$TOKEN"'","type":"keyring","cache_keys":true}' >"$TMP/cached.json"
slot_json '{"name":"dev","type":"soft"},{"name":"'"$TOKEN"'","type":"keyring"}' >"$TMP/two.json"
slot_json '{"name":"'"$TOKEN"'","type":"keyring","collection":"nosuch"}' >"$TMP/nosuch.json"

# ms CMD... — run CMD (output to $TMP/ms.out/.err); print how long it took in ms
ms() {
	local t0 t1
	t0=$(date +%s%N)
	timeout "$HW_TIMEOUT" "$@" >"$TMP/ms.out" 2>"$TMP/ms.err"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# --- the daemon killed under a running application, then back ---
hw_kr_open a "$CONF"
hw_kr a open CKR_OK
hw_kr a "login $PIN" CKR_OK
hw_kr a "keygen 01" CKR_OK
hw_kr a "sign 01" CKR_OK
hw_keyring_stop
hw_kr a sign-again CKR_DEVICE_REMOVED
# an absent token is a removed one: its sessions are gone (B 5.1.7)
hw_kr a sign-again CKR_SESSION_HANDLE_INVALID
hw_kr a present 0
hw_keyring_start
hw_kr_until a present 1 50
hw_kr a open CKR_OK
hw_kr a "login $PIN" CKR_OK
hw_kr a "sign 01" CKR_OK
# restarted between two calls: the next call still sees a removal
hw_keyring_stop
hw_keyring_start
hw_kr a sign-again CKR_DEVICE_REMOVED
hw_kr a sign-again CKR_SESSION_HANDLE_INVALID
hw_kr a open CKR_OK
hw_kr a "login $PIN" CKR_OK
hw_kr a "sign 01" CKR_OK
hw_pass "daemon killed mid-run or restarted between calls: CKR_DEVICE_REMOVED, session closed, token absent; back with the daemon, key 01 signs"

# --- a locked collection ---
hw_secrets lock default
hw_kr a sign-again CKR_USER_NOT_LOGGED_IN
hw_run "list objects while locked, without login" hw_p11 --list-objects
grep -q 'Object' "$TMP/run.out" && hw_fail "objects listed from a locked collection without login:
$(cat "$TMP/run.out")"
hw_run_fails "log in with a wrong password" hw_p11 --login --pin 000000 --list-objects
cat "$TMP/run.out" "$TMP/run.err" >"$TMP/wrong.out"
hw_expect "wrong password is CKR_PIN_INCORRECT" CKR_PIN_INCORRECT "$TMP/wrong.out"
[ "$(hw_secrets locked default)" = 1 ] || hw_fail "a wrong password unlocked the collection"
openssl dgst -sha256 -binary -out "$TMP/dgst" /dev/null
hw_sign ECDSA 01 "$TMP/dgst" "$TMP/sig"
[ "$(hw_secrets locked default)" = 0 ] || hw_fail "C_Login with the password did not unlock the collection"
hw_kr a sign-again CKR_OK
hw_pass "locked collection: CKR_USER_NOT_LOGGED_IN, nothing listed, wrong password refused, C_Login unlocks"

hw_kr_open b "$TMP/cached.json"
hw_kr b open CKR_OK
hw_kr b "login $PIN" CKR_OK
hw_kr b "sign 01" CKR_OK
hw_secrets lock default
hw_kr b sign-again CKR_OK
hw_kr a sign-again CKR_USER_NOT_LOGGED_IN
hw_kr b logout CKR_OK
hw_kr b "login $PIN" CKR_OK
hw_kr b "sign 01" CKR_OK
hw_kr a sign-again CKR_OK
hw_pass "cache_keys: a key read in the login session signs while the collection is locked"

# --- a secret overwritten behind our back ---
hw_kr a "keygen 02" CKR_OK
hw_kr a "sign 02" CKR_OK
[ "$(hw_secrets garble "$TOKEN" private-key 02)" = 1 ] || hw_fail "garble: private key 02 not found"
hw_kr a sign-again CKR_DEVICE_ERROR
hw_kr a "sign 01" CKR_OK
hw_kr a "sign 02" CKR_KEY_HANDLE_INVALID
hw_run "list objects with a damaged item" hw_p11 --login --pin "$PIN" --list-objects --type privkey
hw_expect "key 01 still listed" 'ID: +01' "$TMP/run.out"
grep -Eq 'ID: +02' "$TMP/run.out" && hw_fail "the damaged key 02 is still listed"
hw_expect "the log names the damaged item" 'item /org/freedesktop/secrets/collection/login/[0-9]+ skipped' "$TMP/run.err"
hw_pass "a garbled secret: clean error for that key, skipped and logged, key 01 unaffected"

# --- no Secret Service: absent at once, the log says why, the soft slot works ---
hw_keyring_stop
absent=$(ms env HWAGG_CONF="$TMP/two.json" pkcs11-tool --module "$MODULE" --list-slots)
[ "$absent" -lt 10000 ] || hw_fail "listing slots without a daemon took $absent ms"
hw_expect "the log says why (no daemon)" 'token absent: no Secret Service is running' "$TMP/ms.err"
hw_expect "the soft slot is listed" 'hwagg soft slot dev' "$TMP/ms.out"
grep -A1 "keyring slot $TOKEN" "$TMP/ms.out" | grep -q '(empty)' ||
	hw_fail "the keyring token is not shown absent without a daemon:
$(cat "$TMP/ms.out")"
export HWAGG_CONF="$TMP/two.json"
hw_run "init the soft token" pkcs11-tool --module "$MODULE" --slot 0 --init-token --label dev --so-pin "$SO_PIN"
hw_run "soft user PIN" pkcs11-tool --module "$MODULE" --slot 0 --login --login-type so --so-pin "$SO_PIN" \
	--init-pin --pin "$PIN"
hw_run "soft key" pkcs11-tool --module "$MODULE" --slot 0 --login --pin "$PIN" --keypairgen \
	--key-type EC:prime256v1 --id 09
hw_run "soft sign" pkcs11-tool --module "$MODULE" --slot 0 --login --pin "$PIN" --sign -m ECDSA --id 09 \
	-i "$TMP/dgst" -o "$TMP/sig-soft"
n=$(ms env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR pkcs11-tool --module "$MODULE" --slot 0 --login \
	--pin "$PIN" --sign -m ECDSA --id 09 -i "$TMP/dgst" -o "$TMP/sig-soft")
[ "$n" -lt 10000 ] || hw_fail "signing on the soft slot without a session bus took $n ms"
export HWAGG_CONF="$CONF"
hw_pass "no daemon: keyring token absent (slot list in $absent ms), the reason logged; the soft slot signs (in $n ms without a bus)"
n=$(ms env -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR pkcs11-tool --module "$MODULE" --list-slots)
hw_expect "the log says why (no bus)" 'token absent: no D-Bus session bus' "$TMP/ms.err"
hw_keyring_start
n=$(ms env HWAGG_CONF="$TMP/nosuch.json" pkcs11-tool --module "$MODULE" --list-slots)
hw_expect "the log says why (no collection)" 'no collection with the alias "nosuch"' "$TMP/ms.err"
[ "$n" -lt 10000 ] || hw_fail "listing slots with a missing collection took $n ms"
hw_pass "no session bus or no such collection: token absent at once, the log says why"
hw_pass "all keyring fault checks passed"
