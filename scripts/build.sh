#!/bin/sh
# Configure and build in the source tree (warnings are errors).
set -eu
cd "$(dirname "$0")/.."
[ -x configure ] || ./autogen.sh
[ -f Makefile ] || ./configure --enable-strict --prefix=/usr/local
make -j"$(nproc)"
