#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine (run as root):
#   1. install what the build and the tests need
#   2. build with warnings as errors and run `make check` (unit, the suite
#      that dlopens the module, and every real consumer)
#   3. build again with ASan+UBSan and run the unit and dlopen suites
#   4. build with every optional backend disabled and run the unit suites,
#      and with every backend built in (no backend modules) and run the
#      suites of the backends that are otherwise modules
#   5. run the dlopen, hsm and hostile suites under valgrind, and the
#      concurrency and fork suites under ThreadSanitizer (lock-order
#      inversions included)
#   6. run every fuzz target for a fixed number of executions
#   7. make distcheck (packaging; consumers skip there)
# Ends with one line "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
passed=0
failed=0
step() {
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		echo "=== $name: ok"
		passed=$((passed + 1))
	else
		echo "=== $name: FAILED"
		failed=$((failed + 1))
	fi
}
# the automake summary counts individual test programs and scripts
count_suite() {
	local log=$1 p f
	p=$(awk '/^# PASS:/ {print $3}' "$log" | tail -1)
	f=$(awk '/^# (FAIL|ERROR|XPASS):/ {s += $3} END {print s+0}' "$log")
	passed=$((passed + ${p:-0} - 1))   # the step itself is counted once
	failed=$((failed + f))
}

# after a failed make check in build dir $1: name each failing test and
# print the end of its log, so a CI transcript says what broke
show_failures() {
	local b=$1 t
	for t in $(sed -n 's/^\(FAIL\|ERROR\): \([^ ]*\).*/\2/p' "$b/check.out" | sort -u); do
		echo "--- $t failed; the end of its log:"
		tail -n 40 "$b/${t%.sh}.log" 2>/dev/null
	done
}

[ "${HWAGG_SKIP_DEPS:-}" = 1 ] || scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

main_check() {
	scripts/build.sh && make -C _build check -j2 VERBOSE=1 > "$top/_build/check.out" 2>&1
	local rc=$?
	tail -n 25 "$top/_build/check.out"
	[ $rc = 0 ] || show_failures "$top/_build"
	count_suite "$top/_build/check.out"
	return $rc
}
step "build and make check" main_check

UNIT="tests/unit/test_attrs tests/unit/test_mech tests/unit/test_encode tests/unit/test_config tests/unit/test_config_check tests/unit/test_store tests/unit/test_pin tests/unit/test_uri tests/unit/test_hmap tests/dlopen/test_dlopen tests/dlopen/test_rules tests/dlopen/test_coldstart tests/dlopen/test_hsm tests/dlopen/test_hsm_wrap tests/hostile/test_hostile tests/external/test_threads tests/dlopen/test_audit tests/unit/test_policy_conf tests/dlopen/test_policy tests/dlopen/test_policy_env tests/dlopen/test_secret tests/dlopen/test_hsm_secret tests/dlopen/test_keymgmt"
asan() {
	local b="$top/_build-asan" san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
	rm -rf "$b" && mkdir -p "$b" && cd "$b" &&
	"$top/configure" --enable-strict CFLAGS="-O1 -g $san" LDFLAGS="$san" > configure.out &&
	make -j2 > make.out 2>&1 &&
	# the suites' own time limits are for uninstrumented builds
	CK_TIMEOUT_MULTIPLIER=3 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		make check TESTS="tests/symbols.sh $UNIT" VERBOSE=1 > check.out 2>&1
	local rc=$?
	tail -n 12 check.out
	[ $rc = 0 ] || show_failures "$b"
	cd "$top"
	return $rc
}
step "ASan+UBSan: unit and dlopen suites" asan

# every optional backend switched off still builds and passes
nobackends() {
	local b="$top/_build-min"
	rm -rf "$b" && mkdir -p "$b" && cd "$b" &&
	"$top/configure" --enable-strict --with-keyring=no --with-tpm=no --with-kms=no > configure.out &&
	make -j2 > make.out 2>&1 &&
	make check TESTS="tests/symbols.sh tests/cli.sh tests/cli_messages.sh tests/log_lines.sh $UNIT" > check.out 2>&1
	local rc=$?
	grep -E "^# (TOTAL|PASS|FAIL)" check.out
	[ $rc = 0 ] || show_failures "$b"
	cd "$top"
	return $rc
}
step "build with the optional backends disabled" nobackends

# every backend linked into the one module file, as --enable-builtin-backends
# packagers get it: the keyring suites and its consumers, and the tpm
# suites, pass that way too
builtin() {
	local b="$top/_build-builtin"
	rm -rf "$b" && mkdir -p "$b" && cd "$b" &&
	"$top/configure" --enable-strict --enable-builtin-backends > configure.out &&
	make -j2 > make.out 2>&1 &&
	make check TESTS="tests/symbols.sh tests/dlopen/test_coldstart tests/dlopen/test_dlopen \
		tests/keyring/faults.sh tests/keyring/writers.sh tests/keyring/fork.sh tests/keyring/consumers.sh \
		tests/tpm/faults.sh tests/tpm/fork.sh tests/unit/test_sigv4 tests/kms/basic.sh tests/kms/faults.sh \
		tests/gcp/basic.sh tests/azure/basic.sh" \
		> check.out 2>&1
	local rc=$?
	grep -E "^# (TOTAL|PASS|FAIL)" check.out
	[ $rc = 0 ] || show_failures "$b"
	cd "$top"
	return $rc
}
step "build with every backend built in" builtin

vg() {
	# in-process (no fork per test) so valgrind sees every call into the module
	local t rc=0
	for t in tests/dlopen/test_dlopen tests/dlopen/test_hsm tests/dlopen/test_hsm_wrap tests/hostile/test_hostile \
		tests/external/test_threads; do
		echo "--- valgrind $t"
		CK_FORK=no HWAGG_MODULE="$top/_build/.libs/libhwagg-pkcs11.so" \
			HWAGG_HOSTILE="$top/_build/tests/hostile/.libs/hostile.so" \
			valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
			--show-leak-kinds=definite "$top/_build/$t" > "$top/_build/valgrind.out" 2>&1 || rc=1
		tail -n 15 "$top/_build/valgrind.out"
	done
	return $rc
}
step "valgrind: dlopen, hsm and hostile suites" vg

tsan() {
	rm -rf "$top/_build-tsan"
	tests/concurrency/tsan.sh "$top" "$top/_build-tsan"
}
step "ThreadSanitizer: concurrency and fork suites" tsan

# every parser of outside data, a fixed number of executions per target
# (long runs: bench/fuzz.sh SECONDS)
fuzz() {
	rm -rf "$top/_build-fuzz-ci"
	fuzz/run-ci.sh "$top/_build-fuzz-ci"
}
step "libFuzzer targets (fixed executions)" fuzz

dist() {
	HWAGG_SKIP_CONSUMERS=1 make -C _build distcheck DISTCHECK_CONFIGURE_FLAGS="--enable-strict" \
		> _build/distcheck.out 2>&1
	local rc=$?
	tail -n 6 _build/distcheck.out
	return $rc
}
step "make distcheck" dist

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
