#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ (small valid inputs in each
target's input format, described at the top of fuzz/<target>.c). Keys and the
certificate come from the openssl command, so a new run gives other bytes of
the same shapes; the committed seeds are one such run. regress-* inputs
reproduce bugs found by fuzzing (see docs/fuzzing.md).

    python3 fuzz/seeds.py
"""
import base64
import hashlib
import json
import os
import struct
import subprocess
import tempfile

TOP = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(TOP, "corpus")

# PKCS#11 constants (pkcs11t.h)
CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL = 0x0, 0x1, 0x2, 0x3
CKA_APPLICATION, CKA_VALUE, CKA_OBJECT_ID = 0x10, 0x11, 0x12
CKA_CERTIFICATE_TYPE, CKA_KEY_TYPE, CKA_SUBJECT, CKA_ID = 0x80, 0x100, 0x101, 0x102
CKA_SENSITIVE, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY = 0x103, 0x105, 0x108, 0x10A
CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT = 0x120, 0x121, 0x122
CKA_EXTRACTABLE, CKA_MODIFIABLE, CKA_DESTROYABLE = 0x162, 0x170, 0x172
CKA_EC_PARAMS, CKA_EC_POINT, CKA_UNIQUE_ID = 0x180, 0x181, 0x4
CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY = 0, 1, 2, 3, 4
CKK_RSA, CKK_EC, CKK_EC_EDWARDS, CKK_GENERIC_SECRET, CKK_AES = 0x0, 0x3, 0x40, 0x10, 0x1f
CKA_VALUE_LEN, CKA_DERIVE = 0x161, 0x10C
CKM_ECDH1_DERIVE = 0x1050
CKC_X_509 = 0
CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, CKM_ECDSA, CKM_ECDSA_SHA256 = 0x0, 0x1, 0x1041, 0x1044
CKM_EC_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA = 0x1040, 0x1055, 0x1057
CKM_SHA256, CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP = 0x250, 0xD, 0x43, 0x9
CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED = 0x2, 0x1

P256 = bytes.fromhex("06082a8648ce3d030107")
P384 = bytes.fromhex("06052b81040022")
P521 = bytes.fromhex("06052b81040023")
ED25519_OID = bytes.fromhex("06032b6570")
ED25519_NAME = b"\x13\x0cedwards25519"


def ulong(v):
    return struct.pack("<Q", v)


def ck_bool(v):
    return b"\x01" if v else b"\x00"


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, check=True, capture_output=True).stdout


def material():
    """An EC P-256 key (point, PKCS#8), an RSA-2048 public key and an EC certificate."""
    with tempfile.TemporaryDirectory() as d:
        ec = os.path.join(d, "ec.pem")
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec)
        spki = openssl("pkey", "-in", ec, "-pubout", "-outform", "DER")
        p8 = openssl("pkcs8", "-topk8", "-nocrypt", "-in", ec, "-outform", "DER")
        cert = openssl("req", "-x509", "-new", "-key", ec, "-subj", "/CN=hwagg fuzz", "-days", "1",
                       "-outform", "DER")
        rsa = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
        text = openssl("pkey", "-pubin", "-noout", "-text",
                       stdin=openssl("pkey", "-pubout", stdin=rsa)).decode()
    hexmod = "".join(l.strip() for l in text.split("Modulus:")[1].split("Exponent")[0].splitlines())
    modulus = bytes.fromhex(hexmod.replace(":", "")).lstrip(b"\x00")
    return {"point": spki[-65:], "p8": p8, "cert": cert, "spki": spki, "modulus": modulus}


# ---- conf ------------------------------------------------------------------------
def conf_seeds():
    write("conf", "minimal.json", b'{"slots":[{"name":"hwagg-dev","type":"soft"}]}')
    write("conf", "full.json", b"""\xef\xbb\xbf{
  "environment": "staging",
  "store": "${FUZZ_DIR}/store",
  "log": { "level": "debug", "file": "$FUZZ_DIR/hwagg.log" },
  "audit": { "file": "~/audit.jsonl" },
  "slots": [
    { "name": "dev", "type": "soft", "pin_max_tries": 5, "pin_min_len": 6, "pin_max_len": 32 },
    { "name": "hsm \\u00e9", "type": "hsm", "module": "/usr/lib/softhsm/libsofthsm2.so",
      "token": "mytoken", "security": "software" },
    { "name": "keyring", "type": "keyring", "collection": "default", "cache_keys": false }
  ]
}
""")
    write("conf", "errors.json", b'{"environment":"prod","store":"relative","slots":[{"name":"a ",'
          b'"type":"tpm"},{"name":"a","type":"soft","x":1}],"log":{"level":7}}')
    write("conf", "bad-syntax.json", b'{"slots":[{"name":"a","type":"soft"},]}')


