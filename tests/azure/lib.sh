# tests/azure/lib.sh — the azure-kv target of tests/lib.sh: a loopback fake
# of Azure Key Vault and its identity endpoints (tests/azure/fake_azure.py)
# over HTTPS with a CA made here, and the slot's configuration. Sourced by
# tests/lib.sh (hw_setup, HW_TARGET=azure-kv) and by the tests in
# tests/azure/.
#
# hw_az_start starts the fake: the vault and the Entra ID token endpoint on
# https://127.0.0.1:$HW_AZ_PORT; IMDS, the App Service identity endpoint and
# the fault control on http://127.0.0.1:$HW_AZ_HTTP. Nothing outside
# 127.0.0.1 is ever contacted: every identity variable the slot reads points
# at the fake (AZURE_AUTHORITY_HOST, AZURE_POD_IDENTITY_AUTHORITY_HOST).

# the CA and server certificate are made as for the aws-kms fake
. "$HWAGG_SRCDIR/tests/kms/lib.sh"

HW_AZ_TENANT=72f988bf-86f1-41af-91ab-2d7cd011db47
HW_AZ_CLIENT=11111111-2222-3333-4444-555555555555
HW_AZ_SECRET='hwagg~fake.secret_0123456789'
HW_AZ_IDHEADER=hwagg-identity-header-value
HW_AZ_ASSERTION='eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL29pZGMuZXhhbXBsZSJ9.c2ln'

hw_az_start() {
	python3 -c 'import cryptography' 2>/dev/null || hw_skip "python3-cryptography is not installed"
	[ -s "$TMP/kms/server.pem" ] || hw_kms_certs
	HW_AZ_PORT=$(hw_free_port)
	HW_AZ_HTTP=$(hw_free_port)
	printf '%s\n' "$HW_AZ_ASSERTION" >"$TMP/kms/federated-token"
	setsid python3 "$HWAGG_SRCDIR/tests/azure/fake_azure.py" --port "$HW_AZ_PORT" --http-port "$HW_AZ_HTTP" \
		--cert "$TMP/kms/server.pem" --key "$TMP/kms/server.key" --assertion "$HW_AZ_ASSERTION" \
		--stop-after "${HW_AZ_LIFETIME:-900}" >>"$TMP/kms/fake-azure.log" 2>&1 </dev/null &
	HW_AZ_PID=$!
	hw_track "$HW_AZ_PID"
	hw_wait_port "$HW_AZ_PORT" "$HW_AZ_PID"
	hw_wait_port "$HW_AZ_HTTP" "$HW_AZ_PID"
	export AZURE_AUTHORITY_HOST="https://127.0.0.1:$HW_AZ_PORT"
	export AZURE_POD_IDENTITY_AUTHORITY_HOST="http://127.0.0.1:$HW_AZ_HTTP"
	hw_az_auth secret
}

# hw_az_auth MODE — the identity environment: secret, workload, appservice, imds.
hw_az_auth() {
	unset AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_FEDERATED_TOKEN_FILE IDENTITY_ENDPOINT \
		IDENTITY_HEADER MSI_ENDPOINT
	case $1 in
	secret) export AZURE_TENANT_ID=$HW_AZ_TENANT AZURE_CLIENT_ID=$HW_AZ_CLIENT AZURE_CLIENT_SECRET=$HW_AZ_SECRET ;;
	workload)
		export AZURE_TENANT_ID=$HW_AZ_TENANT AZURE_CLIENT_ID=$HW_AZ_CLIENT
		export AZURE_FEDERATED_TOKEN_FILE="$TMP/kms/federated-token"
		;;
	appservice)
		export IDENTITY_ENDPOINT="http://127.0.0.1:$HW_AZ_HTTP/msi/token" IDENTITY_HEADER=$HW_AZ_IDHEADER
		;;
	imds) ;;
	*) hw_fail "unknown azure auth mode $1" ;;
	esac
}

# hw_az_ctl PATH JSON — the fake's control endpoint (faults, token lifetime).
hw_az_ctl() {
	python3 - "$HW_AZ_HTTP" "$1" "$2" <<'PY' || hw_fail "fake control $1 $2 failed"
import sys, urllib.request
port, path, body = sys.argv[1], sys.argv[2], sys.argv[3]
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), body.encode(), method="POST"), timeout=10).read()
PY
}

hw_az_fault() { hw_az_ctl /_fault "$1"; }

# hw_az_stat EXPR — a value from the fake's /_stats, e.g. '["by_op"]["sign"]'.
hw_az_stat() {
	python3 - "$HW_AZ_HTTP" "$1" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_stats" % sys.argv[1], timeout=10))
try:
    print(eval("s" + sys.argv[2], {"s": s}))
except KeyError:
    print(0)
PY
}

# hw_az_conf [EXTRA-JSON] — the azure-kv slot named $TOKEN on the fake.
hw_az_conf() {
	hw_write_conf '{"name":"'"$TOKEN"'","type":"azure-kv","vault_url":"https://127.0.0.1:'"$HW_AZ_PORT"'","ca_file":"'"$TMP/kms/ca.pem"'","pin":"'"$PIN"'"'"${1:+,$1}"'}'
}

hw_az_setup() {
	hw_az_start
	hw_az_conf
}
