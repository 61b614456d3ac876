# tests/rotate/cloud.sh — `hwagg rotate` of a key held in a cloud KMS slot,
# sourced by tests/kms/rotate.sh and tests/gcp/rotate.sh after hw_setup.
#
# hw_cloud_rotate LABEL ID RETIRE OP — with "rotation": {"retire": RETIRE}
# (destroy or disable): a P-256 key LABEL (CKA_ID ID) signs; `hwagg rotate`;
# then the fake saw one more OP request (the service's deletion or disable);
# the label finds exactly one private key, the new one, with version 2 and
# a start date, which signs (verified with its own public key, not the old
# one); the old public key is still found, with an end date and version 1,
# and verifies the signature made before the rotation; with "disable" the
# old private key is "LABEL (retired v1)" with CKA_SIGN false, refuses to
# sign without asking the service, and turning CKA_SIGN back on is refused;
# CKA_KEY_TYPE cannot change. Every check is made in processes started
# after the rotation (p11attr reads after a C_Finalize/C_Initialize).
# HW_STAT: the target's stat function (hw_kms_stat, hw_gcp_stat).
#
# hw_cloud_rotate LABEL ID RETIRE OP NEWVER NEWKEY — a service with key
# versions: the fake's stat expression NEWVER (new versions of an existing
# key) grew by one and NEWKEY (new keys) did not: the rotation made a new
# version of the same key, not a new key.

HW_P11ATTR="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/rotate/p11attr"

