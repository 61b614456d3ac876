#!/usr/bin/env python3
"""A man in the middle between the tpm slot and swtpm, for tests.

    tpm_proxy.py LISTEN_PORT TPM_PORT STATE_DIR

Listens on LISTEN_PORT (TPM commands) and LISTEN_PORT+1 (swtpm's control
channel) on 127.0.0.1 and forwards both to swtpm on TPM_PORT and
TPM_PORT+1. TPM commands are framed by their own header (tag, size, code);
for each one the proxy appends its command code (hex) and, for the commands
that carry a secret or a key's authorization (TPM2_Sign, TPM2_Create,
TPM2_Unseal, TPM2_RSA_Decrypt, TPM2_HMAC, TPM2_EncryptDecrypt2), the session attributes of its first
authorization and whether that session was started salted to STATE_DIR/log
("15d 01 salted"), and every command and answer as they travelled to
STATE_DIR/bus (what an observer of the bus sees). While STATE_DIR/tamper
exists, the answer to every TPM2_Sign (or to the command whose code, in hex,
the file holds: 15e for TPM2_Unseal) has one octet of its parameters
flipped, as an attacker on the TPM's bus could do.
"""
import os
import socket
import struct
import sys
import threading

CC_SIGN = 0x15D
CC_UNSEAL = 0x15E
# the commands whose session attributes are logged, with their handle count
LOGGED = {CC_SIGN: 1, CC_UNSEAL: 1, 0x153: 1, 0x159: 1, 0x155: 1, 0x193: 1}


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        got = s.recv(n - len(buf))
        if not got:
            raise EOFError
        buf += got
    return buf


def recv_frame(s):
    head = recv_exact(s, 10)
    size = struct.unpack(">I", head[2:6])[0]
    if size < 10 or size > 1 << 20:
        raise EOFError
    return head + recv_exact(s, size - 10)


CC_START = 0x176
SALTED = {}     # session handle -> started with a salt (by the last TPM2_StartAuthSession)


def started(cmd, rsp):
    # command: tag(2) size(4) cc(4) tpmKey(4) bind(4) nonceCaller(2+n) encryptedSalt(2+m)
    # answer: tag(2) size(4) rc(4) sessionHandle(4)
    key = struct.unpack(">I", cmd[10:14])[0]
    n = struct.unpack(">H", cmd[18:20])[0]
    m = struct.unpack(">H", cmd[20 + n:22 + n])[0]
    SALTED[struct.unpack(">I", rsp[10:14])[0]] = key != 0x40000007 and m > 0


def session_attrs(cmd, handles):
    # tag(2) size(4) cc(4) handles(4 each) authSize(4) session(4) nonce(2+n) attrs(1)
    at = 10 + 4 * handles + 4
    if struct.unpack(">H", cmd[0:2])[0] != 0x8002 or len(cmd) < at + 7:
        return "none"
    salted = "salted" if SALTED.get(struct.unpack(">I", cmd[at:at + 4])[0]) else "unsalted"
    nlen = struct.unpack(">H", cmd[at + 4:at + 6])[0]
    return "%02x %s" % (cmd[at + 6 + nlen], salted) if len(cmd) > at + 6 + nlen else "?"


def tampered(state):
    try:
        with open(os.path.join(state, "tamper")) as f:
            return int(f.read().strip() or "15d", 16)
    except (OSError, ValueError):
        return None


def commands(client, state):
    tpm = socket.create_connection(("127.0.0.1", TPM_PORT))
    try:
        while True:
            cmd = recv_frame(client)
            cc = struct.unpack(">I", cmd[6:10])[0]
            with open(os.path.join(state, "log"), "a") as f:
                f.write("%x %s\n" % (cc, session_attrs(cmd, LOGGED[cc]) if cc in LOGGED else "-"))
            tpm.sendall(cmd)
            rsp = bytearray(recv_frame(tpm))
            with open(os.path.join(state, "bus"), "ab") as f:
                f.write(cmd + rsp)
            rc = struct.unpack(">I", rsp[6:10])[0]
            if cc == CC_START and rc == 0:
                started(cmd, rsp)
            if rc == 0 and tampered(state) == cc and len(rsp) > 30:
                # TPM2_Sign: inside the signature, after the parameter size
                # and scheme; TPM2_Unseal: the first octet of outData
                rsp[24 if cc == CC_SIGN else 16] ^= 0x01
            client.sendall(bytes(rsp))
    except (EOFError, OSError):
        pass
    finally:
        client.close()
        tpm.close()


def control(client, state):
    ctrl = socket.create_connection(("127.0.0.1", TPM_PORT + 1))

    def pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    threading.Thread(target=pump, args=(ctrl, client), daemon=True).start()
    pump(client, ctrl)


def serve(port, handler, state):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handler, args=(c, state), daemon=True).start()


if __name__ == "__main__":
    LISTEN, TPM_PORT, STATE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    threading.Thread(target=serve, args=(LISTEN + 1, control, STATE), daemon=True).start()
    serve(LISTEN, commands, STATE)
