# tests/lib.sh — shared setup and helpers for the consumer tests (tests/consumers/*.sh).
#
# Sourced by bash. hw_setup builds a throwaway world for $HW_TARGET:
#   soft (default)  hwagg's embedded soft slot        MODULE=$HWAGG_MODULE
#   softhsm         SoftHSM2 directly (reference run) MODULE=libsofthsm2.so
#   hsm             hwagg passing through to SoftHSM2 MODULE=$HWAGG_MODULE
#   keyring         hwagg's keyring slot on a private Secret Service
#                   (its own session bus and gnome-keyring-daemon, see
#                   hw_keyring_bus)                 MODULE=$HWAGG_MODULE
#   tpm             hwagg's tpm slot on a swtpm of its own (and, with
#                   HW_TPM_ABRMD=1, tpm2-abrmd in front of it on a private
#                   session bus, see hw_tpm_start)  MODULE=$HWAGG_MODULE
#   aws-kms         hwagg's aws-kms slot on a loopback fake of AWS KMS
#                   (tests/kms/lib.sh)              MODULE=$HWAGG_MODULE
#   gcp-kms         hwagg's gcp-kms slot on a loopback fake of GCP Cloud
#                   KMS (tests/gcp/lib.sh)          MODULE=$HWAGG_MODULE
#   azure-kv        hwagg's azure-kv slot on a loopback fake of Azure Key
#                   Vault (tests/azure/lib.sh)      MODULE=$HWAGG_MODULE
#   policy          hwagg's policy slot in production over an hsm member
#                   (SoftHSM2 declared hardware: the keys go there) and a
#                   soft member (not eligible in production)
#                                                   MODULE=$HWAGG_MODULE
# and exports MODULE TOKEN PIN SO_PIN TMP URI. Every external command runs
# under a timeout; every background process is registered and killed on exit,
# and the temp dir is removed. Failures say which step failed and show stderr.

HW_SOFTHSM_MODULE=${HW_SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
HW_P11KIT_PROXY=${HW_P11KIT_PROXY:-/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so}
HW_TIMEOUT=${HW_TIMEOUT:-60}
HW_NAME=$(basename "${0:-test}" .sh)
HW_PIDS=""

hw_log()  { printf '%s: %s\n' "$HW_NAME" "$*" >&2; }
hw_pass() { printf 'PASS %s: %s\n' "$HW_NAME" "$*"; }
hw_fail() {
	printf 'FAIL %s: %s\n' "$HW_NAME" "$*" >&2
	exit 1
}
hw_skip() {
	printf 'SKIP %s: %s\n' "$HW_NAME" "$*"
	exit 77
}

# hw_timed CMD... — CMD under the timeout; a shell function (which bounds its
# own commands) is called directly.
hw_timed() {
	if declare -F "$1" >/dev/null; then "$@"; else timeout "$HW_TIMEOUT" "$@"; fi
}

# hw_run STEP CMD... — run CMD under a timeout; stdout -> $TMP/run.out,
# stderr -> $TMP/run.err. On failure: exit 1 naming STEP, CMD and its output.
hw_run() {
	local step=$1 rc=0
	shift
	hw_timed "$@" >"$TMP/run.out" 2>"$TMP/run.err" </dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		[ "$rc" -eq 124 ] && step="$step (timed out after ${HW_TIMEOUT}s)"
		hw_fail "$step: exit $rc from: $*
--- stderr ---
$(tail -n 40 "$TMP/run.err")
--- stdout ---
$(tail -n 20 "$TMP/run.out")"
	fi
}

# hw_run_fails STEP CMD... — CMD must exit non-zero (not by timeout).
hw_run_fails() {
	local step=$1 rc=0
	shift
	hw_timed "$@" >"$TMP/run.out" 2>"$TMP/run.err" </dev/null || rc=$?
	[ "$rc" -eq 0 ] && hw_fail "$step: expected failure but succeeded: $*
$(tail -n 20 "$TMP/run.out")"
	[ "$rc" -eq 124 ] && hw_fail "$step: timed out instead of failing: $*"
	return 0
}

# hw_expect STEP PATTERN FILE — FILE must contain the extended regex PATTERN.
hw_expect() {
	grep -Eq -- "$2" "$3" || hw_fail "$1: '$2' not found in output:
$(tail -n 40 "$3")"
}

# hw_kill_tree SIGNAL PID — signal PID and all its descendants (children first
# are collected, so a dying parent cannot hide them).
hw_kill_tree() {
	local sig=$1 pid=$2 kids k
	kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
	kill "-$sig" "$pid" 2>/dev/null
	for k in $kids; do hw_kill_tree "$sig" "$k"; done
}

hw_cleanup() {
	local p i kids
	trap - EXIT INT TERM HUP
	for p in $HW_PIDS; do hw_kill_tree TERM "$p"; done
	for p in $HW_PIDS; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
	done
	# Whatever else this shell started and is still running.
	kids=$(ps -o pid= --ppid $$ 2>/dev/null)
	for p in $HW_PIDS $kids; do hw_kill_tree KILL "$p"; done
	wait 2>/dev/null
	[ -n "${TMP:-}" ] && [ -d "$TMP" ] && rm -rf "$TMP"
}

# hw_bg NAME CMD... — start CMD in the background in its own process group,
# bounded by the timeout; output -> $TMP/NAME.log. Sets HW_BG_PID.
hw_bg() {
	local name=$1
	shift
	setsid timeout "$HW_TIMEOUT" "$@" >"$TMP/$name.log" 2>&1 </dev/null &
	HW_BG_PID=$!
	HW_PIDS="$HW_PIDS $HW_BG_PID"
}

# hw_track PID — have the exit trap kill PID (and its process group).
hw_track() { HW_PIDS="$HW_PIDS $1"; }

hw_free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' ||
		hw_fail "hw_free_port: python3 could not bind a port on 127.0.0.1"
}