hw_cloud_rotate() {
	local label=$1 id=$2 retire=$3 op=$4 newver=${5:-} newkey=${6:-} today before after n v0 k0
	[ -x "$HW_P11ATTR" ] || hw_fail "tests/rotate/p11attr is not built"
	python3 - "$HWAGG_CONF" "$retire" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["rotation"] = {"retire": sys.argv[2]}
json.dump(c, open(sys.argv[1], "w"))
PY
	today=$(date -u +%Y%m%d)
	echo "signed before the rotation of $label" >"$TMP/$label.msg"
	hw_keygen_ec "$label" "$id"
	hw_pubkey_pem "$id" "$TMP/$label-old.pem"
	hw_sign ECDSA-SHA256 "$id" "$TMP/$label.msg" "$TMP/$label-old.sig" --signature-format openssl
	hw_check_sig "$label before the rotation" "$TMP/$label-old.pem" "$TMP/$label.msg" "$TMP/$label-old.sig"

	before=$("$HW_STAT" "[\"by_op\"].get(\"$op\", 0)")
	if [ -n "$newver" ]; then
		v0=$("$HW_STAT" "$newver")
		k0=$("$HW_STAT" "$newkey")
	fi
	echo "$PIN" >"$TMP/pin"
	chmod 600 "$TMP/pin"
	newuri=$("$HWAGG_CLI" rotate "pkcs11:token=$TOKEN;object=$label;type=private" --pin-file "$TMP/pin" \
		2>"$TMP/rot.err") || hw_fail "rotate $label: $(cat "$TMP/rot.err")"
	after=$("$HW_STAT" "[\"by_op\"].get(\"$op\", 0)")
	[ "$after" -eq $((before + 1)) ] || hw_fail "the fake saw $((after - before)) $op requests for the rotation"
	if [ -n "$newver" ]; then
		[ "$("$HW_STAT" "$newver")" -eq $((v0 + 1)) ] || hw_fail "the fake saw no new version of $label's key"
		[ "$("$HW_STAT" "$newkey")" -eq "$k0" ] || hw_fail "the rotation of $label made a new key"
		hw_pass "$TOKEN: hwagg rotate $label made a new version of the same key (not a new key)"
	fi
	hw_pass "$TOKEN: hwagg rotate $label (retire: $retire) sent $op for the old key (version)"

	# the label: one private key (the new one), two public keys
	hw_run "private keys after the rotation" hw_p11 --login --pin "$PIN" --list-objects --type privkey
	n=$(grep -c "label: *$label\$" "$TMP/run.out")
	[ "$n" = 1 ] || hw_fail "the label $label finds $n private keys after the rotation"
	"$HW_P11ATTR" "$MODULE" "$TOKEN" "$PIN" show "$label" >"$TMP/show.out" || hw_fail "p11attr show $label"
	grep -qx "priv label=$label version=2 start=$today end= sign=1" "$TMP/show.out" ||
		hw_fail "the new private key: $(cat "$TMP/show.out")"
	grep -qx "pub label=$label version=2 start=$today end= sign=-" "$TMP/show.out" ||
		hw_fail "the new public key: $(cat "$TMP/show.out")"
	grep -qx "pub label=$label version=1 start= end=$today sign=-" "$TMP/show.out" ||
		hw_fail "the old public key (end date): $(cat "$TMP/show.out")"
	[ "$(grep -c "^pub label=$label " "$TMP/show.out")" = 2 ] || hw_fail "public keys: $(cat "$TMP/show.out")"
	hw_pass "$TOKEN: the label finds one private key (version 2, a start date) and the old public key has an end date"

	# the old public key verifies the old signature; the new key signs
	hw_pubkey_pem "$id" "$TMP/$label-kept.pem"
	cmp -s "$TMP/$label-old.pem" "$TMP/$label-kept.pem" || hw_fail "the kept public key is not the old one"
	hw_check_sig "the old signature with the kept public key" "$TMP/$label-kept.pem" "$TMP/$label.msg" \
		"$TMP/$label-old.sig"
	newid=$(printf '%s\n' "$newuri" | sed -n 's/.*[;:]id=\([^;]*\).*/\1/p' | tr -d '%')
	[ -n "$newid" ] && [ "$newid" != "$id" ] || hw_fail "the new key's id (from $newuri)"
	# (pkcs11-tool signs with the key of an id; the label's one key is that one)
	hw_sign ECDSA-SHA256 "$newid" "$TMP/$label.msg" "$TMP/$label-new.sig" --signature-format openssl
	hw_pubkey_pem "$newid" "$TMP/$label-new.pem"
	hw_check_sig "a new signature with the new public key" "$TMP/$label-new.pem" "$TMP/$label.msg" \
		"$TMP/$label-new.sig"
	hw_verify_rejects "a new signature with the old public key" "$TMP/$label-old.pem" "$TMP/$label.msg" \
		"$TMP/$label-new.sig"
	hw_pass "$TOKEN: old signatures verify with the kept public key; the new key signs"

	if [ "$retire" = disable ]; then
		grep -qx "priv label=$label (retired v1) version=1 start= end=$today sign=0" "$TMP/show.out" ||
			hw_fail "the retired private key: $(cat "$TMP/show.out")"
		before=$("$HW_STAT" '["by_op"].get("Sign", 0) + s["by_op"].get("AsymmetricSign", 0)')
		hw_run_fails "sign with the retired key" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 \
			--id "$id" -i "$TMP/$label.msg" -o "$TMP/$label-ret.sig"
		hw_expect "the retired key cannot sign" "CKR_KEY_FUNCTION_NOT_PERMITTED|CKR_KEY_TYPE_INCONSISTENT" \
			"$TMP/run.err"
		after=$("$HW_STAT" '["by_op"].get("Sign", 0) + s["by_op"].get("AsymmetricSign", 0)')
		[ "$after" = "$before" ] || hw_fail "the retired key's refusal went to the service"
		r=$("$HW_P11ATTR" "$MODULE" "$TOKEN" "$PIN" set-sign "$label (retired v1)")
		[ "$r" = CKR_ATTRIBUTE_READ_ONLY ] || hw_fail "CKA_SIGN back on the retired key: $r"
		hw_pass "$TOKEN: the retired private key stays for the record, cannot sign, and CKA_SIGN stays off"
	fi
	r=$("$HW_P11ATTR" "$MODULE" "$TOKEN" "$PIN" set-keytype "$label")
	[ "$r" = CKR_ATTRIBUTE_READ_ONLY ] || hw_fail "CKA_KEY_TYPE of a cloud key changed: $r"
	hw_pass "$TOKEN: CKA_KEY_TYPE of a cloud key cannot change"
}