# ---- encode ----------------------------------------------------------------------
def der_int(v):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
    return b"\x02" + bytes([len(b)]) + b


def encode_seeds(m):
    for name, p in (("p256", P256), ("p384", P384), ("p521", P521), ("ed-oid", ED25519_OID),
                    ("ed-name", ED25519_NAME), ("secp256r1", b"\x13\x09secp256r1")):
        write("encode", "params-" + name, b"\x00" + p)
    write("encode", "point-p256-der", b"\x01\x00\x04\x41" + m["point"])
    write("encode", "point-p256-raw", b"\x01\x00" + m["point"])
    write("encode", "point-ed25519", b"\x01\x03\x04\x20" + bytes(range(32)))
    r, s = 0x8000000000000000000000000000000000000000000000000000000000000001, 0x1234
    body = der_int(r) + der_int(s)
    write("encode", "ecdsa-der-p256", b"\x02\x20\x30" + bytes([len(body)]) + body)
    write("encode", "ecdsa-rs-p384", b"\x03" + bytes(47) + b"\x80" + bytes(47) + b"\x01")
    digest = hashlib.sha256(b"hwagg").digest()
    write("encode", "digestinfo-sha256",
          b"\x04" + bytes.fromhex("3031300d060960864801650304020105000420") + digest)
    # mechanism parameters: mechanism, form, modulus bits (u64), the parameter
    pss = struct.pack("<QQQ", CKM_SHA256, CKG_MGF1_SHA256, 32)
    oaep = struct.pack("<QQQQQ", CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, 0, 0)
    eddsa = struct.pack("<QQQ", 0, 0, 0)
    for name, t, p in (("pss", CKM_RSA_PKCS_PSS, pss), ("sha256-pss", CKM_SHA256_RSA_PKCS_PSS, pss),
                       ("oaep", CKM_RSA_PKCS_OAEP, oaep), ("eddsa", CKM_EDDSA, eddsa)):
        write("encode", "param-" + name, b"\x05" + raw_mech(t) + b"\x00" + ulong(2048) + p)


# ---- attrs and store objects ---------------------------------------------------------
def blob(attrs):
    out = b"HWA1" + struct.pack("<I", len(attrs))
    for t, v in attrs:
        out += struct.pack("<QI", t, len(v)) + v
    return out


def ec_public(m):
    return [(CKA_CLASS, ulong(CKO_PUBLIC_KEY)), (CKA_KEY_TYPE, ulong(CKK_EC)), (CKA_TOKEN, ck_bool(1)),
            (CKA_PRIVATE, ck_bool(0)), (CKA_VERIFY, ck_bool(1)), (CKA_ID, b"\x01"),
            (CKA_LABEL, b"web"), (CKA_EC_PARAMS, P256), (CKA_EC_POINT, b"\x04\x41" + m["point"]),
            (CKA_UNIQUE_ID, b"0123456789abcdef")]


def ec_private(m):
    return [(CKA_CLASS, ulong(CKO_PRIVATE_KEY)), (CKA_KEY_TYPE, ulong(CKK_EC)), (CKA_TOKEN, ck_bool(1)),
            (CKA_PRIVATE, ck_bool(1)), (CKA_SIGN, ck_bool(1)), (CKA_SENSITIVE, ck_bool(1)),
            (CKA_EXTRACTABLE, ck_bool(0)), (CKA_ID, b"\x01"), (CKA_LABEL, b"web"),
            (CKA_EC_PARAMS, P256), (CKA_EC_POINT, b"\x04\x41" + m["point"]),
            (CKA_UNIQUE_ID, b"fedcba9876543210")]


def rsa_public(m):
    return [(CKA_CLASS, ulong(CKO_PUBLIC_KEY)), (CKA_KEY_TYPE, ulong(CKK_RSA)), (CKA_TOKEN, ck_bool(1)),
            (CKA_VERIFY, ck_bool(1)), (CKA_MODULUS, m["modulus"]), (CKA_PUBLIC_EXPONENT, b"\x01\x00\x01"),
            (CKA_MODULUS_BITS, ulong(2048)), (CKA_UNIQUE_ID, b"rsa-public")]


