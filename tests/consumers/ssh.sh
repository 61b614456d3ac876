#!/bin/bash
# OpenSSH with the module as PKCS#11 provider: ssh-keygen -D lists the token's
# EC and RSA public keys, and ssh -I logs in to a private sshd on 127.0.0.1
# with each of them (PIN supplied by SSH_ASKPASS, no tty), runs a command
# that prints a marker, and sshd logs that it accepted exactly that key.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
hw_setup

hw_keygen_ec ssh-ec 31
hw_keygen_rsa ssh-rsa 32

# --- ssh-keygen -D: the token's keys in OpenSSH form, matching the token ---
hw_run "ssh-keygen -D" ssh-keygen -D "$MODULE"
cp "$TMP/run.out" "$TMP/token.keys"
for id in 31 32; do
	hw_pubkey_pem "$id" "$TMP/pub$id.pem"
	hw_run "OpenSSH form of key $id" ssh-keygen -i -m PKCS8 -f "$TMP/pub$id.pem"
	cut -d' ' -f1,2 "$TMP/run.out" >"$TMP/key$id.pub"
	grep -qF "$(cat "$TMP/key$id.pub")" "$TMP/token.keys" ||
		hw_fail "ssh-keygen -D does not list key $id:
$(cat "$TMP/token.keys")"
	hw_run "fingerprint of key $id" ssh-keygen -l -E sha256 -f "$TMP/key$id.pub"
	awk '{print $2}' "$TMP/run.out" >"$TMP/key$id.fp"
done
hw_expect "ssh-keygen -D lists an ECDSA key" '^ecdsa-sha2-nistp256 ' "$TMP/token.keys"
hw_expect "ssh-keygen -D lists an RSA key" '^ssh-rsa ' "$TMP/token.keys"
hw_pass "ssh-keygen -D lists the EC and RSA token keys"

# --- sshd on loopback ---
mkdir -p /run/sshd
hw_run "sshd host key" ssh-keygen -q -t ed25519 -N '' -C hwtest-host -f "$TMP/host_key"
PORT=$(hw_free_port)
cat >"$TMP/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/host_key
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel VERBOSE
EOF
hw_run "sshd config check" /usr/sbin/sshd -t -f "$TMP/sshd_config"
hw_bg sshd /usr/sbin/sshd -D -e -f "$TMP/sshd_config"
SSHD=$HW_BG_PID
hw_wait_port "$PORT" "$SSHD"

printf '#!/bin/sh\necho %s\n' "$PIN" >"$TMP/askpass"
chmod 700 "$TMP/askpass"

# HW_RSA_SHA256_ONLY=1: the target's RSA keys sign SHA-256 PKCS#1 v1.5 only
# (gcp-kms: a key version's algorithm fixes padding and hash), so the client
# offers RSA keys as rsa-sha2-256, not OpenSSH's preferred rsa-sha2-512.
algs=()
[ "${HW_RSA_SHA256_ONLY:-}" = 1 ] && algs=(-o PubkeyAcceptedAlgorithms=ecdsa-sha2-nistp256,rsa-sha2-256)

# ssh_login ID — authorize only key ID, log in, check marker and sshd's log.
ssh_login() {
	local id=$1 user
	user=$(id -un)
	cp "$TMP/key$id.pub" "$TMP/authorized_keys"
	SSH_ASKPASS="$TMP/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:hwtest \
		timeout "$HW_TIMEOUT" setsid -w ssh -F /dev/null -I "$MODULE" -o IdentityAgent=none \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=no \
		-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o ConnectTimeout=10 "${algs[@]}" \
		-p "$PORT" "$user@127.0.0.1" echo "HWAGG-SSH-OK-$id" \
		</dev/null >"$TMP/ssh$id.out" 2>"$TMP/ssh$id.err" ||
		hw_fail "ssh login with key $id failed:
$(tail -n 20 "$TMP/ssh$id.err")
--- sshd ---
$(tail -n 20 "$TMP/sshd.log")"
	[ "$(cat "$TMP/ssh$id.out")" = "HWAGG-SSH-OK-$id" ] ||
		hw_fail "ssh with key $id: expected HWAGG-SSH-OK-$id, got: $(cat "$TMP/ssh$id.out")"
	grep -F "Accepted publickey for $user" "$TMP/sshd.log" | grep -qF "$(cat "$TMP/key$id.fp")" ||
		hw_fail "sshd did not log acceptance of key $id ($(cat "$TMP/key$id.fp")):
$(tail -n 20 "$TMP/sshd.log")"
	hw_pass "ssh login with token key $id ran the command (sshd accepted $(cat "$TMP/key$id.fp"))"
}
ssh_login 31
ssh_login 32
hw_pass "all ssh checks passed"
