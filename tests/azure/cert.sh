#!/bin/bash
# The azure-kv slot with a client certificate (AZURE_CLIENT_CERTIFICATE_PATH:
# a PEM with the certificate and its key), on the loopback fake whose Entra
# ID endpoint verifies the assertion with the certificate registered with it:
# RS256 signature, x5t and x5t#S256 thumbprints, aud, iss = sub, a fresh jti,
# nbf/exp. First the real Azure SDK (azure-identity's CertificateCredential,
# MSAL underneath) gets a token from the fake with the same file, so the
# fake accepts what Microsoft's client sends (skipped without python3-azure);
# then the slot: keys generated and 20 signatures verified in one process on
# one token; a certificate the fake does not know is refused (CKR_DEVICE_ERROR,
# invalid_client logged, no assertion logged); an encrypted key answers
# CKR_FUNCTION_NOT_SUPPORTED saying what to give instead.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=azure-kv
hw_setup
hw_kmsclient

d="$TMP/kms"
# app.pem: the registered certificate and its PKCS#8 key; other.pem: a certificate nobody registered
for f in app other; do
	hw_run "make the $f certificate" openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/$f.key" \
		-out "$d/$f.crt" -subj "/CN=hwagg-$f" -days 2
	cat "$d/$f.crt" "$d/$f.key" >"$d/$f.pem"
done
hw_az_ctl /_cert "$(python3 -c 'import json,sys; print(json.dumps({"pem": open(sys.argv[1]).read()}))' "$d/app.crt")"
hw_az_auth imds
export AZURE_TENANT_ID=$HW_AZ_TENANT AZURE_CLIENT_ID=$HW_AZ_CLIENT AZURE_CLIENT_CERTIFICATE_PATH="$d/app.pem"
certs() { hw_az_stat '["cert_assertions"]'"$1"; }

if /usr/bin/python3 -c 'import azure.identity' 2>/dev/null; then
	cat >"$TMP/sdkcert.py" <<'PY'
import os
from azure.identity import CertificateCredential
cred = CertificateCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
                             os.environ["AZURE_CLIENT_CERTIFICATE_PATH"], authority=os.environ["AZURE_AUTHORITY_HOST"],
                             instance_discovery=False)
tok = cred.get_token("https://vault.azure.net/.default")
print("sdk token", len(tok.token) > 0)
PY
	hw_run "Azure SDK: a token with the certificate" env REQUESTS_CA_BUNDLE="$d/ca.pem" /usr/bin/python3 "$TMP/sdkcert.py"
	hw_expect "the SDK's token" "^sdk token True" "$TMP/run.out"
	[ "$(certs '["ok"]')" = 1 ] || hw_fail "the fake did not verify the SDK's assertion: $(certs '')"
	hw_pass "azure-identity's CertificateCredential (MSAL) gets a token from the fake with the same PEM file"
fi

ok0=$(certs '["ok"]')
hw_run "generate a P-256 key (client certificate)" "$client" "$MODULE" "$TOKEN" "$PIN" keygen-ec cert-ec
hw_expect "keygen" '^CKR_OK' "$TMP/run.out"
hw_run "2 threads x 10 signatures" "$client" "$MODULE" "$TOKEN" "$PIN" threads 2 10 cert-ec
hw_expect "all verified" '^signed 20 verified 20 ' "$TMP/run.out"
[ "$(certs '["ok"]')" = $((ok0 + 2)) ] || hw_fail "expected one verified assertion per process, got $(($(certs '["ok"]') - ok0))"
[ "$(certs '["rejected"]')" = 0 ] || hw_fail "the fake refused an assertion: $(certs '.get("last_error")')"
[ "$(hw_az_stat '["tokens_by"].get("client secret", 0)')" = 0 ] || hw_fail "a client secret was used"
hw_pass "client certificate: assertions verified by the fake (signature, thumbprints, claims, jti), one per process; 20 signatures verified"

# a certificate the fake does not know
hw_run_fails "keygen with an unknown certificate" env AZURE_CLIENT_CERTIFICATE_PATH="$d/other.pem" \
	"$client" "$MODULE" "$TOKEN" "$PIN" keygen-ec other-ec
[ "$(certs '["rejected"]')" -ge 1 ] || hw_fail "the fake saw no assertion from the unknown certificate"
hw_expect "the cause" "credentials error invalid_client" "$TMP/run.err"
grep -q 'eyJ' "$TMP/run.err" && hw_fail "an assertion or a token appears in the log"
# an encrypted key: not read, said so
hw_run "encrypt the key" openssl pkcs8 -topk8 -v2 aes256 -in "$d/app.key" -out "$d/enc.key" -passout pass:hwagg
cat "$d/app.crt" "$d/enc.key" >"$d/enc.pem"
AZURE_CLIENT_CERTIFICATE_PATH="$d/enc.pem" AZURE_CLIENT_CERTIFICATE_PASSWORD=hwagg hw_run_fails \
	"keygen with an encrypted key" hw_p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label x \
	--id 09 --usage-sign
hw_expect "not supported" "CKR_FUNCTION_NOT_SUPPORTED" "$TMP/run.err"
hw_expect "said why" "$d/enc.pem: PKCS#12, encrypted and PKCS#1 keys are not read" "$TMP/run.err"
hw_pass "an unknown certificate: refused (invalid_client, nothing secret logged); an encrypted key: CKR_FUNCTION_NOT_SUPPORTED"