def certificate(m):
    return [(CKA_CLASS, ulong(CKO_CERTIFICATE)), (CKA_CERTIFICATE_TYPE, ulong(CKC_X_509)),
            (CKA_TOKEN, ck_bool(1)), (CKA_VALUE, m["cert"]), (CKA_ID, b"\x01"), (CKA_LABEL, b"cert")]


def attrs_seeds(m):
    write("attrs", "empty", blob([]))
    write("attrs", "ec-public", blob(ec_public(m)))
    write("attrs", "ec-private", blob(ec_private(m)))
    write("attrs", "rsa-public", blob(rsa_public(m)))
    write("attrs", "certificate", blob(certificate(m)))
    write("attrs", "repeated-type", blob([(CKA_LABEL, b"a"), (CKA_LABEL, b"bb"), (CKA_ID, b"")]))


def sealed(body_len):
    """The shape of a sealed key: version 1, salt, nonce, ciphertext, tag."""
    return b"\x01" + os.urandom(16 + 12 + body_len + 16)


def wrap(log2n=10, r=1, p=1):
    """The shape of a PIN wrap v1 (80 bytes) at a cost the harness runs."""
    return bytes([1, log2n, r, p]) + os.urandom(16 + 12 + 32 + 16)


def field_null():
    return b"\x00"


def field_int(v):
    return b"\x01" + struct.pack("<q", v)


def field_text(b):
    return b"\x02" + struct.pack("<H", len(b)) + b


def field_blob(b):
    return b"\x03" + struct.pack("<H", len(b)) + b


def store_seeds(m):
    rec = (field_text(b"rec") + field_int(1) + field_int(1) + field_int(0) + field_int(2) +
           field_blob(wrap()) + field_blob(wrap()))
    objs = (field_null() + field_blob(blob(ec_public(m))) + field_null() +
            field_null() + field_blob(blob(ec_private(m))) + field_blob(sealed(len(m["p8"]))) +
            field_null() + field_blob(blob(rsa_public(m))) + field_null() +
            field_null() + field_blob(blob(certificate(m))) + field_null())
    # flags, then the mechanism to sign and verify with
    write("store", "token-and-objects", b"\x03" + raw_mech(CKM_ECDSA) + rec + objs)
    write("store", "rsa-verify", b"\x00" + raw_mech(CKM_RSA_PKCS) + rec + objs)
    write("store", "der-secret", b"\x04" + raw_mech(CKM_ECDSA_SHA256) + rec + field_int(7) + field_blob(blob(ec_private(m))) +
          field_blob(m["p8"]))
    bad = (field_int(5) + field_int(0) + field_text(b"x") + field_int(-1) + field_int(10 ** 9) +
           field_blob(os.urandom(300)) + field_null())
    # regression: a row with id 0 became a phantom session object at every listing
    write("store", "regress-object-id-0", b"\x00" + raw_mech(CKM_ECDSA) + rec +
          field_int(0) + field_blob(blob(ec_public(m))) + field_null())
    write("store", "damaged-record", b"\x01" + raw_mech(CKM_EDDSA) + bad + field_int(-3) + field_blob(b"HWA1\xff\xff\xff\xff") +
          field_blob(b"\x01") + field_int(0) + field_text(b"HWA1") + field_null())


# ---- template ----------------------------------------------------------------------
def attr(t, v):
    """A raw-typed attribute (0xFF u32 type) with its value (wide form for long ones)."""
    out = b"\xff" + struct.pack("<I", t)
    if len(v) >= 0xFE:
        return out + b"\xfe" + struct.pack("<H", len(v)) + v
    return out + bytes([len(v)]) + v


def null_attr(t, length):
    return b"\xff" + struct.pack("<I", t) + b"\xff" + bytes([length])


def tmpl(*attrs):
    return b"".join(attrs) + b"\xfd"


def raw_mech(t):
    """A mechanism by type (0xFF u32), not by its place in the table."""
    return b"\xff" + struct.pack("<I", t)


def mech(t, param=None):
    """A mechanism and its parameter (None: a NULL pParameter of length 0)."""
    return raw_mech(t) + (b"\xff\x00" if param is None else bytes([len(param)]) + param)


