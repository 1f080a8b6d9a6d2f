#!/bin/bash
# clients_nss.sh - NSS (certutil, crlutil, modutil) loads the module into an NSS database,
# lists the CA certificate and key, issues certificates and signs CRLs with the CA key.
#
# What NSS does, measured here with its own PKCS#11 logger (NSS_DEBUG_PKCS11_MODULE):
# - It asks C_GetInterface for a CKF_INTERFACE_FORK_SAFE interface first; Warden has none
#   and NSS falls back to the plain 3.0 interface ("PKCS #11 Version 3.0" in modutil -list).
# - It signs digests only: CKM_RSA_PKCS on a 51-byte SHA-256 DigestInfo, CKM_ECDSA on a
#   32-byte digest.  A default key (prehashed "deny") does not offer those mechanisms, so
#   C_SignInit answers CKR_MECHANISM_INVALID and nothing reaches the enclave; a key set to
#   prehashed "audit" signs them, and the enclave logs each one.
# - A token without the PublicCerts flag makes NSS log in before it will even find the
#   certificate, and it asks for the PIN on /dev/tty, not through -f: the module is added
#   with `-mechanisms FRIENDLY`.  crlutil -G always looks the key up without the PIN file
#   (PK11_FindKeyByAnyCert(cert, NULL)); `-h warden` makes it log in to the token first,
#   but then it also stores the CRL there, which Warden refuses (C_CreateObject:
#   CKR_FUNCTION_NOT_SUPPORTED; the CRL file is written before that).  Without -h it
#   prompts on the terminal: nss_pty.py answers the prompt and the CRL lands in the
#   NSS database.
. "$(dirname "$0")/../lib.sh"

for t in certutil modutil crlutil; do
	command -v $t >/dev/null || { skip nss "$t not installed (libnss3-tools)"; exit 0; }
done
[ "$T_TARGET" = warden ] || { skip nss "needs the enclave (prehashed audit)"; exit 0; }

NSS_PTY=$TOP/tests/integration/nss_pty.py
PW=$T_TMP/pin
printf '%s\n' "$CA_PIN" >"$PW"
chmod 600 "$PW"

# nss_log NAME CMD...: runs CMD with NSS's PKCS#11 call logger on the module; the log
# is T_TMP/NAME.nsslog.
nss_log() {
	local name=$1; shift
	rm -f "$T_TMP/$name.nsslog"
	NSS_DEBUG_PKCS11_MODULE=warden NSPR_LOG_MODULES=nss_mod_log:4 \
		NSPR_LOG_FILE="$T_TMP/$name.nsslog" "$@"
}
# nss_trace NAME: the logged calls as "C_Name field value" lines for mechanism, data
# length and return value.
nss_trace() {
	sed 's/^[^ ]*: //' "$T_TMP/$1.nsslog" 2>/dev/null |
		awk '/^C_[A-Za-z]+$/ { c = $1; next }
		     c != "" && /^ +(mechanism|ulDataLen|rv) = / { print c, $1, $3 }'
}
# trace_has NAME LINE...: every LINE ("C_SignInit rv CKR_OK") is in the trace of NAME.
trace_has() {
	local name=$1 line; shift
	for line in "$@"; do
		nss_trace "$name" | grep -qxF "$line" ||
			{ echo "no '$line' in:"; nss_trace "$name" | grep '^C_Sign'; return 1; }
	done
}
trace_lacks() {
	! nss_trace "$1" | grep -q "^$2 "
}

