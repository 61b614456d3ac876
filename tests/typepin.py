#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and type a PIN at its prompt.

usage: typepin.py PIN CMD [ARG...]

Waits (30 s at most) for "PIN for slot" (or $TYPEPIN_PROMPT) on the
terminal, types PIN and a newline, then copies everything the terminal
showed to stdout. Exits with the command's exit status (124 on timeout)."""
import os
import pty
import select
import sys
import time

pin, cmd = sys.argv[1].encode(), sys.argv[2:]
prompt = os.environ.get("TYPEPIN_PROMPT", "PIN for slot").encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
seen, typed, deadline = b"", False, time.time() + 30
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if not ready:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:        # the other side closed: the command is done
        break
    if not data:
        break
    seen += data
    if not typed and prompt in seen:
        os.write(fd, pin + b"\n")
        typed = True
sys.stdout.write(seen.decode("utf-8", "replace"))
if time.time() >= deadline:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    sys.exit(124)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
