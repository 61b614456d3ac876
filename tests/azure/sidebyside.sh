#!/bin/bash
# One configuration with an aws-kms slot and an azure-kv slot side by side,
# each on its loopback fake: the same pkcs11-tool script (mechanism list,
# P-256 and RSA-2048 key generation, ECDSA-SHA256, SHA256-RSA-PKCS and PSS
# signatures verified by OpenSSL, a new process listing the keys) gives the
# same results on both tokens.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=azure-kv
hw_setup
hw_kms_start
hw_write_conf '{"name":"kms","type":"aws-kms","region":"'"$HW_KMS_REGION"'","deletion_window_days":7,"pin":"'"$PIN"'"},
{"name":"azure","type":"azure-kv","vault_url":"https://127.0.0.1:'"$HW_AZ_PORT"'","ca_file":"'"$TMP/kms/ca.pem"'","pin":"'"$PIN"'"}'

head -c 1000 /dev/urandom >"$TMP/data"
for TOKEN in kms azure; do
	out="$TMP/result-$TOKEN"
	hw_run "$TOKEN: mechanisms" hw_p11 --list-mechanisms
	sed -n 's/^  *\([A-Z0-9-]*\).*/\1/p' "$TMP/run.out" | sort >"$TMP/mechs-$TOKEN"
	hw_keygen_ec side-ec 51
	hw_run "$TOKEN: generate RSA-2048" hw_p11 --login --pin "$PIN" --keypairgen --key-type rsa:2048 \
		--label side-rsa --id 52 --usage-sign
	hw_pubkey_pem 51 "$TMP/$TOKEN-ec.pem"
	hw_pubkey_pem 52 "$TMP/$TOKEN-rsa.pem"
	hw_sign ECDSA-SHA256 51 "$TMP/data" "$TMP/$TOKEN-sig-ec" --signature-format openssl
	hw_check_sig "$TOKEN: ECDSA-SHA256" "$TMP/$TOKEN-ec.pem" "$TMP/data" "$TMP/$TOKEN-sig-ec"
	echo "ECDSA-SHA256 verified" >>"$out"
	hw_sign SHA256-RSA-PKCS 52 "$TMP/data" "$TMP/$TOKEN-sig-rsa"
	hw_check_sig "$TOKEN: SHA256-RSA-PKCS" "$TMP/$TOKEN-rsa.pem" "$TMP/data" "$TMP/$TOKEN-sig-rsa"
	echo "SHA256-RSA-PKCS verified" >>"$out"
	hw_sign SHA256-RSA-PKCS-PSS 52 "$TMP/data" "$TMP/$TOKEN-sig-pss" --mgf MGF1-SHA256 --salt-len 32
	hw_check_sig "$TOKEN: PSS" "$TMP/$TOKEN-rsa.pem" "$TMP/data" "$TMP/$TOKEN-sig-pss" \
		-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
	echo "SHA256-RSA-PKCS-PSS verified" >>"$out"
	hw_run "$TOKEN: list keys (new process)" hw_p11 --login --pin "$PIN" --list-objects --type privkey
	# not Usage: an AWS KMS key has one usage (SIGN_VERIFY here), a Key Vault
	# RSA key also decrypts when the template leaves CKA_DECRYPT at its default
	grep -E '^ *(label|ID|Access):' "$TMP/run.out" | sort >>"$out"
	hw_run "$TOKEN: the keys' types" hw_p11 --list-objects --type pubkey
	grep -E 'Public Key Object;' "$TMP/run.out" | sort >>"$out"
done
cmp -s "$TMP/mechs-kms" "$TMP/mechs-azure" ||
	hw_fail "the two tokens list different mechanisms: $(diff "$TMP/mechs-kms" "$TMP/mechs-azure")"
cmp -s "$TMP/result-kms" "$TMP/result-azure" ||
	hw_fail "the two tokens give different results: $(diff "$TMP/result-kms" "$TMP/result-azure")"
[ "$(grep -c verified "$TMP/result-kms")" = 3 ] || hw_fail "expected three verified signatures"
for l in side-ec side-rsa; do
	grep -q "label: *$l\$" "$TMP/result-kms" || hw_fail "key $l not listed by a new process"
done
hw_pass "aws-kms and azure-kv side by side: the same mechanisms, keys, attributes and verified signatures"
