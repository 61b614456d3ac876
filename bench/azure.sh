#!/bin/sh
# bench/azure.sh [BUILD_DIR] [SECONDS] [LATENCY_MS]: bench/cloud.sh for the azure-kv slot
exec "$(dirname "$0")/cloud.sh" azure-kv "$@"
