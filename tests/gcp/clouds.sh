#!/bin/bash
# aws-kms and gcp-kms slots side by side in one configuration, each on its
# loopback fake: the same pkcs11-tool script (P-256 and RSA-2048 key pairs
# by label and id, ECDSA-SHA256 and SHA256-RSA-PKCS signatures verified by
# OpenSSL, a fresh process finding the keys, destroy) runs on each token
# with the same results, and neither slot sees the other's keys.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=gcp-kms
hw_setup
gcp_slot=$(sed -n 's/.*"slots":\[\(.*\)\]}$/\1/p' "$HWAGG_CONF")
hw_kms_start
aws_slot='{"name":"aws","type":"aws-kms","region":"'"$HW_KMS_REGION"'","deletion_window_days":7,"pin":"'"$PIN"'"}'
hw_write_conf "${gcp_slot/\"name\":\"$TOKEN\"/\"name\":\"gcp\"},$aws_slot"

head -c 1000 /dev/urandom >"$TMP/data"
for TOKEN in aws gcp; do
	hw_keygen_ec "$TOKEN-ec" 01
	hw_pubkey_pem 01 "$TMP/$TOKEN-ec.pem"
	hw_sign ECDSA-SHA256 01 "$TMP/data" "$TMP/$TOKEN-ec.sig" --signature-format openssl
	hw_check_sig "$TOKEN: ECDSA P-256" "$TMP/$TOKEN-ec.pem" "$TMP/data" "$TMP/$TOKEN-ec.sig"
	hw_keygen_rsa "$TOKEN-rsa" 02 2048
	hw_pubkey_pem 02 "$TMP/$TOKEN-rsa.pem"
	hw_sign SHA256-RSA-PKCS 02 "$TMP/data" "$TMP/$TOKEN-rsa.sig"
	hw_check_sig "$TOKEN: RSA PKCS#1 v1.5" "$TMP/$TOKEN-rsa.pem" "$TMP/data" "$TMP/$TOKEN-rsa.sig"
	hw_run "$TOKEN: list objects" hw_p11 --login --pin "$PIN" --list-objects --type privkey
	grep -o 'label: *[a-z-]*$' "$TMP/run.out" | awk '{print $2}' | sed "s/^$TOKEN-//" | sort >"$TMP/$TOKEN.labels"
	hw_run "$TOKEN: delete the EC key" hw_p11 --login --pin "$PIN" --delete-object --type privkey --id 01
	hw_run "$TOKEN: list after delete" hw_p11 --login --pin "$PIN" --list-objects --type privkey
	grep -c 'label:' "$TMP/run.out" >"$TMP/$TOKEN.left"
done
cmp -s "$TMP/aws.labels" "$TMP/gcp.labels" || hw_fail "the tokens list different keys: $(cat "$TMP/aws.labels") / $(cat "$TMP/gcp.labels")"
[ "$(cat "$TMP/aws.labels")" = "$(printf 'ec\nrsa')" ] || hw_fail "unexpected keys: $(cat "$TMP/aws.labels")"
[ "$(cat "$TMP/aws.left")" = 1 ] && [ "$(cat "$TMP/gcp.left")" = 1 ] || hw_fail "destroy left $(cat "$TMP/aws.left") / $(cat "$TMP/gcp.left") keys"
hw_pass "aws-kms and gcp-kms side by side: the same script generates, signs, verifies, lists (only its own keys) and destroys on each"
