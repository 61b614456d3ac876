#!/bin/sh
# Builds the libFuzzer targets with clang, ASan and UBSan, straight from the
# sources (the autotools build is not involved): fuzz/build.sh [OUTDIR]
# (default _build-fuzz). Produces OUTDIR/fuzz-<target> for every target in
# FUZZ_TARGETS below. Needs clang and libclang-rt-14-dev (scripts/install-deps.sh).
#   CC=clang-14 JOBS=2 fuzz/build.sh /tmp/fz
# Flags and file lists are split into words on purpose.
# shellcheck disable=SC2086
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$top/_build-fuzz}" && cd "${1:-$top/_build-fuzz}" && pwd)
CC=${CC:-clang}
JOBS=${JOBS:-2}
# shellcheck source=fuzz/targets.sh
. "$top/fuzz/targets.sh"
command -v "$CC" > /dev/null || { echo "build.sh: $CC not found (scripts/install-deps.sh installs clang)" >&2; exit 1; }

# The internal library's sources are the list in Makefile.am, so a file
# added there is fuzzed without touching this script. Backends with heavy
# libraries are modules (configure's default): the engine holds only their
# configuration keys (keyring_conf.c) and loads the module on first use of
# such a slot. The modules are not built here (their GLib/D-Bus stacks are
# not on the way to the parsers fuzzed); a keyring slot in a configuration
# is checked as usual and its token is absent, as without the module file.
# shellcheck disable=SC1003
lib_srcs="$(sed -n '/^libhwagg_la_SOURCES = /,/[^\\]$/p' "$top/Makefile.am" |
	tr -s ' \t\\' '\n' | grep '\.c$') slots/keyring_conf.c"
[ -n "$lib_srcs" ] || { echo "build.sh: no sources found in Makefile.am" >&2; exit 1; }

# config.h as configure writes it by default; backend modules would be
# looked for in a directory that has none
mkdir -p "$out/include" "$out/obj"
printf '#define WITH_HSM 1\n#define WITH_KEYRING 1\n#define HW_BUILTIN_BACKENDS 0\n#define PACKAGE_VERSION "fuzz"\n#define HW_BACKEND_DIR "%s"\n' \
	"$out/no-backends" > "$out/include/config.h.new"
cmp -s "$out/include/config.h.new" "$out/include/config.h" 2>/dev/null ||
	mv "$out/include/config.h.new" "$out/include/config.h"
rm -f "$out/include/config.h.new"

pkgs="p11-kit-1 json-c sqlite3 libcrypto"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $san -fsanitize=fuzzer-no-link \
-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror \
-I$top -I$out/include $(pkg-config --cflags $pkgs)"
LIBS="$(pkg-config --libs $pkgs) -ldl -lpthread"
export CC CFLAGS top out

# one object per source, in parallel; the file name keeps its directory
# (module/conf.c -> module_conf.o) so fuzz/conf.c does not collide with it
obj() {
	for s in "$@"; do
		echo "$out/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')"
	done
}
# shellcheck disable=SC2016
printf '%s\n' $lib_srcs $FUZZ_HELPERS | xargs -P "$JOBS" -I{} sh -c '
	echo "  CC      {}"
	$CC $CFLAGS -c "$top/{}" -o "$out/obj/$(echo {} | tr / _ | sed "s/\.c$/.o/")"'

# archives, so that a target links only what it calls
rm -f "$out/libhwagg-fuzz.a" "$out/libfuzz-helpers.a"
# shellcheck disable=SC2046
ar rcs "$out/libhwagg-fuzz.a" $(obj $lib_srcs)
# shellcheck disable=SC2046
ar rcs "$out/libfuzz-helpers.a" $(obj $FUZZ_HELPERS)

for t in $FUZZ_TARGETS; do
	echo "  CCLD    fuzz-$t"
	$CC $CFLAGS -c "$top/fuzz/$t.c" -o "$out/obj/target_$t.o"
	$CC $san -fsanitize=fuzzer "$out/obj/target_$t.o" "$out/libfuzz-helpers.a" "$out/libhwagg-fuzz.a" $LIBS \
		-o "$out/fuzz-$t"
done
