#!/bin/bash
# The audit log on the soft slot, driven by real consumers (pkcs11-tool, the
# hwagg CLI): every kind of operation leaves its record with the right
# fields; no PIN and no signature byte is in the log; `hwagg audit verify`
# finds an edited, dropped, swapped, inserted and cut record at the right
# line; a torn last line (a writer that died mid-write) is recovered by the
# next writer; an unwritable log fails C_Initialize in production and only
# warns in development; checkpoints signed with a token key verify with its
# public key, and a forged one (another key, or a rewritten chain) does not;
# `hwagg rotate` gives the label a new key while old signatures still verify
# with the old public key (kept, with an end date), and the label (pkcs11-tool)
# and the URI (the OpenSSL engine) reach the new key; `--due` says it is not
# supported and changes nothing.
set -u
CLI=${HWAGG_CLI:?}
MODULE=${HWAGG_MODULE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HWAGG_LOG=error
SO_PIN=918273645
PIN=736251
log=$tmp/audit.jsonl

conf() {   # conf ENVIRONMENT AUDIT-OBJECT
	cat > "$tmp/hwagg.json" <<EOF
{"environment": "$1", "store": "$tmp/store", "audit": $2,
 "slots": [{"name": "audtest", "type": "soft"}]}
EOF
	export HWAGG_CONF=$tmp/hwagg.json
}
p11() { pkcs11-tool --module "$MODULE" --token-label audtest "$@" > "$tmp/p11.out" 2>&1; }
verify() { "$CLI" audit verify "$@" > "$tmp/verify.out" 2>&1; }

conf production "{\"path\": \"$log\", \"sign_events\": \"each\"}"
pkcs11-tool --module "$MODULE" --init-token --label audtest --so-pin $SO_PIN > /dev/null 2>&1 || fail "init token"
p11 --login --login-type so --so-pin $SO_PIN --init-pin --pin $PIN || fail "init pin"
echo $PIN > "$tmp/pin"; chmod 600 "$tmp/pin"
uri=$("$CLI" keygen --slot audtest --type ec-p256 --label signer --id 5a --pin-file "$tmp/pin") || fail "keygen"
echo "audit me" > "$tmp/msg"
for i in 1 2 3; do
	p11 --login --pin $PIN --sign -m ECDSA-SHA256 --id 5a -i "$tmp/msg" -o "$tmp/sig$i" || fail "sign $i"
done
p11 --login --pin 000000 --list-objects && fail "a wrong PIN logged in"
p11 --login --pin $PIN --write-object "$tmp/msg" --type data --label d || fail "write data object"
p11 --login --pin $PIN --delete-object --type pubkey --id 5a || fail "delete public key"

# every kind, with its fields
rec() { grep -c "$1" "$log"; }
[ "$(rec '"event":"login","slot":"audtest","backend":"soft","user":"SO","result":"CKR_OK"')" -eq 1 ] ||
	fail "SO login record: $(cat "$log")"
[ "$(rec '"event":"login","slot":"audtest","backend":"soft","user":"user","result":"CKR_PIN_INCORRECT"')" -eq 1 ] ||
	fail "failed login record: $(cat "$log")"
grep '"event":"keygen"' "$log" | grep -q '"key":{"class":"private","id":"5a","label":"signer","version":1}.*"mech":"CKM_EC_KEY_PAIR_GEN","result":"CKR_OK"' ||
	fail "keygen record: $(grep keygen "$log")"
[ "$(rec '"event":"sign","slot":"audtest","backend":"soft","key":{"class":"private","id":"5a","label":"signer","version":1},"mech":"CKM_ECDSA_SHA256","result":"CKR_OK"')" -eq 3 ] ||
	fail "3 sign records: $(grep sign "$log")"
grep '"event":"destroy"' "$log" | grep -q '"class":"public","id":"5a"' || fail "destroy record: $(cat "$log")"
grep -q '"label":"d"' "$log" && fail "a data object was recorded as a key"
grep '"event":"login"' "$log" | head -1 | grep -q '"pid":[0-9]*,"uid":[0-9]*,"exe":"/usr/bin/pkcs11-tool"' ||
	fail "records do not say who: $(head -1 "$log")"
head -1 "$log" | grep -q '^{"seq":1,"prev":"0\{64\}","time":"20[0-9-]*T[0-9:.]*Z"' || fail "first record: $(head -1 "$log")"

# never a PIN, never a signature
grep -q -e $PIN -e $SO_PIN "$log" && fail "a PIN is in the log"
for i in 1 2 3; do
	sig=$(od -An -tx1 -v "$tmp/sig$i" | tr -d ' \n')
	[ ${#sig} -eq 128 ] || fail "signature $i: ${#sig} hex digits"
	grep -q "${sig:0:16}" "$log" && fail "signature $i bytes are in the log"
	grep -q "${sig:64:16}" "$log" && fail "signature $i bytes are in the log"
done

verify "$log" || fail "verify of an untouched log: $(cat "$tmp/verify.out")"
n=$(wc -l < "$log")
grep -q "ok: $n record(s), chain intact" "$tmp/verify.out" || fail "verify output: $(cat "$tmp/verify.out")"

# tampering, each found at its line (python keeps the bytes of the others)
tamper() {   # tamper NAME WANT-LINE WANT-WORD PYTHON-BODY(lines -> lines)
	python3 - "$log" "$tmp/t-$1" <<EOF
import sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')[:-1]
$4
open(sys.argv[2], 'wb').write(b''.join(l + b'\n' for l in lines) if not isinstance(lines, bytes) else lines)
EOF
	verify "$tmp/t-$1" && fail "$1: verify passed: $(cat "$tmp/verify.out")"
	grep -q "line $2: $3" "$tmp/verify.out" || fail "$1: want line $2: $3, got: $(cat "$tmp/verify.out")"
}
tamper edit 4 edited "lines[3] = lines[3].replace(b'CKR_OK', b'CKR_NO')"
tamper drop 4 "record 4 missing" "del lines[3]"
tamper swap 4 "out of order" "lines[3], lines[4] = lines[4], lines[3]"
tamper insert 5 inserted "
import hashlib, re
prev = hashlib.sha256(lines[3]).hexdigest().encode()
forged = re.sub(rb'\"prev\":\"[0-9a-f]{64}\"', b'\"prev\":\"' + prev + b'\"', lines[4]).replace(b'CKR_OK', b'CKR_NO')
lines.insert(4, forged)"
tamper cut "$n" incomplete "lines = b''.join(l + b'\n' for l in lines)[:-20]"
tamper garbage 3 "not a record" "lines[2] = b'{\"seq\": 3'"

# a writer that died mid-write: the next one ends the torn line and says so
printf '%s' '{"seq":99,"prev":"00' >> "$log"
verify "$log" && fail "a torn last line verified"
grep -q "line $((n + 1)): incomplete" "$tmp/verify.out" || fail "torn line: $(cat "$tmp/verify.out")"
p11 --login --pin $PIN --list-objects || fail "login after a torn write"
grep -q '"event":"recover","torn_bytes":20,"torn_sha256":"[0-9a-f]\{64\}"' "$log" || fail "no recover record: $(tail -3 "$log")"
verify "$log" || fail "verify after recovery: $(cat "$tmp/verify.out")"
grep -q "1 interrupted write(s) recovered" "$tmp/verify.out" || fail "recovery not reported: $(cat "$tmp/verify.out")"
"$CLI" audit show "$log" > "$tmp/show.out" || fail "show exited $?"
grep -q "^[0-9]* .* sign .* audtest .* signer id=5a .* CKM_ECDSA_SHA256 .* CKR_OK" "$tmp/show.out" ||
	fail "show table: $(cat "$tmp/show.out")"
grep -q "not a record" "$tmp/show.out" || fail "show does not point at the torn line"
"$CLI" audit show "$log" --since 2000-01-01 | grep -q " keygen " || fail "show --since in the past"
"$CLI" audit show "$log" --since 1m | grep -q " keygen " || fail "show --since 1m"
"$CLI" audit show "$log" --since 2999-01-01 | grep -q -e " login " -e " sign " && fail "show --since in the future lists records"

# writers killed with SIGKILL while they append: 3 signing processes of 2
# threads each (a record per signature), each killed at a random moment, in
# 3 rounds; the next writer recovers a torn last line, and the chain then
# verifies with every whole record in it
bench=${HWAGG_BUILDDIR:-}/bench/hwagg-bench
if [ -x "$bench" ]; then
	klog=$tmp/killed.jsonl
	conf production "{\"path\": \"$klog\", \"sign_events\": \"each\"}"
	for round in 1 2 3; do
		pids=""
		for _ in 1 2 3; do
			"$bench" "$MODULE" audtest $PIN ec256 10 2 > /dev/null 2>&1 &
			pids="$pids $!"
		done
		sleep 1
		for p in $pids; do
			sleep "0.$((RANDOM % 5))"
			kill -KILL "$p" 2> /dev/null
		done
		wait $pids 2> /dev/null || true
	done
	before=$(grep -c '"event":"sign"' "$klog")
	[ "$before" -gt 20 ] || fail "the killed writers left only $before signature records"
	p11 --login --pin $PIN --list-objects || fail "login after killed writers"
	verify "$klog" || fail "the chain after SIGKILLed writers: $(cat "$tmp/verify.out")"
	[ "$(grep -c '"event":"sign"' "$klog")" -ge "$before" ] || fail "records were lost after the kills"
	echo "PASS: 9 writers killed mid-append: $before signature records, the chain verifies ($(cat "$tmp/verify.out" | head -n 1))"
else
	echo "SKIP: the SIGKILL test needs bench/hwagg-bench"
fi

# an unwritable log: production fails C_Initialize, development warns
echo file > "$tmp/notadir"
conf production "{\"path\": \"$tmp/notadir/audit.jsonl\"}"
HWAGG_LOG=warn pkcs11-tool --module "$MODULE" -L > "$tmp/p11.out" 2>&1 && fail "production started without its audit log"
grep -q "audit: the log $tmp/notadir/audit.jsonl cannot be written in production mode" "$tmp/p11.out" ||
	fail "production message: $(cat "$tmp/p11.out")"
grep -q "CKR_FUNCTION_FAILED" "$tmp/p11.out" || fail "production C_Initialize: $(cat "$tmp/p11.out")"
conf development "{\"path\": \"$tmp/notadir/audit.jsonl\"}"
HWAGG_LOG=warn pkcs11-tool --module "$MODULE" -L > "$tmp/p11.out" 2>&1 || fail "development refused to start: $(cat "$tmp/p11.out")"
grep -q "cannot be written: nothing is audited (development mode)" "$tmp/p11.out" || fail "development warning: $(cat "$tmp/p11.out")"
# the default: next to the store
conf production "{}"
p11 --login --pin $PIN --list-objects || fail "list with the default log"
grep -q '"event":"login"' "$tmp/store/audit.jsonl" || fail "no log next to the store"

# checkpoints: the chain head signed with the token's key, every 4 records
p11 --login --pin $PIN --keypairgen --key-type EC:prime256v1 --label cp --id c0 || fail "checkpoint key"
p11 --read-object --type pubkey --id c0 -o "$tmp/cp.der" || fail "read the checkpoint public key"
openssl pkey -pubin -inform DER -in "$tmp/cp.der" -out "$tmp/cp.pem" || fail "checkpoint public key to PEM"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/other.key" 2>/dev/null &&
	openssl pkey -in "$tmp/other.key" -pubout -out "$tmp/other.pem" || fail "another key"
cplog=$tmp/cp.jsonl
conf production "{\"path\": \"$cplog\", \"sign_events\": \"each\", \"checkpoint_every\": 4,
 \"checkpoint_key\": \"pkcs11:token=audtest;object=cp;type=private?pin-source=$tmp/pin\"}"
for i in 1 2 3 4; do
	p11 --login --pin $PIN --sign -m ECDSA-SHA256 --id 5a -i "$tmp/msg" -o "$tmp/s" || fail "sign with checkpoints"
done
ncp=$(grep -c '"event":"checkpoint"' "$cplog")
[ "$ncp" -ge 2 ] || fail "want 2 checkpoints or more, got $ncp: $(cat "$cplog")"
grep -q $PIN "$cplog" && fail "the PIN is in the log"
verify "$cplog" --key "$tmp/cp.pem" || fail "checkpoints do not verify: $(cat "$tmp/verify.out")"
grep -q "$ncp checkpoint(s) verified" "$tmp/verify.out" || fail "checkpoints counted: $(cat "$tmp/verify.out")"
cpline=$(grep -n '"event":"checkpoint"' "$cplog" | head -1 | cut -d: -f1)
verify "$cplog" --key "$tmp/other.pem" && fail "checkpoints verified with another key"
grep -q "line $cpline: bad checkpoint: the signature does not verify" "$tmp/verify.out" ||
	fail "another key: $(cat "$tmp/verify.out")"
# an attacker who rewrites a record and recomputes every hash after it
# (checkpoint heads included) leaves a chain that holds but signatures that
# do not; one who re-signs with a key of their own is caught the same way
python3 - "$cplog" "$tmp/forged.jsonl" "$tmp/other.key" <<'EOF'
import hashlib, json, re, subprocess, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')[:-1]
lines[1] = lines[1].replace(b'CKR_OK', b'CKR_NO')
hashes, out = {}, []
prev = b'0' * 64
for l in lines:
    l = re.sub(rb'"prev":"[0-9a-f]{64}"', b'"prev":"' + prev + b'"', l)
    rec = json.loads(l)
    if rec['event'] == 'checkpoint':
        head = hashes[rec['head_seq']]
        l = re.sub(rb'"head":"[0-9a-f]{64}"', b'"head":"' + head + b'"', l)
        msg = b'hwagg-audit-checkpoint:v1:%d:%s' % (rec['head_seq'], head)
        der = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', sys.argv[3]], input=msg,
                             capture_output=True, check=True).stdout
        # DER ECDSA-Sig-Value to r||s, 32 bytes each
        r_len = der[3]; r = der[4:4 + r_len]; s = der[6 + r_len:]
        rs = r[-32:].rjust(32, b'\0') + s[-32:].rjust(32, b'\0')
        l = re.sub(rb'"sig":"[0-9a-f]+"', b'"sig":"' + rs.hex().encode() + b'"', l)
    prev = hashlib.sha256(l).hexdigest().encode()
    hashes[json.loads(l)['seq']] = prev
    out.append(l)
open(sys.argv[2], 'wb').write(b''.join(l + b'\n' for l in out))
EOF
verify "$tmp/forged.jsonl" || fail "the rewritten chain should hold without a key: $(cat "$tmp/verify.out")"
verify "$tmp/forged.jsonl" --key "$tmp/cp.pem" && fail "a forged checkpoint verified"
grep -q "line $cpline: bad checkpoint: the signature does not verify" "$tmp/verify.out" ||
	fail "forged checkpoint: $(cat "$tmp/verify.out")"
verify "$tmp/forged.jsonl" --key "$tmp/other.pem" || fail "the forger's own signatures: $(cat "$tmp/verify.out")"
# "syslog": true: every record also goes to syslog, facility authpriv; the
# consumer runs in a mount namespace whose /dev/log is the test's socket
mkdir -p "$tmp/dev"
for f in null zero urandom random; do touch "$tmp/dev/$f"; done
python3 - "$tmp/dev/log" > "$tmp/syslog.out" <<'EOF2' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
try:
    while True:
        m = s.recv(16384).decode(errors='replace')
        print(m, flush=True)
        if '"event":"login"' in m:
            break
except socket.timeout:
    pass
EOF2
listener=$!
for i in $(seq 50); do [ -S "$tmp/dev/log" ] && break; sleep 0.1; done
conf production "{\"path\": \"$tmp/sys.jsonl\", \"syslog\": true}"
unshare -m sh -c 'for f in null zero urandom random; do mount --bind /dev/$f "$1/dev/$f"; done
	mount --bind "$1/dev" /dev && exec pkcs11-tool --module "$2" --token-label audtest --login --pin "$3" -O' \
	sh "$tmp" "$MODULE" $PIN > /dev/null 2>&1 || fail "listing in a namespace with our /dev/log"
wait $listener
grep -q '^<86>.*hwagg-audit: {"seq":1,"prev":"0\{64\}",.*"event":"login","slot":"audtest".*"result":"CKR_OK"}$' \
	"$tmp/syslog.out" || fail "no login record on syslog (authpriv.info): $(cat "$tmp/syslog.out")"
grep -q $PIN "$tmp/syslog.out" && fail "a PIN went to syslog"

# rotation: the label signs with a new key; an old signature still verifies
# with the old public key, which stays (with an end date); consumers that
# find the key by label or URI take the new one without a change
conf production "{\"path\": \"$tmp/rot.jsonl\"}"
"$CLI" keygen --slot audtest --type ec-p256 --label rot --pin-file "$tmp/pin" > /dev/null || fail "keygen rot"
pkid() { p11 --login --pin $PIN --list-objects --type privkey && awk '/label: *rot$/ { getline; print $2 }' "$tmp/p11.out"; }
oldid=$(pkid)
[ -n "$oldid" ] || fail "no private key rot: $(cat "$tmp/p11.out")"
# the OpenSSL engine finds the key by its URI (label), before and after
openssl dgst -sha256 -binary -out "$tmp/msg.sha256" "$tmp/msg"
engine_sign() {
	PKCS11_MODULE_PATH=$MODULE openssl pkeyutl -engine pkcs11 -keyform engine -sign -in "$tmp/msg.sha256" \
		-inkey "pkcs11:token=audtest;object=rot;type=private?pin-value=$PIN" -out "$1" > /dev/null 2>&1
}
engine_verify() { openssl pkeyutl -verify -pubin -inkey "$1" -in "$tmp/msg.sha256" -sigfile "$2" > /dev/null 2>&1; }
engine_sign "$tmp/sig-old" || fail "engine sign by URI before rotation"
pubpem() { p11 --read-object --type pubkey --id "$1" -o "$tmp/p.der" && openssl pkey -pubin -inform DER -in "$tmp/p.der" -out "$2"; }
pubpem "$oldid" "$tmp/old.pem" || fail "old public key"
newuri=$("$CLI" rotate "pkcs11:token=audtest;object=rot;type=private" --pin-file "$tmp/pin" 2> "$tmp/rot.out") ||
	fail "rotate: $(cat "$tmp/rot.out")"
newid=$(pkid)
[ "$(grep -c 'label: *rot$' "$tmp/p11.out")" -eq 1 ] || fail "after rotation, one private key rot: $(cat "$tmp/p11.out")"
[ -n "$newid" ] && [ "$newid" != "$oldid" ] || fail "the private key rot is still $oldid"
[[ $newuri == "pkcs11:token=audtest;object=rot;id=%"*";type=private" ]] || fail "rotate printed $newuri"
engine_sign "$tmp/sig-new" || fail "engine sign by URI after rotation"
pubpem "$oldid" "$tmp/old2.pem" || fail "the old public key is gone after rotation"
pubpem "$newid" "$tmp/new.pem" || fail "new public key"
engine_verify "$tmp/old.pem" "$tmp/sig-old" || fail "the engine did not sign with the key rot before rotation"
engine_verify "$tmp/old2.pem" "$tmp/sig-old" || fail "an old signature does not verify with the old public key after rotation"
engine_verify "$tmp/new.pem" "$tmp/sig-new" || fail "the URI (label) does not sign with the new key"
engine_verify "$tmp/new.pem" "$tmp/sig-old" && fail "the old signature verifies with the new key"
grep '"what":"rotate"' "$tmp/rot.jsonl" |
	grep -q "version 1 -> 2, old private key destroyed, id $oldid -> id $newid\",\"result\":\"CKR_OK\"" ||
	fail "rotation record: $(grep rotate "$tmp/rot.jsonl")"
grep -q "\"event\":\"destroy\".*\"id\":\"$oldid\"" "$tmp/rot.jsonl" || fail "old private key destroy not recorded"
"$CLI" audit verify "$tmp/rot.jsonl" > /dev/null || fail "the log after rotation does not verify"
# "retire": "disable": the old private key stays, retired (a label of its
# own, no use left, an end date); the label finds only the new key
cat > "$tmp/hwagg.json" <<EOF
{"environment": "production", "store": "$tmp/store", "audit": {"path": "$tmp/rot.jsonl"},
 "rotation": {"retire": "disable"}, "slots": [{"name": "audtest", "type": "soft"}]}
EOF
oldid=$newid
"$CLI" rotate "pkcs11:token=audtest;object=rot;type=private" --pin-file "$tmp/pin" > /dev/null 2> "$tmp/rot.out" ||
	fail "rotate (disable): $(cat "$tmp/rot.out")"
grep -q "is disabled (kept" "$tmp/rot.out" || fail "rotate (disable) says: $(cat "$tmp/rot.out")"
newid=$(pkid)
[ "$(grep -c 'label: *rot$' "$tmp/p11.out")" -eq 1 ] && [ "$newid" != "$oldid" ] ||
	fail "after rotation (disable), one private key rot, a new one: $(cat "$tmp/p11.out")"
grep -q "label: *rot (retired v2)$" "$tmp/p11.out" || fail "the retired private key is not kept: $(cat "$tmp/p11.out")"
p11 --login --pin $PIN --sign -m ECDSA-SHA256 --id "$oldid" -i "$tmp/msg" -o "$tmp/sig-retired" &&
	fail "the retired private key still signs"
grep -q CKR_KEY_FUNCTION_NOT_PERMITTED "$tmp/p11.out" || fail "retired key sign: $(cat "$tmp/p11.out")"
engine_sign "$tmp/sig-new2" && pubpem "$newid" "$tmp/new2.pem" && engine_verify "$tmp/new2.pem" "$tmp/sig-new2" ||
	fail "the label does not sign with the newest key"
grep '"what":"rotate"' "$tmp/rot.jsonl" | grep -q "version 2 -> 3, old private key disabled, id $oldid -> id $newid" ||
	fail "rotation (disable) record: $(grep rotate "$tmp/rot.jsonl" | tail -1)"
# by age: "rotation": {"interval_days": 30}; a key made 40 days ago (the
# clock moved back with faketime) is due, one made now is not
cat > "$tmp/hwagg.json" <<EOF
{"environment": "production", "store": "$tmp/store", "audit": {"path": "$tmp/rot.jsonl"},
 "rotation": {"interval_days": 30}, "slots": [{"name": "audtest", "type": "soft"}]}
EOF
faketime -f '-40d' "$CLI" keygen --slot audtest --type ec-p256 --label aged --pin-file "$tmp/pin" > /dev/null ||
	fail "keygen 40 days ago"
"$CLI" keygen --slot audtest --type ec-p256 --label fresh --pin-file "$tmp/pin" > /dev/null || fail "keygen fresh"
p11 --login --pin $PIN --list-objects --type privkey && cp "$tmp/p11.out" "$tmp/before.out"
"$CLI" status > "$tmp/status.out" 2>&1
grep -q "rotation: 1 key(s) due (older than 30 days)" "$tmp/status.out" || fail "status before --due: $(cat "$tmp/status.out")"
"$CLI" rotate --due --slot audtest --pin-file "$tmp/pin" > "$tmp/due.out" 2> "$tmp/due.err" ||
	fail "rotate --due: $(cat "$tmp/due.err")"
[ "$(wc -l < "$tmp/due.out")" -eq 1 ] && grep -q "^pkcs11:token=audtest;object=aged;id=" "$tmp/due.out" ||
	fail "rotate --due should rotate exactly the aged key: $(cat "$tmp/due.out" "$tmp/due.err")"
grep -q "1 key(s) rotated, 5 younger than 30 days" "$tmp/due.err" || fail "rotate --due summary: $(cat "$tmp/due.err")"
p11 --login --pin $PIN --list-objects --type privkey
keep='label: *\(fresh\|rot\|cp\|signer\)$'
[ "$(grep -A1 "$keep" "$tmp/before.out")" = "$(grep -A1 "$keep" "$tmp/p11.out")" ] ||
	fail "rotate --due changed a key that was not due"
[ "$(grep -A1 'label: *aged$' "$tmp/before.out")" != "$(grep -A1 'label: *aged$' "$tmp/p11.out")" ] ||
	fail "rotate --due did not change the aged key"
"$CLI" rotate --due --slot audtest --pin-file "$tmp/pin" > "$tmp/due.out" 2> "$tmp/due.err" || fail "second --due"
[ ! -s "$tmp/due.out" ] || fail "a second --due rotated again: $(cat "$tmp/due.out")"
"$CLI" status > "$tmp/status.out" 2>&1
grep -q "rotation: 0 key(s) due (older than 30 days)" "$tmp/status.out" || fail "status after --due: $(cat "$tmp/status.out")"
conf development "{\"path\": \"$tmp/rot.jsonl\"}"
"$CLI" rotate --due --slot audtest --pin-file "$tmp/pin" > "$tmp/due.out" 2>&1 || fail "--due in development"
grep -q "rotation by age is off" "$tmp/due.out" || fail "development --due: $(cat "$tmp/due.out")"
echo "audit: ok"
