#!/bin/bash
# The tpm slot next to tpm2-pkcs11 (Debian libtpm2-pkcs11-1), in one run, on
# one swtpm behind tpm2-abrmd (as a machine's resource manager; a bare swtpm
# keeps whatever tpm2-pkcs11 leaves loaded):
#   bench/tpm.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# starts swtpm and tpm2-abrmd on a private session bus in a temp dir, makes
# a token on each module, and prints, for ECDSA P-256 and RSA-2048 with a
# token key and 1 and 2 threads, sign ops/s with p50/p99 latency and the
# client CPU (user+sys of the signing process) per signature. Every figure
# is the best of ROUNDS runs (default 3), the modules interleaved.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/_build}" && pwd)
secs=${2:-5}
rounds=${3:-3}
if [ "${HW_BENCH_BUS:-}" != 1 ]; then
	export HW_BENCH_BUS=1
	exec dbus-run-session --config-file="$top/tests/keyring/session.conf" -- "$BASH" ${HW_BENCH_X:+-x} "$0" "$build" "$secs" "$rounds"
fi
MODULE="$build/.libs/libhwagg-pkcs11.so"
BENCH="$build/bench/hwagg-bench"
TPM2PKCS11=${TPM2PKCS11:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}
PIN=123456 SO_PIN=12345678
for f in "$MODULE" "$BENCH" "$TPM2PKCS11"; do
	[ -e "$f" ] || { echo "bench/tpm.sh: $f not found" >&2; exit 1; }
done
work=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
# two free ports in a row (server, control), as the tests pick them
. "$top/tests/lib.sh"
port=$(hw_free_port_pair)
mkdir -p "$work/tpm" "$work/tpm2-pkcs11"
swtpm socket --tpm2 --tpmstate dir="$work/tpm" --flags not-need-init,startup-clear \
	--server type=tcp,port="$port",bindaddr=127.0.0.1 \
	--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 >"$work/swtpm.log" 2>&1 &
pids="$pids $!"
sleep 0.3
/usr/sbin/tpm2-abrmd --session --allow-root --flush-all --tcti="swtpm:host=127.0.0.1,port=$port" \
	>"$work/abrmd.log" 2>&1 &
pids="$pids $!"
export TPM2TOOLS_TCTI=tabrmd:bus_type=session
up=no
for _ in $(seq 1 300); do
	tpm2_getcap properties-fixed >/dev/null 2>&1 && { up=yes; break; }
	sleep 0.1
done
[ "$up" = yes ] || { echo "bench/tpm.sh: tpm2-abrmd did not come up:" >&2; cat "$work/abrmd.log" "$work/swtpm.log" >&2; exit 1; }
tpm2_dictionarylockout --setup-parameters --max-tries=1000 --recovery-time=1 --lockout-recovery-time=1 --clear-lockout

cat >"$work/hwagg.json" <<JSON
{"environment": "development", "store": "$work/store", "slots": [
 {"name": "hwagg", "type": "tpm", "tcti": "$TPM2TOOLS_TCTI"}]}
JSON
export HWAGG_CONF="$work/hwagg.json" HWAGG_LOG=${HWAGG_LOG:-error} HWAGG_BACKEND_DIR=${HWAGG_BACKEND_DIR:-$build/.libs}
export TPM2_PKCS11_STORE="$work/tpm2-pkcs11" TPM2_PKCS11_TCTI="$TPM2TOOLS_TCTI" TPM2_PKCS11_LOG_LEVEL=0
quiet() { "$@" >"$work/step.log" 2>&1 || { echo "bench/tpm.sh: failed: $*" >&2; cat "$work/step.log" >&2; exit 1; }; }
for m in hwagg tpm2pkcs11; do
	mod=$MODULE
	[ "$m" = tpm2pkcs11 ] && mod=$TPM2PKCS11
	quiet pkcs11-tool --module "$mod" --slot-index 0 --init-token --label "$m" --so-pin "$SO_PIN"
	quiet pkcs11-tool --module "$mod" --token-label "$m" --login --login-type so --so-pin "$SO_PIN" \
		--init-pin --pin "$PIN"
done

# run MODULE TOKEN ALG THREADS -> "<bench line> cpu_us=N"
run() {
	local out cpu ops
	out=$( { /usr/bin/time -f 'CPU %U %S' "$BENCH" --token-key "$1" "$2" "$PIN" "$3" "$secs" "$4"; } 2>&1)
	cpu=$(echo "$out" | awk '/^CPU/ { print $2 + $3 }')
	echo "$out" | grep -q 'ops/s' || { echo "$out" | tail -n 3 >&2; return 1; }
	ops=$(echo "$out" | awk '/ops\/s/ { print $3 }')
	echo "$(echo "$out" | grep 'ops/s') cpu/sign $(awk -v c="$cpu" -v o="$ops" -v s="$secs" \
		'BEGIN { printf "%.2f ms", (o > 0 ? 1000 * c / (o * s) : 0) }')"
}
more() { awk -v a="$1" -v b="${2:-0}" 'BEGIN { exit !(a > b) }'; }
declare -A best line
for _ in $(seq 1 "$rounds"); do
	for alg in ec256 rsa2048; do
		for t in 1 2; do
			for m in hwagg tpm2pkcs11; do
				mod=$MODULE
				[ "$m" = tpm2pkcs11 ] && mod=$TPM2PKCS11
				l=$(run "$mod" "$m" "$alg" "$t") || l="failed"
				ops=$(echo "$l" | awk '{print $3}')
				if more "${ops:-0}" "${best[$m$alg$t]:-}"; then best[$m$alg$t]=$ops line[$m$alg$t]=$l; fi
			done
		done
	done
done
echo "tpm slot vs tpm2-pkcs11 $(dpkg-query -W -f '${Version}' libtpm2-pkcs11-1 2>/dev/null || echo '?'), one swtpm" \
	"behind tpm2-abrmd, token keys, best of $rounds x $secs s ($(nproc) cores, $(date -u +%Y-%m-%d))"
for alg in ec256 rsa2048; do
	for t in 1 2; do
		for m in hwagg tpm2pkcs11; do
			printf '%-11s %s\n' "$m" "${line[$m$alg$t]:-failed}"
		done
		awk -v a="${best[hwagg$alg$t]:-0}" -v b="${best[tpm2pkcs11$alg$t]:-0}" -v n="$alg x$t" \
			'BEGIN { if (b > 0) printf "%-11s hwagg/tpm2-pkcs11 %.1fx\n", n, a / b }'
	done
done
