#!/bin/bash
# The hsm slot next to the module it passes through to, in one run:
#   bench/hsm.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# sets up a throwaway SoftHSM2 token and an hwagg config with one hsm slot
# over it, then prints, for ECDSA P-256 and RSA-2048 with 1 and 2 threads,
# bench/hwagg-bench against SoftHSM2 directly and through the hsm slot (the
# same code path: a session key generated on the token, C_SignInit + C_Sign
# of a 32-byte digest), ROUNDS times alternating (default 3), with the best
# of each and the ratios. Then instructions per ECDSA signature under
# valgrind --tool=callgrind: the difference between runs of 200 and 1200
# signatures, so that setup and key generation cancel out.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
secs=${2:-5}
rounds=${3:-3}
SOFTHSM=${HW_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
HWAGG="$build/.libs/libhwagg-pkcs11.so"
BENCH="$build/bench/hwagg-bench"
for f in "$SOFTHSM" "$HWAGG" "$BENCH"; do
	[ -e "$f" ] || { echo "bench/hsm.sh: $f not found" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" >"$work/softhsm2.conf"
cat >"$work/hwagg.json" <<JSON
{"environment": "development", "store": "$work/store", "slots": [
 {"name": "bench", "type": "hsm", "module": "$SOFTHSM", "token": "bench", "security": "software"}]}
JSON
export SOFTHSM2_CONF="$work/softhsm2.conf" HWAGG_CONF="$work/hwagg.json" HWAGG_LOG=error
softhsm2-util --init-token --free --label bench --so-pin 12345678 --pin 123456 >/dev/null

ops() { echo "$1" | awk '{print $3}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
more() { awk -v a="$(ops "$1")" -v b="$(ops "$2")" 'BEGIN { exit !(a > b) }'; }
median() { tr ' ' '\n' | grep . | tr -d '%' | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f%%", v[int((NR + 1) / 2)] }'; }

echo "hsm slot vs SoftHSM2 directly ($secs s per run, $rounds rounds alternating, best of each;" \
	"$(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%d))"
for alg in ec256 rsa2048; do
	for t in 1 2; do
		bd="" bh="" per=""
		for _ in $(seq 1 "$rounds"); do
			d=$("$BENCH" "$SOFTHSM" bench 123456 $alg "$secs" $t)
			h=$("$BENCH" "$HWAGG" bench 123456 $alg "$secs" $t)
			per="$per $(pct "$(ops "$h")" "$(ops "$d")")"
			if [ -z "$bd" ] || more "$d" "$bd"; then bd=$d; fi
			if [ -z "$bh" ] || more "$h" "$bh"; then bh=$h; fi
		done
		printf 'SoftHSM2  %s\nhsm slot  %s\n          hsm slot / SoftHSM2: best %s, median round %s (rounds:%s)\n' \
			"$bd" "$bh" "$(pct "$(ops "$bh")" "$(ops "$bd")")" "$(echo "$per" | median)" "$per"
	done
done

if command -v valgrind >/dev/null; then
	count() { # MODULE N -> instructions of a run with N signatures
		valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BENCH" "$1" bench 123456 ec256 1 1 "$2" \
			2>&1 >/dev/null | awk '/Collected/ { print $4 }'
	}
	for m in "$SOFTHSM" "$HWAGG"; do
		a=$(count "$m" 200)
		b=$(count "$m" 1200)
		per=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", (b - a) / 1000 }')
		printf 'callgrind %-45s %8s instructions per ECDSA P-256 signature\n' "$m" "$per"
		[ "$m" = "$SOFTHSM" ] && base=$per
	done
	printf 'callgrind hsm slot / SoftHSM2: %s\n' "$(awk -v a="$per" -v b="$base" 'BEGIN { printf "%.2f%%", 100 * a / b }')"
fi
