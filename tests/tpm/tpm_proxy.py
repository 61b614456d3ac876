#!/usr/bin/env python3
"""A man in the middle between the tpm slot and swtpm, for tests.

    tpm_proxy.py LISTEN_PORT TPM_PORT STATE_DIR

Listens on LISTEN_PORT (TPM commands) and LISTEN_PORT+1 (swtpm's control
channel) on 127.0.0.1 and forwards both to swtpm on TPM_PORT and
TPM_PORT+1. TPM commands are framed by their own header (tag, size, code);
for each one the proxy appends its command code (hex) and, for TPM2_Sign,
the session attributes of its first authorization to STATE_DIR/log. While
STATE_DIR/tamper exists, the answer to every TPM2_Sign has one octet of its
parameters flipped, as an attacker on the TPM's bus could do.
"""
import os
import socket
import struct
import sys
import threading

CC_SIGN = 0x15D


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


def sign_session_attrs(cmd):
    # tag(2) size(4) cc(4) keyHandle(4) authSize(4) handle(4) nonce(2+n) attrs(1)
    if struct.unpack(">H", cmd[0:2])[0] != 0x8002 or len(cmd) < 25:
        return "none"
    nlen = struct.unpack(">H", cmd[22:24])[0]
    return "%02x" % cmd[24 + nlen] if len(cmd) > 24 + nlen else "?"


def commands(client, state):
    tpm = socket.create_connection(("127.0.0.1", TPM_PORT))
    try:
        while True:
            cmd = recv_frame(client)
            cc = struct.unpack(">I", cmd[6:10])[0]
            with open(os.path.join(state, "log"), "a") as f:
                f.write("%x %s\n" % (cc, sign_session_attrs(cmd) if cc == CC_SIGN else "-"))
            tpm.sendall(cmd)
            rsp = bytearray(recv_frame(tpm))
            rc = struct.unpack(">I", rsp[6:10])[0]
            if cc == CC_SIGN and rc == 0 and os.path.exists(os.path.join(state, "tamper")) and len(rsp) > 30:
                rsp[24] ^= 0x01          # inside the signature, after the parameter size and scheme
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
