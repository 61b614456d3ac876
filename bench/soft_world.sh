# Sourced by the soft-slot benches (bench/run.sh, bench/secret.sh) after
# top, build and secs are set: MODULE, BENCH, a temporary store with one
# soft slot "bench" (user PIN 123456), removed on exit.
MODULE="$build/.libs/libhwagg-pkcs11.so"
BENCH="$build/bench/hwagg-bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/hwagg.json" <<JSON
{"environment": "development", "store": "$work/store", "slots": [{"name": "bench", "type": "soft"}]}
JSON
export HWAGG_CONF="$work/hwagg.json" HWAGG_LOG=error
pkcs11-tool --module "$MODULE" --init-token --label bench --so-pin 12345678 >/dev/null 2>&1
pkcs11-tool --module "$MODULE" --token-label bench --login --login-type so --so-pin 12345678 \
	--init-pin --pin 123456 >/dev/null 2>&1
