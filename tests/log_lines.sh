#!/bin/bash
# What the module says in the log, as a new user meets it: the built-in
# default's warning once per process (modutil initializes the module twice),
# an info line when the developer asked for the default; the configuration's
# line in the configured log file; a log file that cannot be opened says why
# and where the lines go; the permission warning names what the slots risk;
# a refused key generation names attribute, value and rule; C_InitToken with
# another label than the slot's name is refused and the keys stay.
set -u
MODULE=${HWAGG_MODULE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset HWAGG_CONF HWAGG_ENVIRONMENT HWAGG_LOG XDG_DATA_HOME XDG_CONFIG_HOME
export HOME=$tmp/home
mkdir -p "$HOME"
[ -e /etc/hwagg/hwagg.json ] && { echo "SKIP: /etc/hwagg/hwagg.json exists"; exit 77; }

# ---- the built-in default ----------------------------------------------------
warn_default='hwagg: warn: config: no configuration file (/etc/hwagg/hwagg.json absent, $HWAGG_CONF unset): using the built-in default'
mkdir "$tmp/nss" && certutil -N -d "sql:$tmp/nss" --empty-password || fail "certutil -N"
modutil -dbdir "sql:$tmp/nss" -add hwagg -libfile "$MODULE" -force >"$tmp/out" 2>&1 || fail "modutil -add: $(cat "$tmp/out")"
modutil -dbdir "sql:$tmp/nss" -list >"$tmp/out" 2>&1 || fail "modutil -list: $(cat "$tmp/out")"
n=$(grep -cF "$warn_default" "$tmp/out")
[ "$n" -eq 1 ] || fail "modutil -list: the default's warning $n times, want once: $(cat "$tmp/out")"
HWAGG_ENVIRONMENT=development pkcs11-tool --module "$MODULE" -L >"$tmp/out" 2>&1 || fail "pkcs11-tool -L"
grep -q "no configuration file" "$tmp/out" && fail "a warning although HWAGG_ENVIRONMENT=development: $(cat "$tmp/out")"
HWAGG_ENVIRONMENT=development HWAGG_LOG=info pkcs11-tool --module "$MODULE" -L >"$tmp/out" 2>&1
grep -q "^hwagg: info: config: no configuration file: the built-in default" "$tmp/out" ||
	fail "no info line for the default asked for: $(cat "$tmp/out")"
mkdir -p "$HOME/.config/hwagg" && : >"$HOME/.config/hwagg/development"
pkcs11-tool --module "$MODULE" -L >"$tmp/out" 2>&1 || fail "pkcs11-tool -L"
grep -q "no configuration file" "$tmp/out" && fail "a warning despite ~/.config/hwagg/development: $(cat "$tmp/out")"
rm "$HOME/.config/hwagg/development"

# ---- a configuration with a log file -----------------------------------------
cat >"$tmp/hwagg.json" <<JSON
{ "environment": "development", "store": "$tmp/store", "log": { "level": "info", "file": "$tmp/hwagg.log" },
  "slots": [ { "name": "dev", "type": "soft" } ] }
JSON
chmod 600 "$tmp/hwagg.json"
export HWAGG_CONF=$tmp/hwagg.json
pkcs11-tool --module "$MODULE" -L >"$tmp/out" 2>&1 || fail "pkcs11-tool -L with a log file"
grep -q "hwagg\[[0-9]*\] info: config: $tmp/hwagg.json (named by \$HWAGG_CONF): 1 slot(s), development mode" "$tmp/hwagg.log" ||
	fail "the configuration's line is not in the log file: $(cat "$tmp/hwagg.log")"
grep -q "^hwagg:" "$tmp/out" && fail "lines on stderr although a log file is set: $(cat "$tmp/out")"

# a log file that cannot be opened: why, and where the lines go
sed "s|$tmp/hwagg.log|/etc/passwd/hwagg.log|" "$tmp/hwagg.json" >"$tmp/badlog.json"
HWAGG_CONF=$tmp/badlog.json pkcs11-tool --module "$MODULE" -L >"$tmp/out" 2>&1 || fail "pkcs11-tool -L, bad log file"
grep -qxF "hwagg: warn: cannot open the log file /etc/passwd/hwagg.log: Not a directory; logging to stderr instead" "$tmp/out" ||
	fail "unopenable log file: $(cat "$tmp/out")"

# group-writable: what the slots actually risk
cp "$tmp/badlog.json" "$tmp/gw.json"
sed -i 's|"level": "info", "file": "/etc/passwd/hwagg.log"|"level": "warn"|' "$tmp/gw.json"
chmod 664 "$tmp/gw.json"
HWAGG_CONF=$tmp/gw.json pkcs11-tool --module "$MODULE" -L >"$tmp/out" 2>&1
grep -qF "config $tmp/gw.json: writable by group or others: they can change the slots, where keys are stored and where the log goes (chmod go-w)" "$tmp/out" ||
	fail "permission warning, soft only: $(cat "$tmp/out")"
sed -i 's|\[ { "name": "dev", "type": "soft" } \]|[ { "name": "dev", "type": "soft" }, { "name": "h", "type": "hsm", "module": "/usr/lib/softhsm/libsofthsm2.so" } ]|' "$tmp/gw.json"
HWAGG_CONF=$tmp/gw.json pkcs11-tool --module "$MODULE" -L >"$tmp/out" 2>&1
grep -qF "writable by group or others: they can change the modules this process loads" "$tmp/out" ||
	fail "permission warning, hsm slot: $(cat "$tmp/out")"

# ---- key generation refused for a reason the user can fix ----------------------
sed -i 's|"level": "info", "file": "[^"]*"|"level": "warn"|' "$tmp/hwagg.json"
p11() { pkcs11-tool --module "$MODULE" --token-label dev "$@"; }
p11 --init-token --label dev --so-pin 12345678 >/dev/null 2>&1 || fail "init token"
p11 --login --login-type so --so-pin 12345678 --init-pin --pin 123456 >/dev/null 2>&1 || fail "init pin"
p11 --login --pin 123456 --keypairgen --key-type EC:prime256v1 --label keep --id 01 >/dev/null 2>&1 || fail "keygen"
p11 --login --pin 123456 --keypairgen --key-type rsa:1024 --label small >"$tmp/out" 2>&1 && fail "RSA-1024 made"
grep -qxF 'hwagg: warn: slot "dev": CKM_RSA_PKCS_KEY_PAIR_GEN key pair refused: CKA_MODULUS_BITS = 1024: below the slot'"'"'s rsa_min_bits (2048) in the configuration (CKR_KEY_SIZE_RANGE)' "$tmp/out" ||
	fail "RSA-1024 refusal: $(cat "$tmp/out")"
p11 --login --pin 123456 --keypairgen --key-type EC:secp256k1 --label k1 >"$tmp/out" 2>&1 && fail "secp256k1 made"
grep -qF 'hwagg: warn: slot "dev": CKM_EC_KEY_PAIR_GEN key pair refused: CKA_EC_PARAMS = 06052b8104000a: not a curve hwagg supports' "$tmp/out" ||
	fail "secp256k1 refusal: $(cat "$tmp/out")"

# ---- C_InitToken with another label: refused, nothing wiped ---------------------
p11 --init-token --label other --so-pin 12345678 >"$tmp/out" 2>&1 && fail "init-token with another label succeeded"
grep -qF 'slot "dev": initialize token refused: the label given is not the slot'"'"'s name; a token'"'"'s label comes from the configuration' "$tmp/out" ||
	fail "no line saying the label comes from the config: $(cat "$tmp/out")"
p11 --login --pin 123456 -O 2>/dev/null | grep -q "label: *keep" || fail "the key is gone after a refused re-initialization"
echo "log_lines: ok"