# issue NAME CSR SERIAL: certutil -C with the CA key on the token; T_TMP/NAME.pem.
issue() {
	rm -f "$T_TMP/$1.pem"
	nss_log "$1" certutil -C -d "sql:$DB" -c "warden:$CA_LABEL" -i "$2" -a \
		-o "$T_TMP/$1.pem" -m "$3" -v 1 -f "$PW" --keyUsage digitalSignature \
		--extKeyUsage serverAuth -8 "$1.example.com"
	local rc=$?
	# certutil fails with exit(-1): 255, which check_fails_with would take for a signal.
	[ $rc -eq 255 ] && return 1
	[ $rc -eq 0 ] || return $rc
	[ -s "$T_TMP/$1.pem" ]
}
# crl_conf FILE SERIAL NUMBER: a crlutil -G script revoking SERIAL, CRL number NUMBER.
crl_conf() {
	local now next
	now=$(date -u +%Y%m%d%H%M%SZ)
	next=$(date -u -d '+7 days' +%Y%m%d%H%M%SZ)
	printf 'update=%s\nnextupdate=%s\naddext crlNumber 0 %s\naddcert %s %s\naddext reasonCode 0 1\n' \
		"$now" "$next" "$3" "$2" "$now" >"$1"
}
# gencrl NAME CONF: crlutil -G logged in to the token (-h warden); DER in T_TMP/NAME.der.
# Exit 0 when the CRL was signed and written; storing it on the token must be what failed.
gencrl() {
	rm -f "$T_TMP/$1.der"
	nss_log "$1" crlutil -G -h warden -d "sql:$DB" -n "warden:$CA_LABEL" -c "$2" -f "$PW" \
		-o "$T_TMP/$1.der" -q
	local rc=$?
	[ -s "$T_TMP/$1.der" ] || return 1
	[ $rc -eq 0 ] || trace_has "$1" "C_CreateObject rv CKR_FUNCTION_NOT_SUPPORTED"
}
crl_verifies() {
	openssl crl -inform DER -in "$1" -CAfile "$CA_CERT" -verify -noout
}
# revoked_by CERT CRL-DER: openssl verify with the CRL reports CERT revoked.
revoked_by() {
	openssl crl -inform DER -in "$2" -out "$2.pem" || return 1
	openssl verify -crl_check -CRLfile "$2.pem" -CAfile "$CA_CERT" "$1" 2>&1 |
		tee /dev/stderr | grep -q 'certificate revoked'
}
same_cert() {
	cmp <(openssl x509 -in "$1" -outform DER) <(openssl x509 -in "$2" -outform DER)
}
# The enclave's decision line for a raw-digest signature (docs/architecture.md).
enclave_logged_prehashed() {
	grep -E "decision key=$CA_LABEL mech=$1 kind=other allowed reason=prehashed\.audit" \
		"$CA_DIR/enclave.log"
}

