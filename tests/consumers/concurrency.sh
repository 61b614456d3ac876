#!/bin/bash
# Many processes at once: N (default 8) pkcs11-tool processes run in
# parallel, each logging in and signing 5 distinct messages in turn with the
# same EC key and, interleaved, the same RSA key; every one of the signatures
# must be produced and must verify with openssl against the token's public
# keys. (Threads inside one process are covered by the C tests.) With
# HW_TARGET=softhsm a process that hits SoftHSM2's token-file race is retried.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
hw_setup

N=${HW_PROCS:-8}
ROUNDS=5
hw_keygen_ec conc-ec 81
hw_keygen_rsa conc-rsa 82
hw_pubkey_pem 81 "$TMP/pub81.pem"
hw_pubkey_pem 82 "$TMP/pub82.pem"
mkdir -p "$TMP/work"

# SoftHSM2's file store rewrites token.object (ftruncate + write, locking
# another file) on every C_Login, so a process reading it at that moment sees
# no token, an uninitialized PIN or CKR_GENERAL_ERROR. Only for that backend, and only for
# those symptoms, a signing process is retried; hwagg targets get no retries.
case "$HW_TARGET" in softhsm) RETRIES=${HW_CONC_RETRIES:-20} ;; *) RETRIES=${HW_CONC_RETRIES:-0} ;; esac
RACE='No slot with token named|CKR_(GENERAL_ERROR|USER_PIN_NOT_INITIALIZED|TOKEN_NOT_PRESENT|TOKEN_NOT_RECOGNIZED)'

# sign_once MSG LOG ARGS... — one pkcs11-tool signing process (with retries as above).
sign_once() {
	local m=$1 log=$2 try=0
	shift 2
	until hw_p11 --login --pin "$PIN" --sign "$@" -o "$m.sig" >"$log" 2>&1; do
		try=$((try + 1))
		[ "$try" -le "$RETRIES" ] && grep -Eq "$RACE" "$log" || return 1
		echo "$m" >>"$TMP/work/retries"
		sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
	done
}

# worker W — ROUNDS signatures, alternating EC and RSA; stops at the first error.
worker() {
	local w=$1 r m
	for r in $(seq 1 "$ROUNDS"); do
		m="$TMP/work/$w-$r"
		printf 'worker %s round %s %s\n' "$w" "$r" "$RANDOM$RANDOM" >"$m"
		if [ $(((w + r) % 2)) -eq 0 ]; then
			openssl dgst -sha256 -binary -out "$m.dgst" "$m" &&
				sign_once "$m" "$m.log" -m ECDSA --id 81 --signature-format openssl -i "$m.dgst" &&
				echo 81 >"$m.key"
		else
			sign_once "$m" "$m.log" -m SHA256-RSA-PKCS --id 82 -i "$m" && echo 82 >"$m.key"
		fi || { echo "worker $w round $r failed:"; cat "$m.log"; return 1; }
	done
}

pids=""
for w in $(seq 1 "$N"); do
	worker "$w" >"$TMP/work/worker$w.out" 2>&1 &
	hw_track $!
	pids="$pids $!"
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
[ "$failed" -eq 0 ] || hw_fail "$failed of $N parallel signing processes failed:
$(cat "$TMP"/work/worker*.out)"
hw_pass "$N parallel processes each signed $ROUNDS times without error"
[ -s "$TMP/work/retries" ] &&
	hw_log "$(wc -l <"$TMP/work/retries") signing processes retried after the SoftHSM2 token-file race"

count=0
for w in $(seq 1 "$N"); do
	for r in $(seq 1 "$ROUNDS"); do
		m="$TMP/work/$w-$r"
		[ -s "$m.sig" ] && [ -s "$m.key" ] || hw_fail "no signature from worker $w round $r"
		id=$(cat "$m.key")
		hw_verify "worker $w round $r (key $id)" "$TMP/pub$id.pem" "$m" "$m.sig"
		count=$((count + 1))
	done
done
[ "$count" -eq $((N * ROUNDS)) ] || hw_fail "expected $((N * ROUNDS)) signatures, checked $count"
hw_pass "all $count signatures from $N concurrent processes verify"
