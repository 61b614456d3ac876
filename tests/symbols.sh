#!/bin/sh
# The module exports exactly the three PKCS#11 entry points, and each backend
# module exactly its entry point (design.md). Unless every backend is built
# in, the module itself needs none of the heavy libraries: they come with
# the backend module that uses them, on first use.
set -eu
mod=${HWAGG_MODULE:?}
[ -f "$mod" ] || { echo "module not built: $mod"; exit 1; }
exports() { nm -D --defined-only "$1" | awk '$2 ~ /^[TWDBRV]$/ {print $3}' | sort | tr '\n' ' '; }
got=$(exports "$mod")
want="C_GetFunctionList C_GetInterface C_GetInterfaceList "
if [ "$got" != "$want" ]; then
	echo "FAIL: exported symbols are [$got], expected [$want]"
	exit 1
fi
echo "ok: exports exactly: $got"
dir=${HWAGG_BACKEND_DIR:-$(dirname "$mod")}
for b in "$dir"/hwagg-*.so; do
	[ -f "$b" ] || continue
	got=$(exports "$b")
	if [ "$got" != "hwagg_backend " ]; then
		echo "FAIL: $b exports [$got], expected [hwagg_backend ]"
		exit 1
	fi
	echo "ok: $(basename "$b") exports exactly: $got"
done
if [ "${HWAGG_BUILTIN_BACKENDS:-no}" != yes ]; then
	heavy=$(readelf -d "$mod" | grep NEEDED | grep -E 'libsecret|libglib|libgio|libgobject|libdbus|libtss2|libcurl' || true)
	if [ -n "$heavy" ]; then
		echo "FAIL: the module itself needs heavy libraries:"
		echo "$heavy"
		exit 1
	fi
	echo "ok: the module needs none of libsecret, GLib, D-Bus, tss2, libcurl"
fi
