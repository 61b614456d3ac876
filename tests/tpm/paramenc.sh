#!/bin/bash
# The tpm slot's commands that carry a secret, seen from the TPM's bus
# through a man in the middle (tests/tpm/tpm_proxy.py) that logs each
# command's session attributes and records every byte that travels:
#  - TPM2_Unseal (login, SO login, PIN change) asks for its answer encrypted
#    (continueSession|encrypt = 41), TPM2_Create (key generation, sealing the
#    master key under a new PIN) sends its inSensitive encrypted
#    (continueSession|decrypt = 21), each on a session that was started with
#    a salt (the proxy reads TPM2_StartAuthSession);
#  - none of the secrets appears in clear on the bus: the master key (unsealed
#    here with the tpm2 tools and the PIN, straight from swtpm), the
#    authValues the PINs become, the new key's authValue; while the key's
#    public point, which travels in clear, is found (the recording works);
#  - the same in a process where libp11's pkcs11 ENGINE is OpenSSL's default
#    for everything (ESAPI's own session cannot be salted there: the log says
#    so, and the secrets still never show);
#  - RSA decryption gets its plaintext back encrypted (41) and a raw RSA
#    signature sends its encoding encrypted (21), under the engine too;
#  - an unseal answer changed on the way is refused (CKR_DEVICE_ERROR and a
#    log line, not a wrong master key taken for the right one); login works
#    again after.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
HW_TARGET=tpm
HW_TPM_PERSIST_SRK=1      # the tpm2 tools find the SRK to unseal with
hw_setup
command -v tpm2_unseal >/dev/null || hw_skip "tpm2-tools are not installed"

state=$TMP/proxy
mkdir -p "$state"
pport=$(hw_free_port_pair)
python3 "$HWAGG_SRCDIR/tests/tpm/tpm_proxy.py" "$pport" "$HW_TPM_PORT" "$state" >"$TMP/proxy.log" 2>&1 &
proxy_pid=$!
hw_track "$proxy_pid"
hw_wait_port "$pport" "$proxy_pid"
hw_write_conf '{"name":"'"$TOKEN"'","type":"tpm","tcti":"swtpm:host=127.0.0.1,port='"$pport"'"}'

# libp11's engine as the default of every algorithm in a pkcs11-tool
# process (its own module is SoftHSM2: it only has to take over OpenSSL)
cat >"$TMP/engine.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
MODULE_PATH = $HW_SOFTHSM_MODULE
default_algorithms = ALL
init = 1
EOF
printf 'hwagg tpm parameter encryption test\n' >"$TMP/msg"
NEW_PIN=654321

count() { grep -c "^$1 " "$state/log" || true; }
# pkcs11-tool, under the engine when ENGINE_CNF is set (the steps that carry
# secrets; reading keys back and verifying stay plain)
p11e() { OPENSSL_CONF=${ENGINE_CNF:-${OPENSSL_CONF:-}} hw_p11 "$@"; }

