# shellcheck shell=sh disable=SC2034
# The fuzz targets (fuzz/<name>.c), in the order the scripts run them, and
# the helper units they share. Sourced by fuzz/build.sh,
# fuzz/run-ci.sh and bench/fuzz.sh.
FUZZ_TARGETS="conf encode attrs template store extsig audit aws_parse gcp_parse azure_parse"
# slots/aws_parse.c: the aws-kms slot's parsers are in its backend module,
# not the engine library; they need nothing but json-c and the engine's secrets
# (and the gcp-kms slot's, with the base64 and CRC32C they check answers with)
# (and the azure-kv slot's: challenges, tokens, key bundles and JWKs)
FUZZ_HELPERS="fuzz/util.c fuzz/engine.c slots/aws_parse.c slots/gcp_parse.c slots/azure_parse.c slots/cloud_str.c \
	slots/cloud_crc32c.c"
