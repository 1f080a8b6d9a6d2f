#!/bin/bash
# clients_keytool.sh - Java keytool through SunPKCS11: -list shows the CA alias and
# -gencert issues a certificate for an openssl-made CSR that openssl verifies against
# the CA certificate (RSA: CKM_SHA*_RSA_PKCS with the whole TBS; EC: CKM_ECDSA_SHA*,
# which SunPKCS11 picks because the token lists it).
. "$(dirname "$0")/../lib.sh"

command -v keytool >/dev/null || { skip keytool "keytool not installed"; exit 0; }

kt() {
	keytool "$@" -keystore NONE -storetype PKCS11 \
		-providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$T_TMP/sunpkcs11.cfg" \
		-storepass "$CA_PIN"
}

for spec in rsa2048:SHA256withRSA p256:SHA256withECDSA p384:SHA384withECDSA; do
	key=${spec%%:*} alg=${spec#*:}
	d=$T_TMP/$key
	if ! ca_up "$d" "$key"; then fail "$key setup"; continue; fi
	printf 'name = warden\nlibrary = %s\nslotListIndex = 0\n' "$CA_MODULE" \
		>"$T_TMP/sunpkcs11.cfg"

	if kt -list >"$T_TMP/list" 2>&1 && grep -q "^$CA_LABEL, PrivateKeyEntry" "$T_TMP/list"
	then pass "$key keytool -list shows alias $CA_LABEL"
	else fail "$key keytool -list shows alias $CA_LABEL" "$(tr '\n' ' ' <"$T_TMP/list")"; fi

	leaf_csr "$key-leaf"
	if kt -gencert -alias "$CA_LABEL" -sigalg "$alg" -infile "$T_TMP/$key-leaf.csr" \
		-outfile "$T_TMP/$key-leaf.pem" -rfc -validity 30 \
		-ext KeyUsage:critical=digitalSignature -ext ExtendedKeyUsage=serverAuth \
		-ext "SAN=dns:$key-leaf.example.com" >"$T_TMP/gencert" 2>&1
	then pass "$key keytool -gencert ($alg)"
	else fail "$key keytool -gencert ($alg)" "$(tr '\n' ' ' <"$T_TMP/gencert")"; fi
	check "$key keytool-issued certificate verifies" verify_leaf "$T_TMP/$key-leaf.pem"
	[ "$T_TARGET" = warden ] && warden_stop
done
t_done
