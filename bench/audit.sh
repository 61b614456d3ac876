#!/bin/bash
# The audit log's cost on the hot path, in one run: soft-slot ECDSA P-256
# signing with the log off, with "sign_events": "summary" (the default:
# counts per key, one record a second) and with "each" (one chained record
# per signature), the same token and key store each time.
#   bench/audit.sh [BUILD_DIR] [SECONDS] [THREADS]
# Goal (README): summary keeps >= 90 % and each >= 50 % of the rate with
# the log off. Besides the wall-clock rate, each mode signs OPS times
# (default 40000) in one thread and reports signatures per CPU second of
# the process (user + system), which a loaded machine disturbs far less.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
secs=${2:-5}
threads=${3:-1}
ops=${OPS:-40000}
MODULE="$build/.libs/libhwagg-pkcs11.so"
BENCH="$build/bench/hwagg-bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
conf() {
	cat > "$work/hwagg.json" <<JSON
{"environment": "development", "store": "$work/store", "audit": $1,
 "slots": [{"name": "bench", "type": "soft"}]}
JSON
}
export HWAGG_CONF="$work/hwagg.json" HWAGG_LOG=error
conf '{"enabled": false}'
pkcs11-tool --module "$MODULE" --init-token --label bench --so-pin 12345678 >/dev/null 2>&1
pkcs11-tool --module "$MODULE" --token-label bench --login --login-type so --so-pin 12345678 \
	--init-pin --pin 123456 >/dev/null 2>&1

rate() { "$BENCH" "$MODULE" bench 123456 ec256 "$secs" "$threads" | awk '{print $3}'; }
# signatures per CPU second: the CPU time of OPS signatures less that of
# one (start-up and the login's scrypt)
cpu_of() {
	/usr/bin/time -f '%U %S' -o "$work/time" "$BENCH" "$MODULE" bench 123456 ec256 1 1 "$1" > /dev/null
	awk '{ print $1 + $2 }' "$work/time"
}
cpu_rate() {
	local one all
	one=$(cpu_of 1)
	all=$(cpu_of "$ops")
	awk -v n="$ops" -v a="$all" -v o="$one" 'BEGIN { printf "%.0f", (n - 1) / (a - o) }'
}
echo "audit cost, soft slot ECDSA P-256, $threads thread(s), $secs s each, $(nproc) cores, $(date -u +%Y-%m-%d)"
conf '{"enabled": false}'
off=$(rate)
off_cpu=$(cpu_rate)
conf "{\"path\": \"$work/audit.jsonl\", \"sign_events\": \"summary\"}"
summary=$(rate)
summary_cpu=$(cpu_rate)
conf "{\"path\": \"$work/each.jsonl\", \"sign_events\": \"each\"}"
each=$(rate)
each_cpu=$(cpu_rate)
"$build/hwagg" audit verify "$work/each.jsonl" > /dev/null || { echo "the log does not verify"; exit 1; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
printf 'audit off: %8.0f sign/s          | %8.0f sign per CPU second\n' "$off" "$off_cpu"
printf 'summary:   %8.0f sign/s %4s of off | %8.0f sign per CPU second %4s of off (%s records)\n' "$summary" \
	"$(pct "$summary" "$off")" "$summary_cpu" "$(pct "$summary_cpu" "$off_cpu")" "$(wc -l < "$work/audit.jsonl")"
printf 'each:      %8.0f sign/s %4s of off | %8.0f sign per CPU second %4s of off (%s records)\n' "$each" \
	"$(pct "$each" "$off")" "$each_cpu" "$(pct "$each_cpu" "$off_cpu")" "$(wc -l < "$work/each.jsonl")"
