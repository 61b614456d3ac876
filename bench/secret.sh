#!/bin/bash
# Soft-slot secret-key throughput next to OpenSSL itself, in one run:
#   bench/secret.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# prints hwagg AES-256-GCM encryption and HMAC-SHA256 MB/s for 16-byte,
# 1 KiB and 64 KiB messages (one C_*Init + one-shot call per message, one
# thread), `openssl speed -evp aes-256-gcm` and `-hmac sha256` for the same
# sizes, and the ratios; for GCM also `openssl speed -aead` (a new IV, 13
# bytes of AAD and the tag per message, as hwagg does per C_Encrypt, where
# plain -evp streams one long message through one context). Both sides count bytes per second of CPU time
# (openssl speed divides by its user time unless given -elapsed), so load
# from other processes slows neither down on paper; each figure is the best
# of ROUNDS (default 1) measurements, hwagg's and openssl's interleaved.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
secs=${2:-3}
rounds=${3:-1}
. "$top/bench/soft_world.sh"

speed() { # ARGS BYTES -> MB/s (openssl speed reports 1000s of bytes per second)
	openssl speed -seconds "$secs" -bytes "$2" $1 2>/dev/null | awk 'END { sub(/k$/, "", $NF); print $NF / 1000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

echo "hwagg soft slot secret keys vs openssl speed ($secs s each, best of $rounds, per CPU second, $(date -u +%Y-%m-%d))"
for bytes in 16 1024 65536; do
	gcm=0 mac=0 ogcm=0 oaead=0 omac=0
	for ((r = 0; r < rounds; r++)); do
		line=$("$BENCH" --secret "$MODULE" bench 123456 "$secs" $bytes)
		gcm=$(best "$gcm" "$(echo "$line" | awk '{print $3}')")
		mac=$(best "$mac" "$(echo "$line" | awk '{print $6}')")
		ogcm=$(best "$ogcm" "$(speed "-evp aes-256-gcm" $bytes)")
		oaead=$(best "$oaead" "$(speed "-aead -evp aes-256-gcm" $bytes)")
		omac=$(best "$omac" "$(speed "-hmac sha256" $bytes)")
	done
	printf '%6s bytes: AES-256-GCM %8.1f MB/s (openssl %8.1f, %s; -aead %8.1f, %s)  HMAC-SHA256 %8.1f MB/s (openssl %8.1f, %s)\n' \
		$bytes "$gcm" "$ogcm" "$(ratio "$gcm" "$ogcm")" "$oaead" "$(ratio "$gcm" "$oaead")" \
		"$mac" "$omac" "$(ratio "$mac" "$omac")"
done
