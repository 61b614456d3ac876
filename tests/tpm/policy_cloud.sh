#!/bin/bash
# The production example of the policy slot made real: an aws-kms member (a
# loopback fake of AWS KMS) and a tpm member (a swtpm of the test's own)
# behind one policy token "hwagg", as conf/examples/policy-cloud.json has
# them. With the default precedence (cloud KMS > HSM > TPM > keyring >
# soft):
#  - a key made through the policy token lands in KMS (CreateKey seen by the
#    fake, the key listed on the kms token, not on the tpm token), signs
#    through the policy token and verifies with OpenSSL;
#  - with KMS unreachable and fallback off (the production default) key
#    generation fails closed: no key on the tpm token, the refusal in the
#    audit log; the KMS key's signatures fail too (routing never moves a
#    key);
#  - with fallback on, the key lands in the TPM with the warning naming
#    both members, and the fallback is audited;
#  - KMS back: its key signs again;
#  - `hwagg rotate` of the TPM key through the policy token puts the new
#    version where the policy places keys now (KMS); the old public key
#    stays and verifies old signatures;
#  - `hwagg rotate` of the KMS key: a new KMS key, the old one's deletion
#    scheduled, its public key kept (with an end date) for old signatures.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=tpm
hw_setup                                  # swtpm, the tpm token $TOKEN with $PIN
. "$HWAGG_SRCDIR/tests/kms/lib.sh"
hw_kms_start

# policy_conf FALLBACK — production, the two members and the policy slot
policy_conf() {
	printf '{"environment":"production","store":"%s","log":{"file":"%s","level":"info"},
"policy":{"fallback":{"production":%s}},
"slots":[{"name":"kms","type":"aws-kms","region":"%s","pin":"%s","refresh_s":0},
{"name":"%s","type":"tpm","tcti":"%s"},
{"name":"hwagg","type":"policy"}]}\n' "$TMP/store" "$TMP/hwagg.log" "$1" "$HW_KMS_REGION" "$PIN" \
		"$TOKEN" "$HW_TPM_TCTI" >"$TMP/policy.json"
	export HWAGG_CONF="$TMP/policy.json"
}
policy_conf false
audit="$TMP/store/audit.jsonl"
echo "signed through the policy token" >"$TMP/msg"

# ---- placement by precedence: the cloud first ----------------------------------------
creates=$(hw_kms_stat '["by_op"].get("CreateKey", 0)')
TOKEN=hwagg hw_keygen_ec cloudkey 41
[ "$(hw_kms_stat '["by_op"].get("CreateKey", 0)')" -gt "$creates" ] || hw_fail "no CreateKey reached the fake"
TOKEN=kms hw_run "the kms token lists the key" hw_p11 --login --pin "$PIN" --list-objects --type privkey
hw_expect "kms token lists the key" 'label: *cloudkey' "$TMP/run.out"
hw_run "the tpm token" hw_p11 --login --pin "$PIN" --list-objects --type privkey
grep -q cloudkey "$TMP/run.out" && hw_fail "the cloud key is also on the tpm token"
TOKEN=hwagg hw_sign ECDSA-SHA256 41 "$TMP/msg" "$TMP/sig41" --signature-format openssl
TOKEN=hwagg hw_pubkey_pem 41 "$TMP/pub41.pem"
hw_check_sig "policy token signature (key in KMS)" "$TMP/pub41.pem" "$TMP/msg" "$TMP/sig41"
hw_expect "placement logged" 'placed on "kms" \(aws-kms, hardware\): the first eligible member in precedence' \
	"$TMP/hwagg.log"
grep '"event":"policy"' "$audit" | grep -q '"what":"placement".*placed on \\"kms\\"' ||
	hw_fail "the placement is not in the audit log"
hw_pass "production: a key made through the policy token lands in KMS (before the TPM) and signs"

# ---- KMS down, fallback off: fail closed ----------------------------------------------
hw_kms_fault '{"mode":"reset","count":-1}'
hw_run_fails "keygen with KMS down (fallback off)" env TOKEN=hwagg pkcs11-tool --module "$MODULE" \
	--token-label hwagg --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label closed --id 42
hw_run "the tpm token" hw_p11 --login --pin "$PIN" --list-objects --type privkey
grep -q 'label: *closed' "$TMP/run.out" && hw_fail "fail closed placed the key on the tpm token"
grep '"event":"policy"' "$audit" | grep -q '"what":"refusal"' || hw_fail "the refusal is not in the audit log"
hw_run_fails "the KMS key with KMS down" env TOKEN=hwagg pkcs11-tool --module "$MODULE" --token-label hwagg \
	--login --pin "$PIN" --sign -m ECDSA-SHA256 --id 41 -i "$TMP/msg" -o "$TMP/sig-down"
hw_pass "KMS unreachable, fallback off: no key anywhere, the refusal audited; the KMS key does not move"