def template_seeds(m):
    empty = tmpl()
    write("template", "data-object", mech(CKM_ECDSA) + tmpl(
        attr(CKA_CLASS, ulong(CKO_DATA)), attr(CKA_TOKEN, ck_bool(0)), attr(CKA_LABEL, b"data"),
        attr(CKA_APPLICATION, b"app"), attr(CKA_VALUE, b"hello")) +
        tmpl(attr(CKA_LABEL, b"renamed")) + tmpl(attr(CKA_LABEL, b"copy")))
    write("template", "data-token-undestroyable", mech(CKM_ECDSA) + tmpl(
        attr(CKA_CLASS, ulong(CKO_DATA)), attr(CKA_TOKEN, ck_bool(1)), attr(CKA_DESTROYABLE, ck_bool(0)),
        attr(CKA_VALUE, b"x")) + empty + tmpl(attr(CKA_TOKEN, ck_bool(1))))
    write("template", "ec-public-key", mech(CKM_ECDSA) + tmpl(
        attr(CKA_CLASS, ulong(CKO_PUBLIC_KEY)), attr(CKA_KEY_TYPE, ulong(CKK_EC)),
        attr(CKA_TOKEN, ck_bool(1)), attr(CKA_EC_PARAMS, P256), attr(CKA_EC_POINT, b"\x04\x41" + m["point"]),
        attr(CKA_ID, b"\x02"), attr(CKA_VERIFY, ck_bool(1))) + empty + empty)
    write("template", "rsa-public-key", mech(CKM_ECDSA) + tmpl(
        attr(CKA_CLASS, ulong(CKO_PUBLIC_KEY)), attr(CKA_KEY_TYPE, ulong(CKK_RSA)),
        attr(CKA_MODULUS, m["modulus"]), attr(CKA_PUBLIC_EXPONENT, b"\x01\x00\x01")) + empty + empty)
    write("template", "certificate", mech(CKM_ECDSA) + tmpl(
        attr(CKA_CLASS, ulong(CKO_CERTIFICATE)), attr(CKA_CERTIFICATE_TYPE, ulong(CKC_X_509)),
        attr(CKA_TOKEN, ck_bool(1)), attr(CKA_VALUE, m["cert"]), attr(CKA_LABEL, b"cert")) + empty + empty)
    write("template", "null-values", mech(CKM_ECDSA) + tmpl(
        attr(CKA_CLASS, ulong(CKO_DATA)), null_attr(CKA_VALUE, 8), null_attr(CKA_LABEL, 0)) + empty + empty)
    pub = (attr(CKA_TOKEN, ck_bool(1)), attr(CKA_VERIFY, ck_bool(1)), attr(CKA_LABEL, b"pair"))
    priv = tmpl(attr(CKA_TOKEN, ck_bool(1)), attr(CKA_PRIVATE, ck_bool(1)), attr(CKA_SIGN, ck_bool(1)),
                attr(CKA_SENSITIVE, ck_bool(1)), attr(CKA_ID, b"\x07"))
    for name, params in (("p256", P256), ("p384", P384), ("p521", P521)):
        write("template", "keypair-ec-" + name, mech(CKM_EC_KEY_PAIR_GEN) + empty +
              tmpl(attr(CKA_EC_PARAMS, params), *pub) + priv)
    write("template", "keypair-ed25519-session", mech(CKM_EC_EDWARDS_KEY_PAIR_GEN) + empty +
          tmpl(attr(CKA_EC_PARAMS, ED25519_NAME)) + tmpl(attr(CKA_SIGN, ck_bool(1))))
    write("template", "keypair-rsa-too-small", mech(CKM_RSA_PKCS_KEY_PAIR_GEN) + empty +
          tmpl(attr(CKA_MODULUS_BITS, ulong(1024)), attr(CKA_PUBLIC_EXPONENT, b"\x03")) + empty)
    write("template", "keypair-with-param", mech(CKM_EC_KEY_PAIR_GEN, b"\x00" * 8) + empty +
          tmpl(attr(CKA_EC_PARAMS, P256)) + empty)
    # a P-256 private key imported by its scalar, then ECDH with its own
    # point (kdf, shared-data length, shared data, point: fuzz/template.c)
    d = m["p8"][m["p8"].index(b"\x02\x01\x01\x04\x20") + 5:][:32]
    imported = tmpl(attr(CKA_CLASS, ulong(CKO_PRIVATE_KEY)), attr(CKA_KEY_TYPE, ulong(CKK_EC)),
                    attr(CKA_EC_PARAMS, P256), attr(CKA_VALUE, d), attr(CKA_DERIVE, ck_bool(1)))
    derived = tmpl(attr(CKA_CLASS, ulong(CKO_SECRET_KEY)), attr(CKA_KEY_TYPE, ulong(CKK_GENERIC_SECRET)),
                   attr(CKA_VALUE_LEN, ulong(32)))
    write("template", "import-ec-derive-null", mech(CKM_ECDH1_DERIVE, b"\x01\x00" + m["point"]) +
          imported + derived + empty)
    write("template", "import-ec-derive-sha256", mech(CKM_ECDH1_DERIVE, b"\x06\x03ctx" + m["point"]) +
          imported + derived + empty)
    write("template", "import-aes-digest", mech(CKM_ECDSA) + tmpl(
        attr(CKA_CLASS, ulong(CKO_SECRET_KEY)), attr(CKA_KEY_TYPE, ulong(CKK_AES)), attr(CKA_VALUE, b"k" * 16)) +
          empty + empty)


