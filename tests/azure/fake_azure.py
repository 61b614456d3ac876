#!/usr/bin/python3
"""A loopback fake of Azure Key Vault and its identity endpoints for hwagg's tests.

Speaks the real wire protocol (compared with the requests the Azure SDK for
Python sends, tests/data/azure/README.md): Key Vault REST (api-version query,
JSON, base64url without padding) over HTTPS, with the challenge-based
authentication the service does (a request without a token gets 401 and
WWW-Authenticate: Bearer authorization="<authority>/<tenant>",
resource="https://vault.azure.net") and bearer tokens it issued itself
checked on every request; real keys (python3-cryptography) that sign
digests (ES*, r||s; RS*; PS* with salt = hash length) and decrypt OAEP.

Identity endpoints: the Entra ID v2.0 token endpoint POST /<tenant>/oauth2/v2.0/token
(client secret, workload identity client assertion, or a client certificate's
assertion: RS256 verified with the certificate POST /_cert {"pem"} registered,
x5t thumbprint, aud, iss = sub, jti never replayed, nbf/exp) and its OpenID
configuration (which MSAL reads first) on the HTTPS port;
on the plain HTTP port the VM's IMDS (GET /metadata/identity/oauth2/token,
header Metadata: true, numbers as strings) and an App Service identity
endpoint (GET /msi/token, header X-IDENTITY-HEADER). Faults through the
control endpoint on the HTTP port:

  POST /_fault {"latency_ms": 20}                every vault request waits
  POST /_fault {"mode": "http429", "count": 2}   next 2 vault requests fail
       modes: http429 (429 + Retry-After: 1), http500, http503, malformed
       (200, not JSON), expired (401 + a challenge, as for an expired
       token: the token is revoked), badaudience (401 + a challenge for
       another service's audience), forbidden (403), badjwk (a key bundle
       whose JWK is garbage), "none" clears; "ops": ["sign"] limits a fault
       to those operations; "count": -1 means until cleared
  POST /_tokens {"expire_in": 5}   tokens issued from now on expire so soon
  POST /_cert {"pem": "..."}       the app's registered certificate
  GET  /_stats

Only 127.0.0.1. Started by tests/azure/lib.sh, which makes the CA and the
server certificate with openssl in the test's temp dir.
"""
import base64
import hashlib
import http.server
import json
import os
import secrets
import socket
import ssl
import threading
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "hwagg~fake.secret_0123456789"
IDENTITY_HEADER = "hwagg-identity-header-value"
AUDIENCE = "https://vault.azure.net"
API_VERSIONS = ("7.4", "7.4-preview.1", "7.5", "7.6")

CURVES = {"P-256": (ec.SECP256R1(), 32), "P-384": (ec.SECP384R1(), 48), "P-521": (ec.SECP521R1(), 66)}
HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    if not isinstance(s, str) or "+" in s or "/" in s or "=" in s:
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def int_bytes(n, width=None):
    width = width or (n.bit_length() + 7) // 8
    return n.to_bytes(width, "big")


class VaultError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class State:
    def __init__(self, assertion):
        self.lock = threading.Lock()
        self.keys = {}       # name -> list of versions (dicts), newest last
        self.deleted = {}    # name -> versions
        self.tokens = {}     # token -> (expires, source)
        self.expire_in = 3600
        self.assertion = assertion
        self.cert = None     # the app's registered certificate (POST /_cert)
        self.jtis = set()    # client assertion ids seen: a replay is refused
        self.fault = None
        self.latency = 0.0
        self.vault_base = ""
        self.stats = {"requests": 0, "by_op": {}, "challenges": 0, "rejected_tokens": 0, "tokens_by": {},
                      "faults": 0, "connections": 0, "tls_connections": 0, "created_kty": {},
                      "new_keys": 0, "new_versions": 0,
                      "cert_assertions": {"ok": 0, "rejected": 0}}

    def issue(self, source):
        tok = "eyJ0eXAiOiJKV1QifQ." + b64u(os.urandom(24)) + "." + b64u(os.urandom(16))
        with self.lock:
            self.tokens[tok] = (time.time() + self.expire_in, source)
            self.stats["tokens_by"][source] = self.stats["tokens_by"].get(source, 0) + 1
        return tok, self.expire_in

    def take_fault(self, op):
        with self.lock:
            f = self.fault
            if not f or f["mode"] == "none" or f["count"] == 0:
                return None
            if f.get("ops") and op not in f["ops"]:
                return None
            if f["count"] > 0:
                f["count"] -= 1
            self.stats["faults"] += 1
            return f["mode"]


