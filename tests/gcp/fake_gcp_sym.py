"""HMAC keys for the Cloud KMS fake (tests/gcp/fake_gcp.py): purpose MAC,
algorithms HMAC_SHA224/256/384/512 (a key as long as its digest), and the
REST methods cryptoKeyVersions.macSign and macVerify as Google documents them:

  POST {version}:macSign {"data", "dataCrc32c"} -> {"name", "mac", "macCrc32c",
       "verifiedDataCrc32c", "protectionLevel"}; data at most 64 KiB
  POST {version}:macVerify {"data", "dataCrc32c", "mac", "macCrc32c"} -> {"name",
       "success", "verifiedDataCrc32c", "verifiedMacCrc32c", "verifiedSuccessIntegrity",
       "protectionLevel"}; as proto3 JSON, a false boolean is left out
  GET {version}/publicKey of an HMAC version: 400 FAILED_PRECONDITION

The test-only control endpoint POST /_mac {"name": version, "data": base64}
answers {"mac"} computed by Python's hmac over the key bytes the fake holds.
"""
import base64
import hashlib
import hmac
import json
import os

MACS = {"HMAC_SHA224": (28, hashlib.sha224), "HMAC_SHA256": (32, hashlib.sha256),
        "HMAC_SHA384": (48, hashlib.sha384), "HMAC_SHA512": (64, hashlib.sha512)}
MAX_DATA = 64 * 1024


def install(m):
    """Add HMAC keys to the fake module m."""
    ApiError = m.ApiError
    alg_info, new_private, route = m.alg_info, m.new_private, m.route
    public_key, call, plain = m.Kms.public_key, m.Handler.call, m.Handler.plain

    def alg_info_mac(alg):
        if alg in MACS:
            return "MAC", "hmac", MACS[alg][0], alg[len("HMAC_"):], False
        return alg_info(alg)

    def new_private_mac(alg):
        return os.urandom(MACS[alg][0]) if alg in MACS else new_private(alg)

    def route_mac(method, path):
        name, _, verb = path.partition(":")
        if method == "POST" and verb in ("macSign", "macVerify"):
            return "MacSign" if verb == "macSign" else "MacVerify", name
        return route(method, path)

    def public_key_mac(self, name, fault):
        if self.enabled(name)["alg"] in MACS:
            raise ApiError(400, "FAILED_PRECONDITION", "%s has no public key (purpose MAC)." % name)
        return public_key(self, name, fault)

    def mac_of(kms, name, body):
        v = kms.enabled(name)
        if v["alg"] not in MACS:
            raise ApiError(400, "FAILED_PRECONDITION", "%s is not a MAC key." % name)
        data = kms.checked(body, "data", "dataCrc32c")
        if len(data) > MAX_DATA:
            raise ApiError(400, "INVALID_ARGUMENT", "The data is larger than 64KiB.")
        return v, hmac.new(v["priv"], data, MACS[v["alg"]][1]).digest()

    def call_mac(self, kms, op, name, q, req, fault):
        if op == "MacSign":
            v, mac = mac_of(kms, name, req)
            crc = m.crc32c(mac) ^ (1 if fault == "badcrc" else 0)
            out = {"name": name, "mac": m.b64(mac), "macCrc32c": str(crc), "protectionLevel": v["level"]}
            if "dataCrc32c" in req and fault != "noverify":
                out["verifiedDataCrc32c"] = True
            return out
        if op == "MacVerify":
            v, mac = mac_of(kms, name, req)
            ok = hmac.compare_digest(mac, kms.checked(req, "mac", "macCrc32c"))
            out = {"name": name, "protectionLevel": v["level"]}
            for field, val in (("success", ok), ("verifiedDataCrc32c", "dataCrc32c" in req),
                               ("verifiedMacCrc32c", "macCrc32c" in req), ("verifiedSuccessIntegrity", ok)):
                if val:
                    out[field] = True
            return out
        return call(self, kms, op, name, q, req, fault)

    def plain_mac(self, method, path, body):
        if method == "POST" and path == "/_mac":
            req = json.loads(body or b"{}")
            kms = m.Kms(self.server.state)
            v = kms.version(req.get("name", ""))
            mac = hmac.new(v["priv"], base64.b64decode(req["data"]), MACS[v["alg"]][1]).digest()
            return self.answer(200, json.dumps({"mac": m.b64(mac)}))
        return plain(self, method, path, body)

    m.alg_info, m.new_private, m.route = alg_info_mac, new_private_mac, route_mac
    m.Kms.public_key, m.Handler.call, m.Handler.plain = public_key_mac, call_mac, plain_mac