# hw_free_port_pair — a free port P on 127.0.0.1 whose P+1 is free too (a
# server and its control port, as swtpm has them).
hw_free_port_pair() {
	python3 -c 'import socket
while True:
    a, b = socket.socket(), socket.socket()
    a.bind(("127.0.0.1", 0))
    p = a.getsockname()[1]
    try:
        b.bind(("127.0.0.1", p + 1))
        break
    except OSError:
        pass
    finally:
        a.close(); b.close()
print(p)' || hw_fail "hw_free_port_pair: python3 could not bind ports on 127.0.0.1"
}

# hw_wait_port PORT [PID] — until something listens on 127.0.0.1:PORT (10 s);
# fails early if PID (the server) has died. Reads /proc/net/tcp rather than
# connecting, so a server that accepts only one connection is not used up.
hw_wait_port() {
	local port=$1 pid=${2:-} hex
	hex=$(printf '%04X' "$port")
	for _ in $(seq 1 100); do
		if grep -Eq "^ *[0-9]+: (0100007F|00000000):$hex [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			hw_fail "server on port $port exited before listening"
		fi
		sleep 0.1
	done
	hw_fail "nothing listening on 127.0.0.1:$port after 10 s"
}

# ---- PKCS#11 via pkcs11-tool -------------------------------------------------

# pkcs11-tool on our token, with a timeout (usable inside and outside hw_run).
hw_p11() { timeout "$HW_TIMEOUT" pkcs11-tool --module "$MODULE" --token-label "$TOKEN" "$@"; }

hw_keygen_ec() {	# LABEL ID [CURVE]
	hw_run "generate EC ${3:-prime256v1} key '$1' id $2" hw_p11 --login --pin "$PIN" \
		--keypairgen --key-type "EC:${3:-prime256v1}" --label "$1" --id "$2" --usage-sign
}

hw_keygen_rsa() {	# LABEL ID [BITS]
	hw_run "generate RSA-${3:-2048} key '$1' id $2" hw_p11 --login --pin "$PIN" \
		--keypairgen --key-type "rsa:${3:-2048}" --label "$1" --id "$2" \
		--usage-sign --usage-decrypt
}

# hw_pubkey_pem ID OUT — the public key object with CKA_ID=ID, as PEM SPKI.
# pkcs11-tool 0.23 cannot export P-384 keys ("cannot create EVP_PKEY"); for
# EC keys the SPKI is then built from the CKA_EC_PARAMS/CKA_EC_POINT it lists.
hw_pubkey_pem() {
	local der="$TMP/pub-$1.der"
	if ! hw_p11 --read-object --type pubkey --id "$1" -o "$der" >"$TMP/run.out" 2>"$TMP/run.err"; then
		hw_run "list public key id $1" hw_p11 --list-objects --type pubkey
		python3 - "$1" "$TMP/run.out" "$der" <<'PY' || hw_fail "read public key id $1: no EC_POINT/EC_PARAMS listed:
$(cat "$TMP/run.out")"
import sys
want, listing, out = sys.argv[1].lower(), open(sys.argv[2]).read(), sys.argv[3]
def der(tag, body):
    n = len(body)
    ln = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + ln + body
for block in listing.split("Public Key Object")[1:]:
    f = {}
    for line in block.splitlines():
        k, _, v = line.strip().partition(":")
        f[k.strip()] = v.strip()
    if f.get("ID", "").lower() != want or "EC_POINT" not in f:
        continue
    point, params = bytes.fromhex(f["EC_POINT"]), bytes.fromhex(f["EC_PARAMS"])
    if point[0] == 0x04 and point[1] < 0x80 and point[1] == len(point) - 2:
        point = point[2:]
    elif point[0] == 0x04 and point[1] == 0x81 and point[2] == len(point) - 3:
        point = point[3:]
    alg = der(0x30, bytes.fromhex("06072a8648ce3d0201") + params)
    open(out, "wb").write(der(0x30, alg + der(0x03, b"\0" + point)))
    sys.exit(0)
sys.exit(1)
PY
	fi
	hw_run "convert public key id $1 to PEM" openssl pkey -pubin -inform DER -in "$der" -out "$2"
}