# ---- extsig ------------------------------------------------------------------------
def extsig_seeds():
    # selector: bits 0-1 output mode, bit 2 RSA, bit 7 from a real signature
    for name, sel in (("ec-base64", 0x80), ("ec-raw", 0x81), ("ec-der", 0x82), ("rsa-base64", 0x84),
                      ("rsa-raw", 0x85)):
        write("extsig", "genuine-" + name, bytes([sel]))
    write("extsig", "flipped-ec-base64", b"\x80\x05\x01")
    write("extsig", "two-lines", b"\x80\x00\x00TUVVQ0lRQz0K\n")
    write("extsig", "garbage", b"\x00this is not a signature!\n")
    write("extsig", "nothing", b"\x00")
    # regression: a raw RSA output longer than the caller's buffer was copied into it whole
    write("extsig", "regress-long-rsa-output", b"\xfe\x00\x00" + b"\xe9" * 300)
    write("conf", "external.json", b'{"slots":[{"name":"ext","type":"external","pin":"env",'
          b'"env_pass":["HOME"],"env":{"A":"b"},"tmp_dir":"/tmp","keys":[{"label":"k","id":"01",'
          b'"public_key":"$FUZZ_DIR/k.pub","command":["/bin/true","x"],"input":"digest-stdin",'
          b'"output":"raw","timeout_s":5,"security":"hardware","rsa_padding":"pss","max_parallel":2}]}]}')
def audit_chain(records):
    """JSON lines chained as module/audit_file.c writes them."""
    lines, prev, hashes = [], "0" * 64, {}
    for seq, r in enumerate(records, 1):
        if r.get("event") == "checkpoint":
            r = dict(r, head_seq=seq - 1, head=hashes[seq - 1])
        line = '{"seq":%d,"prev":"%s",' % (seq, prev) + json.dumps(r, separators=(",", ":"))[1:]
        prev = hashes[seq] = hashlib.sha256(line.encode()).hexdigest()
        lines.append(line)
    return lines


