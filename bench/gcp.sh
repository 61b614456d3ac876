#!/bin/sh
# bench/gcp.sh [BUILD_DIR] [SECONDS] [LATENCY_MS]: bench/cloud.sh for the gcp-kms slot
exec "$(dirname "$0")/cloud.sh" gcp-kms "$@"
