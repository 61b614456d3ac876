#!/bin/bash
# The external slot with commands that must not be believed: a signature of
# another digest, two lines, a line that is not base64, nothing, a failure
# exit, one that hangs past its timeout (killed with the child it started,
# within the timeout), and one that cannot be started. Each sign fails with
# CKR_FUNCTION_FAILED (CKR_DEVICE_ERROR when nothing could be started), no
# signature is written, and the module's log line gives the reason, the exit
# status and the command's first stderr line; no digest file is left. Then
# configurations the slot refuses, each naming the key and what it expects.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
. "$HWAGG_SRCDIR/tests/external/common.sh"
ext_setup

ext_key ec p256
ext_conf "$(ext_keyjson wrong 01 ec wrong),
$(ext_keyjson two 02 ec two-lines),
$(ext_keyjson garbage 03 ec garbage),
$(ext_keyjson nothing 04 ec nothing),
$(ext_keyjson fail 05 ec fail),
$(ext_keyjson hang 06 ec hang '"timeout_s":1'),
"'{"label":"missing","id":"07","public_key":"'"$TMP/ec.pub"'","command":["/nonexistent/hsm-sign"]}' \
	'"env":{"HW_EXT_MARK":"'"$TMP/hang.pid"'"}'
head -c 100 /dev/urandom >"$TMP/msg"
F=CKR_FUNCTION_FAILED
ext_sign_fails "a signature of another digest" $F "key \"wrong\": .*does not verify with the key's public key; exit 0" ECDSA-SHA256 01
ext_sign_fails "two lines" $F "key \"two\": .*printed more than one line; exit 0" ECDSA-SHA256 02
ext_sign_fails "not base64" $F "key \"garbage\": .*not base64" ECDSA-SHA256 03
ext_sign_fails "nothing" $F "key \"nothing\": .*printed nothing; exit 0; stderr: \\(empty\\)" ECDSA-SHA256 04
ext_sign_fails "exit 3" $F "key \"fail\": .*it failed; exit 3; stderr: signer: the HSM says no \\(key not found\\)$" \
	ECDSA-SHA256 05
grep -q 'second line of stderr' "$TMP/run.err" && hw_fail "more than the first stderr line was logged"
hw_pass "wrong signature, two lines, garbage, nothing, exit 3: CKR_FUNCTION_FAILED with the reason logged"

start=$(date +%s%N)
ext_sign_fails "hangs past its timeout" $F "key \"hang\": .*ran past its timeout; killed after 1 s" ECDSA-SHA256 06
ms=$((($(date +%s%N) - start) / 1000000))
# pkcs11-tool signs twice (a length query, then the signature): two timeouts
[ "$ms" -lt 30000 ] || hw_fail "a 1 s timeout took ${ms} ms"
child=$(head -n 1 "$TMP/hang.pid")
[ -n "$child" ] || hw_fail "the hanging command did not record its child"
for _ in $(seq 1 50); do
	kill -0 "$child" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$child" 2>/dev/null && hw_fail "the hanging command's child $child outlived the timeout"
hw_pass "a hanging command is killed with its process group after its timeout (${ms} ms for two signs)"

ext_sign_fails "cannot be started" CKR_DEVICE_ERROR "key \"missing\": signing command /nonexistent/hsm-sign cannot be started: No such file" \
	ECDSA-SHA256 07
rc=0
timeout "$HW_TIMEOUT" "$HWAGG_CLI" status >"$TMP/status" 2>&1 || rc=$?
[ "$rc" = 3 ] || hw_fail "hwagg status: exit $rc, expected 3 (unhealthy)"
hw_expect "status names the command that cannot run" 'FAILED: key "missing": command /nonexistent/hsm-sign cannot be run' \
	"$TMP/status"
ls "$TMP/digests" | grep -q . && hw_fail "digest files were left behind: $(ls "$TMP/digests")"
hw_pass "a command that cannot start: CKR_DEVICE_ERROR, and hwagg status says so; no digest file left"

# bad_conf STEP KEY-JSON WANT [SLOT-MEMBERS] — hwagg config check refuses it with WANT.
bad_conf() {
	ext_conf "$2" "${4:-}"
	hw_run_fails "config: $1" "$HWAGG_CLI" config check "$TMP/hwagg.json"
	hw_expect "config: $1" "$3" "$TMP/run.err"
}
good='"label":"k","public_key":"'"$TMP/ec.pub"'"'
bad_conf "relative command" "{$good,\"command\":[\"hsm-sign\"]}" 'slots\[0\] \("ext"\): keys\[0\]\.command\[0\]: expected the program.s absolute path'
bad_conf "unknown input" "{$good,\"command\":[\"/bin/true\"],\"input\":\"file\"}" 'keys\[0\]\.input: expected "hex-digest-file"'
bad_conf "message-stdin with an EC key" "{$good,\"command\":[\"/bin/true\"],\"input\":\"message-stdin\"}" \
	'keys\[0\]\.input: "message-stdin" is for Ed25519 keys'
bad_conf "not a public key" '{"label":"k","public_key":"'"$TMP/ec.key"'","command":["/bin/true"]}' \
	'keys\[0\]\.public_key: .* holds no PEM public key'
bad_conf "unknown key" "{$good,\"command\":[\"/bin/true\"],\"cmd\":1}" 'keys\[0\]\.cmd: unknown key'
bad_conf "timeout" "{$good,\"command\":[\"/bin/true\"],\"timeout_s\":0}" 'keys\[0\]\.timeout_s: expected an integer 1\.\.600'
bad_conf "pin" "{$good,\"command\":[\"/bin/true\"]}" 'pin: expected "env"' '"pin":"argv"'
hw_pass "bad configurations are refused naming the key and the expectation"
