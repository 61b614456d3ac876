#!/usr/bin/python3
"""A loopback fake of GCP Cloud KMS (REST v1) for hwagg's tests.

Speaks the real wire protocol, as the captured requests of Google's Node
client in REST mode show it (tests/data/gcp/): JSON over HTTPS under /v1/,
"Authorization: Bearer", proto3 JSON (enum names, or numbers with
$alt=json;enum-encoding=int; int64 as strings; bytes as base64), errors as
google.rpc.Status with a RequestInfo detail. Real crypto: keys are made with
the cryptography package, digests are signed, OAEP ciphertexts decrypted.
Integrity: every digestCrc32c/ciphertextCrc32c sent is checked (a mismatch
is INVALID_ARGUMENT, as the service answers) and every answer carries its
CRC32C fields. Labels are held to GCP's rules (lowercase keys starting with
a letter, values of lowercase letters, digits, _ and -, at most 63
characters). New HSM versions start PENDING_GENERATION for their first read.

Identity: access tokens from the metadata server (plain HTTP, only with
"Metadata-Flavor: Google") and from an OAuth token endpoint (/token on the
HTTPS port) that verifies the JWT bearer assertion: RS256 with the service
account's public key (--sa-pubkey), iss, aud (the endpoint's URL), scope,
iat/exp; the same endpoint's refresh_token grant (authorized_user files).
Workload identity federation: Google's STS token exchange (POST /v1/token,
RFC 8693: every form field checked, the subject token compared with the one
the test set) and IAM Credentials generateAccessToken
(/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken, bearer a live STS
token, body {"scope": [cloud-platform], "lifetime": "3600s"}). Every KMS
request's token must be one it issued and not expired; tokens name their
source ("ya29.fake-sts-...") and /_stats "used_by" counts the KMS requests
made with each source's tokens.

Faults, through the control endpoint on the HTTP port:
  POST /_fault {"mode": "http429", "count": 2, "ops": ["AsymmetricSign"]}
       modes: http429 (429 RESOURCE_EXHAUSTED), http503 (503 UNAVAILABLE),
       badcrc (the answer's CRC32C field is wrong), noverify
       (verifiedDigestCrc32c false), expired (401 UNAUTHENTICATED and the
       token is expired from then on), malformed (200, not JSON), reset
       (connection closed without an answer), lost (done, then closed),
       none; "count": -1 until cleared
  POST /_fault {"latency_ms": 20}
  POST /_token {"expire_in": 5}    tokens issued from now on live so long
  POST /_pending {"polls": 2}      new HSM versions stay pending for 2 reads
  POST /_wif {"audience", "subject_token", "subject_token_type", "service_account"}
                                   what the STS and IAM endpoints accept
  POST /_user {"client_id", "client_secret", "refresh_token"}
                                   what the refresh_token grant accepts
  GET  /_subject                   {"access_token": the subject token}, only
                                   with "Metadata: true" (a url credential_source)
  GET  /_stats
  POST /_mac {"name": version, "data"}  the HMAC of an HMAC version, from the key
                                   bytes the fake holds (tests/gcp/fake_gcp_sym.py)
Only 127.0.0.1.
"""
import base64
import http.server
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

# the loopback server plumbing (options, HTTPS and HTTP listeners) is the aws fake's
sys.dont_write_bytecode = True        # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kms"))
from fake_kms import arg_parser, serve  # noqa: E402

SCOPE = "https://www.googleapis.com/auth/cloudkms"

# proto enum numbers (resources.proto) for requests with enum-encoding=int
PURPOSES = {5: "ASYMMETRIC_SIGN", 6: "ASYMMETRIC_DECRYPT"}
LEVELS = {1: "SOFTWARE", 2: "HSM"}
ALG_NUMBERS = {12: "EC_SIGN_P256_SHA256", 13: "EC_SIGN_P384_SHA384", 5: "RSA_SIGN_PKCS1_2048_SHA256",
               6: "RSA_SIGN_PKCS1_3072_SHA256", 7: "RSA_SIGN_PKCS1_4096_SHA256", 2: "RSA_SIGN_PSS_2048_SHA256",
               3: "RSA_SIGN_PSS_3072_SHA256", 4: "RSA_SIGN_PSS_4096_SHA256", 8: "RSA_DECRYPT_OAEP_2048_SHA256",
               9: "RSA_DECRYPT_OAEP_3072_SHA256", 10: "RSA_DECRYPT_OAEP_4096_SHA256"}
