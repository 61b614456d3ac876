#!/usr/bin/python3
"""A loopback fake of AWS KMS for hwagg's tests.

Speaks the real wire protocol: AWS JSON 1.1 over HTTPS (POST /, X-Amz-Target
TrentService.<Op>), verifies the SigV4 signature of every request against the
credentials it issued, signs with MessageType DIGEST exactly as KMS does
(the Message is the digest; its length must match the algorithm), and serves
STS AssumeRoleWithWebIdentity and AssumeRole (HTTPS, Query protocol, XML
answer; AssumeRole SigV4-verified with service "sts"), the IAM Identity Center
portal's GetRoleCredentials (HTTPS, GET /federation/credentials, bearer token
in x-amz-sso_bearer_token, REST-JSON answer), IMDSv2 and container
credentials (plain HTTP). Faults are injected through a control
endpoint on the HTTP port:

  POST /_fault {"latency_ms": 20}                   every KMS request waits
  POST /_fault {"service_ms": 20}                   every KMS answer leaves 20 ms after
       its request came in, the fake's own work included (a service with
       that response time: what the 16-thread benchmark measures against)
  POST /_fault {"mode": "throttle", "count": 3}     next 3 KMS requests fail
       "every": 4 hits only every 4th matching request;
       modes: throttle (400 ThrottlingException), http429, http500, reset
       (connection closed without an answer), lost (the request is carried
       out, then the connection closed without an answer), malformed (200,
       not JSON),
       expired (400 ExpiredTokenException), badsig (every request is judged
       against a wrong secret), "none" clears; "ops": ["Sign"] limits a fault
       to those operations; "count": -1 means until cleared
  GET  /_stats  {"connections", "tls_connections", "requests", "by_op", "imds", ...}
  POST /_creds {"expire_in": 5}   credentials issued from now on expire so soon
  POST /_sso {"token": "..."}     the access token the SSO portal accepts
  POST /_fork {"workers": 4}      (benchmarks) 3 more processes serve HTTPS on the
       same listening socket from now on, each with a copy of the state as it
       is (keys made later exist in one process only); tls_connections and
       by_op["Sign"] in /_stats count them all
  POST /_issue {"source": "x"}    fresh credentials, as a credential_process prints them
  /_stats "signed_by": {service: {source: n}} counts the verified requests by
       the source that issued their credentials ("static" for the fixed keys)
  POST /_mac {"KeyId", "Message", "MacAlgorithm"}  the HMAC of an HMAC key, from the
       key bytes the fake holds (tests/kms/fake_kms_sym.py: HMAC and symmetric keys)

Only 127.0.0.1. Started by tests/kms/lib.sh, which makes the CA and the
server certificate with openssl in the test's temp dir.
"""
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import mmap
import os
import struct
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

ACCOUNT = "111122223333"
MAX_WORKERS = 16
STATIC_AKID = "AKIDHWAGGTEST"
STATIC_SECRET = "hwagg/fake+secret/0123456789abcdefghijklmn"

HASHES = {"SHA_256": hashes.SHA256(), "SHA_384": hashes.SHA384(), "SHA_512": hashes.SHA512()}
CURVES = {"ECC_NIST_P256": ec.SECP256R1(), "ECC_NIST_P384": ec.SECP384R1(), "ECC_NIST_P521": ec.SECP521R1()}
CURVE_HASH = {"ECC_NIST_P256": "SHA_256", "ECC_NIST_P384": "SHA_384", "ECC_NIST_P521": "SHA_512"}


