#!/bin/sh
# The module exports exactly the three PKCS#11 entry points (design.md).
set -eu
mod=${HWAGG_MODULE:?}
[ -f "$mod" ] || { echo "module not built: $mod"; exit 1; }
got=$(nm -D --defined-only "$mod" | awk '$2 ~ /^[TWDBRV]$/ {print $3}' | sort | tr '\n' ' ')
want="C_GetFunctionList C_GetInterface C_GetInterfaceList "
if [ "$got" != "$want" ]; then
	echo "FAIL: exported symbols are [$got], expected [$want]"
	exit 1
fi
echo "ok: exports exactly: $got"
