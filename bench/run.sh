#!/bin/bash
# Soft-slot signing next to OpenSSL itself, in one run:
#   bench/run.sh [BUILD_DIR] [SECONDS]
# prints hwagg soft-slot ECDSA P-256 and RSA-2048 ops/s with p50/p99 latency
# for 1 and 2 threads, `openssl speed` for the same algorithms (1 and 2
# processes), the ratios, and the C_Initialize+C_GetSlotList+C_Finalize time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
secs=${2:-5}
. "$top/bench/soft_world.sh"

speed() { # ALG MULTI -> sign/s
	openssl speed -seconds "$secs" ${2:+-multi $2} "$1" 2>/dev/null |
		awk -v alg="$1" '
			alg ~ /ecdsa/ && /ecdsa \(nistp256\)/ { print $(NF-1) }
			alg ~ /rsa/ && /^rsa 2048 bits/ { print $(NF-1) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }

echo "hwagg soft slot vs openssl speed ($secs s each, $(nproc) cores, $(date -u +%Y-%m-%d))"
for alg in ec256 rsa2048; do
	ref=$([ $alg = ec256 ] && echo ecdsap256 || echo rsa2048)
	for t in 1 2; do
		line=$("$BENCH" "$MODULE" bench 123456 $alg "$secs" $t)
		ops=$(echo "$line" | awk '{print $3}')
		if [ $t = 1 ]; then o=$(speed $ref); else o=$(speed $ref 2); fi
		[ $t = 1 ] && one=$ops
		printf '%s | openssl speed %s%s: %8.0f sign/s | hwagg/openssl %s%s\n' "$line" "$ref" \
			"$([ $t = 2 ] && echo ' -multi 2')" "$o" "$(ratio "$ops" "$o")" \
			"$([ $t = 2 ] && echo ", 2 threads / 1 thread $(awk -v a="$ops" -v b="$one" 'BEGIN{printf "%.2fx", a/b}')")"
	done
done
"$BENCH" --init "$MODULE" 200
