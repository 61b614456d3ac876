#!/bin/bash
# Key attestation on the tpm slot, on a swtpm provisioned with an EK
# certificate by a local CA (swtpm_setup + swtpm-localca in the test's temp
# dir). For an EC and an RSA key made on the slot:
#  - a CKO_DATA object with the key's label, application "hwagg-attestation",
#    holds the bundle; checked in software (tests/tpm/attest_check.py): a
#    TPM2_Certify attestation whose certified name is the key's public area,
#    fixedTPM|fixedParent, a restricted AK, and the public area is the
#    PKCS#11 public key; OpenSSL verifies the AK's signature over it;
#  - the bundle's EK certificate verifies against the local CA;
#  - hwagg attest verify (pure software, the bundle as a file or read from
#    the token by the key's URI) agrees, and hwagg attest show
#    prints the attestation, the key and the EK certificate;
#  - an altered attestation fails the signature check, an altered key public
#    area fails the name check, a bundle for another key fails the
#    public-key check, an unrelated CA fails the chain check (hwagg attest
#    verify says which check failed).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=tpm
HW_TPM_EK=1
hw_setup
check() { python3 "$HWAGG_SRCDIR/tests/tpm/attest_check.py" "$@"; }

hw_keygen_ec att-ec 61
hw_keygen_rsa att-rsa 62
for k in ec:61 rsa:62; do
	name=att-${k%:*} id=${k#*:}
	hw_run "read the attestation of $name" hw_p11 --read-object --type data \
		--application-label hwagg-attestation --label "$name" -o "$TMP/$name.bundle"
	hw_run "read the public key of $name" hw_p11 --read-object --type pubkey --id "$id" -o "$TMP/$name.spki"
	mkdir -p "$TMP/$name"
	hw_run "check the bundle of $name" check "$TMP/$name.bundle" "$TMP/$name" "$TMP/$name.spki"
	hw_run "AK signature over the attestation of $name" openssl dgst -sha256 -verify "$TMP/$name/ak.pem" \
		-signature "$TMP/$name/sig.der" "$TMP/$name/attest.bin"
	hw_expect "AK signature of $name" '^Verified OK' "$TMP/run.out"
	[ -s "$TMP/$name/ek.der" ] || hw_fail "the bundle of $name has no EK certificate"
	hw_run "EK certificate to PEM" openssl x509 -inform DER -in "$TMP/$name/ek.der" -out "$TMP/$name/ek.pem"
	hw_run "EK certificate chain of $name" openssl verify -CAfile "$TMP/ca/swtpm-localca-rootca-cert.pem" \
		-untrusted "$TMP/ca/issuercert.pem" "$TMP/$name/ek.pem"
	cat "$TMP/ca/swtpm-localca-rootca-cert.pem" "$TMP/ca/issuercert.pem" >"$TMP/ca.pem"
	hw_run "hwagg attest verify $name" "$HWAGG_CLI" attest verify --bundle "$TMP/$name.bundle" \
		--pubkey "$TMP/$name.spki" --ca "$TMP/ca.pem"
	hw_expect "hwagg attest verify $name" '^attestation verified: .*given public key; EK certificate chain ok' \
		"$TMP/run.out"
	hw_run "hwagg attest show $name" "$HWAGG_CLI" attest show --bundle "$TMP/$name.bundle"
	hw_expect "hwagg attest show $name" '^attestation: TPM2_Certify' "$TMP/run.out"
	hw_expect "hwagg attest show $name" '^EK cert: +subject .*issuer ' "$TMP/run.out"
	hw_run "hwagg attest verify by URI ($name)" "$HWAGG_CLI" attest verify "$URI;id=%$id" --ca "$TMP/ca.pem"
	hw_expect "hwagg attest verify by URI ($name)" \
		"^attestation verified: .*the token's public key; EK certificate chain ok" "$TMP/run.out"
done
hw_run_fails "hwagg attest verify: a key without attestation" "$HWAGG_CLI" attest verify "$URI;id=%7f"
hw_expect "hwagg attest verify: a key without attestation" 'has no attestation for this key' "$TMP/run.err"
# each attestation is audited (the audit log is next to the store)
for name in att-ec att-rsa; do
	grep '"event":"note"' "$TMP/store/audit.jsonl" | grep '"what":"attestation"' |
		grep -q "TPM2_Certify of key .*$name.*; bundle [0-9a-f]\{32\}.*\"result\":\"CKR_OK\"" ||
		hw_fail "no audit record of the attestation of $name: $(grep attestation "$TMP/store/audit.jsonl")"
done
"$HWAGG_CLI" audit verify "$TMP/store/audit.jsonl" >"$TMP/run.out" 2>&1 || hw_fail "audit verify: $(cat "$TMP/run.out")"
hw_pass "EC and RSA keys carry attestations: certified by the TPM's AK, their public key, EK certificate chain ok"

# altered bundles: each check fails and says which
python3 - "$TMP/att-ec.bundle" "$TMP/alt" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
# field 1 (attestation) starts at 5 + 3; change a byte of its clock info
b1 = bytearray(b); b1[5 + 3 + 2 + 40] ^= 1
open(sys.argv[2] + "-attest", "wb").write(b1)
# field 4 (the key's public area): find it and change its last byte
off = 5
while off < len(b):
    tag, n = b[off], int.from_bytes(b[off + 1:off + 3], "big")
    if tag == 4:
        b2 = bytearray(b); b2[off + 3 + n - 1] ^= 1
        open(sys.argv[2] + "-key", "wb").write(b2)
    off += 3 + n
PY
mkdir -p "$TMP/alt"
hw_run "an unrelated CA" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TMP/ec-ca.key" -out "$TMP/ec-ca.pem" -days 2 -subj "/CN=not the TPM maker"
hw_run "check the altered attestation's structure" check "$TMP/alt-attest" "$TMP/alt"
hw_run_fails "altered attestation" openssl dgst -sha256 -verify "$TMP/alt/ak.pem" -signature "$TMP/alt/sig.der" \
	"$TMP/alt/attest.bin"
hw_expect "altered attestation" 'Verification failure' "$TMP/run.out"
hw_run_fails "altered key public area" check "$TMP/alt-key" "$TMP/alt"
hw_expect "altered key public area" "certified name is not the key's public area" "$TMP/run.out"
hw_run_fails "another key's bundle" check "$TMP/att-ec.bundle" "$TMP/alt" "$TMP/att-rsa.spki"
hw_expect "another key's bundle" "not the PKCS#11 public key" "$TMP/run.out"
# the same with hwagg attest verify: each failure names its check
cli_refuses() {	# STEP PATTERN ARGS...
	local step=$1 want=$2
	shift 2
	hw_run_fails "$step" "$HWAGG_CLI" attest verify "$@"
	hw_expect "$step" "^attestation check failed: $want" "$TMP/run.out"
}
cli_refuses "hwagg: altered attestation" "the AK's signature over the attestation does not verify" \
	--bundle "$TMP/alt-attest"
cli_refuses "hwagg: altered key public area" "the certified name is not the key's public area" \
	--bundle "$TMP/alt-key"
cli_refuses "hwagg: another key's bundle" "the key's public area is not the --pubkey key" \
	--bundle "$TMP/att-ec.bundle" --pubkey "$TMP/att-rsa.spki"
cli_refuses "hwagg: a CA that did not issue the EK" "the EK certificate does not chain" \
	--bundle "$TMP/att-ec.bundle" --ca "$TMP/ec-ca.pem"
hw_pass "altered attestation: signature check fails; altered public area: name check fails; other key: refused"
hw_pass "hwagg attest verify names the check each altered bundle fails"
hw_pass "all tpm attestation checks passed"