class KmsError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class State:
    def __init__(self, region, token_file_contents):
        self.lock = threading.Lock()
        self.region = region
        self.keys = {}        # key id -> dict
        self.aliases = {}     # alias/name -> key id
        self.creds = {STATIC_AKID: (STATIC_SECRET, None, None)}  # akid -> (secret, token, expires)
        self.sources = {STATIC_AKID: "static"}                     # akid -> who issued it
        self.expire_in = 3600
        self.web_token = token_file_contents
        self.latency = 0.0
        self.service = 0.0
        self.sso_token = None
        # (benchmarks) per-worker [tls connections, Sign requests] in memory
        # shared across /_fork; worker 0 (this process) counts in stats
        self.shared = mmap.mmap(-1, 16 * MAX_WORKERS)
        self.worker = 0
        self.nworkers = 1
        self.fault = None     # dict(mode, count, ops)
        self.stats = {"connections": 0, "tls_connections": 0, "requests": 0, "by_op": {},
                      "sigv4_checked": 0, "sigv4_rejected": 0, "faults": 0, "creds_issued": 0}

    def issue(self, source, duration=None):
        akid = "ASIA" + secrets.token_hex(8).upper()
        secret = base64.b64encode(os.urandom(30)).decode()
        token = base64.b64encode(os.urandom(48)).decode()
        exp = time.time() + (duration if duration is not None else self.expire_in)
        with self.lock:
            self.creds[akid] = (secret, token, exp)
            self.sources[akid] = source
            self.stats["creds_issued"] += 1
            self.stats.setdefault("issued_by", {}).setdefault(source, 0)
            self.stats["issued_by"][source] += 1
        iso = datetime.datetime.utcfromtimestamp(exp).strftime("%Y-%m-%dT%H:%M:%SZ")
        return akid, secret, token, iso

    def count_shared(self, field):
        if self.worker:
            off = 16 * self.worker + 8 * field
            with self.lock:
                self.shared[off:off + 8] = struct.pack("q", struct.unpack("q", self.shared[off:off + 8])[0] + 1)

    def merged_stats(self):
        out = json.loads(json.dumps(self.stats))
        out["worker_tls_connections"] = [self.stats["tls_connections"]]
        for w in range(1, self.nworkers):
            conns, signs = struct.unpack("qq", self.shared[16 * w:16 * w + 16])
            out["worker_tls_connections"].append(conns)
            out["tls_connections"] += conns
            out["connections"] += conns
            out["by_op"]["Sign"] = out["by_op"].get("Sign", 0) + signs
        return out

    def take_fault(self, op):
        with self.lock:
            f = self.fault
            if not f or f["mode"] == "none":
                return None
            if f.get("ops") and op not in f["ops"]:
                return None
            if f["count"] == 0:
                return None
            f["seen"] = f.get("seen", 0) + 1
            if f["seen"] % f.get("every", 1) != 0:
                return None
            if f["count"] > 0:
                f["count"] -= 1
            self.stats["faults"] += 1
            return f["mode"]


# ---- SigV4 (server side, written from the public description) -------------
def _enc(s, safe=""):
    return urllib.parse.quote(s, safe="-_.~" + safe)