def audit_seeds():
    """The first byte: 0 checks no checkpoint, 1 with the target's key."""
    who = {"time": "2026-12-07T12:00:00.000Z", "pid": 7, "uid": 0, "exe": "/usr/bin/pkcs11-tool"}
    key = {"class": "private", "id": "5a", "label": "web", "version": 1}
    recs = [dict(who, event="login", slot="dev", backend="soft", user="user", result="CKR_OK"),
            dict(who, event="keygen", slot="dev", backend="soft", key=key, mech="CKM_EC_KEY_PAIR_GEN",
                 result="CKR_OK"),
            dict(who, event="sign", slot="dev", backend="soft", key=key, mech="CKM_ECDSA_SHA256",
                 result="CKR_OK", count=12, first="2026-12-07T12:00:00.000Z", last="2026-12-07T12:00:01.000Z"),
            dict(who, event="checkpoint", slot="dev", key_uri="pkcs11:token=dev;object=cp;type=private",
                 mech="CKM_ECDSA_SHA256", sig="00" * 64, result="CKR_OK"),
            dict(who, event="note", slot="dev", backend="tpm", what="attestation", detail="quote ok",
                 result="CKR_OK")]
    lines = audit_chain(recs)
    text = "".join(line + "\n" for line in lines)
    write("audit", "valid", b"\x00" + text.encode())
    write("audit", "valid-key", b"\x01" + text.encode())
    write("audit", "swapped", b"\x00" + "".join(l + "\n" for l in [lines[0], lines[2], lines[1]] + lines[3:]).encode())
    write("audit", "cut", b"\x00" + text.encode()[:-30])
    # a torn line, then the recover record that names it
    first = audit_chain(recs[:1])[0]
    torn = lines[1][:40]
    recover = dict(who, event="recover", torn_bytes=len(torn), torn_sha256=hashlib.sha256(torn.encode()).hexdigest())
    rline = '{"seq":2,"prev":"%s",' % hashlib.sha256(first.encode()).hexdigest() + \
        json.dumps(recover, separators=(",", ":"))[1:]
    write("audit", "recovered", b"\x00" + (first + "\n" + torn + "\n" + rline + "\n").encode())
# ---- aws_parse -------------------------------------------------------------------
# selector 0: a credential document (IMDS, container agent), 1: STS's XML,
# 2: an error body after a u8-length X-Amzn-ErrorType value, 3: a timestamp,
# 4: a credential_process's output, 5: the SSO portal's GetRoleCredentials
# answer, 6: an SSO token cache file
def aws_parse_seeds():
    write("aws_parse", "imds-creds", b"\x00" + b'{"Code":"Success","LastUpdated":"2026-12-07T12:00:00Z",'
          b'"Type":"AWS-HMAC","AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"c2VjcmV0","Token":"dG9rZW4=",'
          b'"Expiration":"2026-12-07T18:00:00Z"}')
    write("aws_parse", "container-creds", b"\x00" + b'{"AccessKeyId":"ASIA1","SecretAccessKey":"s/k+1",'
          b'"Token":"t","Expiration":"2026-12-07T18:00:00.123Z"}')
    write("aws_parse", "sts", b"\x01" + b"<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
          b"<Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>sk</SecretAccessKey>"
          b"<SessionToken>tok</SessionToken><Expiration>2026-12-07T18:00:00Z</Expiration></Credentials>"
          b"</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>")
    write("aws_parse", "error-json", b"\x02\x00" +
          b'{"__type":"com.amazonaws.kms#NotFoundException","message":"Key does not exist"}')
    write("aws_parse", "error-header", b"\x02\x13ThrottlingException")
    write("aws_parse", "error-xml", b"\x02\x00<ErrorResponse><Error><Code>InvalidIdentityToken</Code>"
          b"<Message>bad</Message></Error></ErrorResponse>")
    write("aws_parse", "time", b"\x032026-12-07T18:00:00+00:00")
    write("aws_parse", "process", b"\x04" + b'{"Version": 1, "AccessKeyId": "ASIAP", "SecretAccessKey": "sk",'
          b' "SessionToken": "tk", "Expiration": "2026-12-07T18:00:00Z"}')
    write("aws_parse", "sso-role-credentials", b"\x05" + b'{"roleCredentials": {"accessKeyId": "ASIAS",'
          b' "secretAccessKey": "sk", "sessionToken": "tk", "expiration": 1796666400000}}')
    write("aws_parse", "sso-token-cache", b"\x06" + b'{"startUrl": "https://x.awsapps.com/start", "region":'
          b' "eu-west-1", "accessToken": "aoa", "expiresAt": "2026-12-07T18:00:00UTC"}')


