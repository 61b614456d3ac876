#!/bin/bash
# The policy slot of conf/examples/policy-development.json on a private
# Secret Service: keys made through the policy token "hwagg" land in the
# keyring (it comes before soft), sign through the policy token and verify;
# with the keyring daemon gone, development falls back to the soft slot with
# a warning naming both; the same world in production has no policy token
# (both members are software) and `hwagg health` says so.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=keyring
hw_setup
printf '{"environment":"development","store":"%s","log":{"file":"%s","level":"warn"},"slots":[%s,%s,%s]}\n' \
	"$TMP/store" "$TMP/hwagg.log" '{"name":"'"$TOKEN"'","type":"keyring"}' '{"name":"dev","type":"soft"}' \
	'{"name":"hwagg","type":"policy"}' >"$TMP/policy.json"
export HWAGG_CONF="$TMP/policy.json"
# the soft member gets the same PIN: one C_Login on the policy token opens both
hw_run "init the soft member" pkcs11-tool --module "$MODULE" --slot 1 --init-token --label dev --so-pin "$SO_PIN"
hw_run "soft member PIN" pkcs11-tool --module "$MODULE" --token-label dev --login --login-type so \
	--so-pin "$SO_PIN" --init-pin --pin "$PIN"

TOKEN=hwagg hw_keygen_ec devkey 51
hw_run "the key is on the keyring token" hw_p11 --login --pin "$PIN" --list-objects --type privkey
hw_expect "keyring token lists the key" 'label: *devkey' "$TMP/run.out"
echo "signed through the policy token" >"$TMP/msg"
TOKEN=hwagg hw_sign ECDSA-SHA256 51 "$TMP/msg" "$TMP/sig" --signature-format openssl
TOKEN=hwagg hw_pubkey_pem 51 "$TMP/pub51.pem"
hw_check_sig "policy token signature (key in the keyring)" "$TMP/pub51.pem" "$TMP/msg" "$TMP/sig"
hw_pass "a key made through the policy token lives in the keyring and signs"

hw_keyring_stop
TOKEN=hwagg hw_keygen_ec fellback 52
TOKEN=dev hw_run "the key is on the soft token" hw_p11 --login --pin "$PIN" --list-objects --type privkey
hw_expect "soft token lists the key" 'label: *fellback' "$TMP/run.out"
hw_expect "fallback warning" 'placed on "dev" \(soft\) instead of "hwtest", which is unavailable \(CKR_TOKEN_NOT_PRESENT\): fallback is on in development' "$TMP/hwagg.log"
hw_pass "with the keyring gone, development falls back to soft with a warning"

if [ -n "${HWAGG_CLI:-}" ]; then
	rc=0
	HWAGG_ENVIRONMENT=production "$HWAGG_CLI" health >"$TMP/health.out" 2>&1 || rc=$?
	[ "$rc" -eq 3 ] || hw_fail "hwagg health in production exited $rc, want 3: $(cat "$TMP/health.out")"
	hw_expect "health names what is missing" 'no member meets the production minimum security level \(hardware\)' "$TMP/health.out"
	hw_pass "in production the policy token is absent: hwagg health exits 3 naming the software members"
fi
