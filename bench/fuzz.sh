#!/bin/sh
# Long fuzzing runs: build the fuzz targets (fuzz/build.sh) and run each for
# SECONDS, one after the other, one process each:
#   bench/fuzz.sh SECONDS [TARGET...]      (default: every target)
# The corpus grows in _build-fuzz/corpus/<target>/ from run to run (the seeds
# in fuzz/corpus/<target>/ are read, never written); crashes land in
# _build-fuzz/artifacts/<target>/ and logs in _build-fuzz/logs/. Prints the
# executions and executions per second of each target. Exits non-zero if a
# target failed. FUZZ_OUT changes the output directory.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:?usage: bench/fuzz.sh SECONDS [TARGET...]}
shift
out=${FUZZ_OUT:-$top/_build-fuzz}
# shellcheck source=fuzz/targets.sh
. "$top/fuzz/targets.sh"
targets=${*:-$FUZZ_TARGETS}

"$top/fuzz/build.sh" "$out" > /dev/null || exit 1
base=/tmp
[ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/hwagg-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

failed=0
for t in $targets; do
	mkdir -p "$out/corpus/$t" "$out/artifacts/$t" "$out/logs"
	log=$out/logs/$t.log
	TMPDIR=$work "$out/fuzz-$t" -max_total_time="$secs" -timeout=60 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
		"$out/corpus/$t" "$top/fuzz/corpus/$t" > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\) .* corp: \([0-9]*\)\/.*/cov \1, corpus \2/p')
	if [ $rc -ne 0 ]; then
		failed=$((failed + 1))
		echo "fuzz-$t: FAILED (exit $rc) after ${execs:-?} executions; see $log and $out/artifacts/$t/"
	else
		echo "fuzz-$t: ${execs:-?} executions in ${secs}s, ${rate:-?} exec/s, ${cov:-?}"
	fi
done
[ $failed -eq 0 ]
