#!/bin/bash
# `make install` writes under the prefix and nowhere else, unless configure
# was asked for other module directories (--with-p11-module-dir,
# --with-p11-config-dir): then those hold the module and hwagg.module and
# everything else stays under the prefix. The installed hwagg.module names
# the installed module, the installed CLI says where the module is, and
# `make uninstall` removes every file again. Runs in a DESTDIR, so nothing
# outside the test's temp directory is touched.
set -u
BUILD=${HWAGG_BUILDDIR:?}
PREFIX=${HWAGG_PREFIX:?}
MODDIR=${HWAGG_P11_MODULE_DIR:?}
CONFDIR=${HWAGG_P11_CONFIG_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
dest=$tmp/dest
# a make of our own, not a job of the make running this test
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$BUILD" "$@" >"$tmp/make.out" 2>&1; }

mk install DESTDIR="$dest" || fail "make install DESTDIR=$dest: $(tail -n 20 "$tmp/make.out")"
(cd "$dest" && find . -type f -o -type l | sed 's|^\.||') | sort >"$tmp/files"
[ -s "$tmp/files" ] || fail "make install wrote nothing"

# without --with-p11-*-dir, the module directories are under the prefix
conf=$("$BUILD/config.status" --config)
if [[ $conf != *--with-p11-module-dir* && $MODDIR != "$PREFIX"/* ]]; then
	fail "the default module directory $MODDIR is outside the prefix $PREFIX"
fi
if [[ $conf != *--with-p11-config-dir* && $CONFDIR != "$PREFIX"/* ]]; then
	fail "the default hwagg.module directory $CONFDIR is outside the prefix $PREFIX"
fi

# every file under the prefix, or in a module directory configure was given
outside=$(while read -r f; do
	case $f in
	"$PREFIX"/* | "$MODDIR"/libhwagg-pkcs11.* | "$CONFDIR"/hwagg.module) ;;
	*) echo "$f" ;;
	esac
done <"$tmp/files")
[ -z "$outside" ] || fail "make install wrote outside $PREFIX:
$outside"

module=$MODDIR/libhwagg-pkcs11.so
[ -f "$dest$module" ] || fail "no module at $module:
$(cat "$tmp/files")"
[ -f "$dest$CONFDIR/hwagg.module" ] || fail "no hwagg.module in $CONFDIR"
[ -x "$dest$PREFIX/bin/hwagg" ] || fail "no hwagg in $PREFIX/bin"
# the rotation timer and the service it starts, which runs the installed CLI
[ -f "$dest$PREFIX/lib/systemd/system/hwagg-rotate.timer" ] || fail "no hwagg-rotate.timer"
grep -q "^ExecStart=$PREFIX/bin/hwagg rotate --due " "$dest$PREFIX/lib/systemd/system/hwagg-rotate.service" ||
	fail "hwagg-rotate.service does not run $PREFIX/bin/hwagg rotate --due"
# the module file names the module where it will be, not in DESTDIR
grep -qx "module: $module" "$dest$CONFDIR/hwagg.module" ||
	fail "hwagg.module does not name $module: $(cat "$dest$CONFDIR/hwagg.module")"
case $MODDIR in
"$PREFIX"/*) echo "PASS: the module and hwagg.module are under $PREFIX ($MODDIR, $CONFDIR)" ;;
*) echo "PASS: the module is in $MODDIR and hwagg.module in $CONFDIR, as configured" ;;
esac
echo "PASS: make install wrote $(wc -l <"$tmp/files") files, none outside $PREFIX and the configured module directories"

# backend modules go where the installed module looks for them
if [ -f "$BUILD/.libs/hwagg-keyring.so" ]; then
	kr=$(grep '/hwagg-keyring.so$' "$tmp/files" || true)
	[ -n "$kr" ] || fail "no backend module hwagg-keyring.so installed: $(cat "$tmp/files")"
	strings "$dest$module" | grep -qx "$(dirname "$kr")" ||
		fail "the installed module does not look for backend modules in $(dirname "$kr")"
	echo "PASS: hwagg-keyring.so is installed in $(dirname "$kr"), where the module looks for it"
fi

# the installed CLI says where the module is
printf '{"environment": "development", "store": "%s/store", "slots": [{"name": "i", "type": "soft"}]}\n' \
	"$tmp" >"$tmp/conf.json"
out=$(HWAGG_CONF=$tmp/conf.json HWAGG_LOG=error "$dest$PREFIX/bin/hwagg" status) ||
	fail "the installed hwagg status exited $?: $out"
grep -q "^module: *$module " <<<"$out" || fail "status does not name $module: $out"
echo "PASS: the installed hwagg status names $module"

# bash completion: installed, and it completes from the installed hwagg
comp=$dest$PREFIX/share/bash-completion/completions/hwagg
[ -f "$comp" ] || fail "no bash completion at $PREFIX/share/bash-completion/completions/hwagg"
got=$(PATH="$dest$PREFIX/bin:$PATH" bash -c '. "$1"; COMP_WORDS=(hwagg ini); COMP_CWORD=1; _hwagg
	echo "${COMPREPLY[*]}"; COMP_WORDS=(hwagg keygen --ty); COMP_CWORD=2; _hwagg; echo "${COMPREPLY[*]}"
	COMP_WORDS=(hwagg keygen --type ec); COMP_CWORD=3; _hwagg; echo "${COMPREPLY[*]}"' _ "$comp")
[ "$got" = "init-token init-pin
--type
ec-p256 ec-p384" ] || fail "bash completion offers: $got"
echo "PASS: bash completion is installed and completes commands, options and key types"

mk uninstall DESTDIR="$dest" || fail "make uninstall: $(tail -n 20 "$tmp/make.out")"
left=$(cd "$dest" && find . -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "PASS: make uninstall removes every file"