HASHES = {"SHA256": (hashes.SHA256, "sha256"), "SHA384": (hashes.SHA384, "sha384"),
          "SHA512": (hashes.SHA512, "sha512"), "SHA1": (hashes.SHA1, None)}


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def alg_info(alg):
    """(purpose, kind, size or curve, hash name, pss)"""
    m = re.fullmatch(r"EC_SIGN_P(256|384)_SHA(256|384)", alg)
    if m:
        return "ASYMMETRIC_SIGN", "ec", int(m.group(1)), "SHA" + m.group(2), False
    m = re.fullmatch(r"RSA_SIGN_(PKCS1|PSS)_(2048|3072|4096)_SHA(256|512)", alg)
    if m:
        return "ASYMMETRIC_SIGN", "rsa", int(m.group(2)), "SHA" + m.group(3), m.group(1) == "PSS"
    m = re.fullmatch(r"RSA_DECRYPT_OAEP_(2048|3072|4096)_SHA(256|512|1)", alg)
    if m:
        return "ASYMMETRIC_DECRYPT", "rsa", int(m.group(1)), "SHA" + m.group(2), False
    return None


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class State:
    def __init__(self, key_ring, sa_email, sa_pub):
        self.lock = threading.Lock()
        self.key_ring = key_ring
        self.keys = {}           # key name -> {"labels", "purpose", "created", "versions": {n: version}}
        self.tokens = {}         # token -> expiry
        self.token_source = {}   # token -> "metadata", "oauth", "sts", "iam", "refresh"
        self.wif = None          # what the STS accepts (POST /_wif)
        self.user = None         # the authorized_user refresh grant's client (POST /_user)
        self.expire_in = 3600
        self.pending_polls = 1
        self.latency = 0.0
        self.fault = None
        self.sa_email, self.sa_pub = sa_email, sa_pub
        self.stats = {"connections": 0, "tls_connections": 0, "requests": 0, "by_op": {}, "faults": 0,
                      "tokens_issued": {}, "jwt_verified": 0, "jwt_rejected": 0, "crc_checked": 0,
                      "unauthenticated": 0, "last": {},
                      "used_by": {}, "sts": {"ok": 0, "rejected": 0}, "iam": {"ok": 0, "rejected": 0},
                      "refresh": {"ok": 0, "rejected": 0}, "subject_url": 0}

    def issue(self, source):
        tok = "ya29.fake-%s-" % source + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[tok] = time.time() + self.expire_in
            self.token_source[tok] = source
            self.stats["tokens_issued"][source] = self.stats["tokens_issued"].get(source, 0) + 1
        return {"access_token": tok, "expires_in": self.expire_in, "token_type": "Bearer"}

    def take_fault(self, op):
        with self.lock:
            f = self.fault
            if not f or f["mode"] == "none" or f["count"] == 0 or (f.get("ops") and op not in f["ops"]):
                return None
            if f["count"] > 0:
                f["count"] -= 1
            self.stats["faults"] += 1
            return f["mode"]


def version_json(name, v):
    return {"name": name, "state": v["state"], "algorithm": v["alg"], "protectionLevel": v["level"],
            "createTime": v["created"], "generateTime": v["created"]}


def new_private(alg):
    _, kind, size, _, _ = alg_info(alg)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1() if size == 256 else ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")


