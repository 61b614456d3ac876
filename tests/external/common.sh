# tests/external/common.sh — the external slot's test world, on top of
# tests/lib.sh: key pairs made with openssl in $TMP, and a config whose
# slot "ext" runs tests/external/signer.sh over them.

# ext_setup — TMP, cleanup, MODULE, TOKEN=ext, SIGNER.
ext_setup() {
	[ "${HWAGG_SKIP_CONSUMERS:-}" = 1 ] && hw_skip "HWAGG_SKIP_CONSUMERS=1"
	MODULE=${HWAGG_MODULE:-}
	[ -n "$MODULE" ] && [ -e "$MODULE" ] || hw_skip "module '${MODULE:-\$HWAGG_MODULE unset}' does not exist"
	export MODULE TOKEN=ext PIN=123456 URI="pkcs11:token=ext"
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/hwagg-$HW_NAME.XXXXXX") || hw_fail "mktemp -d failed"
	export TMP
	trap hw_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	SIGNER="$HWAGG_SRCDIR/tests/external/signer.sh"
	[ -x "$SIGNER" ] || hw_fail "$SIGNER is not executable"
	mkdir -p "$TMP/digests"
}

# ext_key NAME ALG — $TMP/NAME.key and $TMP/NAME.pub; ALG: p256, p384, rsa, ed25519.
ext_key() {
	local args
	case $2 in
	p256) args=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
	p384) args=(-algorithm EC -pkeyopt ec_paramgen_curve:P-384) ;;
	rsa) args=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
	ed25519) args=(-algorithm ED25519) ;;
	esac
	hw_run "make $2 key $1" openssl genpkey "${args[@]}" -out "$TMP/$1.key"
	hw_run "public key $1" openssl pkey -in "$TMP/$1.key" -pubout -out "$TMP/$1.pub"
}

# ext_keyjson LABEL ID KEY BEHAVIOUR [JSON-MEMBERS] — one entry of "keys".
ext_keyjson() {
	printf '{"label":"%s","id":"%s","public_key":"%s","command":["%s","%s","%s"]%s}' \
		"$1" "$2" "$TMP/$3.pub" "$SIGNER" "$4" "$TMP/$3.key" "${5:+,$5}"
}

# ext_conf KEYS [SLOT-MEMBERS] — $TMP/hwagg.json with slot "ext" holding KEYS
# (comma-separated ext_keyjson entries); digest files go to $TMP/digests.
ext_conf() {
	printf '{"environment":"development","store":"%s","slots":[{"name":"ext","type":"external","tmp_dir":"%s","keys":[%s]%s}]}\n' \
		"$TMP/store" "$TMP/digests" "$1" "${2:+,$2}" >"$TMP/hwagg.json"
	export HWAGG_CONF="$TMP/hwagg.json"
}

# ext_sign_fails STEP WANT-RV WANT-LOG MECH ID — pkcs11-tool's sign must fail
# with WANT-RV and the module's log must have WANT-LOG (extended regex).
ext_sign_fails() {
	local step=$1 rv=$2 log=$3 mech=$4 id=$5
	hw_run_fails "$step" hw_p11 --sign -m "$mech" --id "$id" -i "$TMP/msg" -o "$TMP/never"
	hw_expect "$step: the call's result" "rv = $rv" "$TMP/run.err"
	hw_expect "$step: the log line" "$log" "$TMP/run.err"
	[ ! -s "$TMP/never" ] || hw_fail "$step: a signature was written"
}
