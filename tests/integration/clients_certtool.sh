#!/bin/bash
# clients_certtool.sh - GnuTLS certtool issues a certificate with the CA key, through
# p11-kit (module file under HOME in a user namespace) and directly (--provider).
# certtool sends digests for RSA and ECDSA (CKM_RSA_PKCS / CKM_ECDSA): refused on a
# default key, issued on a key configured prehashed "audit".  Ed25519 is pure EdDSA
# (CKM_EDDSA over the whole TBS), so it is issued on a default key.  openssl verify
# checks every issued certificate.
. "$(dirname "$0")/../lib.sh"

command -v certtool >/dev/null || { skip certtool "gnutls-bin not installed"; exit 0; }
p11kit_usable || { skip certtool "unshare --user fails: p11-kit would ignore HOME module files"; exit 0; }

cat >"$T_TMP/template" <<EOF
cn = leaf.example.com
dns_name = leaf.example.com
expiration_days = 30
tls_www_server
signing_key
EOF

key_uri() { echo "pkcs11:token=warden;object=$CA_LABEL;type=private;pin-value=$CA_PIN"; }

# issue NAME [certtool options]: certtool --generate-certificate for NAME.csr.
issue() {
	local name=$1; shift
	rm -f "$T_TMP/$name.pem"
	p11kit_run certtool "$@" --generate-certificate --load-request "$T_TMP/$name.csr" \
		--load-ca-privkey "$(key_uri)" --load-ca-certificate "$CA_CERT" \
		--template "$T_TMP/template" --outfile "$T_TMP/$name.pem"
}

for key in rsa2048 p256 p384 ed25519; do
	d=$T_TMP/$key
	if ! ca_up "$d" "$key"; then fail "$key setup"; continue; fi
	if [ -n "$T_SANITIZED" ]; then
		# certtool deadlocks at exit in p11-kit's destructor (freelocale) with the ASan
		# runtime preloaded; the module is exercised under ASan by the other clients.
		skip certtool "hangs at exit under an LD_PRELOADed ASan runtime"
		break
	fi
	leaf_csr "$key-leaf"
	if [ "$T_TARGET" = warden ] && [ "$key" != ed25519 ]; then
		check_fails_with "$key certtool refused on a default key" "PKCS #11 unsupported feature" issue "$key-leaf"
		ca_set_prehashed audit || { fail "$key restart with prehashed audit"; continue; }
		what="prehashed audit"
	else
		what="full-data EdDSA, default key"
		[ "$T_TARGET" = warden ] || what="SoftHSM"
	fi
	check "$key certtool --generate-certificate via p11-kit ($what)" issue "$key-leaf"
	check "$key certtool-issued certificate verifies" verify_leaf "$T_TMP/$key-leaf.pem"
	if [ "$key" = rsa2048 ]; then
		leaf_csr "$key-direct"
		check "$key certtool --provider (no p11-kit)" \
			issue "$key-direct" --provider "$CA_MODULE"
		check "$key certtool --provider certificate verifies" \
			verify_leaf "$T_TMP/$key-direct.pem"
	fi
	[ "$T_TARGET" = warden ] && warden_stop
done
t_done