# secrets NAME: the whole life of a token over the proxy, then the checks
secrets() {
	local name=$1
	: >"$state/log"
	: >"$state/bus"
	hw_run "$name: initialize the token again" env ${ENGINE_CNF:+OPENSSL_CONF=$ENGINE_CNF} \
		pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --init-token --label "$TOKEN" --so-pin "$SO_PIN"
	hw_run "$name: init user PIN" p11e --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$PIN"
	HWAGG_LOG=warn hw_run "$name: generate an EC key" p11e --login --pin "$PIN" --keypairgen \
		--key-type EC:prime256v1 --label ec256 --id 01 --usage-sign
	[ -n "${ENGINE_CNF:-}" ] && hw_expect "$name: ESAPI cannot salt its session in this process" \
		"cannot salt the TPM session" "$TMP/run.err"
	hw_pubkey_pem 01 "$TMP/pub01.pem"
	hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01" --signature-format openssl
	hw_check_sig "$name: ECDSA with the key made over the encrypted session" "$TMP/pub01.pem" "$TMP/msg" \
		"$TMP/sig01"
	hw_run "$name: change the user PIN" p11e --login --pin "$PIN" --change-pin --pin "$PIN" \
		--new-pin "$NEW_PIN"
	# pkcs11-tool returns from --change-pin without C_Finalize, and a bare
	# swtpm (no resource manager) keeps the sessions of a client that left
	# until told: flush them, or the few session slots fill up
	TPM2TOOLS_TCTI=$HW_TPM_DIRECT hw_run "$name: flush what pkcs11-tool left" tpm2_flushcontext -l
	hw_run "$name: log in with the new PIN" p11e --login --pin "$NEW_PIN" --list-objects
	PIN=$NEW_PIN hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01b" --signature-format openssl
	hw_check_sig "$name: ECDSA after the PIN change" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01b"

	# SO login twice, user login at keygen, sign, change, login, sign: 7;
	# seal under SO PIN, user PIN, new user PIN, and the key: 4 creates
	[ "$(count 15e)" -ge 7 ] || hw_fail "$name: the proxy saw $(count 15e) TPM2_Unseal, expected 7"
	[ "$(count 153)" -ge 4 ] || hw_fail "$name: the proxy saw $(count 153) TPM2_Create, expected 4"
	grep -E '^15e ' "$state/log" | grep -qv '^15e 41 salted$' && hw_fail "$name: a TPM2_Unseal without encrypt on a salted session:
$(grep '^15e ' "$state/log")"
	grep -E '^153 ' "$state/log" | grep -qv '^153 21 salted$' && hw_fail "$name: a TPM2_Create without decrypt on a salted session:
$(grep '^153 ' "$state/log")"
	hw_pass "$name: $(count 15e) TPM2_Unseal with encrypt, $(count 153) TPM2_Create with decrypt"

	# the master key, unsealed straight from swtpm with the new user PIN
	python3 - "$TMP/store/hwagg.db" "$TOKEN" "$TMP/wrap" <<'PY' || hw_fail "$name: no user PIN wrap in the store"
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
(wrap,) = db.execute("SELECT user_wrap FROM tokens WHERE slot = ?", (sys.argv[2],)).fetchone()
n = 2 + struct.unpack(">H", wrap[0:2])[0]
open(sys.argv[3] + ".pub", "wb").write(wrap[:n])
open(sys.argv[3] + ".priv", "wb").write(wrap[n:])
PY
	auth=$(python3 -c 'import hashlib, sys
print(hashlib.sha256(b"hwagg-tpm-pin\0" + sys.argv[1].encode() + b"\0" + sys.argv[2].encode()).hexdigest())' \
		"$TOKEN" "$NEW_PIN")
	TPM2TOOLS_TCTI=$HW_TPM_DIRECT hw_run "$name: load the sealed master key (tpm2 tools)" \
		tpm2_load -C 0x81000001 -u "$TMP/wrap.pub" -r "$TMP/wrap.priv" -c "$TMP/wrap.ctx"
	TPM2TOOLS_TCTI=$HW_TPM_DIRECT hw_run "$name: unseal it with the new PIN's authValue (tpm2 tools)" \
		tpm2_unseal -c "$TMP/wrap.ctx" -p "hex:$auth" -o "$TMP/mk"
	TPM2TOOLS_TCTI=$HW_TPM_DIRECT hw_run "$name: flush" tpm2_flushcontext -t
	openssl pkey -pubin -in "$TMP/pub01.pem" -outform DER -out "$TMP/pub01.der" 2>/dev/null ||
		hw_fail "$name: cannot read the public key"
	python3 - "$state/bus" "$TMP/mk" "$TMP/store/hwagg.db" "$TOKEN" "$TMP/pub01.der" "$PIN" "$NEW_PIN" \
		"$SO_PIN" <<'PY' >"$TMP/leak.out" 2>&1 || hw_fail "$name: a secret travels in clear:
$(cat "$TMP/leak.out")"
import hashlib, sqlite3, sys
bus, mk, dbf, slot, der = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), sys.argv[3], sys.argv[4], open(sys.argv[5], "rb").read()
if len(mk) != 32:
    sys.exit("the unsealed master key is %d octets" % len(mk))
secrets = {"master key": mk}
for who, pin in (("user PIN", sys.argv[6]), ("new user PIN", sys.argv[7]), ("SO PIN", sys.argv[8])):
    secrets[who + "'s authValue"] = hashlib.sha256(b"hwagg-tpm-pin\0" + slot.encode() + b"\0" + pin.encode()).digest()
db = sqlite3.connect(dbf)
keys = [s for (s,) in db.execute("SELECT secret FROM objects WHERE slot = ?", (slot,)) if s and s[:4] == b"HWT1"]
if len(keys) != 1:
    sys.exit("%d key blobs in the store, expected 1" % len(keys))
secrets["the key's authValue"] = hashlib.sha256(mk + b"hwagg-tpm-key\0" + keys[0][4:20]).digest()
# the recording holds the Create's answer: the key's public x travels in clear
if der[-64:-32] not in bus:
    sys.exit("the key's public point is not in the recording (%d octets): the check would prove nothing" % len(bus))
# any 12 octets of a secret would be a leak
leaks = [n for n, s in secrets.items() if any(s[i:i + 12] in bus for i in range(len(s) - 11))]
if leaks:
    sys.exit("in clear on the bus: " + ", ".join(leaks))
print("%d octets recorded; none of %d secrets in them" % (len(bus), len(secrets)))
PY
	hw_pass "$name: $(cat "$TMP/leak.out")"
}