def jwk(st, name, v):
    k = {"kid": "%s/keys/%s/%s" % (st.vault_base, name, v["version"]), "kty": v["kty"], "key_ops": v["key_ops"]}
    pub = v["priv"].public_key()
    if v["kty"].startswith("EC"):
        nums, width = pub.public_numbers(), CURVES[v["crv"]][1]
        k.update(crv=v["crv"], x=b64u(int_bytes(nums.x, width)), y=b64u(int_bytes(nums.y, width)))
    else:
        nums = pub.public_numbers()
        k.update(n=b64u(int_bytes(nums.n)), e=b64u(int_bytes(nums.e)))
    return k


def bundle(st, name, v):
    return {"key": jwk(st, name, v), "attributes": {"enabled": v["enabled"], "created": v["created"],
                                                    "updated": v["created"], "recoveryLevel": "Recoverable+Purgeable",
                                                    "exportable": False},
            "tags": v["tags"]}


def op_create(st, name, req):
    kty = req.get("kty")
    if kty not in ("EC", "EC-HSM", "RSA", "RSA-HSM"):
        raise VaultError(400, "BadParameter", "kty %r is not supported here" % kty)
    v = {"version": uuid.uuid4().hex, "kty": kty, "tags": req.get("tags") or {}, "enabled": True,
         "created": int(time.time())}
    if kty.startswith("EC"):
        crv = req.get("crv", "P-256")
        if crv not in CURVES:
            raise VaultError(400, "BadParameter", "crv %r" % crv)
        v["crv"], v["priv"] = crv, ec.generate_private_key(CURVES[crv][0])
        v["key_ops"] = req.get("key_ops") or ["sign", "verify"]
    else:
        size = req.get("key_size", 2048)
        if size not in (2048, 3072, 4096):
            raise VaultError(400, "BadParameter", "key_size %r" % size)
        v["priv"] = rsa.generate_private_key(65537, size)
        v["key_ops"] = req.get("key_ops") or ["sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey"]
    if not isinstance(v["tags"], dict) or any(not isinstance(x, str) for x in v["tags"].values()):
        raise VaultError(400, "BadParameter", "tags must be a map of strings")
    with st.lock:
        if name in st.deleted:
            raise VaultError(409, "Conflict", "Key %s is currently in a deleted but recoverable state" % name)
        # creating an existing name adds a version to it
        st.stats["new_versions" if st.keys.get(name) else "new_keys"] += 1
        st.keys.setdefault(name, []).append(v)
        st.stats["created_kty"][kty] = st.stats["created_kty"].get(kty, 0) + 1
    return bundle(st, name, v)


def find(st, name, version):
    with st.lock:
        vs = st.keys.get(name)
        if not vs:
            raise VaultError(404, "KeyNotFound", "A key with (name/id) %s was not found in this key vault" % name)
        if not version:
            return vs[-1]
        for v in vs:
            if v["version"] == version:
                return v
    raise VaultError(404, "KeyNotFound", "A key with (name/id) %s/%s was not found in this key vault" % (name, version))


