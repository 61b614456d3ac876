#!/bin/bash
# Java 17 SunPKCS11 with the module: keytool lists the token's EC and RSA
# keys as private key entries (each has a certificate with the same CKA_ID on
# the token), and a small Java program logs in through KeyStore.load, finds
# the private keys by alias and signs with SHA256withECDSA and SHA256withRSA;
# openssl verifies both signatures against the public keys read from the
# token and rejects them over a tampered message.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
HWAGG_SRCDIR=${HWAGG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$HWAGG_SRCDIR/tests/lib.sh"
hw_setup
HW_TIMEOUT=120	# JVM start and source compilation

hw_keygen_ec java-ec 61
hw_keygen_rsa java-rsa 62
for pair in 61:java-ec 62:java-rsa; do
	id=${pair%%:*} label=${pair#*:}
	hw_pubkey_pem "$id" "$TMP/pub$id.pem"
	hw_issue_cert "$TMP/pub$id.pem" "$label" "$TMP/cert$id.pem" clientAuth
	hw_write_cert "$TMP/cert$id.pem" "$id" "$label"
done

hw_slot_id
cat >"$TMP/sunpkcs11.cfg" <<EOF
name = hwagg
library = $MODULE
slotListIndex = $HW_SLOT_INDEX
EOF

# --- keytool sees private key entries ---
hw_run "keytool -list" keytool -J-XX:-UsePerfData -list -v -keystore NONE -storetype PKCS11 -addprovider SunPKCS11 \
	-providerArg "$TMP/sunpkcs11.cfg" -storepass "$PIN"
cp "$TMP/run.out" "$TMP/keytool.out"
for label in java-ec java-rsa; do
	grep -A2 -E "^Alias name: $label\$" "$TMP/keytool.out" | grep -q 'Entry type: PrivateKeyEntry' ||
		hw_fail "keytool does not list $label as a PrivateKeyEntry:
$(cat "$TMP/keytool.out")"
done
hw_pass "keytool lists java-ec and java-rsa as private key entries"

# --- sign from Java ---
cat >"$TMP/Sign.java" <<'EOF'
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.util.Base64;
import java.util.Collections;

/* Sign CONFIG PIN DATA ALIAS:ALGORITHM... — prints "ALIAS BASE64(signature)". */
public class Sign {
	public static void main(String[] args) throws Exception {
		Provider p = Security.getProvider("SunPKCS11").configure(args[0]);
		Security.addProvider(p);
		KeyStore ks = KeyStore.getInstance("PKCS11", p);
		ks.load(null, args[1].toCharArray());
		byte[] data = Files.readAllBytes(Path.of(args[2]));
		for (int i = 3; i < args.length; i++) {
			String alias = args[i].split(":")[0], alg = args[i].split(":")[1];
			if (!ks.isKeyEntry(alias))
				throw new IllegalStateException("no key entry " + alias + " in " + Collections.list(ks.aliases()));
			PrivateKey key = (PrivateKey) ks.getKey(alias, null);
			Signature s = Signature.getInstance(alg, p);
			s.initSign(key);
			s.update(data);
			System.out.println(alias + " " + Base64.getEncoder().encodeToString(s.sign()));
		}
	}
}
EOF
head -c 2000 /dev/urandom >"$TMP/msg"
hw_run "java Sign.java" java -XX:-UsePerfData "$TMP/Sign.java" "$TMP/sunpkcs11.cfg" "$PIN" "$TMP/msg" \
	java-ec:SHA256withECDSA java-rsa:SHA256withRSA
cp "$TMP/run.out" "$TMP/java.out"
for pair in 61:java-ec 62:java-rsa; do
	id=${pair%%:*} label=${pair#*:}
	awk -v l="$label" '$1 == l {print $2}' "$TMP/java.out" >"$TMP/sig$id.b64"
	[ -s "$TMP/sig$id.b64" ] || hw_fail "Java printed no signature for $label:
$(cat "$TMP/java.out")"
	hw_run "decode Java signature $label" openssl base64 -d -A -in "$TMP/sig$id.b64" -out "$TMP/sig$id"
	hw_check_sig "Java $label signature" "$TMP/pub$id.pem" "$TMP/msg" "$TMP/sig$id"
done
hw_pass "SunPKCS11 SHA256withECDSA and SHA256withRSA signatures verify with openssl"
hw_pass "all Java checks passed"
