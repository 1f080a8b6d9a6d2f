#!/bin/bash
# e2e_policy_keytool.sh - issue 3 §4 end to end: Java keytool -gencert through SunPKCS11
# and the Warden module, with tests/policy/e2e/keytool.json installed.  keytool sends the
# whole TBSCertificate (CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA256), so the enclave sees it all:
#   - a CSR for a name the policy allows gets a certificate that openssl verifies, and the
#     log has an allowed record for its serial;
#   - a name outside the allowed set, and a lifetime over maxLifetime (-validity), make
#     keytool fail; the enclave log and `warden-audit show` carry the refusal and its reason.
#   - keytool's serial: JDK 17's keytool draws it as new BigInteger(64, SecureRandom)
#     (CertificateSerialNumber.newRandom64bit), so it is at most 8 octets, and 7 or fewer
#     one time in 256.  Under serial.minOctets 9 every keytool certificate is refused
#     (serial.too_short); under the default 8, about 0.4% are (the test checks that the
#     decision follows the serial's length).  The allowed cases run under minOctets 4.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_policy_lib.sh"

command -v keytool >/dev/null || { skip keytool "keytool not installed"; exit 0; }
T0=$(date +%s)

kt() {
	keytool "$@" -keystore NONE -storetype PKCS11 \
		-providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$T_TMP/sunpkcs11.cfg" \
		-storepass "$CA_PIN"
}
# gencert KEY NAME SAN VALIDITY: keytool -gencert of T_TMP/NAME.csr into T_TMP/NAME.pem.
gencert() {
	local alg=$1 name=$2 san=$3 days=$4
	rm -f "$T_TMP/$name.pem"
	kt -gencert -alias "$CA_LABEL" -sigalg "$alg" -infile "$T_TMP/$name.csr" \
		-outfile "$T_TMP/$name.pem" -rfc -validity "$days" \
		-ext KeyUsage:critical=digitalSignature -ext ExtendedKeyUsage=serverAuth \
		-ext "SAN=dns:$san"
}