# ---- gcp_parse: workload identity federation and user credentials -----------------
def gcp_identity_seeds():
    aud = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k"
    base = {"type": "external_account", "audience": aud,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": "https://sts.googleapis.com/v1/token"}
    write("gcp_parse", "ext-file", b"\x09" + json.dumps(dict(base, credential_source={
        "file": "/var/run/secrets/tokens/gcp-ksa/token"})).encode())
    write("gcp_parse", "ext-url", b"\x09" + json.dumps(dict(base, credential_source={
        "url": "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01",
        "headers": {"Metadata": "True"},
        "format": {"type": "json", "subject_token_field_name": "access_token"}},
        service_account_impersonation_url="https://iamcredentials.googleapis.com/v1/projects/-/"
                                          "serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken")).encode())
    write("gcp_parse", "ext-aws", b"\x09" + json.dumps(dict(base, credential_source={
        "environment_id": "aws1", "regional_cred_verification_url":
        "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"})).encode())
    write("gcp_parse", "user", b"\x09" + json.dumps({"type": "authorized_user", "client_id": "764086051850-x.apps.googleusercontent.com",
                                                      "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
                                                      "refresh_token": "1//0gexample"}).encode())
    # selector 10: odd length reads JSON, even length text
    doc = json.dumps({"access_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "token_type": "Bearer"}).encode()
    write("gcp_parse", "subject-json", b"\x0a" + (doc if len(doc) % 2 else doc + b" "))
    text = b"eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n"
    write("gcp_parse", "subject-text", b"\x0a" + (text if len(text) % 2 == 0 else text + b"\n"))
    write("gcp_parse", "iam-token", b"\x0b" + json.dumps({"accessToken": "ya29.c.impersonated",
                                                          "expireTime": "2023-11-14T23:13:20Z"}).encode())


# ---- gcp_parse -------------------------------------------------------------------
# selector 0: a key listing, 1: a version listing, 2: one version, 3: an
# error body, 4: a token answer, 5: a public key, 6: a signature, 7: a
# plaintext, 8: a service-account key file (all as Cloud KMS and Google's
# token endpoints answer them; CRC32C fields computed, not copied)
def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def gcp_parse_seeds():
    ring = "projects/p/locations/global/keyRings/r"
    write("gcp_parse", "keys", b"\x00" + json.dumps({"cryptoKeys": [
        {"name": ring + "/cryptoKeys/hwagg-1", "purpose": "ASYMMETRIC_SIGN",
         "labels": {"hwagg": "pkcs11", "label-0": "6b6579", "id-0": "01"}},
        {"name": ring + "/cryptoKeys/other", "labels": {}}], "nextPageToken": "2", "totalSize": 3}).encode())
    write("gcp_parse", "versions", b"\x01" + json.dumps({"cryptoKeyVersions": [
        {"name": ring + "/cryptoKeys/k/cryptoKeyVersions/1", "state": "ENABLED",
         "algorithm": "EC_SIGN_P256_SHA256", "protectionLevel": "HSM"}]}).encode())
    write("gcp_parse", "version", b"\x02" + json.dumps({"name": ring + "/cryptoKeys/k/cryptoKeyVersions/1",
                                                        "state": "PENDING_GENERATION",
                                                        "algorithm": "RSA_SIGN_PSS_2048_SHA256"}).encode())
    write("gcp_parse", "error", b"\x03" + json.dumps({"error": {
        "code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "r-1"}]}}).encode())
    write("gcp_parse", "token", b"\x04" + b'{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}')
    key = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    pem = openssl("pkey", "-pubout", stdin=key).decode()
    write("gcp_parse", "pubkey", b"\x05" + json.dumps({"pem": pem, "algorithm": "EC_SIGN_P256_SHA256",
                                                       "pemCrc32c": str(crc32c(pem.encode())),
                                                       "protectionLevel": "HSM"}).encode())
    sig = bytes(range(72))
    write("gcp_parse", "signature", b"\x06" + json.dumps({"signature": base64.b64encode(sig).decode(),
                                                          "signatureCrc32c": str(crc32c(sig)),
                                                          "verifiedDigestCrc32c": True}).encode())
    write("gcp_parse", "plaintext", b"\x07" + json.dumps({"plaintext": base64.b64encode(b"secret").decode(),
                                                          "plaintextCrc32c": str(crc32c(b"secret")),
                                                          "verifiedCiphertextCrc32c": True}).encode())
    rsa = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024").decode()
    write("gcp_parse", "sa", b"\x08" + json.dumps({"type": "service_account", "private_key_id": "k1",
                                                   "private_key": rsa, "client_email": "a@p.iam.gserviceaccount.com",
                                                   "token_uri": "https://oauth2.googleapis.com/token"}).encode())


def main():
    m = material()
    extsig_seeds()
    aws_parse_seeds()
    gcp_parse_seeds()
    gcp_identity_seeds()
    conf_seeds()
    encode_seeds(m)
    attrs_seeds(m)
    store_seeds(m)
    template_seeds(m)
    audit_seeds()


if __name__ == "__main__":
    main()