def check_labels(labels):
    if not isinstance(labels, dict) or len(labels) > 64:
        raise ApiError(400, "INVALID_ARGUMENT", "labels: at most 64")
    for k, v in labels.items():
        if not LABEL_KEY.fullmatch(k) or not isinstance(v, str) or not LABEL_VALUE.fullmatch(v):
            raise ApiError(400, "INVALID_ARGUMENT", "label %r=%r breaks the label rules" % (k, v))


def b64(data):
    return base64.b64encode(data).decode()


class Kms:
    """The Cloud KMS methods; each takes (state, path parts, query, body)."""

    def __init__(self, st):
        self.st = st

    def version(self, name):
        key, _, n = name.rpartition("/cryptoKeyVersions/")
        k = self.st.keys.get(key)
        if k is None or not n.isdigit() or int(n) not in k["versions"]:
            raise ApiError(404, "NOT_FOUND", "%s not found." % name)
        return k["versions"][int(n)]

    def enabled(self, name):
        v = self.version(name)
        if v["state"] == "PENDING_GENERATION":
            v["polls"] -= 1
            if v["polls"] < 0:
                v["state"] = "ENABLED"
        if v["state"] != "ENABLED":
            raise ApiError(400, "FAILED_PRECONDITION", "%s is not enabled, current state is: %s." % (name, v["state"]))
        return v

    def create_key(self, parent, q, body):
        if parent != self.st.key_ring:
            raise ApiError(404, "NOT_FOUND", "KeyRing %s not found." % parent)
        kid = q.get("cryptoKeyId", "")
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,63}", kid):
            raise ApiError(400, "INVALID_ARGUMENT", "bad cryptoKeyId")
        name = "%s/cryptoKeys/%s" % (parent, kid)
        if name in self.st.keys:
            raise ApiError(409, "ALREADY_EXISTS", "CryptoKey %s already exists." % name)
        purpose = body.get("purpose")
        purpose = PURPOSES.get(purpose, purpose)
        tmpl = body.get("versionTemplate") or {}
        alg = ALG_NUMBERS.get(tmpl.get("algorithm"), tmpl.get("algorithm"))
        level = LEVELS.get(tmpl.get("protectionLevel"), tmpl.get("protectionLevel") or "SOFTWARE")
        info = alg_info(alg or "")
        if info is None or info[0] != purpose or level not in ("SOFTWARE", "HSM"):
            raise ApiError(400, "INVALID_ARGUMENT", "The specified algorithm %s is not valid for purpose %s." % (alg, purpose))
        labels = body.get("labels") or {}
        check_labels(labels)
        k = {"labels": labels, "purpose": purpose, "created": now_iso(), "versions": {}, "template": (alg, level)}
        self.st.keys[name] = k
        if q.get("skipInitialVersionCreation") != "true":
            self.add_version(k)
        return self.key_json(name, k)

    def add_version(self, k):
        alg, level = k["template"]
        n = len(k["versions"]) + 1
        k["versions"][n] = {"alg": alg, "level": level, "created": now_iso(), "priv": new_private(alg),
                            "state": "PENDING_GENERATION" if level == "HSM" else "ENABLED",
                            "polls": self.st.pending_polls}
        return n

    def key_json(self, name, k):
        alg, level = k["template"]
        return {"name": name, "purpose": k["purpose"], "createTime": k["created"], "labels": k["labels"],
                "versionTemplate": {"algorithm": alg, "protectionLevel": level},
                "destroyScheduledDuration": "2592000s"}

    def paged(self, items, q, field):
        size = min(int(q.get("pageSize") or 1000), 2)   # small pages: clients must follow tokens
        start = int(q.get("pageToken") or 0)
        out = {field: items[start:start + size]} if items[start:start + size] else {}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        out["totalSize"] = len(items)
        return out

    def list_keys(self, parent, q):
        if parent != self.st.key_ring:
            raise ApiError(404, "NOT_FOUND", "KeyRing %s not found." % parent)
        f = q.get("filter", "")
        m = re.fullmatch(r"labels\.([a-z0-9_-]+)\s*=\s*\"?([a-z0-9_-]*)\"?", f) if f else None
        if f and not m:
            raise ApiError(400, "INVALID_ARGUMENT", "Invalid filter")
        keys = [self.key_json(n, k) for n, k in sorted(self.st.keys.items()) if n.startswith(parent + "/")
                and (m is None or k["labels"].get(m.group(1)) == m.group(2))]
        return self.paged(keys, q, "cryptoKeys")

    def list_versions(self, key, q):
        k = self.st.keys.get(key)
        if k is None:
            raise ApiError(404, "NOT_FOUND", "CryptoKey %s not found." % key)
        f = q.get("filter", "")
        m = re.fullmatch(r"state\s*=\s*([A-Z_]+)", f) if f else None
        if f and not m:
            raise ApiError(400, "INVALID_ARGUMENT", "Invalid filter")
        vs = []
        for n, v in sorted(k["versions"].items()):
            if v["state"] == "PENDING_GENERATION":
                continue   # becomes visible as ENABLED through a direct read
            if m is None or v["state"] == m.group(1):
                vs.append(version_json("%s/cryptoKeyVersions/%d" % (key, n), v))
        return self.paged(vs, q, "cryptoKeyVersions")

    def get_version(self, name):
        v = self.version(name)
        if v["state"] == "PENDING_GENERATION":
            v["polls"] -= 1
            if v["polls"] < 0:
                v["state"] = "ENABLED"
        return version_json(name, v)

    def public_key(self, name, fault):
        v = self.enabled(name)
        pem = v["priv"].public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        crc = crc32c(pem.encode())
        if fault == "badcrc":
            crc ^= 1
        return {"pem": pem, "algorithm": v["alg"], "pemCrc32c": str(crc), "name": name, "protectionLevel": v["level"]}

    def checked(self, body, field, crc_field):
        try:
            data = base64.b64decode(body.get(field, ""), validate=True)
        except ValueError:
            raise ApiError(400, "INVALID_ARGUMENT", "%s is not base64" % field)
        if crc_field in body:
            self.st.stats["crc_checked"] += 1
            if str(crc32c(data)) != str(body[crc_field]):
                raise ApiError(400, "INVALID_ARGUMENT", "The checksum in field %s did not match the data." % crc_field)
        return data

    def sign(self, name, body, fault):
        v = self.enabled(name)
        purpose, kind, _, hname, pss = alg_info(v["alg"])
        if purpose != "ASYMMETRIC_SIGN":
            raise ApiError(400, "FAILED_PRECONDITION", "not a signing key")
        h, field = HASHES[hname]
        d = body.get("digest") or {}
        if list(d) != [field]:
            raise ApiError(400, "INVALID_ARGUMENT", "The digest type does not match the algorithm %s." % v["alg"])
        digest = self.checked(d | {"c": body.get("digestCrc32c")} if "digestCrc32c" in body else d, field, "c")
        if len(digest) != h.digest_size:
            raise ApiError(400, "INVALID_ARGUMENT", "The digest is not %d bytes." % h.digest_size)
        if kind == "ec":
            sig = v["priv"].sign(digest, ec.ECDSA(utils.Prehashed(h())))
        elif pss:
            sig = v["priv"].sign(digest, padding.PSS(padding.MGF1(h()), h.digest_size), utils.Prehashed(h()))
        else:
            sig = v["priv"].sign(digest, padding.PKCS1v15(), utils.Prehashed(h()))
        crc = crc32c(sig) ^ (1 if fault == "badcrc" else 0)
        return {"signature": b64(sig), "signatureCrc32c": str(crc),
                "verifiedDigestCrc32c": "digestCrc32c" in body and fault != "noverify", "name": name,
                "protectionLevel": v["level"]}

    def decrypt(self, name, body, fault):
        v = self.enabled(name)
        purpose, _, _, hname, _ = alg_info(v["alg"])
        if purpose != "ASYMMETRIC_DECRYPT":
            raise ApiError(400, "FAILED_PRECONDITION", "not a decryption key")
        ct = self.checked(body, "ciphertext", "ciphertextCrc32c")
        h = HASHES[hname][0]
        try:
            pt = v["priv"].decrypt(ct, padding.OAEP(padding.MGF1(h()), h(), None))
        except ValueError:
            raise ApiError(400, "INVALID_ARGUMENT", "Decryption failed: verify that 'name' refers to the correct "
                                                    "CryptoKey.")
        crc = crc32c(pt) ^ (1 if fault == "badcrc" else 0)
        return {"plaintext": b64(pt), "plaintextCrc32c": str(crc),
                "verifiedCiphertextCrc32c": "ciphertextCrc32c" in body and fault != "noverify",
                "protectionLevel": v["level"]}

    def destroy(self, name):
        v = self.version(name)
        if v["state"] in ("DESTROY_SCHEDULED", "DESTROYED"):
            raise ApiError(400, "FAILED_PRECONDITION", "%s is already %s." % (name, v["state"]))
        v["state"] = "DESTROY_SCHEDULED"
        out = version_json(name, v)
        out["destroyTime"] = now_iso()
        return out