# hw_mechs — the token's mechanism list (cached in $TMP/mechs).
hw_mechs() {
	if [ ! -s "$TMP/mechs" ]; then
		hw_run "list mechanisms" hw_p11 --list-mechanisms
		cp "$TMP/run.out" "$TMP/mechs"
	fi
	cat "$TMP/mechs"
}

# hw_has_mech NAME — true if pkcs11-tool lists NAME (e.g. ECDSA-SHA256).
hw_has_mech() { hw_mechs | grep -Eq "^[[:space:]]*$1([ ,]|$)"; }

# hw_sign MECH ID IN OUT [pkcs11-tool args] — sign IN with the key CKA_ID=ID.
hw_sign() {
	local mech=$1 id=$2 in=$3 out=$4
	shift 4
	hw_run "sign with $mech (key id $id)" hw_p11 --login --pin "$PIN" --sign -m "$mech" \
		--id "$id" -i "$in" -o "$out" "$@"
}

# hw_verify STEP PUB DATA SIG [openssl dgst args] — openssl must accept SIG
# (digest SHA-256, or $HW_MD).
hw_verify() {
	local step=$1 pub=$2 data=$3 sig=$4
	shift 4
	hw_run "$step: openssl verify" openssl dgst "-${HW_MD:-sha256}" -verify "$pub" -signature "$sig" "$@" "$data"
	hw_expect "$step: openssl verify" '^Verified OK' "$TMP/run.out"
}

# hw_verify_rejects STEP PUB DATA SIG [args] — openssl must reject SIG.
hw_verify_rejects() {
	local step=$1 pub=$2 data=$3 sig=$4
	shift 4
	hw_run_fails "$step: openssl must reject" openssl dgst "-${HW_MD:-sha256}" -verify "$pub" \
		-signature "$sig" "$@" "$data"
	hw_expect "$step: openssl must reject" 'Verification failure' "$TMP/run.out"
}

# hw_check_sig STEP PUB DATA SIG [args] — SIG verifies over DATA, and not over
# DATA with its first byte changed.
hw_check_sig() {
	local step=$1 pub=$2 data=$3 sig=$4
	shift 4
	hw_verify "$step" "$pub" "$data" "$sig" "$@"
	{ printf 'X'; tail -c +2 "$data"; } >"$data.tampered"
	cmp -s "$data" "$data.tampered" && { printf 'Y'; tail -c +2 "$data"; } >"$data.tampered"
	hw_verify_rejects "$step (tampered message)" "$pub" "$data.tampered" "$sig" "$@"
}