for spec in rsa2048:CKM_RSA_PKCS:51:0x1:rsa p256:CKM_ECDSA:32:0x1041:ec; do
	IFS=: read -r key mech dlen mhex ktype <<<"$spec"
	d=$T_TMP/$key
	if ! ca_up "$d" "$key"; then fail "$key setup"; continue; fi
	DB=$T_TMP/$key-db
	mkdir -p "$DB"
	check "$key certutil -N (empty NSS database)" certutil -N -d "sql:$DB" --empty-password
	check "$key modutil -add warden -mechanisms FRIENDLY" modutil -dbdir "sql:$DB" -add warden \
		-libfile "$WARDEN_MODULE" -mechanisms FRIENDLY -force
	modutil -dbdir "sql:$DB" -list warden >"$T_TMP/$key.modlist" 2>&1
	check "$key modutil -list shows the token" grep -q 'Token Name: warden ' "$T_TMP/$key.modlist"
	check "$key modutil -list: 3.0 interface after the FORK_SAFE request is declined" \
		grep -q 'PKCS #11 Version 3.0' "$T_TMP/$key.modlist"

	certutil -L -d "sql:$DB" -h warden -f "$PW" >"$T_TMP/$key.certs" 2>&1
	check "$key certutil -L -h warden lists warden:$CA_LABEL" \
		grep -Eq "^warden:$CA_LABEL +u,u,u" "$T_TMP/$key.certs"
	certutil -L -d "sql:$DB" -n "warden:$CA_LABEL" -a >"$T_TMP/$key.ca-nss.pem" 2>&1
	check "$key certificate read by NSS is the CA certificate" \
		same_cert "$T_TMP/$key.ca-nss.pem" "$CA_CERT"
	certutil -K -d "sql:$DB" -h warden -f "$PW" >"$T_TMP/$key.keys" 2>&1
	check "$key certutil -K -h warden lists the $ktype key with CKA_ID $CA_ID" \
		grep -Eiq "^< *0> $ktype +$CA_ID +$CA_LABEL\$" "$T_TMP/$key.keys"

	# A default key: NSS's digest mechanism is not offered; nothing is signed.
	leaf_csr "$key-deny"
	check_fails_with "$key certutil -C refused on a default key" \
		"unable to create cert|invalid algorithm" issue "$key-deny" "$T_TMP/$key-deny.csr" 1000
	check "$key certutil -C: C_SignInit($mech) = CKR_MECHANISM_INVALID, no C_Sign" \
		eval "trace_has $key-deny 'C_SignInit mechanism $mech' \
			'C_SignInit rv CKR_MECHANISM_INVALID' && trace_lacks $key-deny C_Sign"
	crl_conf "$T_TMP/$key-deny.crlconf" 1000 1
	check_fails_with "$key crlutil -G refused on a default key" "Failed to sign crl|invalid algorithm" \
		gencrl "$key-crl-deny" "$T_TMP/$key-deny.crlconf"
	check "$key crlutil -G: C_SignInit = CKR_MECHANISM_INVALID, no C_Sign" \
		eval "trace_has $key-crl-deny 'C_SignInit rv CKR_MECHANISM_INVALID' &&
			trace_lacks $key-crl-deny C_Sign"

	# The same key set to prehashed "audit": issued, logged by the enclave, verified.
	ca_set_prehashed audit || { fail "$key restart with prehashed audit"; continue; }
	leaf_csr "$key-leaf"
	check "$key certutil -C (openssl CSR) on a prehashed audit key" \
		issue "$key-leaf" "$T_TMP/$key-leaf.csr" 1001
	check "$key certutil -C sent a digest: $mech on $dlen bytes" \
		trace_has "$key-leaf" "C_SignInit mechanism $mech" "C_SignInit rv CKR_OK" \
		"C_Sign ulDataLen $dlen" "C_Sign rv CKR_OK"
	check "$key certutil-issued certificate verifies" verify_leaf "$T_TMP/$key-leaf.pem"
	check "$key enclave logged the prehashed signature" enclave_logged_prehashed "$mech"

	check "$key certutil -R: CSR from a key in the NSS database" \
		certutil -R -d "sql:$DB" -k ec -q nistp256 -s "CN=$key-nsskey.example.com" \
		-z "$PW" -a -o "$T_TMP/$key-nsskey.csr"
	check "$key certutil -C (certutil -R CSR)" issue "$key-nsskey" "$T_TMP/$key-nsskey.csr" 1002
	check "$key certificate for the NSS-database key verifies" \
		verify_leaf "$T_TMP/$key-nsskey.pem"

	crl_conf "$T_TMP/$key.crlconf" 1001 1
	check "$key crlutil -G -h warden signs a CRL (the token refuses to store it)" \
		gencrl "$key-crl" "$T_TMP/$key.crlconf"
	check "$key crlutil CRL verifies against the CA" crl_verifies "$T_TMP/$key-crl.der"
	check "$key crlutil CRL revokes the certutil-issued certificate" \
		revoked_by "$T_TMP/$key-leaf.pem" "$T_TMP/$key-crl.der"

	# crlutil as an operator runs it: PIN typed at the prompt, CRL stored in the NSS db.
	crl_conf "$T_TMP/$key.crlconf2" 1002 2
	rm -f "$T_TMP/$key-crl2.der"
	check "$key crlutil -G with the PIN typed at its prompt (pty)" \
		"$SYS_PYTHON" "$NSS_PTY" "$PW" warden -- crlutil -G -d "sql:$DB" \
		-n "warden:$CA_LABEL" -c "$T_TMP/$key.crlconf2" -o "$T_TMP/$key-crl2.der" -q
	check "$key prompted CRL verifies against the CA" crl_verifies "$T_TMP/$key-crl2.der"
	crlutil -L -d "sql:$DB" >"$T_TMP/$key.crls" 2>&1
	check "$key prompted CRL stored in the NSS database" \
		grep -Eq "^(warden:$CA_LABEL|CN=Warden Test CA $key) +CRL" "$T_TMP/$key.crls"

	if [ "$key" = rsa2048 ]; then
		# Without FRIENDLY, NSS logs in (at the terminal) before it finds the certificate.
		DB2=$T_TMP/$key-db-unfriendly
		mkdir -p "$DB2"
		certutil -N -d "sql:$DB2" --empty-password &&
			modutil -dbdir "sql:$DB2" -add warden -libfile "$WARDEN_MODULE" -force \
				>/dev/null 2>&1
		leaf_csr "$key-unfriendly"
		check "$key certutil -C without FRIENDLY: PIN typed at the prompt (pty)" \
			"$SYS_PYTHON" "$NSS_PTY" "$PW" warden -- certutil -C -d "sql:$DB2" \
			-c "warden:$CA_LABEL" -i "$T_TMP/$key-unfriendly.csr" -a \
			-o "$T_TMP/$key-unfriendly.pem" -m 1003 -v 1
		check "$key certificate issued without FRIENDLY verifies" \
			verify_leaf "$T_TMP/$key-unfriendly.pem"
	fi
	warden_stop
done
t_done