def sigv4_expected(method, path, query, headers, signed, body, secret, date, region, service):
    canon_q = "&".join(sorted(
        "%s=%s" % (_enc(urllib.parse.unquote(k)), _enc(urllib.parse.unquote(v)))
        for k, _, v in (p.partition("=") for p in query.split("&") if p)))
    hdrs = "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").split())) for h in signed)
    creq = "\n".join([method, _enc(path, "/"), canon_q, hdrs, ";".join(signed), hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (date[:8], region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date[:8], region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


def verify_sigv4(state, handler, body, service):
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise KmsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    akid, date8, region, svc, term = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    if svc != service or term != "aws4_request" or region != state.region:
        raise KmsError("InvalidSignatureException", "Credential should be scoped to a valid region and service")
    for must in ("host", "x-amz-date"):
        if must not in signed:
            raise KmsError("InvalidSignatureException", "%s must be signed" % must)
    with state.lock:
        entry = state.creds.get(akid)
    if entry is None:
        raise KmsError("UnrecognizedClientException", "The security token included in the request is invalid.")
    secret, token, exp = entry
    if token is not None:
        if handler.headers.get("X-Amz-Security-Token") != token or "x-amz-security-token" not in signed:
            raise KmsError("UnrecognizedClientException", "The security token included in the request is invalid.")
        if exp is not None and time.time() > exp:
            raise KmsError("ExpiredTokenException", "The security token included in the request is expired")
    date = handler.headers.get("X-Amz-Date", "")
    try:
        t = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        raise KmsError("IncompleteSignatureException", "bad X-Amz-Date")
    if abs(time.time() - t) > 300 or date[:8] != date8:
        raise KmsError("InvalidSignatureException", "Signature expired")
    if state.take_fault_peek_badsig():
        secret = secret + "wrong"
    headers = {k.lower(): v for k, v in handler.headers.items()}
    path, _, query = handler.path.partition("?")
    want = sigv4_expected(handler.command, path, query, headers, signed, body, secret, date, region, service)
    with state.lock:
        state.stats["sigv4_checked"] += 1
    if not hmac.compare_digest(want, fields.get("Signature", "")):
        with state.lock:
            state.stats["sigv4_rejected"] += 1
        raise KmsError("InvalidSignatureException",
                       "The request signature we calculated does not match the signature you provided.")
    with state.lock:
        # which source's credentials signed (verified) requests of each service
        by = state.stats.setdefault("signed_by", {}).setdefault(service, {})
        src = state.sources.get(akid, "?")
        by[src] = by.get(src, 0) + 1


def _badsig_peek(self):
    with self.lock:
        f = self.fault
        return bool(f and f["mode"] == "badsig" and f["count"] != 0)


State.take_fault_peek_badsig = _badsig_peek


# ---- KMS operations --------------------------------------------------------
def key_lookup(state, key_id):
    if key_id is None:
        raise KmsError("ValidationException", "KeyId is required")
    if key_id.startswith("alias/"):
        key_id = state.aliases.get(key_id, "")
    elif key_id.startswith("arn:aws:kms:") and ":alias/" in key_id:
        key_id = state.aliases.get("alias/" + key_id.split(":alias/", 1)[1], "")
    elif key_id.startswith("arn:aws:kms:"):
        key_id = key_id.rsplit("/", 1)[-1]
    k = state.keys.get(key_id)
    if k is None:
        raise KmsError("NotFoundException", "Key '%s' does not exist" % key_id)
    return k


def metadata(state, k):
    md = {"AWSAccountId": ACCOUNT, "KeyId": k["id"], "Arn": k["arn"], "CreationDate": k["created"],
          "Enabled": k["state"] == "Enabled", "Description": k.get("desc", ""), "KeyUsage": k["usage"],
          "KeyState": k["state"], "Origin": "AWS_KMS", "KeyManager": "CUSTOMER", "CustomerMasterKeySpec": k["spec"],
          "KeySpec": k["spec"], "MultiRegion": False}
    if k["usage"] == "SIGN_VERIFY":
        md["SigningAlgorithms"] = signing_algs(k["spec"])
    else:
        md["EncryptionAlgorithms"] = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    if k["state"] == "PendingDeletion":
        md["DeletionDate"] = k["deletion"]
    METADATA_EXTRA(k, md)
    return md


def signing_algs(spec):
    if spec.startswith("ECC_"):
        return ["ECDSA_" + CURVE_HASH[spec]]
    return ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"]


def op_create_key(state, req):
    spec = req.get("KeySpec") or req.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    usage = req.get("KeyUsage", "ENCRYPT_DECRYPT")
    if spec in CURVES:
        if usage != "SIGN_VERIFY":
            raise KmsError("ValidationException", "ECC keys are SIGN_VERIFY")
        priv = ec.generate_private_key(CURVES[spec])
    elif spec in ("RSA_2048", "RSA_3072", "RSA_4096"):
        if usage not in ("SIGN_VERIFY", "ENCRYPT_DECRYPT"):
            raise KmsError("ValidationException", "bad KeyUsage")
        priv = rsa.generate_private_key(65537, int(spec[4:]))
    else:
        priv = None
        secret = CREATE_SECRET(spec, usage)["secret"]
    kid = str(uuid.uuid4())
    k = {"id": kid, "arn": "arn:aws:kms:%s:%s:key/%s" % (state.region, ACCOUNT, kid), "spec": spec, "usage": usage,
         "state": "Enabled", "created": int(time.time()), "priv": priv, "desc": req.get("Description", ""),
         "tags": [{"TagKey": t["TagKey"], "TagValue": t["TagValue"]} for t in req.get("Tags", [])]}
    if priv is None:
        k["secret"] = secret
    with state.lock:
        state.keys[kid] = k
    return {"KeyMetadata": metadata(state, k)}


def op_describe_key(state, req):
    return {"KeyMetadata": metadata(state, key_lookup(state, req.get("KeyId")))}


def usable(k, usage):
    if k["state"] == "PendingDeletion":
        raise KmsError("KMSInvalidStateException", "%s is pending deletion." % k["arn"])
    if k["state"] != "Enabled":
        raise KmsError("DisabledException", "%s is disabled." % k["arn"])
    if k["usage"] != usage:
        raise KmsError("InvalidKeyUsageException", "wrong KeyUsage")


def op_get_public_key(state, req):
    k = key_lookup(state, req.get("KeyId"))
    if k["state"] == "PendingDeletion":
        raise KmsError("KMSInvalidStateException", "%s is pending deletion." % k["arn"])
    if k["priv"] is None:
        raise KmsError("UnsupportedOperationException", "%s is not an asymmetric key" % k["arn"])
    der = k["priv"].public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    out = {"KeyId": k["arn"], "PublicKey": base64.b64encode(der).decode(), "CustomerMasterKeySpec": k["spec"],
           "KeySpec": k["spec"], "KeyUsage": k["usage"]}
    if k["usage"] == "SIGN_VERIFY":
        out["SigningAlgorithms"] = signing_algs(k["spec"])
    else:
        out["EncryptionAlgorithms"] = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    return out


def b64field(req, name):
    try:
        return base64.b64decode(req[name], validate=True)
    except (KeyError, ValueError):
        raise KmsError("ValidationException", "%s is not valid base64" % name)


def sign_or_verify(state, req, verify):
    k = key_lookup(state, req.get("KeyId"))
    usable(k, "SIGN_VERIFY")
    alg = req.get("SigningAlgorithm", "")
    if alg not in signing_algs(k["spec"]):
        raise KmsError("InvalidKeyUsageException", "%s is not valid for %s" % (alg, k["arn"]))
    msg = b64field(req, "Message")
    h = HASHES[alg.rsplit("_", 2)[-2] + "_" + alg.rsplit("_", 1)[-1]]
    mtype = req.get("MessageType", "RAW")
    if mtype == "DIGEST":
        # KMS: "The length of the Message value must match the length of
        # hashed messages for the specified signing algorithm."
        if len(msg) != h.digest_size:
            raise KmsError("ValidationException", "Digest is invalid length for algorithm %s." % alg)
        algo = utils.Prehashed(h)
    elif mtype == "RAW":
        if len(msg) > 4096:
            raise KmsError("ValidationException", "Message too long")
        algo = h
    else:
        raise KmsError("ValidationException", "bad MessageType")
    priv = k["priv"]
    if alg.startswith("ECDSA"):
        sig_alg = ec.ECDSA(algo)
        args = (sig_alg,)
    elif alg.startswith("RSASSA_PSS"):
        args = (padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), algo)
    else:
        args = (padding.PKCS1v15(), algo)
    if verify:
        sig = b64field(req, "Signature")
        try:
            priv.public_key().verify(sig, msg, *args)
        except Exception:
            raise KmsError("KMSInvalidSignatureException", "signature does not verify")
        return {"KeyId": k["arn"], "SignatureValid": True, "SigningAlgorithm": alg}
    sig = priv.sign(msg, *args)
    return {"KeyId": k["arn"], "Signature": base64.b64encode(sig).decode(), "SigningAlgorithm": alg}


def op_decrypt(state, req):
    k = key_lookup(state, req.get("KeyId"))
    usable(k, "ENCRYPT_DECRYPT")
    alg = req.get("EncryptionAlgorithm", "")
    h = {"RSAES_OAEP_SHA_1": hashes.SHA1(), "RSAES_OAEP_SHA_256": hashes.SHA256()}.get(alg)
    if h is None:
        raise KmsError("InvalidKeyUsageException", "bad EncryptionAlgorithm")
    try:
        pt = k["priv"].decrypt(b64field(req, "CiphertextBlob"), padding.OAEP(padding.MGF1(h), h, None))
    except ValueError:
        raise KmsError("InvalidCiphertextException", "")
    return {"KeyId": k["arn"], "Plaintext": base64.b64encode(pt).decode(), "EncryptionAlgorithm": alg}


def page(items, req, field):
    limit = int(req.get("Limit", 100))
    if not 1 <= limit <= 1000:
        raise KmsError("ValidationException", "Limit out of range")
    start = int(req.get("Marker", "0") or 0)
    chunk = items[start:start + limit]
    out = {field: chunk, "Truncated": start + limit < len(items)}
    if out["Truncated"]:
        out["NextMarker"] = str(start + limit)
    return out


def op_list_keys(state, req):
    with state.lock:
        keys = [{"KeyId": k["id"], "KeyArn": k["arn"]} for k in state.keys.values()]
    return page(keys, req, "Keys")


def op_list_resource_tags(state, req):
    return page(list(key_lookup(state, req.get("KeyId"))["tags"]), req, "Tags")


def op_tag_resource(state, req):
    k = key_lookup(state, req.get("KeyId"))
    for t in req.get("Tags", []):
        k["tags"] = [x for x in k["tags"] if x["TagKey"] != t["TagKey"]] + [t]
    return {}


def op_schedule_key_deletion(state, req):
    k = key_lookup(state, req.get("KeyId"))
    days = int(req.get("PendingWindowInDays", 30))
    if not 7 <= days <= 30:
        raise KmsError("ValidationException", "PendingWindowInDays must be 7..30")
    if k["state"] == "PendingDeletion":
        raise KmsError("KMSInvalidStateException", "%s is pending deletion." % k["arn"])
    k["state"] = "PendingDeletion"
    k["deletion"] = int(time.time()) + days * 86400
    k["window"] = days
    return {"KeyId": k["arn"], "DeletionDate": k["deletion"], "KeyState": "PendingDeletion",
            "PendingWindowInDays": days}


def op_disable_key(state, req):
    k = key_lookup(state, req.get("KeyId"))
    if k["state"] == "PendingDeletion":
        raise KmsError("KMSInvalidStateException", "%s is pending deletion." % k["arn"])
    k["state"] = "Disabled"
    return {}


def op_create_alias(state, req):
    name = req.get("AliasName", "")
    if not name.startswith("alias/") or name.startswith("alias/aws/"):
        raise KmsError("ValidationException", "bad AliasName")
    state.aliases[name] = key_lookup(state, req.get("TargetKeyId"))["id"]
    return {}


OPS = {"CreateKey": op_create_key, "DescribeKey": op_describe_key, "GetPublicKey": op_get_public_key,
       "Sign": lambda s, r: sign_or_verify(s, r, False), "Verify": lambda s, r: sign_or_verify(s, r, True),
       "Decrypt": op_decrypt, "ListKeys": op_list_keys, "ListResourceTags": op_list_resource_tags,
       "TagResource": op_tag_resource, "ScheduleKeyDeletion": op_schedule_key_deletion,
       "CreateAlias": op_create_alias, "DisableKey": op_disable_key}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hwagg-fake-kms"
    # headers and body leave in two writes: without this, Nagle holds the
    # body until the client's delayed ACK (40 ms per request)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_KMS_VERBOSE"):
            sys.stderr.write("fake-kms: " + fmt % args + "\n")

    def setup(self):
        super().setup()
        st = self.server.state
        with st.lock:
            st.stats["connections"] += 1
            if self.server.tls:
                st.stats["tls_connections"] += 1
        if self.server.tls:
            st.count_shared(0)

    def body(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, payload, ctype="application/x-amz-json-1.1", extra=None):
        data = payload if isinstance(payload, bytes) else payload.encode()
        due = getattr(self, "due", None)
        if due is not None:
            self.due = None
            time.sleep(max(0.0, due - time.monotonic()))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def kms_error(self, e):
        self.answer(e.status, json.dumps({"__type": e.code, "message": e.message}),
                    extra={"X-Amzn-ErrorType": e.code})

    # ---- HTTPS: KMS and STS ----
    def do_POST(self):
        st = self.server.state
        self.due = None
        body = self.body()
        if not self.server.tls:
            return self.control(body)
        target = self.headers.get("X-Amz-Target", "")
        if not target:
            return self.sts(body)
        op = target.split(".", 1)[-1]
        if st.service:
            self.due = time.monotonic() + st.service
        with st.lock:
            st.stats["requests"] += 1
            st.stats["by_op"][op] = st.stats["by_op"].get(op, 0) + 1
        if op == "Sign":
            st.count_shared(1)
        if st.latency:
            time.sleep(st.latency)
        try:
            if self.path != "/" or not target.startswith("TrentService."):
                raise KmsError("UnknownOperationException", "")
            if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                raise KmsError("SerializationException", "bad Content-Type")
            verify_sigv4(st, self, body, "kms")
            fault = st.take_fault(op)
            if fault == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault == "throttle":
                raise KmsError("ThrottlingException", "Rate exceeded")
            if fault == "http429":
                raise KmsError("TooManyRequestsException", "Too many requests", 429)
            if fault == "http500":
                raise KmsError("KMSInternalException", "internal error", 500)
            if fault == "expired":
                raise KmsError("ExpiredTokenException", "The security token included in the request is expired")
            if fault == "malformed":
                return self.answer(200, b'{"KeyId": "arn:aws:kms:trunc')
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                raise KmsError("SerializationException", "body is not JSON")
            if op not in OPS:
                raise KmsError("UnknownOperationException", op)
            out = json.dumps(OPS[op](st, req))
            if fault == "lost":
                # done, but the answer never arrives: the client cannot know
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.answer(200, out)
        except KmsError as e:
            self.kms_error(e)

    def sts_error(self, status, code, message):
        self.answer(status, "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                    "<Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId>"
                    "</ErrorResponse>" % (code, message, uuid.uuid4()), "text/xml")

    def sts_answer(self, action, creds, extra):
        akid, secret, token, exp = creds
        self.answer(200, "<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><%sResult><Credentials>"
                    "<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s"
                    "</SessionToken><Expiration>%s</Expiration></Credentials>%s</%sResult><ResponseMetadata>"
                    "<RequestId>%s</RequestId></ResponseMetadata></%sResponse>"
                    % (action, action, akid, secret, token, exp, extra, action, uuid.uuid4(), action), "text/xml")

    def sts(self, body):
        st = self.server.state
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        action = form.get("Action")
        if action not in ("AssumeRoleWithWebIdentity", "AssumeRole") or form.get("Version") != "2011-06-15":
            return self.sts_error(400, "InvalidAction", "unknown action")
        role, name = form.get("RoleArn", ""), form.get("RoleSessionName", "")
        if not role.startswith("arn:aws:iam::") or not name:
            return self.sts_error(400, "ValidationError", "RoleArn and RoleSessionName are required")
        if action == "AssumeRoleWithWebIdentity":
            if form.get("WebIdentityToken") != st.web_token:
                return self.sts_error(400, "InvalidIdentityToken", "bad token")
            return self.sts_answer(action, st.issue("web identity"), "<SubjectFromWebIdentityToken>"
                                   "system:serviceaccount:test</SubjectFromWebIdentityToken>")
        # AssumeRole is signed with the caller's own credentials
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return self.sts_error(400, "InvalidParameterValue", "bad Content-Type")
        try:
            verify_sigv4(st, self, body, "sts")
        except KmsError as e:
            code = {"UnrecognizedClientException": "InvalidClientTokenId",
                    "ExpiredTokenException": "ExpiredToken"}.get(e.code, "SignatureDoesNotMatch")
            return self.sts_error(403, code, e.message)
        duration = int(form.get("DurationSeconds", "3600"))
        if not 900 <= duration <= 43200:
            return self.sts_error(400, "ValidationError", "DurationSeconds out of range")
        caller = self.headers["Authorization"].split("Credential=", 1)[1].split("/", 1)[0]
        with st.lock:
            st.stats.setdefault("assume_role", []).append(
                {"RoleArn": role, "RoleSessionName": name, "ExternalId": form.get("ExternalId"),
                 "DurationSeconds": form.get("DurationSeconds"), "caller": caller})
        creds = st.issue("assumed role", min(duration, st.expire_in))
        role_name = role.rsplit("/", 1)[-1]
        self.sts_answer(action, creds, "<AssumedRoleUser><AssumedRoleId>AROAHWAGGFAKE:%s</AssumedRoleId><Arn>"
                        "arn:aws:sts::%s:assumed-role/%s/%s</Arn></AssumedRoleUser>" % (name, ACCOUNT, role_name, name))

    def sso(self):
        """IAM Identity Center portal: GetRoleCredentials (REST-JSON, unsigned)."""
        st = self.server.state
        path, _, query = self.path.partition("?")
        q = dict(urllib.parse.parse_qsl(query))
        if path != "/federation/credentials" or "role_name" not in q or "account_id" not in q:
            return self.answer(400, json.dumps({"message": "bad request"}), "application/json",
                               {"x-amzn-ErrorType": "InvalidRequestException"})
        with st.lock:
            st.stats.setdefault("sso", []).append({"role_name": q["role_name"], "account_id": q["account_id"]})
        if st.sso_token is None or self.headers.get("x-amz-sso_bearer_token") != st.sso_token:
            return self.answer(401, json.dumps({"message": "Session token not found or invalid"}), "application/json",
                               {"x-amzn-ErrorType": "UnauthorizedException"})
        akid, secret, token, exp = st.issue("IAM Identity Center")
        with st.lock:
            ms = int(st.creds[akid][2] * 1000)
        self.answer(200, json.dumps({"roleCredentials": {"accessKeyId": akid, "secretAccessKey": secret,
                                                         "sessionToken": token, "expiration": ms}}),
                    "application/json")

    # ---- HTTP: IMDSv2, container credentials, control ----
    def do_PUT(self):
        st = self.server.state
        self.body()
        if self.server.tls or self.path != "/latest/api/token":
            return self.answer(404, "", "text/plain")
        with st.lock:
            st.stats["imds"] = st.stats.get("imds", 0) + 1
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.answer(400, "", "text/plain")
        tok = secrets.token_hex(16)
        with st.lock:
            st.imds_tokens = getattr(st, "imds_tokens", set()) | {tok}
        self.answer(200, tok, "text/plain")

    def do_GET(self):
        st = self.server.state
        if self.server.tls:
            return self.sso()
        if self.path == "/_stats":
            with st.lock:
                return self.answer(200, json.dumps(st.merged_stats()), "application/json")
        if self.path.startswith("/latest/meta-data/"):
            with st.lock:
                st.stats["imds"] = st.stats.get("imds", 0) + 1
            if self.headers.get("X-aws-ec2-metadata-token") not in getattr(st, "imds_tokens", set()):
                return self.answer(401, "", "text/plain")
            if self.path == "/latest/meta-data/iam/security-credentials/":
                return self.answer(200, "hwagg-test-role", "text/plain")
            if self.path == "/latest/meta-data/iam/security-credentials/hwagg-test-role":
                akid, secret, token, exp = st.issue("instance metadata")
                doc = {"Code": "Success", "LastUpdated": exp, "Type": "AWS-HMAC", "AccessKeyId": akid,
                       "SecretAccessKey": secret, "Token": token, "Expiration": exp}
                return self.answer(200, json.dumps(doc), "text/plain")
            if self.path == "/latest/meta-data/placement/region":
                return self.answer(200, st.region, "text/plain")
            return self.answer(404, "", "text/plain")
        if self.path.startswith("/creds"):
            want = os.environ.get("FAKE_KMS_CONTAINER_AUTH")
            if want and self.headers.get("Authorization") != want:
                return self.answer(401, json.dumps({"message": "bad token"}), "application/json")
            akid, secret, token, exp = st.issue("container")
            return self.answer(200, json.dumps({"AccessKeyId": akid, "SecretAccessKey": secret, "Token": token,
                                                "Expiration": exp, "RoleArn": "arn:aws:iam::%s:role/t" % ACCOUNT}),
                               "application/json")
        self.answer(404, "", "text/plain")

    def control(self, body):
        st = self.server.state
        req = json.loads(body or b"{}")
        if self.path == "/_fault":
            with st.lock:
                if "latency_ms" in req:
                    st.latency = req["latency_ms"] / 1000.0
                if "service_ms" in req:
                    st.service = req["service_ms"] / 1000.0
                if "mode" in req:
                    st.fault = {"mode": req["mode"], "count": int(req.get("count", 1)), "ops": req.get("ops"),
                                "every": max(1, int(req.get("every", 1)))}
        elif self.path == "/_issue":
            akid, secret, token, exp = st.issue(req.get("source", "control"))
            return self.answer(200, json.dumps({"AccessKeyId": akid, "SecretAccessKey": secret, "SessionToken": token,
                                                "Expiration": exp}), "application/json")
        elif self.path == "/_fork":
            fork_workers(self.server, min(MAX_WORKERS, int(req.get("workers", 1))))
        elif self.path == "/_sso":
            st.sso_token = req.get("token")
        elif self.path == "/_creds":
            st.expire_in = int(req.get("expire_in", 3600))
        elif self.path == "/_alias":
            with st.lock:
                op_create_alias(st, req)
        elif self.path in CONTROL_EXTRA:
            try:
                return self.answer(200, json.dumps(CONTROL_EXTRA[self.path](st, req)), "application/json")
            except KmsError as e:
                return self.answer(404, json.dumps({"message": e.message}), "application/json")
        self.answer(200, "{}", "application/json")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def arg_parser():
    """The options of every loopback fake (tests/gcp/fake_gcp.py too)."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--stop-after", type=int, default=900, help="seconds until the fake exits by itself")
    return ap


def fork_workers(control, n):
    """n - 1 more processes serving the HTTPS server's listening socket;
    each exits with its parent (or after --stop-after)."""
    st, tls = control.state, control.tls_server
    for w in range(st.nworkers, n):
        parent = os.getpid()
        if os.fork() == 0:
            st.worker = w
            st.lock = threading.Lock()      # a lock held by another thread at fork stays held

            def orphaned():
                while os.getppid() == parent:
                    time.sleep(0.5)
                os._exit(0)
            threading.Thread(target=orphaned, daemon=True).start()
            threading.Thread(target=tls.serve_forever, daemon=True).start()
            time.sleep(control.stop_after)
            os._exit(0)
    st.nworkers = max(st.nworkers, n)


def serve(handler, state, a):
    """handler on HTTPS (a.port, server.tls True) and plain HTTP (a.http_port)
    on 127.0.0.1, sharing state, for a.stop_after seconds."""
    tls = Server(("127.0.0.1", a.port), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    tls.tls, tls.state = True, state
    plain = Server(("127.0.0.1", a.http_port), handler)
    plain.tls, plain.state = False, state
    plain.tls_server, plain.stop_after = tls, a.stop_after
    for s in (tls, plain):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    time.sleep(a.stop_after)


# secret keys (HMAC, SYMMETRIC_DEFAULT): tests/kms/fake_kms_sym.py
CONTROL_EXTRA = {}
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_kms_sym  # noqa: E402
fake_kms_sym.install(sys.modules[__name__])


def main():
    ap = arg_parser()
    ap.add_argument("--region", default="eu-west-1")
    ap.add_argument("--web-token", default="")
    a = ap.parse_args()
    serve(Handler, State(a.region, a.web_token), a)

if __name__ == "__main__":
    main()
