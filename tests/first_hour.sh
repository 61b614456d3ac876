#!/bin/bash
# The README's "first hour", run as written: the ```sh block after
# "<!-- first hour -->", with the built module and CLI, in a fresh HOME, and
# PORT set to a free loopback port. It must end with the TLS server having
# seen the client certificate made for the token key, and ssh-keygen -D
# printing the key hwagg export-pubkey exports.
set -u
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
CLI=${HWAGG_CLI:?}
MODULE=${HWAGG_MODULE:?}
dpkg -s libengine-pkcs11-openssl >/dev/null 2>&1 || { echo "SKIP first_hour: no libp11 engine"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL first_hour: $*"; exit 1; }
awk '/<!-- first hour -->/ { on = 1; next } on && /^```sh/ { body = 1; next }
     body && /^```/ { exit } body { print }' "$HWAGG_SRCDIR/README.md" >"$tmp/walk.sh"
[ -s "$tmp/walk.sh" ] || fail "no first-hour block in README.md"
port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
mkdir "$tmp/home" "$tmp/work"
if ! (cd "$tmp/work" && env -u HWAGG_CONF -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u HWAGG_LOG HOME="$tmp/home" \
	PATH="$(dirname "$CLI"):$PATH" MODULE="$MODULE" PORT="$port" timeout 120 bash -e -o pipefail "$tmp/walk.sh") \
	>"$tmp/out" 2>&1; then
	echo "FAIL first_hour: the block failed:"
	tail -n 30 "$tmp/out"
	exit 1
fi
grep -q 'ok: environment development' "$tmp/out" || fail "config check: $(cat "$tmp/out")"
grep -q 'initialized, 1 private key(s)' "$tmp/out" || fail "status: $(cat "$tmp/out")"
grep -q '^Client certificate' "$tmp/out" && grep -Eq '^ *Subject: CN ?= ?first$' "$tmp/out" ||
	fail "the server did not see the client certificate: $(cat "$tmp/out")"
# the ssh line is the token's key
sshkey=$(grep '^ecdsa-sha2-nistp256 ' "$tmp/work/first-key.pub" | head -1) || fail "no ssh key line"
HOME=$tmp/home HWAGG_ENVIRONMENT=development "$CLI" export-pubkey 'pkcs11:token=hwagg-dev;id=%01' --pem \
	>"$tmp/pub.pem" || fail "export-pubkey"
ssh-keygen -i -m PKCS8 -f "$tmp/pub.pem" >"$tmp/ssh.pub" || fail "ssh-keygen -i"
[ "$(cut -d' ' -f2 "$tmp/ssh.pub")" = "$(cut -d' ' -f2 <<<"$sshkey")" ] || fail "ssh-keygen -D shows another key"
[ ! -e "$tmp/home/.local/share/hwagg/hwagg.db" ] && fail "the store is not in the fresh HOME"

# the NSS recipe of "Using it from the consumers", in the same HOME
awk '/<!-- nss recipe -->/ { on = 1; next } on && /^```sh/ { body = 1; next }
     body && /^```/ { exit } body { print }' "$HWAGG_SRCDIR/README.md" >"$tmp/nss.sh"
[ -s "$tmp/nss.sh" ] || fail "no NSS recipe in README.md"
(cd "$tmp/work" && env -u HWAGG_CONF HOME="$tmp/home" HWAGG_ENVIRONMENT=development MODULE="$MODULE" \
	timeout 60 bash -e -o pipefail "$tmp/nss.sh" </dev/null) >"$tmp/nss.out" 2>&1 ||
	fail "the NSS recipe failed: $(tail -n 20 "$tmp/nss.out")"
grep -Eq '^< *0> ec +01 +first$' "$tmp/nss.out" || fail "certutil -K does not list the key: $(cat "$tmp/nss.out")"
echo "PASS first_hour: the README's first hour works as written"
