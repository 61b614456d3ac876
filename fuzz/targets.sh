# shellcheck shell=sh disable=SC2034
# The fuzz targets (fuzz/<name>.c), in the order the scripts run them, and
# the helper units they share. Sourced by fuzz/build.sh,
# fuzz/run-ci.sh and bench/fuzz.sh.
FUZZ_TARGETS="conf encode attrs template store extsig audit"
FUZZ_HELPERS="fuzz/util.c fuzz/engine.c"