def route(method, path):
    """(op, resource name, verb) of a /v1/ path."""
    name, _, verb = path.partition(":")
    if method == "POST" and verb:
        return {"asymmetricSign": "AsymmetricSign", "asymmetricDecrypt": "AsymmetricDecrypt",
                "destroy": "DestroyCryptoKeyVersion"}.get(verb, "Unknown"), name
    if method == "POST" and name.endswith("/cryptoKeys"):
        return "CreateCryptoKey", name[:-len("/cryptoKeys")]
    if method == "POST" and name.endswith("/cryptoKeyVersions"):
        return "CreateCryptoKeyVersion", name[:-len("/cryptoKeyVersions")]
    if method == "PATCH" and "/cryptoKeys/" in name and "/cryptoKeyVersions" not in name:
        return "UpdateCryptoKey", name
    if method == "PATCH" and "/cryptoKeyVersions/" in name:
        return "UpdateCryptoKeyVersion", name
    if method == "GET" and name.endswith("/publicKey"):
        return "GetPublicKey", name[:-len("/publicKey")]
    if method == "GET" and name.endswith("/cryptoKeys"):
        return "ListCryptoKeys", name[:-len("/cryptoKeys")]
    if method == "GET" and name.endswith("/cryptoKeyVersions"):
        return "ListCryptoKeyVersions", name[:-len("/cryptoKeyVersions")]
    if method == "GET" and "/cryptoKeyVersions/" in name:
        return "GetCryptoKeyVersion", name
    if method == "GET" and re.fullmatch(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+", name):
        return "GetKeyRing", name
    return "Unknown", name


def verify_jwt(st, assertion, audience):
    try:
        h64, c64, s64 = assertion.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)
        hdr = json.loads(base64.urlsafe_b64decode(pad(h64)))
        claims = json.loads(base64.urlsafe_b64decode(pad(c64)))
        sig = base64.urlsafe_b64decode(pad(s64))
    except (ValueError, TypeError):
        return "malformed assertion"
    if hdr.get("alg") != "RS256":
        return "alg must be RS256"
    try:
        st.sa_pub.verify(sig, (h64 + "." + c64).encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return "Invalid JWT Signature."
    now = time.time()
    if claims.get("iss") != st.sa_email or claims.get("aud") != audience:
        return "bad iss or aud"
    if SCOPE not in str(claims.get("scope", "")).split():
        return "bad scope"
    if not (claims.get("iat", 0) - 60 <= now < claims.get("exp", 0)) or claims["exp"] - claims["iat"] > 3600:
        return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hwagg-fake-gcp"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_GCP_VERBOSE"):
            sys.stderr.write("fake-gcp: " + fmt % args + "\n")

    def setup(self):
        super().setup()
        with self.server.state.lock:
            self.server.state.stats["connections"] += 1
            if self.server.tls:
                self.server.state.stats["tls_connections"] += 1

    def body(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, payload, ctype="application/json; charset=UTF-8", extra=None):
        data = payload if isinstance(payload, bytes) else payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def api_error(self, e):
        rid = str(uuid.uuid4())
        self.answer(e.status, json.dumps({"error": {"code": e.status, "message": e.message, "status": e.code,
                                                    "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo",
                                                                 "requestId": rid}]}}),
                    extra={"WWW-Authenticate": "Bearer realm=\"https://accounts.google.com/\""}
                    if e.status == 401 else None)

    def do_GET(self):
        self.dispatch("GET", b"")

    def do_POST(self):
        self.dispatch("POST", self.body())

    def do_PATCH(self):
        self.dispatch("PATCH", self.body())

    def dispatch(self, method, body):
        st = self.server.state
        path, _, query = self.path.partition("?")
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if not self.server.tls:
            return self.plain(method, path, body)
        if path == "/token" and method == "POST":
            return self.oauth(body)
        if path == "/v1/token" and method == "POST":
            return self.sts(body)
        m = re.fullmatch(r"/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken", path)
        if m and method == "POST":
            return self.iam(urllib.parse.unquote(m.group(1)), body)
        if not path.startswith("/v1/"):
            return self.answer(404, "{}")
        op, name = route(method, path[4:])
        with st.lock:
            st.stats["requests"] += 1
            st.stats["by_op"][op] = st.stats["by_op"].get(op, 0) + 1
            st.stats["last"][op] = {"path": self.path, "body": body.decode(errors="replace"),
                                    "content_type": self.headers.get("Content-Type")}
        if st.latency:
            time.sleep(st.latency)
        try:
            auth = self.headers.get("Authorization", "")
            tok = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            with st.lock:
                exp = st.tokens.get(tok)
                if exp is not None:
                    src = st.token_source.get(tok, "?")
                    st.stats["used_by"][src] = st.stats["used_by"].get(src, 0) + 1
            if exp is None or time.time() >= exp:
                with st.lock:
                    st.stats["unauthenticated"] += 1
                raise ApiError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected "
                                                       "OAuth 2 access token.")
            fault = st.take_fault(op)
            if fault in ("reset",):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault == "http429":
                raise ApiError(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Cryptographic requests'.")
            if fault == "http503":
                raise ApiError(503, "UNAVAILABLE", "The service is currently unavailable.")
            if fault == "expired":
                with st.lock:
                    st.tokens[tok] = 0
                raise ApiError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            if fault == "malformed":
                return self.answer(200, b'{"signature": "trunc')
            try:
                req = json.loads(body) if body else {}
            except ValueError:
                raise ApiError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            if method != "GET" and self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                raise ApiError(400, "INVALID_ARGUMENT", "bad Content-Type")
            kms = Kms(st)
            with st.lock:
                out = self.call(kms, op, name, q, req, fault)
            if fault == "lost":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.answer(200, json.dumps(out))
        except ApiError as e:
            self.api_error(e)

    def call(self, kms, op, name, q, req, fault):
        if op == "CreateCryptoKey":
            return kms.create_key(name, q, req)
        if op == "ListCryptoKeys":
            return kms.list_keys(name, q)
        if op == "ListCryptoKeyVersions":
            return kms.list_versions(name, q)
        if op == "GetCryptoKeyVersion":
            return kms.get_version(name)
        if op == "GetPublicKey":
            return kms.public_key(name, fault)
        if op == "AsymmetricSign":
            return kms.sign(name, req, fault)
        if op == "AsymmetricDecrypt":
            return kms.decrypt(name, req, fault)
        if op == "DestroyCryptoKeyVersion":
            return kms.destroy(name)
        if op == "CreateCryptoKeyVersion":
            k = self.server.state.keys.get(name)
            if k is None:
                raise ApiError(404, "NOT_FOUND", "CryptoKey %s not found." % name)
            n = kms.add_version(k)
            return version_json("%s/cryptoKeyVersions/%d" % (name, n), k["versions"][n])
        if op == "UpdateCryptoKeyVersion":
            # only the state changes, between ENABLED and DISABLED
            v = kms.version(name)
            if q.get("updateMask") != "state" or req.get("state") not in ("ENABLED", "DISABLED"):
                raise ApiError(400, "INVALID_ARGUMENT", "only state can be updated, to ENABLED or DISABLED")
            if v["state"] not in ("ENABLED", "DISABLED"):
                raise ApiError(400, "FAILED_PRECONDITION", "%s is %s." % (name, v["state"]))
            v["state"] = req["state"]
            return version_json(name, v)
        if op == "UpdateCryptoKey":
            k = self.server.state.keys.get(name)
            if k is None:
                raise ApiError(404, "NOT_FOUND", "CryptoKey %s not found." % name)
            if q.get("updateMask") != "labels":
                raise ApiError(400, "INVALID_ARGUMENT", "only labels can be updated here")
            check_labels(req.get("labels") or {})
            k["labels"] = req.get("labels") or {}
            return kms.key_json(name, k)
        if op == "GetKeyRing":
            if name != self.server.state.key_ring:
                raise ApiError(404, "NOT_FOUND", "KeyRing %s not found." % name)
            return {"name": name, "createTime": "2026-01-01T00:00:00Z"}
        raise ApiError(404, "NOT_FOUND", "Unknown method")

    def form(self, body):
        """The request's form, each field once; None when it is not one."""
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return None
        pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
        form = dict(pairs)
        return form if len(form) == len(pairs) else None

    def counted(self, what, why, status=400, payload=None):
        """Count an identity request as accepted (why None) or rejected, and answer a refusal."""
        st = self.server.state
        with st.lock:
            st.stats[what]["rejected" if why else "ok"] += 1
            if why:
                st.stats[what]["last_error"] = why
        if why:
            self.answer(status, json.dumps(payload or {"error": "invalid_request", "error_description": why}))
        return why is None

    def sts(self, body):
        """Google STS token exchange (RFC 8693), the fields as google-auth sends them."""
        st = self.server.state
        form = self.form(body)
        w = st.wif or {}
        want = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "audience": w.get("audience"), "scope": "https://www.googleapis.com/auth/cloud-platform",
                "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "subject_token_type": w.get("subject_token_type")}
        why = None
        if form is None:
            why = "not a form"
        elif set(form) != set(want) | {"subject_token"}:
            why = "fields: " + ",".join(sorted(form))
        else:
            why = next(("bad %s" % k for k, v in want.items() if form[k] != v), None)
        if why is None and form["subject_token"] != w.get("subject_token"):
            return self.counted("sts", "subject token", 400, {"error": "invalid_grant", "error_description":
                                                              "The subject token is invalid."})
        if not self.counted("sts", why):
            return
        out = st.issue("sts")
        out["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
        self.answer(200, json.dumps(out))

    def iam(self, email, body):
        """IAM Credentials generateAccessToken, bearer = a federated (STS) token."""
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        tok = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        with st.lock:
            src, exp = st.token_source.get(tok), st.tokens.get(tok, 0)
        try:
            req = json.loads(body)
        except ValueError:
            req = None
        why = None
        if src != "sts" or time.time() >= exp:
            why = "the bearer is not a live STS token"
        elif self.headers.get("Content-Type", "").split(";")[0] != "application/json" or not isinstance(req, dict):
            why = "not JSON"
        elif email != (st.wif or {}).get("service_account"):
            why = "unknown service account " + email
        elif req.get("scope") != ["https://www.googleapis.com/auth/cloud-platform"] or req.get("lifetime") != "3600s":
            why = "bad scope or lifetime"
        if why:
            return self.counted("iam", why, 401 if why.startswith("the bearer") else 400,
                                {"error": {"code": 400, "message": why, "status": "INVALID_ARGUMENT"}})
        self.counted("iam", None)
        out = st.issue("iam")
        expire = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + out["expires_in"]))
        self.answer(200, json.dumps({"accessToken": out["access_token"], "expireTime": expire}))

    def refresh(self, form):
        """The refresh_token grant of an authorized_user file (RFC 6749, 6)."""
        st = self.server.state
        u = st.user or {}
        want = {"grant_type": "refresh_token", "client_id": u.get("client_id"),
                "client_secret": u.get("client_secret"), "refresh_token": u.get("refresh_token")}
        why = None if form == want else "fields: " + ",".join(sorted(k for k in form if form[k] != want.get(k)))
        if not self.counted("refresh", why, 400, {"error": "invalid_grant", "error_description": "Bad Request"}):
            return
        self.answer(200, json.dumps(st.issue("refresh")))

    def oauth(self, body):
        st = self.server.state
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if form.get("grant_type") == "refresh_token":
            return self.refresh(self.form(body) or {})
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.answer(400, json.dumps({"error": "unsupported_grant_type"}))
        why = verify_jwt(st, form.get("assertion", ""), "https://127.0.0.1:%d/token" % self.server.server_address[1])
        with st.lock:
            st.stats["jwt_rejected" if why else "jwt_verified"] += 1
        if why:
            return self.answer(400, json.dumps({"error": "invalid_grant", "error_description": why}))
        self.answer(200, json.dumps(st.issue("oauth")))

    def plain(self, method, path, body):
        st = self.server.state
        if method == "GET" and path == "/_stats":
            with st.lock:
                return self.answer(200, json.dumps(st.stats))
        if method == "GET" and path.startswith("/computeMetadata/v1/"):
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.answer(403, "Missing required header: Metadata-Flavor", "text/html")
            hdr = {"Metadata-Flavor": "Google"}
            if path == "/computeMetadata/v1/instance/service-accounts/default/token":
                return self.answer(200, json.dumps(st.issue("metadata")), extra=hdr)
            if path in ("/computeMetadata/v1/instance", "/computeMetadata/v1/instance/"):
                return self.answer(200, "attributes/\nhostname\nid\nservice-accounts/\nzone\n", "application/text",
                                   extra=hdr)
            if path == "/computeMetadata/v1/project/project-id":
                return self.answer(200, "hwagg-test", "application/text", extra=hdr)
            return self.answer(404, "Not Found", "text/html", extra=hdr)
        if method == "GET" and path == "/_subject":
            # a url credential_source: a JSON answer behind a header, as Azure IMDS gives an OIDC token
            with st.lock:
                st.stats["subject_url"] += 1
                w = st.wif or {}
            if self.headers.get("Metadata") != "true":
                return self.answer(400, json.dumps({"error": "invalid_request"}))
            return self.answer(200, json.dumps({"access_token": w.get("subject_token"), "token_type": "Bearer"}))
        if method == "POST":
            req = json.loads(body or b"{}")
            with st.lock:
                if path == "/_fault":
                    if "latency_ms" in req:
                        st.latency = req["latency_ms"] / 1000.0
                    if "mode" in req:
                        st.fault = {"mode": req["mode"], "count": int(req.get("count", 1)), "ops": req.get("ops")}
                elif path == "/_token":
                    st.expire_in = int(req.get("expire_in", 3600))
                elif path == "/_wif":
                    st.wif = req
                elif path == "/_user":
                    st.user = req
                elif path == "/_pending":
                    st.pending_polls = int(req.get("polls", 1))
            return self.answer(200, "{}")
        self.answer(404, "{}")


# HMAC keys (purpose MAC): tests/gcp/fake_gcp_sym.py
import fake_gcp_sym  # noqa: E402
fake_gcp_sym.install(sys.modules[__name__])


def main():
    ap = arg_parser()
    ap.add_argument("--key-ring", required=True)
    ap.add_argument("--sa-email", required=True)
    ap.add_argument("--sa-pubkey", required=True, help="PEM public key of the service account")
    a = ap.parse_args()
    with open(a.sa_pubkey, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())
    serve(Handler, State(a.key_ring, a.sa_email, pub), a)

if __name__ == "__main__":
    main()
