#!/bin/bash
# The keyring slot next to OpenSSL itself, in one run:
#   bench/keyring.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# starts a private session bus and gnome-keyring-daemon (in a temp HOME, as
# the tests do: no real keyring is touched), then prints ECDSA P-256 sign
# ops/s with p50/p99 latency through the keyring slot, for a token key
#   - cached:   "cache_keys": true, the key read from the keyring once per
#               login session;
#   - uncached: the default, the key read from the keyring for every
#               signature (one GetSecret round trip + PKCS#8 parse);
# each with 1 and 2 threads, next to `openssl speed -seconds N ecdsap256`
# (1 and 2 processes) in the same run, and the ratios. Every figure is the
# best of ROUNDS runs (default 3), the runs of all kinds interleaved, so a
# busy moment on the machine does not decide a ratio.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
secs=${2:-5}
rounds=${3:-3}
if [ "${HW_KEYRING_BUS:-}" != 1 ]; then
	export HW_KEYRING_BUS=1
	exec dbus-run-session --config-file="$top/tests/keyring/session.conf" -- "$BASH" "$0" "$build" "$secs" "$rounds"
fi
MODULE="$build/.libs/libhwagg-pkcs11.so"
BENCH="$build/bench/hwagg-bench"
PIN=bench-password
for f in "$MODULE" "$BENCH"; do
	[ -e "$f" ] || { echo "bench/keyring.sh: $f not found" >&2; exit 1; }
done
work=$(mktemp -d)
mkdir -p "$work/home" "$work/run"
chmod 700 "$work/run"
printf '%s' "$PIN" | env HOME="$work/home" XDG_RUNTIME_DIR="$work/run" XDG_DATA_HOME="$work/home/data" \
	gnome-keyring-daemon --foreground --unlock --components=secrets >"$work/daemon.log" 2>&1 &
daemon=$!
trap 'kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
	dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
		org.freedesktop.Secret.Service.ReadAlias string:default 2>/dev/null | grep -q /collection/ && break
	sleep 0.1
done
cat >"$work/hwagg.json" <<JSON
{"environment": "development", "store": "$work/store", "slots": [
 {"name": "cached", "type": "keyring", "cache_keys": true},
 {"name": "uncached", "type": "keyring"}]}
JSON
export HWAGG_CONF="$work/hwagg.json" HWAGG_LOG=error
for t in cached uncached; do
	pkcs11-tool --module "$MODULE" --token-label "$t" --init-token --label "$t" --so-pin "$PIN" >/dev/null
done

speed() { # MULTI -> sign/s
	openssl speed -seconds "$secs" ${1:+-multi $1} ecdsap256 2>/dev/null |
		awk '/ecdsa \(nistp256\)/ { print $(NF-1) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
more() { awk -v a="$1" -v b="${2:-0}" 'BEGIN { exit !(a > b) }'; }

declare -A best line
for _ in $(seq 1 "$rounds"); do
	for t in 1 2; do
		o=$(speed "$([ "$t" = 2 ] && echo 2)")
		more "$o" "${best[openssl$t]:-}" && best[openssl$t]=$o
		for slot in cached uncached; do
			l=$("$BENCH" --token-key "$MODULE" "$slot" "$PIN" ec256 "$secs" "$t")
			ops=$(echo "$l" | awk '{print $3}')
			if more "$ops" "${best[$slot$t]:-}"; then best[$slot$t]=$ops line[$slot$t]=$l; fi
		done
	done
done

echo "hwagg keyring slot (gnome-keyring $(gnome-keyring-daemon --version | awk 'NR == 1 {print $2}')) vs" \
	"openssl speed, ECDSA P-256 with a token key, best of $rounds x $secs s ($(nproc) cores, $(date -u +%Y-%m-%d))"
for t in 1 2; do
	for slot in cached uncached; do
		printf '%-8s %s | openssl speed ecdsap256%s: %8.0f sign/s | keyring/openssl %s\n' "$slot" \
			"${line[$slot$t]}" "$([ "$t" = 2 ] && echo ' -multi 2' || echo '')" "${best[openssl$t]}" \
			"$(ratio "${best[$slot$t]}" "${best[openssl$t]}")"
	done
done
