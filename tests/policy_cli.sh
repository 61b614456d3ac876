#!/bin/bash
# The policy slot in the CLI: `hwagg keygen --policy` prints the new key's
# URI on the policy token and where and why it was placed (the key is then
# SoftHSM2's own); `hwagg health` exits 0 with the policy token present and
# 3 when production has no member meeting its minimum security level,
# naming what is missing, in text and in --json; `hwagg status` shows the
# environment and why, the precedence with each member's security and
# health, and where a new key would go.
set -u
CLI=${HWAGG_CLI:?}
SOFTHSM=${HW_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -r "$SOFTHSM" ] && command -v softhsm2-util pkcs11-tool >/dev/null || { echo "SKIP: no SoftHSM2"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HWAGG_LOG=error
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$tmp" > "$tmp/softhsm2.conf"
export SOFTHSM2_CONF=$tmp/softhsm2.conf
softhsm2-util --init-token --free --label hwtest --so-pin 12345678 --pin 123456 >/dev/null || fail "softhsm2-util"
printf '123456\n' > "$tmp/pin"
chmod 600 "$tmp/pin"
conf() {  # conf MEMBERS_JSON
	cat > "$tmp/hwagg.json" <<JSON
{"environment": "production", "store": "$tmp/store", "slots": [
 {"name": "hsm", "type": "hsm", "module": "$SOFTHSM", "token": "hwtest", "security": "hardware"},
 {"name": "soft", "type": "soft"}, {"name": "hwagg", "type": "policy", "members": $1}]}
JSON
	export HWAGG_CONF=$tmp/hwagg.json
}

conf '["soft", "hsm"]'
out=$("$CLI" keygen --policy --type ec-p256 --label web --pin-file "$tmp/pin") || fail "keygen --policy exited $?"
grep -q '^pkcs11:token=hwagg;object=web;' <<<"$out" || fail "no policy-token URI: $out"
grep -q 'placed on "hsm" (hsm, hardware): the first eligible member in precedence' <<<"$out" ||
	fail "no placement line: $out"
pkcs11-tool --module "$SOFTHSM" --token-label hwtest --login --pin 123456 -O 2>/dev/null | grep -q 'label: *web' ||
	fail "the key is not in SoftHSM2"

out=$("$CLI" health) || fail "health with the policy token present exited $?"
grep -q 'healthy: production: policy token "hwagg" present' <<<"$out" || fail "health: $out"
out=$("$CLI" status) || fail "status exited $?"
for want in 'environment: production (set in the configuration file)' \
	'policy: *slot 2 "hwagg": token present; minimum security hardware, fallback off in production' \
	'1. hsm (hsm, hardware, present; health: ' '2. soft (soft, software, NOT ELIGIBLE' \
	'new keys: *new CKM_EC_KEY_PAIR_GEN keys go to "hsm"'; do
	grep -q "$want" <<<"$out" || fail "status lacks '$want': $out"
done

conf '["soft"]'
err=$("$CLI" health 2>&1)
rc=$?
[ $rc -eq 3 ] || fail "health without a hardware member exited $rc, want 3"
grep -q 'UNHEALTHY: production: policy token "hwagg" ABSENT: no member meets the production minimum security level (hardware): "soft" (soft) is software' <<<"$err" ||
	fail "health does not name what is missing: $err"
json=$("$CLI" health --json 2>/dev/null)
[ $? -eq 3 ] || fail "health --json exited 0"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["healthy"] is False and d["policy"]["present"] is False and "soft" in d["policy"]["missing"], d' "$json" ||
	fail "health --json: $json"
out=$(HWAGG_ENVIRONMENT=development "$CLI" health) || fail "development health exited $?"
grep -q 'go to "soft"' <<<"$out" || fail "development placement: $out"
"$CLI" keygen --policy --slot hwagg --type ec-p256 --label x >/dev/null 2>&1 && fail "--policy with --slot accepted"
echo "policy CLI: ok"
