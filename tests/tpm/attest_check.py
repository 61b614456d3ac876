#!/usr/bin/env python3
"""Check a tpm slot attestation bundle (slots/tpm_attest.c) in software:

    attest_check.py BUNDLE OUTDIR [SPKI_DER]

Parses the bundle, checks that the attestation is a TPM2_Certify, that the
certified name is the name of the key's public area, that the key is
fixedTPM|fixedParent, that the AK is a restricted signing key, and (with
SPKI_DER, the PKCS#11 public key) that the key's public area is that key.
Writes OUTDIR/attest.bin, OUTDIR/sig.der and OUTDIR/ak.pem for
`openssl dgst -sha256 -verify ak.pem -signature sig.der attest.bin`, and
OUTDIR/ek.der when the bundle has an EK certificate. Exit 1 with the check
that failed.
"""
import base64, hashlib, struct, sys

def fail(msg):
    print("attestation check failed: " + msg)
    sys.exit(1)

def b2(buf, off):
    n = struct.unpack_from(">H", buf, off)[0]
    return buf[off + 2:off + 2 + n], off + 2 + n

def der(tag, body):
    n = len(body)
    if n < 128:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body

def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    return der(0x02, (b"\0" + b) if b[0] & 0x80 else b)

def public_area(tpm2b):
    """(type, nameAlg, attributes, (ecc x, y) or rsa modulus) of a TPMT_PUBLIC."""
    typ, alg, attrs = struct.unpack_from(">HHI", tpm2b, 0)
    _, off = b2(tpm2b, 8)                       # authPolicy
    if typ == 0x0023:                           # ECC
        sym = struct.unpack_from(">H", tpm2b, off)[0]; off += 2
        if sym != 0x0010: off += 4
        scheme = struct.unpack_from(">H", tpm2b, off)[0]; off += 2
        if scheme != 0x0010: off += 2
        off += 2                                # curve
        kdf = struct.unpack_from(">H", tpm2b, off)[0]; off += 2
        if kdf != 0x0010: off += 2
        x, off = b2(tpm2b, off)
        y, off = b2(tpm2b, off)
        return typ, alg, attrs, (x, y)
    if typ == 0x0001:                           # RSA
        sym = struct.unpack_from(">H", tpm2b, off)[0]; off += 2
        if sym != 0x0010: off += 4
        scheme = struct.unpack_from(">H", tpm2b, off)[0]; off += 2
        if scheme != 0x0010: off += 2
        off += 2 + 4                            # keyBits, exponent
        n, off = b2(tpm2b, off)
        return typ, alg, attrs, n
    fail("unknown key type %#x" % typ)

bundle, outdir = open(sys.argv[1], "rb").read(), sys.argv[2]
if bundle[:5] != b"HWAT\x01":
    fail("not an hwagg attestation bundle")
fields, off = {}, 5
while off < len(bundle):
    if off + 3 > len(bundle):
        fail("bundle truncated")
    tag, n = bundle[off], struct.unpack_from(">H", bundle, off + 1)[0]
    fields[tag] = bundle[off + 3:off + 3 + n]
    off += 3 + n
for t in (1, 2, 3, 4):
    if t not in fields:
        fail("field %d missing" % t)
attest, _ = b2(fields[1], 0)
magic, typ = struct.unpack_from(">IH", attest, 0)
if magic != 0xff544347 or typ != 0x8017:
    fail("not a TPM-generated TPM2_Certify attestation")
o = 6
_, o = b2(attest, o)            # qualifiedSigner
_, o = b2(attest, o)            # extraData
o += 17 + 8                     # clockInfo, firmwareVersion
name, o = b2(attest, o)
keypub, _ = b2(fields[4], 0)
ktyp, kalg, kattrs, kval = public_area(keypub)
if name != struct.pack(">H", kalg) + hashlib.sha256(keypub).digest():
    fail("the certified name is not the key's public area")
if kattrs & 0x12 != 0x12:
    fail("the key is not fixedTPM|fixedParent")
akpub, _ = b2(fields[3], 0)
atyp, _, aattrs, (ax, ay) = public_area(akpub)
if atyp != 0x0023 or aattrs & 0x50002 != 0x50002:
    fail("the AK is not a restricted ECC signing key of a TPM")
spki_ak = der(0x30, bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107") +
              der(0x03, b"\0\x04" + ax.rjust(32, b"\0") + ay.rjust(32, b"\0")))
open(outdir + "/ak.pem", "w").write("-----BEGIN PUBLIC KEY-----\n" +
    base64.encodebytes(spki_ak).decode() + "-----END PUBLIC KEY-----\n")
sig = fields[2]
salg = struct.unpack_from(">H", sig, 0)[0]
if salg != 0x0018:
    fail("the AK signature is not ECDSA")
r, so = b2(sig, 4)
s, _ = b2(sig, so)
open(outdir + "/sig.der", "wb").write(der(0x30, der_int(r) + der_int(s)))
open(outdir + "/attest.bin", "wb").write(attest)
if 5 in fields:
    open(outdir + "/ek.der", "wb").write(fields[5])
if len(sys.argv) > 3:
    spki = open(sys.argv[3], "rb").read()
    want = (b"\x04" + kval[0].rjust(32, b"\0") + kval[1].rjust(32, b"\0")) if ktyp == 0x0023 else kval
    if want not in spki:
        fail("the key's public area is not the PKCS#11 public key")
print("attestation structure ok%s" % (", with an EK certificate" if 5 in fields else ""))
