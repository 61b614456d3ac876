#!/bin/bash
# The azure-kv or gcp-kms slot on its loopback fake (tests/azure/fake_azure.py,
# tests/gcp/fake_gcp.py) with a fixed latency added to every service request,
# in one run:
#   bench/cloud.sh azure-kv|gcp-kms [BUILD_DIR] [SECONDS] [LATENCY_MS]   (defaults: _build 5 20)
#   (bench/azure.sh and bench/gcp.sh call it)
# prints what bench/kms.sh prints for aws-kms: 16 threads signing ECDSA
# P-256 (signs/s next to the ideal 16 / latency, p50/p99), 1 thread next to
# a plain keep-alive HTTPS request to the same fake, C_Initialize with the
# service unreachable, and TLS handshakes per 1000 signs. 127.0.0.1 only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: bench/cloud.sh azure-kv|gcp-kms [BUILD_DIR] [SECONDS] [LATENCY_MS]}
build=$(cd "${2:-$top/_build}" && pwd)
secs=${3:-5}
lat=${4:-20}
export HWAGG_SRCDIR=$top HWAGG_BUILDDIR=$build HWAGG_MODULE=$build/.libs/libhwagg-pkcs11.so \
	HWAGG_BACKEND_DIR=$build/.libs HW_TIMEOUT=300
client=$build/tests/kms/kmsclient
[ -x "$client" ] || { echo "bench/cloud.sh: build $client first (make check)" >&2; exit 1; }
. "$top/tests/lib.sh"
HW_TARGET=$target
hw_setup >/dev/null
hw_keygen_ec bench-ec 01
# what differs between the services: the fake's controls, its name for a
# signature, a request that waits and is answered without a token, and a
# slot whose service is unreachable
case $target in
azure-kv)
	fault() { hw_az_fault "$1"; }
	stat() { hw_az_stat "$1"; }
	sign_op=sign port=$HW_AZ_PORT plain_path="/keys?api-version=7.4"
	dead_conf() { echo '"vault_url":"https://127.0.0.1:'"$1"'"'; }
	;;
gcp-kms)
	fault() { hw_gcp_fault "$1"; }
	stat() { hw_gcp_stat "$1"; }
	sign_op=AsymmetricSign port=$HW_GCP_PORT plain_path="/v1/$HW_GCP_RING/cryptoKeys"
	dead_conf() { echo '"key_ring":"'"$HW_GCP_RING"'","endpoint":"https://127.0.0.1:'"$1"'"'; }
	;;
*) echo "bench/cloud.sh: azure-kv or gcp-kms, not $target" >&2; exit 1 ;;
esac
fault '{"latency_ms":'"$lat"'}'

c0=$(stat '["tls_connections"]') s0=$(stat '["by_op"].get("'"$sign_op"'", 0)')
"$client" "$MODULE" "$TOKEN" "$PIN" bench 16 "$secs" bench-ec >"$TMP/b16"
c1=$(stat '["tls_connections"]') s1=$(stat '["by_op"].get("'"$sign_op"'", 0)')
read -r _ ops16 _ p50_16 _ p99_16 _ n16 _ _ <"$TMP/b16"
ideal=$(python3 -c "print(round(16 / ($lat / 1000.0)))")

"$client" "$MODULE" "$TOKEN" "$PIN" bench 1 "$secs" bench-ec >"$TMP/b1"
read -r _ ops1 _ p50_1 _ p99_1 _ n1 _ _ <"$TMP/b1"
read -r pp50 pp99 pn < <(python3 - "$port" "$TMP/kms/ca.pem" "$secs" "$plain_path" <<'PY'
import http.client, ssl, sys, time
port, ca, secs, path = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca))
lat, end = [], time.time() + secs
while time.time() < end:
    t = time.perf_counter()
    # the same fake and latency; no token, so the refusal comes at once after the wait
    c.request("GET", path)
    c.getresponse().read()
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print("%.2f %.2f %d" % (lat[len(lat) // 2], lat[len(lat) * 99 // 100], len(lat)))
PY
)

dead=$(hw_free_port)
hw_write_conf '{"name":"'"$TOKEN"'","type":"'"$target"'",'"$(dead_conf "$dead")"'}'
best="" besti=""
for _ in 1 2 3 4 5; do
	read -r _ ms _ msi < <("$client" "$MODULE" "$TOKEN" "$PIN" init)
	best=$(python3 -c "print(min(float('$ms'), float('${best:-1e9}')))")
	besti=$(python3 -c "print(min(float('$msi'), float('${besti:-1e9}')))")
done

echo "$target on the loopback fake, ${lat} ms added per service request, ${secs} s per run"
echo "16 threads: $ops16 signs/s (ideal 16/${lat}ms = $ideal/s, $(python3 -c "print(round(100.0*$ops16/$ideal,1))") %), p50 $p50_16 ms, p99 $p99_16 ms, $n16 signs"
echo "1 thread:   $ops1 signs/s, p50 $p50_1 ms, p99 $p99_1 ms ($n1 signs)"
echo "plain keep-alive HTTPS request to the fake: p50 $pp50 ms, p99 $pp99 ms ($pn requests); sign p50 / plain p50 = $(python3 -c "print(round($p50_1/$pp50,3))")"
echo "service unreachable, best of 5: C_Initialize $besti ms; dlopen + C_Initialize + C_GetSlotList + C_GetTokenInfo $best ms"
echo "TLS connections accepted by the fake during the 16-thread run: $((c1 - c0)) for $((s1 - s0)) signs"