secrets plain
ENGINE_CNF=$TMP/engine.cnf secrets engine

# ---- RSA decryption and raw RSA signing, in the ENGINE process too ---------------------
: >"$state/log"
: >"$state/bus"
ENGINE_CNF=$TMP/engine.cnf hw_run "generate an RSA key (engine)" p11e --login --pin "$NEW_PIN" --keypairgen \
	--key-type rsa:2048 --label rsa2048 --id 03 --usage-sign --usage-decrypt
hw_pubkey_pem 03 "$TMP/pub03.pem"
head -c 32 /dev/urandom >"$TMP/secret"
hw_run "openssl encrypt PKCS#1 v1.5" openssl pkeyutl -encrypt -pubin -inkey "$TMP/pub03.pem" \
	-pkeyopt rsa_padding_mode:pkcs1 -in "$TMP/secret" -out "$TMP/ct"
ENGINE_CNF=$TMP/engine.cnf hw_run "decrypt RSA-PKCS (engine)" p11e --login --pin "$NEW_PIN" --decrypt \
	-m RSA-PKCS --id 03 -i "$TMP/ct" -o "$TMP/pt"
cmp -s "$TMP/secret" "$TMP/pt" || hw_fail "RSA-PKCS decryption: the plaintext differs"
ENGINE_CNF=$TMP/engine.cnf hw_run "sign RSA-PSS (engine)" p11e --login --pin "$NEW_PIN" --sign \
	-m SHA256-RSA-PKCS-PSS --id 03 -i "$TMP/msg" -o "$TMP/sig03"
hw_run "openssl verifies the RSA-PSS signature" openssl dgst -sha256 -verify "$TMP/pub03.pem" \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:auto -signature "$TMP/sig03" "$TMP/msg"
# the decryption asks for its answer encrypted, the raw signature sends its
# encoding encrypted
grep -qx '159 41 salted' "$state/log" || hw_fail "no TPM2_RSA_Decrypt with encrypt: $(grep '^159 ' "$state/log")"
grep -qx '159 21 salted' "$state/log" || hw_fail "no TPM2_RSA_Decrypt with decrypt: $(grep '^159 ' "$state/log")"
python3 - "$state/bus" "$TMP/secret" <<'PY' || hw_fail "the RSA plaintext travels in clear on the bus"
import sys
bus, s = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(1 if any(s[i:i + 12] in bus for i in range(len(s) - 11)) else 0)
PY
hw_pass "RSA decryption and RSA-PSS on the encrypted session (engine process); the plaintext never on the bus"

# ---- an unseal answer changed on the way ---------------------------------------------
echo 15e >"$state/tamper"
HWAGG_LOG=warn hw_run_fails "login with a changed unseal answer" hw_p11 --login --pin "$NEW_PIN" --list-objects
hw_expect "the changed answer is CKR_DEVICE_ERROR" "CKR_DEVICE_ERROR" "$TMP/run.err"
hw_expect "the log says the answer does not authenticate" "answer to an unseal does not authenticate" "$TMP/run.err"
rm -f "$state/tamper"
PIN=$NEW_PIN hw_sign ECDSA-SHA256 01 "$TMP/msg" "$TMP/sig01c" --signature-format openssl
hw_check_sig "ECDSA after the tampering stopped" "$TMP/pub01.pem" "$TMP/msg" "$TMP/sig01c"
hw_pass "a changed unseal answer is refused, and login works again after"
hw_pass "all tpm parameter encryption checks passed"