# hw_find_slot — set HW_SLOT_ID (decimal) and HW_SLOT_INDEX (pkcs11-tool's
# "Slot N", the position in C_GetSlotList) for the slot holding token $TOKEN;
# false if there is none. hw_slot_id: the same, failing loudly.
hw_find_slot() {
	hw_run "list slots" pkcs11-tool --module "$MODULE" --list-slots
	awk -v t="$TOKEN" '
		/^Slot [0-9]+ \(0x[0-9a-fA-F]+\)/ { n = $2; s = $3; gsub(/[():]|0x/, "", s) }
		/token label/ { l = $0; sub(/^[^:]*:[ \t]*/, "", l); sub(/[ \t]+$/, "", l)
			if (l == t && s != "") { print n, s; exit } }
	' "$TMP/run.out" >"$TMP/slot"
	[ -s "$TMP/slot" ] || return 1
	read -r HW_SLOT_INDEX HW_SLOT_ID <"$TMP/slot"
	HW_SLOT_ID=$((16#$HW_SLOT_ID))
}

hw_slot_id() {
	hw_find_slot || hw_fail "no slot with token '$TOKEN':
$(cat "$TMP/run.out")"
}

# ---- certificates --------------------------------------------------------------

# hw_ca — a throwaway CA: $TMP/ca.key, $TMP/ca.pem.
hw_ca() {
	[ -s "$TMP/ca.pem" ] && return 0
	hw_run "make CA" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$TMP/ca.key" -out "$TMP/ca.pem" -days 2 -subj "/CN=hwagg test CA"
}

# hw_issue_cert PUBPEM CN OUTPEM [EXT] — a CA-issued cert for a public key.
hw_issue_cert() {
	local pub=$1 cn=$2 out=$3 ext=${4:-clientAuth}
	hw_ca
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' \
		"$ext" >"$TMP/ext.cnf"
	hw_run "issue cert CN=$cn" openssl x509 -new -subj "/CN=$cn" -force_pubkey "$pub" \
		-CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -days 2 -set_serial "0x$(openssl rand -hex 8)" \
		-extfile "$TMP/ext.cnf" -out "$out"
}

# hw_write_cert PEM ID LABEL — store a certificate on the token with CKA_ID=ID.
hw_write_cert() {
	hw_run "cert to DER" openssl x509 -in "$1" -outform DER -out "$TMP/cert-$2.der"
	hw_run "write cert id $2 to token" hw_p11 --login --pin "$PIN" --write-object \
		"$TMP/cert-$2.der" --type cert --id "$2" --label "$3"
}

# ---- p11-kit -------------------------------------------------------------------

# hw_in_p11kit_ns CMD... — run CMD where p11-kit sees only $MODULE (private
# mount namespace; the system module directories are covered by our own).
hw_in_p11kit_ns() {
	local dir="$TMP/p11kit-modules"
	mkdir -p "$dir" "$TMP/p11kit-empty"
	printf 'module: %s\ncritical: yes\n' "$MODULE" >"$dir/hwtest.module"
	# hwagg also takes its config from p11-kit's x-init-reserved (pReserved).
	[ -n "${HWAGG_CONF:-}" ] && printf 'x-init-reserved: config=%s\n' "$HWAGG_CONF" >>"$dir/hwtest.module"
	timeout "$HW_TIMEOUT" unshare -m --propagation private sh -c '
		mount --bind "$1" /usr/share/p11-kit/modules || exit 125
		if [ -d /etc/pkcs11/modules ]; then mount --bind "$2" /etc/pkcs11/modules || exit 125; fi
		shift 2; exec "$@"' hw_ns "$dir" "$TMP/p11kit-empty" "$@"
}

# ---- keyring: a private Secret Service -----------------------------------------
# The keyring target never touches a real user keyring: a test runs on its own
# session bus (no service activation, tests/keyring/session.conf) with its own
# gnome-keyring-daemon, whose HOME and runtime directory are under $TMP.

# hw_keyring_bus — re-run this script on a private session bus unless it runs
# on one already (HW_KEYRING_BUS=1, set for everything started on it).
hw_keyring_bus() {
	[ "${HW_KEYRING_BUS:-}" = 1 ] && return 0
	command -v dbus-run-session >/dev/null || hw_skip "dbus-run-session is not installed"
	export HW_KEYRING_BUS=1
	exec dbus-run-session --config-file="$HWAGG_SRCDIR/tests/keyring/session.conf" -- "$BASH" "$0"
}

# hw_secrets ARGS... — tests/keyring/secrets.py: what a test does to the
# Secret Service behind hwagg's back (needs python3-dbus).
hw_secrets() {
	timeout "$HW_TIMEOUT" /usr/bin/python3 "$HWAGG_SRCDIR/tests/keyring/secrets.py" "$@"
}

# hw_keyring_start — gnome-keyring-daemon (secrets only) in the foreground, its
# login collection (alias "default") unlocked with $PIN; again after a
# hw_keyring_stop, on the same files. Sets HW_KEYRING_PID.
hw_keyring_start() {
	local dir="$TMP/keyring"
	command -v gnome-keyring-daemon >/dev/null || hw_skip "gnome-keyring-daemon is not installed"
	/usr/bin/python3 -c 'import dbus' 2>/dev/null || hw_skip "python3-dbus is not installed"
	mkdir -p "$dir/home" "$dir/run" && chmod 700 "$dir/run"
	printf '%s' "$PIN" | setsid env HOME="$dir/home" XDG_RUNTIME_DIR="$dir/run" \
		XDG_DATA_HOME="$dir/home/data" XDG_CONFIG_HOME="$dir/home/config" \
		gnome-keyring-daemon --foreground --unlock --components=secrets >>"$dir/daemon.log" 2>&1 &
	HW_KEYRING_PID=$!
	hw_track "$HW_KEYRING_PID"
	for _ in $(seq 1 100); do
		if dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
			org.freedesktop.Secret.Service.ReadAlias string:default 2>/dev/null | grep -q '/collection/'; then
			return 0
		fi
		kill -0 "$HW_KEYRING_PID" 2>/dev/null ||
			hw_fail "gnome-keyring-daemon exited:
$(tail -n 20 "$dir/daemon.log")"
		sleep 0.1
	done
	hw_fail "the Secret Service did not come up within 10 s:
$(tail -n 20 "$dir/daemon.log")"
}

# hw_keyring_setup — the keyring slot's config: the "default" collection of a
# daemon of our own, or, on a runner's shared daemon (HW_KEYRING_SHARED=1), a
# collection of this test's own named by its path. Its password is $PIN; the
# token is initialized with it.
hw_keyring_setup() {
	local coll=default
	if [ "${HW_KEYRING_SHARED:-}" = 1 ]; then
		coll=$(hw_secrets create-collection "$HW_NAME" "$PIN") ||
			hw_fail "create a collection for $HW_NAME in the shared Secret Service"
	else
		hw_keyring_start
	fi
	hw_write_conf '{"name":"'"$TOKEN"'","type":"keyring","collection":"'"$coll"'"}'
	# the SO PIN of C_InitToken is the collection's password, as is the user PIN
	hw_run "init token (keyring slot)" pkcs11-tool --module "$MODULE" --token-label "$TOKEN" \
		--init-token --label "$TOKEN" --so-pin "$PIN"
}

# hw_keyring_stop — kill the daemon (SIGKILL: no goodbye to its clients).
hw_keyring_stop() {
	kill -KILL "$HW_KEYRING_PID" 2>/dev/null
	wait "$HW_KEYRING_PID" 2>/dev/null
	return 0
}

# hw_kr_open NAME CONF — start tests/keyring/krclient as NAME: one
# long-running PKCS#11 application on slot $TOKEN with config CONF, so the
# world can change between its calls. Talk to it with hw_kr.
hw_kr_open() {
	local name=$1 conf=$2 client="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/keyring/krclient" fd
	[ -x "$client" ] || hw_skip "$client is not built (make check builds it)"
	mkfifo "$TMP/$name.in" "$TMP/$name.out"
	HWAGG_CONF=$conf setsid "$client" "$MODULE" "$TOKEN" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.log" &
	hw_track $!
	eval "HW_KR_PID_$name=$!"
	exec {fd}>"$TMP/$name.in"
	eval "HW_KR_IN_$name=$fd"
	exec {fd}<"$TMP/$name.out"
	eval "HW_KR_OUT_$name=$fd"
}

# hw_kr_quit NAME — NAME finalizes the module and exits; wait for it (10 s).
hw_kr_quit() {
	local in pid
	eval "in=\$HW_KR_IN_$1 pid=\$HW_KR_PID_$1"
	printf 'quit\n' >&"$in"
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	hw_fail "krclient $1 did not exit within 10 s after quit"
}

# hw_kr_until NAME COMMAND ANSWER TENTHS — ask COMMAND every 0.1 s until NAME
# answers ANSWER; fail after TENTHS tries.
hw_kr_until() {
	for _ in $(seq 1 "$4"); do
		hw_kr "$1" "$2"
		[ "$HW_KR_REPLY" = "$3" ] && return 0
		sleep 0.1
	done
	hw_fail "krclient $1: '$2' did not answer $3 within $(($4 / 10)) s (last: $HW_KR_REPLY)"
}

# hw_kr_fork_suite NAME — krclient NAME (open, logged in with $PIN) across
# fork(): it makes key 01 and signs; a forked child initializes the module
# again, logs in, signs with 01 and verifies with the public key; the parent
# signs on. Again with a key 02 made between the forks; a child's wrong PIN
# is CKR_PIN_INCORRECT (it logs in on its own) and the parent signs on.
hw_kr_child() {
	hw_kr "$1" "fork $PIN $2"
	[ "$HW_KR_REPLY" = CKR_OK ] || hw_fail "the child forked after using the slot, with key $2: $HW_KR_REPLY
$(tail -n 20 "$TMP/$1.log")"
}

hw_kr_fork_suite() {
	hw_kr "$1" "keygen 01" CKR_OK
	hw_kr "$1" "sign 01" CKR_OK
	hw_kr_child "$1" 01
	hw_kr "$1" sign-again CKR_OK
	hw_pass "a forked child initializes, logs in, signs and verifies with key 01; the parent signs on"
	hw_kr "$1" "keygen 02" CKR_OK
	hw_kr "$1" "sign 02" CKR_OK
	hw_kr_child "$1" 02
	hw_kr_child "$1" 01
	hw_kr "$1" sign-again CKR_OK
	hw_kr "$1" "sign 01" CKR_OK
	hw_kr "$1" "fork 000000 01" 'C_Login: CKR_PIN_INCORRECT'
	hw_kr "$1" sign-again CKR_OK
	hw_pass "children forked later sign with keys old and new; a child's wrong PIN is refused; the parent signs on"
}

# hw_kr NAME COMMAND [EXPECT] — send COMMAND (see krclient.c) to NAME; its
# answer is in HW_KR_REPLY and must match the extended regex EXPECT if given.
hw_kr() {
	local name=$1 cmd=$2 want=${3:-} in out
	eval "in=\$HW_KR_IN_$name out=\$HW_KR_OUT_$name"
	printf '%s\n' "$cmd" >&"$in" || hw_fail "krclient $name is gone: $(tail -n 20 "$TMP/$name.log")"
	IFS= read -r -t "$HW_TIMEOUT" HW_KR_REPLY <&"$out" ||
		hw_fail "krclient $name: no answer to '$cmd' within ${HW_TIMEOUT}s:
$(tail -n 20 "$TMP/$name.log")"
	[ -z "$want" ] || [[ "$HW_KR_REPLY" =~ ^($want)$ ]] ||
		hw_fail "krclient $name: '$cmd' answered $HW_KR_REPLY, expected $want
$(tail -n 20 "$TMP/$name.log")"
}

# ---- tpm: a swtpm of our own ------------------------------------------------------
# A TPM 2.0 simulator on 127.0.0.1 (ports picked here), its state in
# $TMP/tpm so that a test can kill it and start it again on the same TPM.
# A bare swtpm serves one connection at a time; HW_TPM_ABRMD=1 puts
# tpm2-abrmd in front of it (on the test's private session bus), as the
# kernel resource manager is on a real machine, so that several processes
# can use it at once.

# hw_tpm_start — swtpm (again after hw_tpm_stop: same port, same state);
# exports HW_TPM_TCTI (the TCTI hwagg and the tpm2 tools use).
hw_tpm_start() {
	command -v swtpm >/dev/null || hw_skip "swtpm is not installed"
	local fresh=no
	mkdir -p "$TMP/tpm"
	[ -n "${HW_TPM_PORT:-}" ] || fresh=yes
	for _ in 1 2 3 4 5; do
		# the control port (the next one) may be taken: then other ports
		[ "$fresh" = yes ] && HW_TPM_PORT=$(hw_free_port_pair)
		setsid swtpm socket --tpm2 --tpmstate dir="$TMP/tpm" --flags not-need-init,startup-clear \
			--server type=tcp,port="$HW_TPM_PORT",bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((HW_TPM_PORT + 1)),bindaddr=127.0.0.1 >"$TMP/swtpm.log" 2>&1 </dev/null &
		HW_TPM_PID=$!
		hw_track "$HW_TPM_PID"
		sleep 0.1
		kill -0 "$HW_TPM_PID" 2>/dev/null && break
		[ "$fresh" = yes ] && grep -q 'Address already in use' "$TMP/swtpm.log" && continue
		break
	done
	kill -0 "$HW_TPM_PID" 2>/dev/null || hw_fail "swtpm exited at start:
$(tail -n 20 "$TMP/swtpm.log")"
	hw_wait_port "$HW_TPM_PORT" "$HW_TPM_PID"
	HW_TPM_DIRECT="swtpm:host=127.0.0.1,port=$HW_TPM_PORT"
	export HW_TPM_TCTI=$HW_TPM_DIRECT
	if [ "${HW_TPM_ABRMD:-}" = 1 ] && [ -z "${HW_ABRMD_PID:-}" ]; then
		command -v tpm2-abrmd >/dev/null || command -v /usr/sbin/tpm2-abrmd >/dev/null ||
			hw_skip "tpm2-abrmd is not installed"
		setsid /usr/sbin/tpm2-abrmd --session --allow-root --flush-all --tcti="$HW_TPM_DIRECT" \
			>>"$TMP/abrmd.log" 2>&1 </dev/null &
		HW_ABRMD_PID=$!
		hw_track "$HW_ABRMD_PID"
		export HW_TPM_TCTI="tabrmd:bus_type=session"
		for _ in $(seq 1 100); do
			TPM2TOOLS_TCTI=$HW_TPM_TCTI timeout 5 tpm2_getcap properties-fixed >/dev/null 2>&1 && return 0
			kill -0 "$HW_ABRMD_PID" 2>/dev/null || hw_fail "tpm2-abrmd exited:
$(tail -n 20 "$TMP/abrmd.log")"
			sleep 0.1
		done
		hw_fail "tpm2-abrmd did not come up within 10 s"
	fi
}

# hw_tpm_proxy — the bus recorder (tests/tpm/tpm_proxy.py) between the slot
# and swtpm: its state in $state (log, bus), the config's TCTI through it.
hw_tpm_proxy() {
	local pport
	state=$TMP/proxy
	mkdir -p "$state"
	pport=$(hw_free_port_pair)
	python3 "$HWAGG_SRCDIR/tests/tpm/tpm_proxy.py" "$pport" "$HW_TPM_PORT" "$state" >"$TMP/proxy.log" 2>&1 &
	hw_track "$!"
	hw_wait_port "$pport" "$!"
	hw_write_conf '{"name":"'"$TOKEN"'","type":"tpm","tcti":"swtpm:host=127.0.0.1,port='"$pport"'"}'
}

# hw_tpm_ek — provision $TMP/tpm (before the first hw_tpm_start) as a TPM
# maker does: EK certificates in NV, issued by a local CA of the test's own
# (swtpm_setup with swtpm-localca, all in $TMP/ca). The CA's certificates:
# $TMP/ca/swtpm-localca-rootca-cert.pem, $TMP/ca/issuercert.pem.
hw_tpm_ek() {
	local ca="$TMP/ca"
	command -v swtpm_setup >/dev/null || hw_skip "swtpm_setup (swtpm-tools) is not installed"
	mkdir -p "$ca" "$TMP/tpm"
	printf 'statedir = %s\nsigningkey = %s/signkey.pem\nissuercert = %s/issuercert.pem\ncertserial = %s/certserial\n' \
		"$ca" "$ca" "$ca" "$ca" >"$ca/swtpm-localca.conf"
	printf -- '--platform-manufacturer hwagg-test\n--platform-version 2.1\n--platform-model swtpm\n' \
		>"$ca/swtpm-localca.options"
	printf 'create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\n' \
		"$ca/swtpm-localca.conf" "$ca/swtpm-localca.options" >"$ca/swtpm_setup.conf"
	hw_run "swtpm_setup with EK certificates" swtpm_setup --tpm2 --tpmstate "$TMP/tpm" --create-ek-cert \
		--create-platform-cert --lock-nvram --config "$ca/swtpm_setup.conf" --overwrite
}

# hw_tpm_stop — kill swtpm (SIGKILL: no goodbye to its clients).
hw_tpm_stop() {
	kill -KILL "$HW_TPM_PID" 2>/dev/null
	wait "$HW_TPM_PID" 2>/dev/null
	return 0
}

# hw_tpm_da TRIES [SECONDS] — the TPM's dictionary-attack protection for
# the run: TRIES failures before lockout, one failure forgiven every
# SECONDS (default 1; tests make wrong PINs on purpose); lockout cleared.
hw_tpm_da() {
	TPM2TOOLS_TCTI=$HW_TPM_TCTI hw_run "set the TPM's lockout parameters" \
		tpm2_dictionarylockout --setup-parameters --max-tries="$1" --recovery-time="${2:-1}" \
		--lockout-recovery-time=1 --clear-lockout
}

# hw_tpm_setup — the tpm slot's world: swtpm (+ abrmd), the config, the token
# initialized with $SO_PIN and the user PIN $PIN. HW_TPM_PERSIST_SRK=1: an
# SRK persisted at 0x81000001 first (as provisioning does on a real
# machine); HW_TPM_EK=1: EK certificates first (hw_tpm_ek);
# HW_TPM_SLOT_KEYS: more keys for the slot's config (",k":v).
hw_tpm_setup() {
	[ "${HW_TPM_EK:-}" = 1 ] && hw_tpm_ek
	hw_tpm_start
	hw_tpm_da 1000
	if [ "${HW_TPM_PERSIST_SRK:-}" = 1 ]; then
		TPM2TOOLS_TCTI=$HW_TPM_TCTI hw_run "create an SRK" \
			tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb -c "$TMP/srk.ctx"
		TPM2TOOLS_TCTI=$HW_TPM_TCTI hw_run "persist the SRK" \
			tpm2_evictcontrol -C o -c "$TMP/srk.ctx" 0x81000001
		# a bare TPM keeps the transient copy loaded: flush it
		TPM2TOOLS_TCTI=$HW_TPM_TCTI hw_run "flush transient objects" tpm2_flushcontext -t
	fi
	hw_write_conf '{"name":"'"$TOKEN"'","type":"tpm","tcti":"'"$HW_TPM_TCTI"'"'"${HW_TPM_SLOT_KEYS:-}"'}'
	hw_run "init token (tpm slot)" pkcs11-tool --module "$MODULE" --slot-index 0 \
		--init-token --label "$TOKEN" --so-pin "$SO_PIN"
	hw_run "init user PIN" hw_p11 --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$PIN"
}

# ---- the consumer suite against one target -------------------------------------

# hw_consumers NAME "TESTS" [VAR=VALUE ...] — run each consumer test named in
# TESTS (tests/consumers/T.sh) with the given environment, one log each in
# $TMP; show their PASS/FAIL/SKIP lines; fail naming those that failed.
hw_consumers() {
	local name=$1 tests=$2 t rc failed="" skipped=""
	shift 2
	for t in $tests; do
		rc=0
		env "$@" "$BASH" "$HWAGG_SRCDIR/tests/consumers/$t.sh" >"$TMP/$t.log" 2>&1 </dev/null || rc=$?
		grep -E '^(PASS|FAIL|SKIP) ' "$TMP/$t.log"
		case $rc in
		0) ;;
		77) skipped="$skipped $t" ;;
		*)
			failed="$failed $t"
			hw_log "$t failed (exit $rc):
