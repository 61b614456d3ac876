#!/bin/bash
# The fake checked by the real Azure SDK for Python (Debian python3-azure:
# azure-identity, azure-keyvault-keys): ClientSecretCredential against the
# fake's Entra ID endpoint (AZURE_AUTHORITY_HOST) and KeyClient /
# CryptographyClient against the vault go through the same challenge; the
# SDK creates a key and signs a digest, the slot (the key named in "keys")
# signs with the same key, and each signature is verified with the other
# side's public key.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
/usr/bin/python3 -c 'import azure.identity, azure.keyvault.keys' 2>/dev/null ||
	hw_skip "python3-azure (azure-identity, azure-keyvault-keys) is not installed"
HW_TARGET=azure-kv
hw_setup
hw_az_conf '"keys":["sdk-ec"]'

head -c 1000 /dev/urandom >"$TMP/data"
openssl dgst -sha256 -binary "$TMP/data" >"$TMP/md"
# the SDK verifies with the JWK it was given, and writes that key as PEM
cat >"$TMP/sdk.py" <<'PY'
import sys
from azure.identity import ClientSecretCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
import os

vault, tmp = sys.argv[1], sys.argv[2]
cred = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
                              os.environ["AZURE_CLIENT_SECRET"], authority=os.environ["AZURE_AUTHORITY_HOST"],
                              instance_discovery=False)
# (instance_discovery=False: MSAL would ask login.microsoftonline.com
# whether 127.0.0.1 is an authority it knows)
# the fake answers the challenge with the public cloud's audience, which is
# not 127.0.0.1's domain: the SDK checks that unless told not to
kc = KeyClient(vault, cred, verify_challenge_resource=False)
key = kc.create_ec_key("sdk-ec", curve="P-256", hardware_protected=True, tags={"p11label": "sdk-ec"})
assert key.key_type == "EC-HSM", key.key_type
cc = CryptographyClient(key, cred, verify_challenge_resource=False)
digest = open(tmp + "/md", "rb").read()
res = cc.sign(SignatureAlgorithm.es256, digest)
assert len(res.signature) == 64, len(res.signature)
pub = ec.EllipticCurvePublicNumbers(int.from_bytes(key.key.x, "big"), int.from_bytes(key.key.y, "big"),
                                    ec.SECP256R1()).public_key()
r, s = int.from_bytes(res.signature[:32], "big"), int.from_bytes(res.signature[32:], "big")
pub.verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
open(tmp + "/sdk.pem", "wb").write(pub.public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
assert [k.name for k in kc.list_properties_of_keys()] == ["sdk-ec"]
print("sdk ok", key.id)
PY
hw_run "Azure SDK: create a key and sign" env REQUESTS_CA_BUNDLE="$TMP/kms/ca.pem" /usr/bin/python3 "$TMP/sdk.py" \
	"https://127.0.0.1:$HW_AZ_PORT" "$TMP"
hw_expect "the SDK's key" "sdk ok https://127.0.0.1:$HW_AZ_PORT/keys/sdk-ec/[0-9a-f]{32}" "$TMP/run.out"
[ "$(hw_az_stat '["challenges"]')" -ge 1 ] || hw_fail "the SDK did not meet the challenge"
hw_pass "the Azure SDK meets the fake's challenge, gets a client-secret token, creates an EC-HSM key, signs ES256 (verified)"

# the slot lists the SDK's key (named in "keys") and signs with it
hw_run "list the SDK's key" hw_p11 --login --pin "$PIN" --list-objects --type privkey
hw_expect "listed by its tag" "label: *sdk-ec\$" "$TMP/run.out"
hw_run "sign with the SDK's key" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 --label sdk-ec \
	-i "$TMP/data" -o "$TMP/sig" --signature-format openssl
hw_check_sig "the slot's ES256 with the SDK's public key" "$TMP/sdk.pem" "$TMP/data" "$TMP/sig"
hw_pass "the slot signs with the key the SDK made; OpenSSL verifies it with the SDK's JWK"
