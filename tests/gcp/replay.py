#!/usr/bin/python3
"""Send the requests Google's own Node client made (a capture, see
tests/data/README.md) to the fake, as they were: same method, path, query,
headers and body; only the key ring is the fake's and the bearer token one
the fake issued. Every request must be answered 200 with the fields the
client reads, so the fake understands the real client, enum numbers
included. Prints one line per request; exits 1 on the first mismatch.

    replay.py CAPTURE HTTPS_PORT HTTP_PORT KEY_RING CA_FILE
"""
import http.client
import json
import ssl
import sys

WANT = {  # the fields the client reads from each answer
    "instance": None, "project-id": None, "token": ["access_token", "expires_in"],
    "cryptoKeys": ["name", "purpose", "versionTemplate"], "publicKey": ["pem", "pemCrc32c", "algorithm"],
    "asymmetricSign": ["signature", "signatureCrc32c", "name"], "cryptoKeyVersions": ["cryptoKeyVersions"],
    "destroy": ["state"], "newVersion": ["name", "state"], "patch": ["labels"],
}


def requests(path):
    for block in open(path, encoding="utf-8").read().split("\n----\n"):
        head, _, body = block.strip("\n").partition("\n\n")
        if not head:
            continue
        lines = head.split("\n")
        method, target, _ = lines[0].split(" ")
        hdrs = dict(l.split(": ", 1) for l in lines[1:])
        yield method, target, hdrs, body


def kind(method, target):
    path = target.split("?")[0]
    if path.startswith("/computeMetadata/"):
        return path.rsplit("/", 1)[-1]
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":")[1]
    if method == "PATCH":
        return "patch"
    if method == "POST" and last == "cryptoKeyVersions":
        return "newVersion"
    return last if last in WANT else None


def main():
    capture, port, http_port, ring, ca = sys.argv[1:]
    ctx = ssl.create_default_context(cafile=ca)
    token = None
    n = 0
    for method, target, hdrs, body in requests(capture):
        k = kind(method, target)
        target = target.replace("projects/p11-project/locations/us-east1/keyRings/p11ring", ring)
        hdrs.pop("Host", None)
        hdrs.pop("accept-encoding", None)  # answers plain, whatever the client accepts
        if target.startswith("/computeMetadata/"):
            c = http.client.HTTPConnection("127.0.0.1", int(http_port), timeout=10)
        else:
            c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=10)
            hdrs["authorization"] = "Bearer " + token
        c.request(method, target, body=body.encode() if body else None, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            print("replay: %s %s: HTTP %d %s" % (method, target, r.status, data[:200]))
            return 1
        if WANT.get(k):
            doc = json.loads(data)
            missing = [f for f in WANT[k] if f not in doc]
            if missing:
                print("replay: %s %s: answer lacks %s" % (method, target, missing))
                return 1
            if k == "token":
                token = doc["access_token"]
        n += 1
        print("replay: %s %s -> 200" % (method, target.split("?")[0]))
    print("replay: %d requests answered as the client expects" % n)
    return 0 if n >= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