$(tail -n 30 "$TMP/$t.log")"
			;;
		esac
	done
	[ -n "$skipped" ] && hw_log "skipped:$skipped"
	[ -z "$failed" ] || hw_fail "consumer tests failed on the $name slot:$failed"
	hw_pass "every consumer test passed on the $name slot ($tests)"
}

# ---- setup ---------------------------------------------------------------------

hw_init_softhsm() {
	mkdir -p "$TMP/softhsm-tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
		"$TMP/softhsm-tokens" >"$TMP/softhsm2.conf"
	export SOFTHSM2_CONF="$TMP/softhsm2.conf"
	hw_run "softhsm2-util --init-token" softhsm2-util --init-token --free --label "$TOKEN" \
		--so-pin "$SO_PIN" --pin "$PIN"
}

hw_write_conf() {	# SLOT-JSON
	printf '{"environment":"development","store":"%s","slots":[%s]}\n' "$TMP/store" "$1" \
		>"$TMP/hwagg.json"
	export HWAGG_CONF="$TMP/hwagg.json"
}

# hw_policy_setup — the policy slot $TOKEN in production: its keys land on
# the SoftHSM2 token "lower" behind the hsm member; the soft member is
# software, so production never uses it. The PIN is the SoftHSM2 token's.
hw_policy_setup() {
	[ -e "$HW_SOFTHSM_MODULE" ] || hw_fail "target policy needs SoftHSM2 at $HW_SOFTHSM_MODULE"
	mkdir -p "$TMP/softhsm-tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
		"$TMP/softhsm-tokens" >"$TMP/softhsm2.conf"
	export SOFTHSM2_CONF="$TMP/softhsm2.conf"
	hw_run "softhsm2-util --init-token" softhsm2-util --init-token --free --label lower \
		--so-pin "$SO_PIN" --pin "$PIN"
	printf '{"environment":"production","store":"%s","log":{"level":"error"},"slots":[%s,%s,%s]}\n' "$TMP/store" \
		'{"name":"hsm-member","type":"hsm","module":"'"$HW_SOFTHSM_MODULE"'","token":"lower","security":"hardware"}' \
		'{"name":"soft-member","type":"soft"}' '{"name":"'"$TOKEN"'","type":"policy"}' >"$TMP/hwagg.json"
	export HWAGG_CONF="$TMP/hwagg.json"
}

