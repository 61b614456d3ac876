#!/bin/sh
# The concurrency and fork suites (and the external slot's threads) under
# ThreadSanitizer, in a build of their own:
#
#   tests/concurrency/tsan.sh SRCDIR BUILDDIR
#
# Configures BUILDDIR (made if missing; a configured one is reused) with
# -fsanitize=thread ($TSAN_CC, default gcc; clang works too), builds only
# what the suites need (the module, the hostile lower module and the three
# test programs: TSan wants the program that dlopens an instrumented module
# instrumented too) and runs them with TSAN_OPTIONS under which any report
# fails the run: halt_on_error, a non-zero exit code, lock-order inversions
# (detect_deadlocks) with both stacks of each. Exit status 0 only when every
# suite passes without a report. With the aws-kms slot built, its threads
# test (tests/kms/threads.sh: 8 signers and a lister under 429s) runs too.
# A few minutes on two cores.
set -u
usage="usage: tsan.sh SRCDIR BUILDDIR"
src=$(cd "${1:?$usage}" && pwd) || exit 2
mkdir -p "${2:?$usage}" || exit 2
b=$(cd "$2" && pwd) || exit 2
san="-fsanitize=thread -fno-omit-frame-pointer"
cd "$b" || exit 2
if [ ! -f config.status ]; then
	echo "tsan: configuring $b"
	"$src/configure" --enable-strict CC="${TSAN_CC:-gcc}" CFLAGS="-O1 -g $san" LDFLAGS="$san" \
		>configure.out 2>&1 || { tail -n 20 configure.out; exit 1; }
fi
echo "tsan: building in $b"
make -j2 libhwagg-pkcs11.la tests/hostile/hostile.la tests/concurrency/test_concurrency \
	tests/concurrency/test_fork tests/external/test_threads tests/dlopen/test_policy >make.out 2>&1 || { tail -n 30 make.out; exit 1; }
# the aws-kms slot's threads test, when the build has it
kms=""
if grep -q '^#define WITH_KMS 1' config.h; then
	make -j2 hwagg-kms.la tests/kms/kmsclient >>make.out 2>&1 || { tail -n 30 make.out; exit 1; }
	kms=tests/kms/threads.sh
fi

HWAGG_MODULE=$b/.libs/libhwagg-pkcs11.so
HWAGG_HOSTILE=$b/tests/hostile/.libs/hostile.so
HWAGG_SRCDIR=$src
HWAGG_BUILDDIR=$b
HWAGG_BACKEND_DIR=$b/.libs
export HWAGG_BACKEND_DIR
# the suites' own time limits are for uninstrumented builds
CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-3}
TSAN_OPTIONS="halt_on_error=1 exitcode=66 detect_deadlocks=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export HWAGG_MODULE HWAGG_HOSTILE HWAGG_SRCDIR HWAGG_BUILDDIR CK_TIMEOUT_MULTIPLIER TSAN_OPTIONS

rc=0
# test_policy: threads signing through the policy slot while a member logs
# out and the policy token logs in again (a policy slot's io lock is taken
# before its members')
for t in tests/concurrency/test_concurrency tests/concurrency/test_fork tests/external/test_threads tests/dlopen/test_policy $kms; do
	echo "tsan: $t"
	case $t in
	*.sh) bash "$src/$t" ;;
	*) "$b/$t" ;;
	esac
	st=$?
	if [ "$st" -eq 0 ]; then
		echo "tsan: $t: ok"
	else
		echo "tsan: $t: FAILED (exit status $st)"
		rc=1
	fi
done
exit "$rc"