def op_sign(v, req):
    alg, digest = req.get("alg", ""), unb64u(req.get("value", ""))
    if not v["enabled"]:
        raise VaultError(403, "Forbidden", "Operation sign is not allowed on a disabled key.")
    if "sign" not in v["key_ops"]:
        raise VaultError(403, "Forbidden", "Operation sign is not permitted on this key")
    h = HASHES.get(alg[2:])
    if h is None or len(digest) != h.digest_size:
        raise VaultError(400, "BadParameter", "Invalid length of digest for %s" % alg)
    if alg.startswith("ES"):
        if not v["kty"].startswith("EC") or CURVES[v["crv"]][1] != {"256": 32, "384": 48, "512": 66}[alg[2:]]:
            raise VaultError(400, "BadParameter", "alg %s does not match the key" % alg)
        der = v["priv"].sign(digest, ec.ECDSA(utils.Prehashed(h)))
        r, s = utils.decode_dss_signature(der)
        w = CURVES[v["crv"]][1]
        return int_bytes(r, w) + int_bytes(s, w)
    if not v["kty"].startswith("RSA"):
        raise VaultError(400, "BadParameter", "alg %s does not match the key" % alg)
    if alg.startswith("RS"):
        return v["priv"].sign(digest, padding.PKCS1v15(), utils.Prehashed(h))
    if alg.startswith("PS"):
        return v["priv"].sign(digest, padding.PSS(padding.MGF1(h), h.digest_size), utils.Prehashed(h))
    raise VaultError(400, "BadParameter", "alg %s" % alg)


def op_decrypt(v, req):
    alg, ct = req.get("alg", ""), unb64u(req.get("value", ""))
    if "decrypt" not in v["key_ops"] or not v["kty"].startswith("RSA"):
        raise VaultError(403, "Forbidden", "Operation decrypt is not permitted on this key")
    h = {"RSA-OAEP": hashes.SHA1(), "RSA-OAEP-256": hashes.SHA256()}.get(alg)
    if h is None:
        raise VaultError(400, "BadParameter", "alg %s" % alg)
    try:
        return v["priv"].decrypt(ct, padding.OAEP(padding.MGF1(h), h, None))
    except ValueError:
        raise VaultError(400, "BadParameter", "The parameter is incorrect")


