#!/bin/bash
# clients_libp11.sh - OpenSSL 3.0 with the libp11 engine (libengine-pkcs11-openssl)
# through p11-kit-proxy.  libp11 sends only digests (CKM_RSA_PKCS on a DigestInfo,
# CKM_ECDSA on a hash), so `openssl x509 -req -CAkeyform engine` and `openssl req
# -keyform engine` are refused on a default key and work on a key configured
# prehashed "audit"; every issued certificate passes `openssl verify`.
# libp11 0.4.12 has no Ed25519; wrong PINs are tested elsewhere (it segfaults after one).
. "$(dirname "$0")/../lib.sh"

ENGINE_SO=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
[ -f "$ENGINE_SO" ] || { skip libp11 "libengine-pkcs11-openssl not installed"; exit 0; }
[ -f "$P11KIT_PROXY" ] || { skip libp11 "p11-kit-proxy not installed"; exit 0; }
p11kit_usable || { skip libp11 "unshare --user fails: p11-kit would ignore HOME module files"; exit 0; }

cat >"$T_TMP/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $P11KIT_PROXY
init = 0
[req]
distinguished_name = dn
[dn]
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:leaf.example.com
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EOF

ossl() { OPENSSL_CONF=$T_TMP/openssl.cnf p11kit_run openssl "$@"; }
key_uri() { echo "pkcs11:object=$CA_LABEL;type=private;pin-value=$CA_PIN"; }

# issue NAME: openssl x509 -req signs a leaf with the CA key through the engine.
issue() {
	rm -f "$T_TMP/$1.pem"
	ossl x509 -req -in "$T_TMP/$1.csr" -CA "$CA_CERT" -engine pkcs11 -CAkeyform engine \
		-CAkey "$(key_uri)" -days 30 -set_serial "0x$(openssl rand -hex 12)" \
		-extfile "$T_TMP/openssl.cnf" -extensions leaf_ext -out "$T_TMP/$1.pem"
}
# csr NAME: openssl req -new signs a CSR with the CA key through the engine.
csr() {
	rm -f "$T_TMP/$1.req"
	ossl req -new -engine pkcs11 -keyform engine -key "$(key_uri)" -subj "/CN=$1" \
		-out "$T_TMP/$1.req"
}

for key in rsa2048 p256 p384; do
	d=$T_TMP/$key
	if ! ca_up "$d" "$key"; then fail "$key setup"; continue; fi
	leaf_csr "$key-leaf"
	if [ "$T_TARGET" = warden ]; then
		check_fails_with "$key x509 -req refused on a default key" "Mechanism invalid" issue "$key-leaf"
		check_fails_with "$key req -new refused on a default key" "Mechanism invalid" csr "$key-req"
		ca_set_prehashed audit || { fail "$key restart with prehashed audit"; continue; }
	fi
	check "$key x509 -req -CAkeyform engine issues (prehashed audit)" issue "$key-leaf"
	check "$key libp11-issued certificate verifies" verify_leaf "$T_TMP/$key-leaf.pem"
	check "$key req -new -keyform engine (prehashed audit)" csr "$key-req"
	check "$key CSR signature verifies" \
		openssl req -verify -noout -in "$T_TMP/$key-req.req" -pubkey
	[ "$T_TARGET" = warden ] && warden_stop
done
t_done