# hw_kmsclient — sets $client to tests/kms/kmsclient (one process signing
# from many threads), or skips the test when it is not built.
hw_kmsclient() {
	client="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/kms/kmsclient"
	[ -x "$client" ] || hw_skip "$client is not built (make check builds it)"
}

hw_setup() {
	local slot
	# make distcheck checks packaging only: consumers are run by make check
	[ "${HWAGG_SKIP_CONSUMERS:-}" = 1 ] && hw_skip "HWAGG_SKIP_CONSUMERS=1"
	HW_TARGET=${HW_TARGET:-soft}
	export TOKEN=hwtest PIN=123456 SO_PIN=12345678
	export URI="pkcs11:token=$TOKEN"
	case "$HW_TARGET" in
	softhsm) MODULE=$HW_SOFTHSM_MODULE ;;
	soft | hsm | policy) MODULE=${HWAGG_MODULE:-} ;;
	keyring)
		MODULE=${HWAGG_MODULE:-}
		hw_keyring_bus
		;;
	tpm)
		MODULE=${HWAGG_MODULE:-}
		[ "${HW_TPM_ABRMD:-}" = 1 ] && hw_keyring_bus
		;;
	aws-kms)
		MODULE=${HWAGG_MODULE:-}
		. "$HWAGG_SRCDIR/tests/kms/lib.sh"
		;;
	gcp-kms)
		MODULE=${HWAGG_MODULE:-}
		. "$HWAGG_SRCDIR/tests/gcp/lib.sh"
		;;
	azure-kv)
		MODULE=${HWAGG_MODULE:-}
		. "$HWAGG_SRCDIR/tests/azure/lib.sh"
		;;
	*) hw_fail "unknown HW_TARGET '$HW_TARGET' (soft, softhsm, hsm, keyring, tpm, aws-kms, gcp-kms, azure-kv, policy)" ;;
	esac
	export MODULE
	[ -n "$MODULE" ] && [ -e "$MODULE" ] || hw_skip "module '${MODULE:-\$HWAGG_MODULE unset}' does not exist"

	TMP=$(mktemp -d "${TMPDIR:-/tmp}/hwagg-$HW_NAME.XXXXXX") || hw_fail "mktemp -d failed"
	export TMP
	trap hw_cleanup EXIT
	trap 'exit 1' INT TERM HUP

	case "$HW_TARGET" in
	softhsm) hw_init_softhsm ;;
	soft)
		hw_write_conf '{"name":"'"$TOKEN"'","type":"soft"}'
		# The slot is named hwtest in the config; if its uninitialized token
		# does not show that label yet, it is the first (only) slot.
		if hw_find_slot; then slot="--slot $HW_SLOT_ID"; else slot="--slot-index 0"; fi
		# shellcheck disable=SC2086
		hw_run "init token (soft slot)" pkcs11-tool --module "$MODULE" $slot \
			--init-token --label "$TOKEN" --so-pin "$SO_PIN"
		hw_run "init user PIN" hw_p11 --login --login-type so --so-pin "$SO_PIN" \
			--init-pin --pin "$PIN"
		;;
	hsm)
		[ -e "$HW_SOFTHSM_MODULE" ] || hw_fail "target hsm needs SoftHSM2 at $HW_SOFTHSM_MODULE"
		hw_init_softhsm
		hw_write_conf '{"name":"'"$TOKEN"'","type":"hsm","module":"'"$HW_SOFTHSM_MODULE"'","token":"'"$TOKEN"'","security":"software"}'
		;;
	keyring) hw_keyring_setup ;;
	tpm) hw_tpm_setup ;;
	aws-kms) hw_kms_setup ;;
	gcp-kms) hw_gcp_setup ;;
	azure-kv) hw_az_setup ;;
	policy) hw_policy_setup ;;
	esac
	hw_log "target $HW_TARGET, module $MODULE, tmp $TMP"
}
