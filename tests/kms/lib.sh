# tests/kms/lib.sh — the aws-kms target of tests/lib.sh: a loopback fake of
# AWS KMS (tests/kms/fake_kms.py) over HTTPS with a CA made here, and the
# slot's configuration. Sourced by tests/lib.sh (hw_setup, HW_TARGET=aws-kms)
# and by the tests in tests/kms/.
#
# hw_kms_start starts the fake: KMS and STS on https://127.0.0.1:$HW_KMS_PORT,
# instance metadata, container credentials and the fault control on
# http://127.0.0.1:$HW_KMS_HTTP. Nothing outside 127.0.0.1 is ever contacted:
# every AWS endpoint variable points at the fake, HOME is the temp dir (no
# ~/.aws of the machine) and instance metadata is the fake's.

HW_KMS_REGION=eu-west-1
HW_KMS_AKID=AKIDHWAGGTEST
HW_KMS_SECRET='hwagg/fake+secret/0123456789abcdefghijklmn'

# hw_kms_certs — CA and a server certificate for 127.0.0.1 in $TMP/kms.
hw_kms_certs() {
	local d="$TMP/kms"
	mkdir -p "$d"
	hw_run "make the fake's CA" openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=hwagg kms test CA"
	hw_run "make the fake's key" openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=127.0.0.1"
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/ext.cnf"
	hw_run "sign the fake's certificate" openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -CAcreateserial -out "$d/server.pem" -days 2 -extfile "$d/ext.cnf"
}

# hw_kms_start — the fake, and the environment a client needs to reach it.
hw_kms_start() {
	python3 -c 'import cryptography' 2>/dev/null || hw_skip "python3-cryptography is not installed"
	[ -s "$TMP/kms/server.pem" ] || hw_kms_certs
	HW_KMS_PORT=$(hw_free_port)
	HW_KMS_HTTP=$(hw_free_port)
	printf 'eyJhbGciOiJub25lIn0.test-web-identity-token.\n' >"$TMP/kms/web-token"
	setsid python3 "$HWAGG_SRCDIR/tests/kms/fake_kms.py" --port "$HW_KMS_PORT" --http-port "$HW_KMS_HTTP" \
		--cert "$TMP/kms/server.pem" --key "$TMP/kms/server.key" --region "$HW_KMS_REGION" \
		--web-token "$(cat "$TMP/kms/web-token")" --stop-after "${HW_KMS_LIFETIME:-900}" \
		>>"$TMP/kms/fake.log" 2>&1 </dev/null &
	HW_KMS_PID=$!
	hw_track "$HW_KMS_PID"
	hw_wait_port "$HW_KMS_PORT" "$HW_KMS_PID"
	hw_wait_port "$HW_KMS_HTTP" "$HW_KMS_PID"
	export HOME="$TMP/kms/home"
	mkdir -p "$HOME"
	export AWS_ENDPOINT_URL="https://127.0.0.1:$HW_KMS_PORT"
	export AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$HW_KMS_HTTP"
	export AWS_CA_BUNDLE="$TMP/kms/ca.pem"
	export AWS_REGION=$HW_KMS_REGION
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_KMS \
		AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_EC2_METADATA_DISABLED
	hw_kms_static_creds
}

hw_kms_static_creds() {
	export AWS_ACCESS_KEY_ID=$HW_KMS_AKID AWS_SECRET_ACCESS_KEY=$HW_KMS_SECRET
}

hw_kms_no_env_creds() {
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
}

# hw_kms_ctl PATH JSON — the fake's control endpoint (faults, credentials);
# prints its answer unless it is "{}".
hw_kms_ctl() {
	python3 - "$HW_KMS_HTTP" "$1" "$2" <<'PY' || hw_fail "fake control $2 $3 failed"
import sys, urllib.request
port, path, body = sys.argv[1], sys.argv[2], sys.argv[3]
r = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), body.encode(), method="POST"), timeout=10).read()
if r != b"{}":
    sys.stdout.write(r.decode())
PY
}

