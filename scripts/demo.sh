#!/bin/sh
# The main job on the embedded default, with no configuration: build the
# module, then generate a key, sign and verify through it with pkcs11-tool
# and openssl. Run as root on a fresh Debian 12: it installs what it needs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
[ "${HWAGG_SKIP_DEPS:-}" = 1 ] || "$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
MODULE="$top/_build/.libs/libhwagg-pkcs11.so"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# no config file: the built-in "hwagg-dev" soft slot, its store under here
unset HWAGG_CONF
export XDG_DATA_HOME="$work/data"
p11() { pkcs11-tool --module "$MODULE" --token-label hwagg-dev "$@"; }
echo "== the embedded default slot"
pkcs11-tool --module "$MODULE" --list-slots
echo "== initialize the token and the user PIN"
p11 --init-token --label hwagg-dev --so-pin 87654321
p11 --login --login-type so --so-pin 87654321 --init-pin --pin 1234
echo "== generate an EC P-256 key pair"
p11 --login --pin 1234 --keypairgen --key-type EC:prime256v1 --label demo --id 01
p11 --read-object --type pubkey --id 01 -o "$work/pub.der"
openssl pkey -pubin -inform DER -in "$work/pub.der" -out "$work/pub.pem"
echo "== sign with ECDSA-SHA256 through the module"
echo "hello from hwagg" > "$work/msg"
p11 --login --pin 1234 --sign --mechanism ECDSA-SHA256 --id 01 \
	--signature-format openssl -i "$work/msg" -o "$work/sig"
echo "== verify with openssl"
openssl dgst -sha256 -verify "$work/pub.pem" -signature "$work/sig" "$work/msg"
echo "demo: OK"
