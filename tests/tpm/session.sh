#!/bin/bash
# The tpm slot's signing session (slots/tpm_fast.c), seen from the TPM's bus
# through a man in the middle (tests/tpm/tpm_proxy.py) between the slot and
# swtpm:
#  - signatures go over an HMAC session (the TPM checks our session HMACs:
#    a wrong one would be TPM_RC_AUTH_FAIL), and OpenSSL verifies them;
#  - one session serves many signatures: 40 signatures of one process start
#    at most 2 sessions (ESAPI's for the rest, and the signing one);
#  - a signature whose answer was changed on the way is refused
#    (CKR_DEVICE_ERROR, not a wrong signature handed to the application),
#    with a log line that says so; with the bus clean again the next
#    signature works on a new session;
#  - a key signs the same way on a second connection after swtpm restarts.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=tpm
hw_setup

state=$TMP/proxy
mkdir -p "$state"
pport=$(hw_free_port_pair)
python3 "$HWAGG_SRCDIR/tests/tpm/tpm_proxy.py" "$pport" "$HW_TPM_PORT" "$state" >"$TMP/proxy.log" 2>&1 &
proxy_pid=$!
hw_track "$proxy_pid"
hw_wait_port "$pport" "$proxy_pid"
hw_write_conf '{"name":"'"$TOKEN"'","type":"tpm","tcti":"swtpm:host=127.0.0.1,port='"$pport"'"}'

printf 'hwagg tpm session test\n' >"$TMP/msg"
hw_keygen_ec ec256 01
hw_keygen_rsa rsa2048 03
hw_pubkey_pem 01 "$TMP/pub01.pem"
hw_pubkey_pem 03 "$TMP/pub03.pem"

signs() { grep -c '^15d ' "$state/log" || true; }
sessions() { grep -c '^176 ' "$state/log" || true; }

# ---- signatures over the session ----------------------------------------------------
: >"$state/log"
hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01" --signature-format openssl
hw_check_sig "ECDSA P-256 over the session" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01"
hw_sign SHA256-RSA-PKCS 03 "$TMP/msg" "$TMP/sig03"
hw_check_sig "RSA-2048 over the session" "$TMP/pub03.pem" "$TMP/msg" "$TMP/sig03"
[ "$(signs)" -ge 2 ] || hw_fail "the proxy saw $(signs) TPM2_Sign commands for 2 signatures"
# continueSession (0x01) set, and nothing else (no parameter encryption), on a
# session started with a salt
grep '^15d ' "$state/log" | grep -qv '^15d 01 salted$' && hw_fail "a TPM2_Sign without the session's attributes:
$(grep '^15d ' "$state/log")"
hw_pass "ECDSA and RSA signatures over the session verify ($(signs) TPM2_Sign)"

bench=${HWAGG_BUILDDIR:-$HWAGG_SRCDIR/_build}/bench/hwagg-bench
if [ -x "$bench" ]; then
	: >"$state/log"
	hw_run "40 signatures in one process" "$bench" --token-key "$MODULE" "$TOKEN" "$PIN" ec256 1 1 40
	[ "$(signs)" -ge 40 ] || hw_fail "40 signatures made $(signs) TPM2_Sign"
	[ "$(sessions)" -le 2 ] || hw_fail "40 signatures started $(sessions) sessions (one is reused)"
	hw_pass "$(signs) signatures on $(sessions) sessions"
fi

# ---- a changed answer -----------------------------------------------------------------
touch "$state/tamper"
HWAGG_LOG=warn hw_run_fails "sign with a changed answer" hw_p11 --login --pin "$PIN" --sign -m ECDSA-SHA256 \
	--id 01 -i "$TMP/msg" -o "$TMP/sig-bad"
hw_expect "the changed answer is CKR_DEVICE_ERROR" "CKR_DEVICE_ERROR" "$TMP/run.err"
hw_expect "the log says the answer does not authenticate" "does not authenticate" "$TMP/run.err"
rm -f "$state/tamper"
hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01c" --signature-format openssl
hw_check_sig "ECDSA after the tampering stopped" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01c"
hw_pass "a changed TPM answer is refused, and signing works again after"

# ---- swtpm restarted: a new connection, a new session ---------------------------------
hw_tpm_stop
hw_tpm_start
hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01d" --signature-format openssl
hw_check_sig "ECDSA after swtpm restarted" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01d"
hw_pass "signing after swtpm restarted"
hw_pass "all tpm session checks passed"