def op_wrap(v, req, unwrap):
    """wrapkey (encrypt with the public key) and unwrapkey: RSA-OAEP, RSA-OAEP-256."""
    op = "unwrapKey" if unwrap else "wrapKey"
    alg, data = req.get("alg", ""), unb64u(req.get("value", ""))
    if op not in v["key_ops"] or not v["kty"].startswith("RSA"):
        raise VaultError(403, "Forbidden", "Operation %s is not permitted on this key" % op)
    h = {"RSA-OAEP": hashes.SHA1(), "RSA-OAEP-256": hashes.SHA256()}.get(alg)
    if h is None:
        raise VaultError(400, "BadParameter", "alg %s" % alg)
    pad = padding.OAEP(padding.MGF1(h), h, None)
    try:
        return v["priv"].decrypt(data, pad) if unwrap else v["priv"].public_key().encrypt(data, pad)
    except ValueError:
        raise VaultError(400, "BadParameter", "The parameter is incorrect")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # headers and body go out in two writes: without this, Nagle and the
        # client's delayed ACK hold the body back ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.state.lock:
            self.server.state.stats["connections"] += 1
            if self.server.tls:
                self.server.state.stats["tls_connections"] += 1

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, body, ctype="application/json", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for k, val in (extra or {}).items():
            self.send_header(k, val)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message, extra=None):
        self.answer(status, json.dumps({"error": {"code": code, "message": message}}), extra=extra)

    def challenge(self, code="Unauthorized", message="AKV10000: Request is missing a Bearer or PoP token.",
                  audience=AUDIENCE):
        with self.server.state.lock:
            self.server.state.stats["challenges"] += 1
        hdr = 'Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"' % (TENANT, audience)
        self.error(401, code, message, {"WWW-Authenticate": hdr})

    # ---- routing ----
    def do_GET(self):
        self.route("GET", b"")

    def do_POST(self):
        self.route("POST", self.body())

    def do_DELETE(self):
        self.route("DELETE", self.body())

    def do_PATCH(self):
        self.route("PATCH", self.body())

    def route(self, method, body):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if not self.server.tls:
            if method == "POST" and url.path in ("/_fault", "/_tokens", "/_cert"):
                return self.control(url.path, body)
            if url.path == "/_stats":
                with st.lock:
                    return self.answer(200, json.dumps(st.stats))
            if url.path == "/metadata/identity/oauth2/token":
                return self.imds(q)
            if url.path == "/msi/token":
                return self.appservice(q)
            return self.answer(404, "", "text/plain")
        if method == "POST" and url.path == "/%s/oauth2/v2.0/token" % TENANT:
            return self.aad(body)
        if method == "GET" and url.path == "/%s/v2.0/.well-known/openid-configuration" % TENANT:
            # MSAL (under azure-identity) reads the authority's endpoints first
            base = "%s/%s" % (st.vault_base, TENANT)
            return self.answer(200, json.dumps({"token_endpoint": base + "/oauth2/v2.0/token",
                                                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                                                "issuer": "https://login.microsoftonline.com/%s/v2.0" % TENANT,
                                                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode"}))
        self.vault(method, url.path, q, body)

    # ---- identity ----
    def token_answer(self, source, as_strings):
        tok, exp = self.server.state.issue(source)
        if as_strings:
            return self.answer(200, json.dumps({"access_token": tok, "expires_in": str(exp),
                                                "expires_on": str(int(time.time()) + exp), "not_before": str(int(time.time())),
                                                "resource": AUDIENCE, "token_type": "Bearer", "client_id": CLIENT_ID}))
        self.answer(200, json.dumps({"token_type": "Bearer", "expires_in": exp, "ext_expires_in": exp,
                                     "access_token": tok}))

    def aad(self, body):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return self.answer(400, json.dumps({"error": "invalid_request", "error_description": "form expected"}))
        if form.get("grant_type") != "client_credentials" or form.get("scope") != AUDIENCE + "/.default":
            return self.answer(400, json.dumps({"error": "invalid_scope", "error_description": "bad grant or scope"}))
        if form.get("client_id") != CLIENT_ID:
            return self.answer(400, json.dumps({"error": "unauthorized_client", "error_description": "unknown client"}))
        if "client_secret" in form:
            if form["client_secret"] != CLIENT_SECRET:
                return self.answer(401, json.dumps({"error": "invalid_client",
                                                    "error_description": "AADSTS7000215: Invalid client secret"}))
            return self.token_answer("client secret", False)
        if form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" and \
                self.server.state.cert is not None and form.get("client_assertion") != self.server.state.assertion:
            why = self.cert_assertion(form.get("client_assertion", ""))
            with self.server.state.lock:
                self.server.state.stats["cert_assertions"]["rejected" if why else "ok"] += 1
                if why:
                    self.server.state.stats["cert_assertions"]["last_error"] = why
            if why:
                return self.answer(401, json.dumps({"error": "invalid_client",
                                                    "error_description": "AADSTS700027: " + why}))
            return self.token_answer("client certificate", False)
        if form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            if form.get("client_assertion") != self.server.state.assertion:
                return self.answer(401, json.dumps({"error": "invalid_client",
                                                    "error_description": "AADSTS700211: bad assertion"}))
            return self.token_answer("workload identity", False)
        self.answer(400, json.dumps({"error": "invalid_request", "error_description": "no client credential"}))

    def cert_assertion(self, assertion):
        """Checks a client certificate's assertion as Entra ID does: the header
        names the registered certificate by thumbprint, the RS256 signature
        verifies with its key, aud is this token endpoint, iss = sub = the
        client, a jti not seen before, and now within [nbf, exp]. None if good."""
        st = self.server.state
        try:
            h64, c64, s64 = assertion.split(".")
            hdr, claims, sig = json.loads(unb64u(h64)), json.loads(unb64u(c64)), unb64u(s64)
        except (ValueError, TypeError):
            return "malformed assertion"
        der = st.cert.public_bytes(serialization.Encoding.DER)
        if hdr.get("alg") != "RS256" or hdr.get("typ", "JWT") != "JWT":
            return "alg must be RS256"
        # MSAL 1.21 pads its x5t ("=": urlsafe_b64encode), RFC 7515 does not: Entra takes both
        if str(hdr.get("x5t")).rstrip("=") != b64u(hashlib.sha1(der).digest()):
            return "the x5t thumbprint names no registered certificate"
        if "x5t#S256" in hdr and hdr["x5t#S256"] != b64u(hashlib.sha256(der).digest()):
            return "the x5t#S256 thumbprint does not match"
        try:
            st.cert.public_key().verify(sig, (h64 + "." + c64).encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "signature verification failed"
        now = time.time()
        if claims.get("aud") != "%s/%s/oauth2/v2.0/token" % (st.vault_base, TENANT):
            return "bad aud"
        if claims.get("iss") != CLIENT_ID or claims.get("sub") != CLIENT_ID:
            return "bad iss or sub"
        if not claims.get("jti"):
            return "no jti"
        if not (claims.get("nbf", now) - 300 <= now < claims.get("exp", 0)) or claims["exp"] - now > 3600:
            return "expired or too long-lived assertion"
        with st.lock:
            if claims["jti"] in st.jtis:
                return "replayed jti"
            st.jtis.add(claims["jti"])
        return None

    def imds(self, q):
        if self.headers.get("Metadata") != "true":
            return self.answer(400, json.dumps({"error": "invalid_request", "error_description": "Metadata header"}))
        if q.get("api-version") != ["2018-02-01"] or q.get("resource") != [AUDIENCE]:
            return self.answer(400, json.dumps({"error": "invalid_resource", "error_description": "bad query"}))
        self.token_answer("imds", True)

    def appservice(self, q):
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return self.answer(401, json.dumps({"error": "unauthorized", "error_description": "identity header"}))
        if q.get("api-version") != ["2019-08-01"] or q.get("resource") != [AUDIENCE]:
            return self.answer(400, json.dumps({"error": "invalid_resource", "error_description": "bad query"}))
        self.token_answer("app service", True)

    # ---- the vault ----
    def vault(self, method, path, q, body):
        st = self.server.state
        parts = [p for p in path.split("/") if p]
        op = self.op_name(method, parts)
        with st.lock:
            st.stats["requests"] += 1
            latency = st.latency
        if latency:
            time.sleep(latency)
        if q.get("api-version", [""])[0] not in API_VERSIONS:
            return self.error(400, "BadParameter", "api-version missing or unknown")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.challenge()
        with st.lock:
            t = st.tokens.get(auth[7:])
            if t is None or t[0] < time.time():
                st.stats["rejected_tokens"] += 1
        if t is None or t[0] < time.time():
            return self.challenge("Unauthorized", "AKV10022: Invalid token or expired")
        with st.lock:
            st.stats["by_op"][op] = st.stats["by_op"].get(op, 0) + 1
        fault = st.take_fault(op)
        if fault == "http429":
            return self.error(429, "Throttled", "Request was not processed because too many requests were received",
                              {"Retry-After": "1"})
        if fault in ("http500", "http503"):
            return self.error(int(fault[4:]), "InternalServerError", "injected server fault")
        if fault == "forbidden":
            return self.error(403, "Forbidden", "The user, group or application does not have keys %s permission" % op)
        if fault == "expired":
            with st.lock:
                st.tokens.pop(auth[7:], None)
            return self.challenge("Unauthorized", "AKV10022: Invalid token or expired")
        if fault == "badaudience":
            return self.challenge(audience="https://management.azure.com")
        if fault == "malformed":
            return self.answer(200, "{\"key\": {\"kid\": ", "application/json")
        try:
            req = json.loads(body) if body else {}
            res = self.dispatch(method, parts, q, req)
        except VaultError as e:
            return self.error(e.status, e.code, e.message)
        except (ValueError, KeyError, TypeError) as e:
            return self.error(400, "BadParameter", "bad request: %s" % e)
        if fault == "badjwk" and "key" in res:
            res["key"]["x" if "x" in res["key"] else "n"] = "!!not base64url!!"
        self.answer(200, json.dumps(res))

    @staticmethod
    def op_name(method, parts):
        if parts[:1] != ["keys"]:
            return "other"
        if method == "DELETE":
            return "delete"
        if method == "PATCH":
            return "update"
        if len(parts) == 1:
            return "list"
        if method == "POST":
            return parts[-1]
        return "get"

    def dispatch(self, method, parts, q, req):
        st = self.server.state
        if parts[:1] != ["keys"]:
            raise VaultError(404, "NotFound", "no such path")
        if method == "GET" and len(parts) == 1:
            return self.list_keys(q)
        name = parts[1]
        if method == "POST" and len(parts) == 3 and parts[2] == "create":
            return op_create(st, name, req)
        if method == "DELETE" and len(parts) == 2:
            with st.lock:
                vs = st.keys.pop(name, None)
                if vs is None:
                    raise VaultError(404, "KeyNotFound", "A key with (name/id) %s was not found" % name)
                st.deleted[name] = vs
            res = bundle(st, name, vs[-1])
            res.update(recoveryId="%s/deletedkeys/%s" % (st.vault_base, name), deletedDate=int(time.time()),
                       scheduledPurgeDate=int(time.time()) + 90 * 86400)
            return res
        if method == "PATCH" and len(parts) == 3:
            # UpdateKey: the version's attributes (enabled) and tags
            v = find(st, name, parts[2])
            attrs = req.get("attributes") or {}
            with st.lock:
                if "enabled" in attrs:
                    if not isinstance(attrs["enabled"], bool):
                        raise VaultError(400, "BadParameter", "attributes.enabled must be a boolean")
                    v["enabled"] = attrs["enabled"]
                if "tags" in req:
                    v["tags"] = req["tags"] or {}
            return bundle(st, name, v)
        if method == "GET" and len(parts) in (2, 3):
            v = find(st, name, parts[2] if len(parts) == 3 else None)
            return bundle(st, name, v)
        if method == "POST" and len(parts) == 4 and parts[3] in ("sign", "decrypt", "wrapkey", "unwrapkey"):
            v = find(st, name, parts[2])
            kid = "%s/keys/%s/%s" % (st.vault_base, name, v["version"])
            if parts[3] in ("wrapkey", "unwrapkey"):
                out = op_wrap(v, req, parts[3] == "unwrapkey")
            else:
                out = op_sign(v, req) if parts[3] == "sign" else op_decrypt(v, req)
            return {"kid": kid, "value": b64u(out)}
        raise VaultError(404, "NotFound", "no such operation")

    def list_keys(self, q):
        st = self.server.state
        n = int(q.get("maxresults", ["25"])[0])
        if not 1 <= n <= 25:
            raise VaultError(400, "BadParameter", "maxresults must be 1..25")
        skip = int(q.get("$skiptoken", ["0"])[0])
        with st.lock:
            names = sorted(st.keys)
            items = [{"kid": "%s/keys/%s" % (st.vault_base, k), "attributes": {"enabled": st.keys[k][-1]["enabled"]},
                      "tags": st.keys[k][-1]["tags"]} for k in names[skip:skip + n]]
        res = {"value": items, "nextLink": None}
        if skip + n < len(names):
            res["nextLink"] = "%s/keys?api-version=7.4&maxresults=%d&$skiptoken=%d" % (st.vault_base, n, skip + n)
        return res

    def control(self, path, body):
        st = self.server.state
        req = json.loads(body or b"{}")
        with st.lock:
            if path == "/_fault" and "latency_ms" in req:
                st.latency = req["latency_ms"] / 1000.0
            if path == "/_fault" and "mode" in req:
                st.fault = {"mode": req["mode"], "count": int(req.get("count", 1)), "ops": req.get("ops")}
            elif path == "/_tokens":
                st.expire_in = int(req.get("expire_in", 3600))
            elif path == "/_cert":
                st.cert = x509.load_pem_x509_certificate(req["pem"].encode())
        self.answer(200, "{}")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--assertion", default="")
    ap.add_argument("--stop-after", type=int, default=900, help="seconds until the fake exits by itself")
    a = ap.parse_args()
    st = State(a.assertion)
    st.vault_base = "https://127.0.0.1:%d" % a.port
    tls = Server(("127.0.0.1", a.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    tls.tls, tls.state = True, st
    plain = Server(("127.0.0.1", a.http_port), Handler)
    plain.tls, plain.state = False, st
    for s in (tls, plain):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    time.sleep(a.stop_after)


if __name__ == "__main__":
    main()
