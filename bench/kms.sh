#!/bin/bash
# The aws-kms slot on the loopback fake of KMS (tests/kms/fake_kms.py) with
# a fixed latency added to every KMS request, in one run:
#   bench/kms.sh [BUILD_DIR] [SECONDS] [LATENCY_MS] [WORKERS] [added|service]
#   (defaults: _build 5 20 1 added)
# added: the fake waits LATENCY_MS before its own work on every KMS request;
# service: every KMS answer leaves LATENCY_MS after its request came in, the
# fake's own work included (a service with that response time, so that a
# client with no overhead of its own would reach 16 / latency exactly)
# WORKERS > 1: after the key is made, the fake serves HTTPS from that many
# processes on one listening socket (one Python process is the bottleneck
# of the 16-thread run, not the slot)
# prints
#   - 16 threads signing ECDSA P-256 for SECONDS: signs/s next to the ideal
#     16 / latency, p50/p99 latency;
#   - 1 thread: p50/p99 sign latency next to a plain keep-alive HTTPS
#     request to the same fake (Python http.client, same latency);
#   - C_Initialize + C_GetSlotList + C_GetTokenInfo with the endpoint
#     unreachable (nothing listens on its port);
#   - TCP connections and TLS handshakes the fake accepted per 1000 signs.
# Everything stays on 127.0.0.1.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/_build}" && pwd)
secs=${2:-5}
lat=${3:-20}
workers=${4:-1}
model=${5:-added}
export HWAGG_SRCDIR=$top HWAGG_BUILDDIR=$build HWAGG_MODULE=$build/.libs/libhwagg-pkcs11.so \
	HWAGG_BACKEND_DIR=$build/.libs HW_TIMEOUT=300
client=$build/tests/kms/kmsclient
[ -x "$client" ] || { echo "bench/kms.sh: build $client first (make check)" >&2; exit 1; }
. "$top/tests/lib.sh"
HW_TARGET=aws-kms
hw_setup >/dev/null
hw_keygen_ec bench-ec 01

stat() { hw_kms_stat "$1"; }
case $model in
added) hw_kms_fault '{"latency_ms":'"$lat"'}' ;;
service) hw_kms_fault '{"service_ms":'"$lat"'}' ;;
*) echo "bench/kms.sh: added or service, not $model" >&2; exit 1 ;;
esac
[ "$workers" -le 1 ] || hw_kms_ctl /_fork '{"workers":'"$workers"'}'

# CPU seconds (user + system) used so far by the fake's processes
fake_cpu() {
	local p t=0 f
	for p in $HW_KMS_PID $(ps -o pid= --ppid "$HW_KMS_PID"); do
		f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${f% *} + ${f#* }))
	done
	python3 -c "print(round($t / $(getconf CLK_TCK), 2))"
}

# 16 threads
c0=$(stat '["tls_connections"]') s0=$(stat '["by_op"].get("Sign", 0)') f0=$(fake_cpu)
/usr/bin/time -f '%U %S' -o "$TMP/b16.cpu" "$client" "$MODULE" "$TOKEN" "$PIN" bench 16 "$secs" bench-ec >"$TMP/b16"
c1=$(stat '["tls_connections"]') s1=$(stat '["by_op"].get("Sign", 0)') f1=$(fake_cpu)
per_worker=$(stat '["worker_tls_connections"]')
read -r cu cs <"$TMP/b16.cpu"
load=$(cut -d' ' -f1 /proc/loadavg)
read -r _ ops16 _ p50_16 _ p99_16 _ n16 _ _ <"$TMP/b16"
ideal=$(python3 -c "print(round(16 / ($lat / 1000.0)))")

# 1 thread, and the plain request
"$client" "$MODULE" "$TOKEN" "$PIN" bench 1 "$secs" bench-ec >"$TMP/b1"
read -r _ ops1 _ p50_1 _ p99_1 _ n1 _ _ <"$TMP/b1"
plain=$(python3 - "$HW_KMS_PORT" "$TMP/kms/ca.pem" "$secs" <<'PY'
import http.client, ssl, sys, time
port, ca, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
lat, end = [], time.time() + secs
while time.time() < end:
    t = time.perf_counter()
    # the same fake and latency; unsigned, so it answers an error at once after the wait
    c.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "TrentService.ListKeys",
              "Content-Type": "application/x-amz-json-1.1"})
    c.getresponse().read()
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print("%.2f %.2f %d" % (lat[len(lat) // 2], lat[len(lat) * 99 // 100], len(lat)))
PY
)
read -r pp50 pp99 pn <<<"$plain"

# C_Initialize with the endpoint unreachable
dead=$(hw_free_port)
hw_kms_conf '"endpoint":"https://127.0.0.1:'"$dead"'"'
best="" besti=""
for _ in 1 2 3 4 5; do
	read -r _ ms _ msi < <("$client" "$MODULE" "$TOKEN" "$PIN" init)
	best=$(python3 -c "print(min(float('$ms'), float('${best:-1e9}')))")
	besti=$(python3 -c "print(min(float('$msi'), float('${besti:-1e9}')))")
done

per1000() { python3 -c "print(round(1000.0 * $1 / max($2, 1), 2))"; }
echo "aws-kms on the loopback fake ($workers process(es)), ${lat} ms per KMS request ($model), ${secs} s per run"
echo "16 threads: $ops16 signs/s (ideal 16/${lat}ms = $ideal/s, $(python3 -c "print(round(100.0*$ops16/$ideal,1))") %), p50 $p50_16 ms, p99 $p99_16 ms, $n16 signs"
echo "1 thread:   $ops1 signs/s, p50 $p50_1 ms, p99 $p99_1 ms ($n1 signs)"
echo "plain keep-alive HTTPS request to the fake: p50 $pp50 ms, p99 $pp99 ms ($pn requests); sign p50 / plain p50 = $(python3 -c "print(round($p50_1/$pp50,3))")"
echo "endpoint unreachable, best of 5: C_Initialize $besti ms; dlopen + C_Initialize + C_GetSlotList + C_GetTokenInfo $best ms"
echo "16-thread run CPU: fake $(python3 -c "print(round($f1 - $f0, 2))") s, client $(python3 -c "print(round($cu + $cs, 2))") s in ${secs} s on $(nproc) cores (load $load); connections per fake process: $per_worker"
echo "TLS connections accepted by the fake during the 16-thread run: $((c1 - c0)) for $((s1 - s0)) signs = $(per1000 $((c1 - c0)) $((s1 - s0))) per 1000 signs (each connection is one TLS handshake)"
