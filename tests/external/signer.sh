#!/bin/bash
# A signing command for the external slot's tests, over a PEM private key
# with `openssl pkeyutl`. BEHAVIOUR says what it does:
#   good       the hex-digest-file contract: the last argument is a file
#              holding the hex digest; prints the base64 signature (DER for
#              ECDSA; RSA per $HWAGG_RSA_PADDING) on one line
#   stdin      the same with the digest's bytes on stdin
#   raw        the same as stdin, printing the signature's bytes
#   message    Ed25519: signs the message on stdin
#   wrong      a correct signature of another digest
#   two-lines  the good signature, twice
#   garbage    a line that is not base64
#   fail       a message on stderr and exit 3
#   nothing    prints nothing and exits 0
#   hang       starts a child that would outlive it, writes that child's
#              pid to $HW_EXT_MARK and sleeps far past any timeout
#   pin        "good" when $HWAGG_PIN is $HW_EXT_PIN, else fails
#   alone      "good", failing when another "alone" runs at the same time
#              (the lock directory $HW_EXT_MARK); takes 0.2 s
#   env        prints the environment it got to $HW_EXT_MARK, then "good"
# Usage: signer.sh BEHAVIOUR KEY.pem [DIGEST-FILE]
set -u
behaviour=$1 key=$2
shift 2
tmp=$(mktemp) || exit 20
trap 'rm -f "$tmp" "$tmp.sig"' EXIT

# the digest's bytes from a hex file or stdin into $tmp
digest_from_file() {
	local hex
	hex=$(tr -d '\n' <"$1") || exit 21
	[[ "$hex" =~ ^[0-9a-f]+$ ]] || { echo "signer: not a hex digest: $1" >&2; exit 22; }
	printf "$(sed 's/../\\x&/g' <<<"$hex")" >"$tmp"
}

sign() {	# signs $tmp into $tmp.sig
	local opts=()
	if openssl pkey -in "$key" -noout -text 2>/dev/null | grep -q '^Private-Key: ([0-9]* bit, 2 primes)'; then
		opts=(-pkeyopt "digest:${HWAGG_DIGEST_ALG:-sha256}")
		[ "${HWAGG_RSA_PADDING:-pkcs1}" = pss ] &&
			opts+=(-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest)
	fi
	openssl pkeyutl -sign -inkey "$key" -in "$tmp" -out "$tmp.sig" "${opts[@]}" ||
		{ echo "signer: openssl pkeyutl failed" >&2; exit 23; }
}

case $behaviour in
good | two-lines | pin | alone | env | wrong)
	digest_from_file "${!#}"
	if [ "$behaviour" = wrong ]; then
		printf 'another message' | openssl dgst -sha256 -binary >"$tmp"
	fi
	if [ "$behaviour" = pin ] && [ "${HWAGG_PIN:-}" != "${HW_EXT_PIN:-}" ]; then
		echo "signer: wrong PIN" >&2
		exit 4
	fi
	if [ "$behaviour" = alone ]; then
		mkdir "$HW_EXT_MARK" 2>/dev/null || { echo "signer: another signer is running" >&2; exit 5; }
		sleep 0.2
		rmdir "$HW_EXT_MARK"
	fi
	if [ "$behaviour" = env ]; then env >"$HW_EXT_MARK"; fi
	sign
	base64 -w0 "$tmp.sig" && echo
	if [ "$behaviour" = two-lines ]; then base64 -w0 "$tmp.sig" && echo; fi
	;;
stdin | raw)
	cat >"$tmp"
	sign
	if [ "$behaviour" = raw ]; then cat "$tmp.sig"; else base64 -w0 "$tmp.sig" && echo; fi
	;;
message)
	cat >"$tmp"
	openssl pkeyutl -sign -rawin -inkey "$key" -in "$tmp" -out "$tmp.sig" || exit 23
	base64 -w0 "$tmp.sig" && echo
	;;
garbage) echo 'this is not a signature!' ;;
fail)
	echo "signer: the HSM says no (key not found)" >&2
	echo "second line of stderr" >&2
	exit 3
	;;
nothing) ;;
hang)
	sleep 300 &
	echo $! >"$HW_EXT_MARK"
	sleep 300
	;;
*)
	echo "signer: unknown behaviour $behaviour" >&2
	exit 2
	;;
esac
