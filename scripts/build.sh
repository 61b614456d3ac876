#!/bin/sh
# Configure and build in _build/ (out of tree, warnings are errors). The
# source tree itself stays unconfigured so other build directories (the
# sanitizer build, distcheck) can share it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] || ./autogen.sh
if [ -f config.status ]; then
	echo "build: the source tree is configured in place; run 'make distclean' first" >&2
	exit 1
fi
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure --enable-strict --prefix=/usr/local
make -j"$(nproc)"
