#!/bin/bash
# e2e_revocation_ocsp.sh - BouncyCastle on SunPKCS11 (tests/integration/java/WardenBc.java,
# BasicOCSPRespBuilder + JcaContentSignerBuilder on the SunPKCS11 provider: the whole OCSP
# ResponseData, CKM_SHA256_RSA_PKCS / CKM_ECDSA_SHA256) signs OCSP responses through the
# module (issue 5 §4), for an RSA-2048 and a P-256 CA.  S and U are issued through
# Warden, CRL 1 revokes S, then the enclave restarts (state replayed from the log):
#   "good" for S refused (ocsp.good_revoked); "good" for a never-issued serial refused
#   (ocsp.good_not_issued); "good" for U allowed and verifies (openssl ocsp -respin);
#   "revoked" for S with the CRL's time and reason allowed and verifies; "revoked" for S
#   with another time refused (revocation.changed); "revoked" for U (the first record of
#   that revocation) allowed, after which "good" for U is refused and a full CRL without
#   U is refused (crl.unrevoked).  Each refusal is CKR_FUNCTION_REJECTED to the client and
#   a refused record in the audit log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

command -v javac >/dev/null || { skip ocsp "javac not installed"; exit 0; }
bc_build || { fail "javac WardenBc"; t_done; exit; }
e2e_write_policy "$T_TMP/policy.json"

REJECTED='ERR *CKR_FUNCTION_REJECTED*'
# ocsp_status NAME RESP SERIAL STATUS: openssl verifies RESP (signed by the CA, which
# it carries) and reports STATUS for SERIAL.
ocsp_status() {
	local name=$1 resp=$2 serial=$3 want=$4
	if openssl ocsp -respin "$resp" -CAfile "$CA_CERT" -verify_other "$CA_CERT" \
		-issuer "$CA_CERT" -serial "0x$serial" >"$T_TMP/ocsp.out" 2>&1 &&
		grep -q 'Response verify OK' "$T_TMP/ocsp.out" &&
		grep -qi "^0x$serial: $want" "$T_TMP/ocsp.out"; then pass "$name"
	else fail "$name" "$(tr '\n' ' ' <"$T_TMP/ocsp.out")"; fi
}

