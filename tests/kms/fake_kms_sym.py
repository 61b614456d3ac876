"""The secret-key half of the KMS fake (tests/kms/fake_kms.py): HMAC keys
(KeySpec HMAC_224..HMAC_512, KeyUsage GENERATE_VERIFY_MAC) with GenerateMac
and VerifyMac, and symmetric keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) with
Encrypt and Decrypt, shaped as botocore's kms service-2.json says:

  GenerateMac {KeyId, Message (blob 1..4096), MacAlgorithm} -> {KeyId, Mac, MacAlgorithm}
  VerifyMac {KeyId, Message, MacAlgorithm, Mac} -> {KeyId, MacValid: true, MacAlgorithm};
      a MAC that does not match is KMSInvalidMacException (400), as KMS does
  Encrypt {KeyId, Plaintext (blob 1..4096), EncryptionContext?} -> {CiphertextBlob, KeyId,
      EncryptionAlgorithm: SYMMETRIC_DEFAULT}
  Decrypt {CiphertextBlob, KeyId? (the blob names its key), EncryptionContext?}

The ciphertext blob is opaque, as KMS's: here the key id, a 12-byte nonce
and AES-256-GCM over the plaintext with the encryption context as AAD.

The test-only control endpoint POST /_mac {"KeyId", "Message" (base64),
"MacAlgorithm"} answers {"Mac"} computed by Python's hmac over the key
bytes the fake holds: what a test compares the slot's MAC with.
"""
import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAC_SPECS = {"HMAC_224": (28, "HMAC_SHA_224", hashlib.sha224), "HMAC_256": (32, "HMAC_SHA_256", hashlib.sha256),
             "HMAC_384": (48, "HMAC_SHA_384", hashlib.sha384), "HMAC_512": (64, "HMAC_SHA_512", hashlib.sha512)}
MAX_BLOB = 4096


def install(m):
    """Add the operations to the fake module m (its OPS, key creation,
    metadata and the control endpoint)."""
    KmsError = m.KmsError

    def blob(req, name, hi=MAX_BLOB):
        v = m.b64field(req, name)
        if not 1 <= len(v) <= hi:
            raise KmsError("ValidationException", "1 validation error detected: Value at '%s' failed to satisfy "
                           "constraint: Member must have length less than or equal to %d" % (name.lower(), hi))
        return v

    def create_secret(spec, usage):
        if spec in MAC_SPECS:
            if usage != "GENERATE_VERIFY_MAC":
                raise KmsError("ValidationException", "HMAC keys are GENERATE_VERIFY_MAC")
            return {"secret": os.urandom(MAC_SPECS[spec][0])}
        if spec == "SYMMETRIC_DEFAULT":
            if usage != "ENCRYPT_DECRYPT":
                raise KmsError("ValidationException", "symmetric keys are ENCRYPT_DECRYPT")
            return {"secret": os.urandom(32)}
        raise KmsError("ValidationException", "KeySpec %s is not supported by this fake" % spec)

    def mac_of(k, req):
        m.usable(k, "GENERATE_VERIFY_MAC")
        alg = req.get("MacAlgorithm", "")
        if alg != MAC_SPECS[k["spec"]][1]:
            raise KmsError("InvalidKeyUsageException", "%s is not valid for %s" % (alg, k["arn"]))
        return alg, hmac.new(k["secret"], blob(req, "Message"), MAC_SPECS[k["spec"]][2]).digest()

    def op_generate_mac(state, req):
        k = m.key_lookup(state, req.get("KeyId"))
        alg, mac = mac_of(k, req)
        return {"KeyId": k["arn"], "Mac": base64.b64encode(mac).decode(), "MacAlgorithm": alg}

    def op_verify_mac(state, req):
        k = m.key_lookup(state, req.get("KeyId"))
        alg, mac = mac_of(k, req)
        if not hmac.compare_digest(mac, blob(req, "Mac", 6144)):
            raise KmsError("KMSInvalidMacException", "")
        return {"KeyId": k["arn"], "MacValid": True, "MacAlgorithm": alg}

    def context(req):
        return json.dumps(req.get("EncryptionContext") or {}, sort_keys=True).encode()

    def op_encrypt(state, req):
        k = m.key_lookup(state, req.get("KeyId"))
        m.usable(k, "ENCRYPT_DECRYPT")
        if k["spec"] != "SYMMETRIC_DEFAULT":
            raise KmsError("InvalidKeyUsageException", "this fake encrypts with SYMMETRIC_DEFAULT keys only")
        if req.get("EncryptionAlgorithm", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            raise KmsError("InvalidKeyUsageException", "bad EncryptionAlgorithm")
        nonce = os.urandom(12)
        ct = k["id"].encode() + nonce + AESGCM(k["secret"]).encrypt(nonce, blob(req, "Plaintext"), context(req))
        return {"CiphertextBlob": base64.b64encode(ct).decode(), "KeyId": k["arn"],
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    rsa_decrypt = m.op_decrypt

    def op_decrypt(state, req):
        ct = blob(req, "CiphertextBlob", 6144)
        given = m.key_lookup(state, req["KeyId"]) if req.get("KeyId") else None
        if given is not None and given["spec"] != "SYMMETRIC_DEFAULT":
            return rsa_decrypt(state, req)
        with state.lock:
            k = state.keys.get(ct[:36].decode("ascii", "replace"))
        if k is None or k.get("spec") != "SYMMETRIC_DEFAULT":
            raise KmsError("InvalidCiphertextException", "")
        if given is not None and given["id"] != k["id"]:
            raise KmsError("IncorrectKeyException", "")
        m.usable(k, "ENCRYPT_DECRYPT")
        try:
            pt = AESGCM(k["secret"]).decrypt(ct[36:48], ct[48:], context(req))
        except Exception:
            raise KmsError("InvalidCiphertextException", "")
        return {"KeyId": k["arn"], "Plaintext": base64.b64encode(pt).decode(),
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def control_mac(state, req):
        k = m.key_lookup(state, req.get("KeyId"))
        mac = hmac.new(k["secret"], base64.b64decode(req["Message"]), MAC_SPECS[k["spec"]][2]).digest()
        return {"Mac": base64.b64encode(mac).decode()}

    def metadata_extra(k, md):
        if k["spec"] in MAC_SPECS:
            md["MacAlgorithms"] = [MAC_SPECS[k["spec"]][1]]
            md.pop("EncryptionAlgorithms", None)
        elif k["spec"] == "SYMMETRIC_DEFAULT":
            md["EncryptionAlgorithms"] = ["SYMMETRIC_DEFAULT"]

    m.OPS.update({"GenerateMac": op_generate_mac, "VerifyMac": op_verify_mac, "Encrypt": op_encrypt,
                  "Decrypt": op_decrypt})
    m.CREATE_SECRET = create_secret
    m.METADATA_EXTRA = metadata_extra
    m.CONTROL_EXTRA["/_mac"] = control_mac
