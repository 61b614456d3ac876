#!/bin/sh
# The fuzz targets in CI: build them (fuzz/build.sh), then run each over its
# seed corpus for a fixed number of executions with a fixed seed, so a run is
# reproducible. Exits non-zero if a target crashes, leaks, times out or
# makes a sanitizer report. Takes a minute or two on two cores, build included.
#   fuzz/run-ci.sh [OUTDIR]        (default _build-fuzz-ci)
# OUTDIR keeps the binaries, one log per target and, on failure, the input
# that failed (OUTDIR/artifacts/<target>/); reproduce it with
#   OUTDIR/fuzz-<target> OUTDIR/artifacts/<target>/crash-...
# FUZZ_RUNS overrides every target's number of executions, FUZZ_SEED the seed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/_build-fuzz-ci}
# shellcheck source=fuzz/targets.sh
. "$top/fuzz/targets.sh"

# executions per target: the engine targets run ~500 inputs/s, the others
# tens of thousands
runs_for() {
	[ -n "${FUZZ_RUNS:-}" ] && { echo "$FUZZ_RUNS"; return; }
	case $1 in
	template|store) echo 20000 ;;
	*) echo 50000 ;;
	esac
}

"$top/fuzz/build.sh" "$out" > "$out.build.log" 2>&1 || {
	cat "$out.build.log"
	echo "fuzz: build failed"
	exit 1
}
mv "$out.build.log" "$out/build.log"

# The targets' own temporary directories go here, and go away with it even
# after a crash (a crashing process skips its exit handlers).
base=/tmp
[ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/hwagg-fuzz-ci.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

failed=0
for t in $FUZZ_TARGETS; do
	runs=$(runs_for "$t")
	mkdir -p "$work/corpus/$t" "$work/tmp" "$out/artifacts/$t"
	start=$(date +%s)
	# the first directory receives new inputs; the seeds are only read
	TMPDIR=$work/tmp "$out/fuzz-$t" -runs="$runs" -seed="${FUZZ_SEED:-1}" -timeout=30 \
		-rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
		"$work/corpus/$t" "$top/fuzz/corpus/$t" > "$out/$t.log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
	if [ $rc -ne 0 ] || grep -q "^SUMMARY: " "$out/$t.log"; then
		failed=$((failed + 1))
		tail -n 60 "$out/$t.log"
		echo "fuzz-$t: FAILED (exit $rc) after ${secs}s; log $out/$t.log, input in $out/artifacts/$t/"
	else
		echo "fuzz-$t: ok, ${execs:-?} executions in ${secs}s"
	fi
done
[ $failed -eq 0 ] && echo "fuzz: all targets ok" || echo "fuzz: $failed target(s) failed"
[ $failed -eq 0 ]