for key in rsa2048 p256; do
	d=$T_TMP/$key
	audit_ca_up "$d" "$key" "$T_TMP/policy.json" || { fail "$key setup"; continue; }
	if bc_start; then pass "$key BouncyCastle on SunPKCS11 starts ($BC_REPLY)"
	else fail "$key BouncyCastle on SunPKCS11 starts" "$BC_REPLY $(tail -n 3 "$T_TMP/bc.err")"; continue; fi

	S=$(openssl rand -hex 16) U=$(openssl rand -hex 16) N=$(openssl rand -hex 16)
	S=6${S:1} U=6${U:1} N=6${N:1}
	mkdir -p "$T_TMP/$key-issued"
	bc_expect "$key issue S=$S" OK issue "$S" "s-$key.example.internal" 30 "$T_TMP/$key-issued/S.pem"
	bc_expect "$key issue U=$U" OK issue "$U" "u-$key.example.internal" 30 "$T_TMP/$key-issued/U.pem"
	check "$key U verifies" verify_leaf "$T_TMP/$key-issued/U.pem"
	rev=$(($(date +%s) - 60)) reason=1
	bc_expect "$key CRL 1 revoking S signed" OK crl 1 "$T_TMP/$key-crl1.pem" "$S@$rev@$reason"
	bc_expect "$key OCSP good for S (revoked by CRL 1) refused" "$REJECTED" ocsp "$T_TMP/$key-o0.der" "$S" good
	expect_refused "$key OCSP good for S" ocsp.good_revoked 124
	bc_stop

	audit_restart || { fail "$key restart"; continue; }
	bc_start || { fail "$key BouncyCastle after restart" "$BC_REPLY"; continue; }
	bc_expect "$key after restart: OCSP good for S refused" "$REJECTED" ocsp "$T_TMP/$key-o1.der" "$S" good
	expect_refused "$key after restart: OCSP good for S" ocsp.good_revoked 124
	bc_expect "$key OCSP good for a never-issued serial refused" "$REJECTED" ocsp "$T_TMP/$key-o2.der" "$N" good
	expect_refused "$key OCSP good for a never-issued serial" ocsp.good_not_issued 122
	bc_expect "$key OCSP good for U (issued, not revoked) signed" OK ocsp "$T_TMP/$key-o3.der" "$U" good
	ocsp_status "$key OCSP good for U verifies (openssl ocsp)" "$T_TMP/$key-o3.der" "$U" good
	bc_expect "$key OCSP revoked for S with the CRL's time and reason signed" OK \
		ocsp "$T_TMP/$key-o4.der" "$S" revoked "$rev" "$reason"
	ocsp_status "$key OCSP revoked for S verifies (openssl ocsp)" "$T_TMP/$key-o4.der" "$S" revoked
	bc_expect "$key OCSP revoked for S with another time refused" "$REJECTED" \
		ocsp "$T_TMP/$key-o5.der" "$S" revoked "$((rev - 3600))" "$reason"
	expect_refused "$key OCSP revoked for S with another time" revocation.changed 105
	bc_expect "$key OCSP unknown for a never-issued serial signed" OK ocsp "$T_TMP/$key-o6.der" "$N" unknown
	ocsp_status "$key OCSP unknown verifies (openssl ocsp)" "$T_TMP/$key-o6.der" "$N" unknown
	bc_expect "$key OCSP revoked for U (first record of it) signed" OK \
		ocsp "$T_TMP/$key-o7.der" "$U" revoked "$rev" 4
	bc_expect "$key then OCSP good for U refused" "$REJECTED" ocsp "$T_TMP/$key-o8.der" "$U" good
	expect_refused "$key then OCSP good for U" ocsp.good_revoked 124
	bc_expect "$key then a full CRL without U refused" "$REJECTED" crl 2 "$T_TMP/$key-crl2.pem" "$S@$rev@$reason"
	expect_refused "$key then a full CRL without U" crl.unrevoked 104
	bc_expect "$key a full CRL with S and U signed" OK crl 2 "$T_TMP/$key-crl2.pem" \
		"$S@$rev@$reason" "$U@$rev@4"
	check "$key CRL 2 verifies" openssl crl -in "$T_TMP/$key-crl2.pem" -CAfile "$CA_CERT" -noout -verify
	bc_stop
	warden_stop

	n=$(audit_count "$d" "r['type']=='sign' and b.get('data_kind')==3 and b.get('decision')==0")
	check_eq "$key refused OCSP records in the log" "$n" 5
	n=$(audit_count "$d" "r['type']=='sign' and b.get('data_kind')==3 and b.get('decision')==1")
	check_eq "$key allowed OCSP records in the log" "$n" 4
	check "$key log verifies --checkpoint" audit_verify "$d" --checkpoint
	check "$key issued certificates reconcile with the log" \
		"$WARDEN_AUDIT" reconcile "$d/audit" --certs "$T_TMP/$key-issued"
	# Issue 5 §3 tooling: the signed responses reconcile with their records and pass the
	# policy against the revocation state replayed up to each of them; U's revocation
	# (first learned from OCSP) is listed.
	mkdir -p "$T_TMP/$key-ocsp"
	cp "$T_TMP/$key-o3.der" "$T_TMP/$key-o4.der" "$T_TMP/$key-o6.der" "$T_TMP/$key-o7.der" \
		"$T_TMP/$key-ocsp/"
	check "$key signed OCSP responses reconcile, and pass the policy against the replayed state" \
		"$WARDEN_AUDIT" reconcile "$d/audit" --ocsp "$T_TMP/$key-ocsp" --policy "$d/policy.json"
	check "$key show --revocations lists U from OCSP" bash -c \
		"'$WARDEN_AUDIT' show '$d/audit' --revocations | grep -i '\"serial\": *\"$U\"' | grep -q ocsp"
done
t_done
