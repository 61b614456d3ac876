#!/bin/bash
# Cold start next to SoftHSM2, in one run:
#   bench/coldstart.sh [BUILD_DIR] [RUNS]
# Each figure is RUNS fresh processes (default 30), alternating between the
# modules, each timing dlopen(RTLD_NOW) + C_Initialize + C_GetSlotList(CK_FALSE)
# + C_Finalize (bench/hwagg-bench --cold): p50 and mean in ms, and the p50
# of the processes' peak RSS. Configurations: hwagg with one soft slot,
# hwagg with a slot of every type this build has (soft, hsm, keyring), and
# SoftHSM2 with one token.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
runs=${2:-30}
SOFTHSM=${HW_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
HWAGG="$build/.libs/libhwagg-pkcs11.so"
BENCH="$build/bench/hwagg-bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" >"$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf" HWAGG_LOG=error HWAGG_BACKEND_DIR="$build/.libs"
softhsm2-util --init-token --free --label cold --so-pin 12345678 --pin 123456 >/dev/null
cat >"$work/soft.json" <<JSON
{"environment": "development", "store": "$work/store", "slots": [{"name": "soft", "type": "soft"}]}
JSON
cat >"$work/all.json" <<JSON
{"environment": "development", "store": "$work/store", "slots": [
 {"name": "soft", "type": "soft"},
 {"name": "hsm", "type": "hsm", "module": "$SOFTHSM", "token": "cold", "security": "software"},
 {"name": "kr", "type": "keyring"}]}
JSON

declare -A ms rss
for _ in $(seq 1 "$runs"); do
	for cfg in soft all softhsm; do
		if [ $cfg = softhsm ]; then
			out=$("$BENCH" --cold "$SOFTHSM")
		else
			out=$(HWAGG_CONF="$work/$cfg.json" "$BENCH" --cold "$HWAGG")
		fi
		ms[$cfg]="${ms[$cfg]:-} ${out% *}"
		rss[$cfg]="${rss[$cfg]:-} ${out#* }"
	done
done
stats() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1; s += $1 } END { printf "p50 %7.2f  mean %7.2f", v[int((NR + 1) / 2)], s / NR }'; }
p50() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "cold cycle: dlopen + C_Initialize + C_GetSlotList(CK_FALSE) + C_Finalize, $runs fresh processes each" \
	"($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%d))"
for cfg in soft all softhsm; do
	case $cfg in
	soft) name="hwagg, one soft slot" ;;
	all) name="hwagg, soft + hsm + keyring" ;;
	softhsm) name="SoftHSM2 2.6, one token" ;;
	esac
	printf '%-30s ms: %s   peak RSS p50 %s kB\n' "$name" "$(echo "${ms[$cfg]}" | stats)" "$(echo "${rss[$cfg]}" | p50)"
done