hw_kms_fault() { hw_kms_ctl /_fault "$1"; }

# hw_kms_stat EXPR — a value from the fake's /_stats, e.g. '["by_op"]["Sign"]'.
hw_kms_stat() {
	python3 - "$HW_KMS_HTTP" "$1" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_stats" % sys.argv[1], timeout=10))
print(eval("s" + sys.argv[2], {"s": s}))
PY
}

# hw_kms_conf [EXTRA-JSON] — the aws-kms slot named $TOKEN on the fake.
hw_kms_conf() {
	hw_write_conf '{"name":"'"$TOKEN"'","type":"aws-kms","region":"'"$HW_KMS_REGION"'","deletion_window_days":7,"pin":"'"$PIN"'"'"${1:+,$1}"'}'
}

# hw_kms_ec_key LABEL — a P-256 key with id 01 on the slot, its public key
# in $TMP/pub.pem and 100 random bytes to sign in $TMP/data.
hw_kms_ec_key() {
	head -c 100 /dev/urandom >"$TMP/data"
	hw_keygen_ec "$1" 01
	hw_pubkey_pem 01 "$TMP/pub.pem"
}

# hw_kms_setup — for hw_setup: the fake and the slot.
hw_kms_setup() {
	hw_kms_start
	hw_kms_conf
}

# hw_sk_client — skclient (tests/kms/skclient.c) as the function sk, on
# the slot $TOKEN; skips when it is not built.
hw_sk_client() {
	HW_SK_CLIENT="${HWAGG_BUILDDIR:-$HWAGG_SRCDIR}/tests/kms/skclient"
	[ -x "$HW_SK_CLIENT" ] || hw_skip "$HW_SK_CLIENT is not built (make check builds it)"
}
sk() { "$HW_SK_CLIENT" "$MODULE" "$TOKEN" "$PIN" "$@"; }

# hw_mac_checks LABEL DATA WANT SIGN-OP VERIFY-OP — CKM_SHA256_HMAC with
# the key LABEL over the file DATA, in one call and in three parts, must
# be WANT (hex, the fake's own HMAC under the key bytes it holds), made by
# two SIGN-OP requests; C_Verify accepts it and refuses a changed MAC with
# CKR_SIGNATURE_INVALID (four VERIFY-OP requests).
hw_mac_checks() {
	local s0 v0 bad
	s0=$(hw_kms_stat "[\"by_op\"].get(\"$4\", 0)")
	v0=$(hw_kms_stat "[\"by_op\"].get(\"$5\", 0)")
	hw_run "sign" sk sign "$1" sha256-hmac "$2"
	[ "$(sed -n 1p "$TMP/run.out")" = "$3" ] || hw_fail "C_Sign: $(sed -n 1p "$TMP/run.out"), the key's HMAC: $3"
	[ "$(sed -n 2p "$TMP/run.out")" = "multi $3" ] || hw_fail "three parts: $(sed -n 2p "$TMP/run.out")"
	[ "$(hw_kms_stat "[\"by_op\"][\"$4\"]")" = $((s0 + 2)) ] || hw_fail "expected two $4 requests"
	hw_run "verify" sk verify "$1" sha256-hmac "$2" "$3"
	[ "$(tr '\n' ' ' <"$TMP/run.out")" = "CKR_OK multi CKR_OK " ] || hw_fail "verify: $(cat "$TMP/run.out")"
	if [ "${3:0:1}" = f ]; then bad=0${3:1}; else bad=f${3:1}; fi
	hw_run "verify a changed MAC" sk verify "$1" sha256-hmac "$2" "$bad"
	[ "$(tr '\n' ' ' <"$TMP/run.out")" = "CKR_SIGNATURE_INVALID multi CKR_SIGNATURE_INVALID " ] ||
		hw_fail "a changed MAC: $(cat "$TMP/run.out")"
	[ "$(hw_kms_stat "[\"by_op\"][\"$5\"]")" = $((v0 + 4)) ] || hw_fail "expected four $5 requests"
}
