#!/bin/bash
# aws-kms, azure-kv and gcp-kms slots side by side in one configuration,
# each on its loopback fake: the same pkcs11-tool script (P-256 and RSA-2048
# key pairs by label and id, ECDSA-SHA256 and SHA256-RSA-PKCS signatures
# verified by OpenSSL, a fresh process listing the keys' labels, ids and
# types, destroy) runs on each token with identical results, and no slot
# sees another's keys. The signing mechanisms the script uses are listed by
# all three tokens. RSA-PSS is not in the common script (a Cloud KMS version
# fixes its padding, README "Not supported on gcp-kms"): aws-kms and
# azure-kv, which allow both paddings on one key, also sign PSS with the
# same RSA key and list the very same key-pair mechanisms (aws-kms lists its
# secret-key ones besides: HMAC keys, AES data keys, README "aws-kms").
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=gcp-kms
hw_setup
gcp_slot=$(sed -n 's/.*"slots":\[\(.*\)\]}$/\1/p' "$HWAGG_CONF")
hw_kms_start
. "$HWAGG_SRCDIR/tests/azure/lib.sh"
hw_az_start
aws_slot='{"name":"aws","type":"aws-kms","region":"'"$HW_KMS_REGION"'","deletion_window_days":7,"pin":"'"$PIN"'"}'
az_slot='{"name":"azure","type":"azure-kv","vault_url":"https://127.0.0.1:'"$HW_AZ_PORT"'","ca_file":"'"$TMP/kms/ca.pem"'","pin":"'"$PIN"'"}'
hw_write_conf "$aws_slot,$az_slot,${gcp_slot/\"name\":\"$TOKEN\"/\"name\":\"gcp\"}"

head -c 1000 /dev/urandom >"$TMP/data"
for TOKEN in aws azure gcp; do
	out="$TMP/result-$TOKEN"
	hw_run "$TOKEN: mechanisms" hw_p11 --list-mechanisms
	sed -n 's/^  *\([A-Z0-9-]*\).*/\1/p' "$TMP/run.out" | grep -Ev '^$|^AES-|HMAC|^GENERIC-SECRET' |
		sort >"$TMP/mechs-$TOKEN"
	for m in ECDSA-SHA256 SHA256-RSA-PKCS ECDSA-KEY-PAIR-GEN RSA-PKCS-KEY-PAIR-GEN; do
		grep -q "^ *$m[, ]" "$TMP/run.out" && echo "mechanism $m" >>"$out"
	done
	hw_keygen_ec "$TOKEN-ec" 01
	hw_keygen_rsa "$TOKEN-rsa" 02 2048
	hw_pubkey_pem 01 "$TMP/$TOKEN-ec.pem"
	hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/$TOKEN-ec.sig" --signature-format openssl
	hw_check_sig "$TOKEN: ECDSA P-256" "$TMP/$TOKEN-ec.pem" "$TMP/data" "$TMP/$TOKEN-ec.sig"
	echo "ECDSA-SHA256 verified" >>"$out"
	hw_pubkey_pem 02 "$TMP/$TOKEN-rsa.pem"
	hw_sign SHA256-RSA-PKCS 02 "$TMP/data" "$TMP/$TOKEN-rsa.sig"
	hw_check_sig "$TOKEN: RSA PKCS#1 v1.5" "$TMP/$TOKEN-rsa.pem" "$TMP/data" "$TMP/$TOKEN-rsa.sig"
	echo "SHA256-RSA-PKCS verified" >>"$out"
	if [ "$TOKEN" != gcp ]; then
		hw_sign SHA256-RSA-PKCS-PSS 02 "$TMP/data" "$TMP/$TOKEN-pss.sig" --mgf MGF1-SHA256 --salt-len 32
		hw_check_sig "$TOKEN: PSS" "$TMP/$TOKEN-rsa.pem" "$TMP/data" "$TMP/$TOKEN-pss.sig" \
			-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
	fi
	# a new process: labels (without the token's prefix), ids, key types
	hw_run "$TOKEN: list keys" hw_p11 --login --pin "$PIN" --list-objects --type privkey
	grep -E '^ *(label|ID):' "$TMP/run.out" | sed "s/$TOKEN-//" | sort >>"$out"
	hw_run "$TOKEN: the public keys" hw_p11 --list-objects --type pubkey
	grep -E 'Public Key Object;' "$TMP/run.out" | sort >>"$out"
	hw_run "$TOKEN: delete the EC key" hw_p11 --login --pin "$PIN" --delete-object --type privkey --id 01
	hw_run "$TOKEN: list after delete" hw_p11 --login --pin "$PIN" --list-objects --type privkey
	echo "left after delete: $(grep -c 'label:' "$TMP/run.out")" >>"$out"
done
for t in azure gcp; do
	cmp -s "$TMP/result-aws" "$TMP/result-$t" ||
		hw_fail "aws and $t give different results: $(diff "$TMP/result-aws" "$TMP/result-$t")"
done
cmp -s "$TMP/mechs-aws" "$TMP/mechs-azure" ||
	hw_fail "aws-kms and azure-kv list different mechanisms: $(diff "$TMP/mechs-aws" "$TMP/mechs-azure")"
[ "$(grep -c '^mechanism' "$TMP/result-aws")" = 4 ] || hw_fail "a token lacks a mechanism: $(cat "$TMP/result-aws")"
[ "$(grep -c verified "$TMP/result-aws")" = 2 ] || hw_fail "expected two verified signatures"
grep -q 'label: *ec$' "$TMP/result-aws" && grep -q 'label: *rsa$' "$TMP/result-aws" ||
	hw_fail "the keys were not listed by a new process: $(cat "$TMP/result-aws")"
[ "$(grep -c 'label:' "$TMP/result-aws")" = 2 ] || hw_fail "a token lists keys that are not its own"
grep -q 'left after delete: 1' "$TMP/result-aws" || hw_fail "destroy: $(grep left "$TMP/result-aws")"
hw_pass "aws-kms, azure-kv and gcp-kms in one configuration: the same script gives identical mechanisms, keys, ids, key types, verified signatures and destroy on each; aws-kms and azure-kv the same mechanism list and PSS"
