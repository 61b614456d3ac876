# tests/gcp/lib.sh — the gcp-kms target of tests/lib.sh: a loopback fake of
# GCP Cloud KMS (tests/gcp/fake_gcp.py) over HTTPS with a CA made here, its
# identity endpoints, and the slot's configuration. Sourced by tests/lib.sh
# (hw_setup, HW_TARGET=gcp-kms) and by the tests in tests/gcp/.
#
# hw_gcp_start starts the fake: Cloud KMS and the OAuth token endpoint on
# https://127.0.0.1:$HW_GCP_PORT, the metadata server and the fault control
# on http://127.0.0.1:$HW_GCP_HTTP. Nothing outside 127.0.0.1 is contacted:
# GCE_METADATA_HOST points at the fake, the service-account key file names
# the fake's token endpoint, HOME is the temp dir.
#
# Auth modes: HW_GCP_AUTH=metadata (default: the metadata server) or
# HW_GCP_AUTH=sa (GOOGLE_APPLICATION_CREDENTIALS, a service-account key
# file made here whose JWT the fake verifies); hw_gcp_auth switches.

# the CA and server certificate, and the fault/stat helpers, are the aws
# fake's (its control endpoint speaks the same /_fault and /_stats)
. "$HWAGG_SRCDIR/tests/kms/lib.sh"

HW_GCP_RING=projects/hwagg-test/locations/global/keyRings/hwagg
HW_GCP_SA=hwagg-test@hwagg-test.iam.gserviceaccount.com

# hw_gcp_sa_file — a service account: RSA key, public half for the fake,
# and the JSON key file pointing at the fake's token endpoint.
hw_gcp_sa_file() {
	local d="$TMP/gcp"
	hw_run "make the service account's key" openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$d/sa.key"
	hw_run "its public key" openssl pkey -in "$d/sa.key" -pubout -out "$d/sa.pub"
	python3 - "$d/sa.key" "$d/sa.json" "$HW_GCP_SA" "https://127.0.0.1:$HW_GCP_PORT/token" <<'PY' ||
import json, sys
key, out, email, uri = sys.argv[1:]
doc = {"type": "service_account", "project_id": "hwagg-test", "private_key_id": "0123456789abcdef",
       "private_key": open(key).read(), "client_email": email, "client_id": "1",
       "auth_uri": "https://127.0.0.1/auth", "token_uri": uri}
json.dump(doc, open(out, "w"), indent=2)
PY
		hw_fail "write the service-account key file"
}

# hw_gcp_start — the fake, and the environment a client needs to reach it.
hw_gcp_start() {
	python3 -c 'import cryptography' 2>/dev/null || hw_skip "python3-cryptography is not installed"
	mkdir -p "$TMP/gcp"
	[ -s "$TMP/kms/server.pem" ] || hw_kms_certs
	HW_GCP_PORT=$(hw_free_port)
	HW_GCP_HTTP=$(hw_free_port)
	hw_gcp_sa_file
	setsid python3 "$HWAGG_SRCDIR/tests/gcp/fake_gcp.py" --port "$HW_GCP_PORT" --http-port "$HW_GCP_HTTP" \
		--cert "$TMP/kms/server.pem" --key "$TMP/kms/server.key" --key-ring "$HW_GCP_RING" \
		--sa-email "$HW_GCP_SA" --sa-pubkey "$TMP/gcp/sa.pub" --stop-after "${HW_GCP_LIFETIME:-900}" \
		>>"$TMP/gcp/fake.log" 2>&1 </dev/null &
	HW_GCP_PID=$!
	hw_track "$HW_GCP_PID"
	hw_wait_port "$HW_GCP_PORT" "$HW_GCP_PID"
	hw_wait_port "$HW_GCP_HTTP" "$HW_GCP_PID"
	HW_KMS_HTTP=$HW_GCP_HTTP        # hw_kms_fault, hw_kms_stat
	export HOME="$TMP/gcp/home"
	mkdir -p "$HOME"
	export GCE_METADATA_HOST="127.0.0.1:$HW_GCP_HTTP"
	unset CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS GOOGLE_CLOUD_UNIVERSE_DOMAIN
	hw_gcp_auth "${HW_GCP_AUTH:-metadata}"
}

hw_gcp_auth() {	# metadata | sa
	case "$1" in
	sa) export GOOGLE_APPLICATION_CREDENTIALS="$TMP/gcp/sa.json" ;;
	*) unset GOOGLE_APPLICATION_CREDENTIALS ;;
	esac
}

hw_gcp_fault() { hw_kms_fault "$1"; }
hw_gcp_stat() { hw_kms_stat "$1"; }

# hw_gcp_conf [EXTRA-JSON] — the gcp-kms slot named $TOKEN on the fake.
hw_gcp_conf() {
	hw_write_conf '{"name":"'"$TOKEN"'","type":"gcp-kms","key_ring":"'"$HW_GCP_RING"'","endpoint":"https://127.0.0.1:'"$HW_GCP_PORT"'","ca_file":"'"$TMP/kms/ca.pem"'","pin":"'"$PIN"'"'"${1:+,$1}"'}'
}

# hw_gcp_setup — for hw_setup: the fake and the slot.
hw_gcp_setup() {
	hw_gcp_start
	hw_gcp_conf
}
