#!/bin/bash
# The README's SoftHSM2 walk-through for the hsm slot, run as written: the
# ```sh block after "<!-- hsm walk-through -->" in README.md, with MODULE set
# to the built module. It must end with a signature that openssl verifies
# and the key listed by SoftHSM2 itself.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "${HWAGG_SKIP_CONSUMERS:-}" = 1 ] && { echo "SKIP hsm_readme: HWAGG_SKIP_CONSUMERS=1"; exit 77; }
[ -e /usr/lib/softhsm/libsofthsm2.so ] || { echo "SKIP hsm_readme: SoftHSM2 is not installed"; exit 77; }
[ -e "${HWAGG_MODULE:-}" ] || { echo "SKIP hsm_readme: HWAGG_MODULE not built"; exit 77; }
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/hwagg-hsm_readme.XXXXXX") || exit 1
trap 'rm -rf "$TMPDIR"' EXIT
export TMPDIR
awk '/<!-- hsm walk-through -->/ { on = 1; next } on && /^```sh/ { body = 1; next }
     body && /^```/ { exit } body { print }' "$HWAGG_SRCDIR/README.md" >"$TMPDIR/walk.sh"
[ -s "$TMPDIR/walk.sh" ] || { echo "FAIL hsm_readme: no walk-through block in README.md"; exit 1; }
if ! (unset HWAGG_CONF SOFTHSM2_CONF; MODULE=$HWAGG_MODULE timeout 120 bash -e -o pipefail "$TMPDIR/walk.sh") \
	>"$TMPDIR/out" 2>&1; then
	echo "FAIL hsm_readme: the walk-through failed:"
	tail -n 30 "$TMPDIR/out"
	exit 1
fi
for want in 'token label *: hsm' 'token model *: SoftHSM v2' 'ECDSA-SHA256' 'Verified OK' 'label: *web'; do
	grep -Eq "$want" "$TMPDIR/out" || { echo "FAIL hsm_readme: '$want' not in the output:"; cat "$TMPDIR/out"; exit 1; }
done
echo "PASS hsm_readme: the README's SoftHSM2 walk-through works as written"