# ---- fallback on: the TPM, with the warning -------------------------------------------
policy_conf true
TOKEN=hwagg hw_keygen_ec edgekey 43
hw_run "the tpm token" hw_p11 --login --pin "$PIN" --list-objects --type privkey
hw_expect "tpm token lists the fallback key" 'label: *edgekey' "$TMP/run.out"
hw_expect "fallback warning" "placed on \"$TOKEN\" \\(tpm\\) instead of \"kms\", which is unavailable" "$TMP/hwagg.log"
grep '"event":"policy"' "$audit" | grep -q '"what":"fallback"' || hw_fail "the fallback is not in the audit log"
TOKEN=hwagg hw_sign ECDSA-SHA256 43 "$TMP/msg" "$TMP/sig43" --signature-format openssl
TOKEN=hwagg hw_pubkey_pem 43 "$TMP/pub43.pem"
hw_check_sig "policy token signature (key in the TPM)" "$TMP/pub43.pem" "$TMP/msg" "$TMP/sig43"
hw_pass "KMS unreachable, fallback on: the key lands in the TPM with a warning and an audit record, and signs"

# ---- KMS back ---------------------------------------------------------------------------
hw_kms_fault '{"mode":"none"}'
ok=no
for _ in $(seq 1 20); do
	if TOKEN=hwagg hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --id 41 -i "$TMP/msg" \
		-o "$TMP/sig41b" --signature-format openssl >"$TMP/run.out" 2>"$TMP/run.err"; then
		ok=yes
		break
	fi
	sleep 0.5
done
[ "$ok" = yes ] || hw_fail "the KMS key did not sign again once KMS answered: $(tail -n 5 "$TMP/run.err")"
hw_check_sig "the KMS key after KMS came back" "$TMP/pub41.pem" "$TMP/msg" "$TMP/sig41b"
"$HWAGG_CLI" audit verify "$audit" >"$TMP/run.out" 2>&1 || hw_fail "audit verify: $(cat "$TMP/run.out")"
hw_pass "KMS back: its key signs through the policy token again; the audit log verifies"

# ---- rotation through the policy token: the new version goes where the policy
# places keys now (KMS, up again), the old public key stays on the TPM token
echo "$PIN" >"$TMP/pin"
chmod 600 "$TMP/pin"
newuri=$("$HWAGG_CLI" rotate "pkcs11:token=hwagg;object=edgekey;type=private" --pin-file "$TMP/pin" 2>"$TMP/rot.err") ||
	hw_fail "rotate through the policy token: $(cat "$TMP/rot.err")"
TOKEN=kms hw_run "the kms token after rotation" hw_p11 --login --pin "$PIN" --list-objects --type privkey
hw_expect "the new version is in KMS" 'label: *edgekey' "$TMP/run.out"
hw_run "the tpm token's private keys after rotation" hw_p11 --login --pin "$PIN" --list-objects --type privkey
grep -q 'label: *edgekey$' "$TMP/run.out" && hw_fail "the old private key is still on the tpm token"
TOKEN=hwagg hw_run "old public key" hw_p11 --read-object --type pubkey --id 43 -o "$TMP/old43.der"
openssl pkey -pubin -inform DER -in "$TMP/old43.der" -out "$TMP/old43.pem" 2>/dev/null ||
	hw_fail "the old public key is gone"
hw_check_sig "an old signature after rotation" "$TMP/old43.pem" "$TMP/msg" "$TMP/sig43"
grep '"what":"rotate"' "$audit" | grep -q 'edgekey: ec-p256, version 1 -> 2, old private key destroyed' ||
	hw_fail "the rotation is not audited: $(grep rotate "$audit")"
hw_pass "rotation through the policy token: the new version placed in KMS, old signatures verify with the kept public key"

# a KMS key itself: a new KMS key for the label, the old one's deletion
# scheduled, its public key kept by the slot (KMS no longer serves it) with
# an end date, and old signatures still verify
TOKEN=hwagg hw_sign ECDSA-SHA256 41 "$TMP/msg" "$TMP/sig41c" --signature-format openssl
dels=$(hw_kms_stat '["by_op"].get("ScheduleKeyDeletion", 0)')
"$HWAGG_CLI" rotate "pkcs11:token=kms;object=cloudkey;type=private" --pin-file "$TMP/pin" >"$TMP/rot.out" 2>&1 ||
	hw_fail "rotating a KMS key: $(cat "$TMP/rot.out")"
[ "$(hw_kms_stat '["by_op"].get("ScheduleKeyDeletion", 0)')" -eq $((dels + 1)) ] ||
	hw_fail "the old KMS key's deletion was not scheduled"
TOKEN=kms hw_run "the kms token after rotating its key" hw_p11 --login --pin "$PIN" --list-objects --type privkey
[ "$(grep -c 'label: *cloudkey$' "$TMP/run.out")" = 1 ] || hw_fail "cloudkey is not one private key: $(cat "$TMP/run.out")"
TOKEN=hwagg hw_run "old KMS public key" hw_p11 --read-object --type pubkey --id 41 -o "$TMP/old41.der"
openssl pkey -pubin -inform DER -in "$TMP/old41.der" -out "$TMP/old41.pem" 2>/dev/null || hw_fail "the old public key is gone"
hw_check_sig "an old KMS signature after its rotation" "$TMP/old41.pem" "$TMP/msg" "$TMP/sig41c"
grep '"what":"rotate"' "$audit" | grep -q 'cloudkey: ec-p256, version 1 -> 2, old private key destroyed' ||
	hw_fail "the KMS rotation is not audited: $(grep rotate "$audit")"
hw_pass "rotating a KMS key: a new KMS key, the old one's deletion scheduled, old signatures verify with the kept public key"
