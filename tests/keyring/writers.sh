#!/bin/bash
# Two writers and a neighbour on one collection:
#  - two processes generating keys at the same time lose none: every object
#    is an item of its own, created without replacing anything, so all 20
#    objects are there, usable, and seen by a third, long-running process
#    that was already running (it hears of them by signal or rescan);
#  - another application's item in the same collection is never listed, read
#    or touched: no call from hwagg and no answer to one names it (a bus
#    monitor records the whole run), and its secret, attributes and label
#    are unchanged at the end;
#  - secrets cross the bus encrypted for the session: every session hwagg
#    opened uses dh-ietf1024-sha256-aes128-cbc-pkcs7, and no hwagg secret
#    (objects, keys, PIN verifier) appears in the clear in the recording;
#  - the items are what libsecret writes and reads: secret-tool finds one by
#    its attributes and shows its schema, label and secret.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=keyring
hw_setup
command -v dbus-monitor >/dev/null || hw_skip "dbus-monitor is not installed"

foreign=$(hw_secrets foreign-store) || hw_fail "store the foreign item"
hw_secrets foreign-snapshot "$TMP/foreign.json" || hw_fail "snapshot the foreign item"
setsid dbus-monitor --session >"$TMP/monitor.log" 2>&1 &
monitor=$!
hw_track "$monitor"
sleep 0.5

hw_kr_open c "$HWAGG_CONF"
hw_kr c open CKR_OK
hw_kr c "login $PIN" CKR_OK
hw_kr c count 0

N=5
writer() {	# NAME: N EC key pairs with CKA_ID NAME1..NAMEN (hex)
	local i
	for i in $(seq 1 "$N"); do
		hw_p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label "w$1$i" --id "$1$i" \
			>>"$TMP/writer-$1.log" 2>&1 || return 1
	done
}
writer a &
pa=$!
writer b &
pb=$!
wait "$pa" || hw_fail "writer a failed: $(tail -n 20 "$TMP/writer-a.log")"
wait "$pb" || hw_fail "writer b failed: $(tail -n 20 "$TMP/writer-b.log")"

[ "$(hw_secrets count "$TOKEN" private-key)" = $((2 * N)) ] || hw_fail "private key items: $(hw_secrets count "$TOKEN" private-key), expected $((2 * N))"
[ "$(hw_secrets count "$TOKEN" public-key)" = $((2 * N)) ] || hw_fail "public key items: $(hw_secrets count "$TOKEN" public-key), expected $((2 * N))"
hw_run "list private keys" hw_p11 --login --pin "$PIN" --list-objects --type privkey
[ "$(grep -Ec '^ *ID: +[ab][0-9]$' "$TMP/run.out")" = $((2 * N)) ] || hw_fail "pkcs11-tool lists $(grep -Ec '^ *ID: +[ab][0-9]$' "$TMP/run.out") private keys, expected $((2 * N))"
openssl dgst -sha256 -binary -out "$TMP/dgst" /dev/null
for id in a1 a$N b1 b$N; do
	hw_sign ECDSA "$id" "$TMP/dgst" "$TMP/sig-$id"
done
for _ in $(seq 1 80); do
	hw_kr c count
	[ "$HW_KR_REPLY" = $((4 * N)) ] && break
	sleep 0.1
done
[ "$HW_KR_REPLY" = $((4 * N)) ] || hw_fail "the running process sees $HW_KR_REPLY objects, expected $((4 * N))"
hw_kr c "sign b$N" CKR_OK
hw_pass "two processes generated $N key pairs each at once: all $((4 * N)) objects there, usable, seen by a running process"

kill "$monitor" 2>/dev/null
wait "$monitor" 2>/dev/null
grep -q 'member=SearchItems' "$TMP/monitor.log" || hw_fail "the bus monitor saw no SearchItems: it recorded nothing"
# every method call and reply (signals are the daemon's own news)
awk '/^(method call|method return|error) / { keep = 1 } /^signal / { keep = 0 } keep' "$TMP/monitor.log" \
	>"$TMP/calls.log"
# as a value ("PATH") or as the object called (path=PATH;)
grep -Fq -e "\"$foreign\"" -e "path=$foreign;" "$TMP/calls.log" &&
	hw_fail "a call or its answer named the foreign item $foreign:
$(grep -F -B5 -e "\"$foreign\"" -e "path=$foreign;" "$TMP/calls.log" | head -n 30)"
[ "$(hw_secrets foreign-check "$TMP/foreign.json")" = unchanged ] || hw_fail "the foreign item changed"
hw_pass "the foreign item was never listed, read or touched, and is unchanged"

# dbus-monitor shows a byte array as text when it is printable, else in hex
grep -q 'string "dh-ietf1024-sha256-aes128-cbc-pkcs7"' "$TMP/calls.log" ||
	hw_fail "no encrypted Secret Service session was opened"
grep -Eq 'HWAGGK[RT]1|48 57 41 47 47 4b (52|54) 31' "$TMP/calls.log" &&
	hw_fail "an hwagg secret crossed the bus in the clear:
$(grep -E -B3 'HWAGGK[RT]1|48 57 41 47 47 4b (52|54) 31' "$TMP/calls.log" | head -n 20)"
hw_pass "secrets crossed the bus only encrypted for the session (dh-ietf1024-sha256-aes128-cbc-pkcs7)"

if command -v secret-tool >/dev/null; then
	hw_run "secret-tool search" secret-tool search --all hwagg-slot "$TOKEN" hwagg-id a1 hwagg-class private-key
	for want in '^schema = org\.hwagg\.Object$' "^label = hwagg $TOKEN: private-key \"wa1\" id a1\$" \
		'^attribute\.hwagg-key-type = ec$' '^attribute\.hwagg-uid = [0-9a-f]+$'; do
		cat "$TMP/run.out" "$TMP/run.err" | grep -Eaq "$want" ||
			hw_fail "secret-tool does not show '$want' for key a1:
$(cat -v "$TMP/run.out" "$TMP/run.err" | grep -v '^secret')"
	done
	magic=$(timeout "$HW_TIMEOUT" secret-tool lookup hwagg-slot "$TOKEN" hwagg-id a1 hwagg-class private-key | head -c 8)
	[ "$magic" = HWAGGKR1 ] || hw_fail "secret-tool lookup of key a1 did not return its secret"
	hw_pass "secret-tool (libsecret) finds an item by its attributes and reads its schema, label and secret"
else
	hw_log "secret-tool is not installed: the items are not checked through libsecret"
fi