for spec in rsa2048:SHA256withRSA:CKM_SHA256_RSA_PKCS p256:SHA256withECDSA:CKM_ECDSA_SHA256; do
	IFS=: read -r key alg mech <<<"$spec"
	d=$T_TMP/$key
	if ! e2e_ca_up "$d" "$key" "$E2E_POL/keytool.json"; then fail "$key setup"; continue; fi
	printf 'name = warden\nlibrary = %s\nslotListIndex = 0\n' "$CA_MODULE" >"$T_TMP/sunpkcs11.cfg"

	# -- allowed ---------------------------------------------------------------------
	mk_csr "$T_TMP" "$key-ok" "/CN=www.example.test" p256
	if gencert "$alg" "$key-ok" www.example.test 30 >"$T_TMP/gencert.out" 2>&1; then
		pass "$key keytool -gencert for an allowed name ($alg)"
	else fail "$key keytool -gencert for an allowed name ($alg)" "$(tr '\n' ' ' <"$T_TMP/gencert.out")"; fi
	check "$key allowed certificate verifies" verify_leaf "$T_TMP/$key-ok.pem"
	if [ -s "$T_TMP/$key-ok.pem" ]; then
		ser=$(serial_norm "$(cert_serial_hex "$T_TMP/$key-ok.pem")")
		bits=$("$SYS_PYTHON" -c 'import sys; from cryptography import x509; print(x509.load_pem_x509_certificate(open(sys.argv[1],"rb").read()).serial_number.bit_length())' "$T_TMP/$key-ok.pem")
		[ "$bits" -le 64 ] && [ "$bits" -gt 31 ] &&
			pass "$key keytool serial is a 64-bit random number ($bits bits)" ||
			fail "$key keytool serial is a 64-bit random number" "$bits bits"
		check_decision "$key enclave log: allowed decision for the serial" "$d" allowed ok \
			"serial=0*$ser"
		check_decision "$key enclave log: mechanism $mech, kind certificate" "$d" allowed ok \
			"mech=$mech kind=certificate"
		n=$(audit_count "$d" "r.get('decision') == 1 and r.get('reason_code') == 0 and r.get('mechanism') == $(ckm_value "$mech") and r.get('serial', '').lstrip('0').lower() == '$ser'")
		[ "${n:-0}" -eq 1 ] && pass "$key audit: one allowed record with the serial" ||
			fail "$key audit: one allowed record with the serial" "found ${n:-0}: $(audit_show "$d" --type sign | tail -n 1 | cut -c1-600)"
		# The audit record's data hash is the SHA-256 of the certificate's TBS.
		tbs_of "$T_TMP/$key-ok.pem" "$T_TMP/$key-ok.tbs"
		h=$(sha256sum "$T_TMP/$key-ok.tbs" | cut -d' ' -f1)
		n=$(audit_count "$d" "r.get('decision') == 1 and r.get('data_sha256') == '$h'")
		[ "${n:-0}" -eq 1 ] && pass "$key audit: data_sha256 is the SHA-256 of the issued TBS" ||
			fail "$key audit: data_sha256 is the SHA-256 of the issued TBS" "no record with $h"
		# The dry run agrees with the enclave.
		check "$key warden-admin policy test agrees (allowed)" \
			"$WARDEN_ADMIN" policy test "$d/policy.json" "$T_TMP/$key-ok.pem" --ca "$CA_CERT"
	fi

	# -- refused: a name outside the allowed set ---------------------------------------
	mk_csr "$T_TMP" "$key-evil" "/CN=evil.example" p256
	check_fails_with "$key keytool -gencert for evil.example fails" \
		"PKCS11Exception: CKR_FUNCTION_REJECTED" gencert "$alg" "$key-evil" evil.example 30
	[ -s "$T_TMP/$key-evil.pem" ] && fail "$key no certificate written for evil.example"
	check_decision "$key enclave log: evil.example refused (name.dns.not_allowed)" "$d" \
		refused name.dns.not_allowed "evil\.example"
	check_audit_refusal "$key audit: evil.example refusal recorded" "$d" name.dns.not_allowed \
		"'evil.example' in str(r.get('san', '')) + str(r.get('reason', ''))"

	# -- refused: lifetime over maxLifetime (90d) ----------------------------------------
	mk_csr "$T_TMP" "$key-long" "/CN=long.example.test" p256
	check_fails_with "$key keytool -gencert -validity 200 fails" \
		"PKCS11Exception: CKR_FUNCTION_REJECTED" gencert "$alg" "$key-long" long.example.test 200
	check_decision "$key enclave log: 200-day lifetime refused (validity.too_long)" "$d" \
		refused validity.too_long
	check_audit_refusal "$key audit: lifetime refusal recorded" "$d" validity.too_long

	# The refusals were clean: the enclave still signs for keytool afterwards.
	mk_csr "$T_TMP" "$key-ok2" "/CN=api.example.test" p256
	if gencert "$alg" "$key-ok2" api.example.test 30 >"$T_TMP/gencert.out" 2>&1 &&
	   verify_leaf "$T_TMP/$key-ok2.pem" >/dev/null 2>&1; then
		pass "$key keytool still issues after the refusals"
	else fail "$key keytool still issues after the refusals" "$(tr '\n' ' ' <"$T_TMP/gencert.out")"; fi

	# -- serial.minOctets 8 (the default): allowed exactly when the serial has 8 octets
	# (255 times in 256), else refused serial.too_short: the decision follows the serial.
	if [ "$key" = rsa2048 ]; then
		if e2e_reload "$d" "$E2E_POL/keytool-serial8.json"; then
			mk_csr "$T_TMP" "$key-s8" "/CN=s8.example.test" p256
			gencert "$alg" "$key-s8" s8.example.test 30 >"$T_TMP/gencert.out" 2>&1
			rc=$?
			line=$(grep 'decision key=' "$d/enclave.log" | tail -n 1)
			s8=$(sed -n 's/.* serial=\([0-9A-Fa-f]*\):.*/\1/p' <<<"$line" | sed 's/^\(00\)*//')
			oct=$(( (${#s8} + 1) / 2 ))
			if [ $rc -eq 0 ] && [ "$oct" -ge 8 ] && [[ $line == *" allowed reason=ok "* ]]; then
				pass "$key minOctets 8: keytool serial of $oct octets allowed"
			elif [ $rc -ne 0 ] && [ "$oct" -lt 8 ] &&
			     [[ $line == *" refused reason=serial.too_short "* ]]; then
				pass "$key minOctets 8: keytool serial of $oct octets refused (1 in 256)"
			else fail "$key minOctets 8: decision follows the serial length" \
				"keytool exit $rc, $oct octets: $line"; fi
		else fail "$key reload keytool-serial8.json"; fi
	fi
	# -- serial.minOctets 9: keytool's 64-bit serials are always too short ------------
	if [ "$key" = rsa2048 ]; then
		cp "$E2E_POL/keytool-serial9.json" "$d/policy.json"
		if ca_restart; then
			mk_csr "$T_TMP" "$key-ser" "/CN=ser.example.test" p256
			check_fails_with "$key minOctets 9: keytool -gencert refused" \
				"PKCS11Exception: CKR_FUNCTION_REJECTED" gencert "$alg" "$key-ser" ser.example.test 30
			check_decision "$key minOctets 9: refusal is serial.too_short" "$d" refused \
				serial.too_short
			check_audit_refusal "$key minOctets 9: audit records serial.too_short" "$d" \
				serial.too_short
		else fail "$key restart with keytool-serial9.json"; fi
	fi
	warden_stop
done
echo "# e2e_policy_keytool: $(elapsed_since "$T0")s"
t_done
