#!/bin/bash
# e2e_revocation_crl.sh - BouncyCastle on SunPKCS11 (tests/integration/java/WardenBc.java,
# X509v2CRLBuilder + JcaContentSignerBuilder on the SunPKCS11 provider: the whole
# TBSCertList in C_SignUpdate pieces, CKM_SHA256_RSA_PKCS / CKM_ECDSA_SHA256) signs CRLs
# through the module (issue 5 §4), for an RSA-2048 and a P-256 CA:
#   CRL 1 revoking S (a certificate issued through Warden, unexpired) is signed and
#   verifies (openssl crl -verify); CRL 2 that drops S is refused (crl.unrevoked), also
#   after an enclave restart (the state is replayed from the log); CRL 3 carrying S is
#   signed; a CRL numbered 2 after it is refused (crl.number_not_increasing); a CRL that
#   changes S's revocation reason is refused (revocation.changed).  Each refusal is
#   CKR_FUNCTION_REJECTED to the client and a refused record in the audit log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

command -v javac >/dev/null || { skip crl "javac not installed"; exit 0; }
bc_build || { fail "javac WardenBc"; t_done; exit; }
e2e_write_policy "$T_TMP/policy.json"

REJECTED='ERR *CKR_FUNCTION_REJECTED*'

# prehashed_limit: the documented limit (docs/threat-model.md, DESIGN "Full data or only
# a digest"): OpenSSL's libp11 engine sends only a digest (CKM_RSA_PKCS on a DigestInfo).
# With prehashed "deny" (the default) `openssl ca -gencrl` is refused; once the policy
# says prehashed "audit" the same CRL, which drops S and goes back to number 2, is signed:
# the enclave cannot see the content.  The log records it (reason prehashed.audit, the
# digest received), which is all an auditor gets for such a request.
ENGINE_SO=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
prehashed_limit() {
	if [ ! -f "$ENGINE_SO" ] || [ ! -f "$P11KIT_PROXY" ] || ! p11kit_usable; then
		skip "prehashed limit" "libp11 engine, p11-kit-proxy or unshare --user missing"
		return 0
	fi
	local ca=$T_TMP/ossl-ca
	mkdir -p "$ca" && : >"$ca/index.txt" && echo 02 >"$ca/crlnumber"
	chmod -R a+rwX "$ca"
	cat >"$ca/openssl.cnf" <<CNF
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
CNF
	cat >"$ca/ca.cnf" <<CNF
[ca]
default_ca = ca_default
[ca_default]
database = $ca/index.txt
crlnumber = $ca/crlnumber
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
CNF
	gencrl() {
		OPENSSL_CONF=$ca/openssl.cnf p11kit_run openssl ca -gencrl -config "$ca/ca.cnf" \
			-engine pkcs11 -keyform engine -cert "$CA_CERT" \
			-keyfile "pkcs11:object=$CA_LABEL;type=private;pin-value=$CA_PIN" -out "$1"
	}
	check_fails_with "$key libp11 (digest only) CRL refused under prehashed deny" \
		'Mechanism invalid|0x70|MECHANISM_INVALID' gencrl "$ca/crl-deny.pem"
	if ! ca_set_prehashed audit; then fail "$key prehashed audit reload"; return 0; fi
	check "$key libp11 CRL 2 without S signed under prehashed audit (the documented limit)" \
		gencrl "$ca/crl-audit.pem"
	check "$key that CRL verifies" openssl crl -in "$ca/crl-audit.pem" -CAfile "$CA_CERT" -noout -verify
	local n
	n=$(audit_count "$d" "r['type']=='sign' and b.get('decision')==1 and b.get('reason_name')=='prehashed.audit' and len(b.get('prehash',''))==64")
	check_eq "$key the prehashed signature is recorded (prehashed.audit, the digest)" "$n" 1
}
for key in rsa2048 p256; do
	d=$T_TMP/$key
	audit_ca_up "$d" "$key" "$T_TMP/policy.json" || { fail "$key setup"; continue; }
	if bc_start; then pass "$key BouncyCastle on SunPKCS11 starts ($BC_REPLY)"
	else fail "$key BouncyCastle on SunPKCS11 starts" "$BC_REPLY $(tail -n 3 "$T_TMP/bc.err")"; continue; fi

	S=$(openssl rand -hex 16) U=$(openssl rand -hex 16)
	S=7${S:1} U=7${U:1} # positive, 16 octets
	mkdir -p "$T_TMP/$key-issued"
	bc_expect "$key issue S=$S" OK issue "$S" "s-$key.example.internal" 30 "$T_TMP/$key-issued/S.pem"
	check "$key S verifies" verify_leaf "$T_TMP/$key-issued/S.pem"
	bc_expect "$key issue U=$U" OK issue "$U" "u-$key.example.internal" 30 "$T_TMP/$key-issued/U.pem"

	rev=$(($(date +%s) - 60)) reason=1 # keyCompromise
	bc_expect "$key CRL 1 revoking S signed" OK crl 1 "$T_TMP/$key-crl1.pem" "$S@$rev@$reason"
	check "$key CRL 1 verifies (openssl crl -verify)" \
		openssl crl -in "$T_TMP/$key-crl1.pem" -CAfile "$CA_CERT" -noout -verify
	if openssl crl -in "$T_TMP/$key-crl1.pem" -noout -text 2>/dev/null | grep -qi "Serial Number: ${S^^}"; then
		pass "$key CRL 1 lists S"; else fail "$key CRL 1 lists S"; fi

	bc_expect "$key CRL 2 dropping S refused" "$REJECTED" crl 2 "$T_TMP/$key-crl2.pem"
	expect_refused "$key CRL 2 dropping S" crl.unrevoked 104
	bc_stop

	# Restart in the middle of the sequence: revocations and CRL numbers come back
	# from the log.
	audit_restart || { fail "$key restart"; continue; }
	bc_start || { fail "$key BouncyCastle after restart" "$BC_REPLY"; continue; }
	bc_expect "$key after restart: CRL 2 dropping S still refused" "$REJECTED" crl 2 "$T_TMP/$key-crl2.pem"
	expect_refused "$key after restart: CRL 2 dropping S" crl.unrevoked 104
	bc_expect "$key after restart: CRL 3 keeping S signed" OK crl 3 "$T_TMP/$key-crl3.pem" \
		"$S@$rev@$reason" "$U@$rev@4"
	check "$key CRL 3 verifies" openssl crl -in "$T_TMP/$key-crl3.pem" -CAfile "$CA_CERT" -noout -verify
	bc_expect "$key CRL with a lower number (2 after 3) refused" "$REJECTED" crl 2 \
		"$T_TMP/$key-crl2b.pem" "$S@$rev@$reason" "$U@$rev@4"
	expect_refused "$key CRL 2 after 3" crl.number_not_increasing 101
	bc_expect "$key CRL with the same number (3) refused" "$REJECTED" crl 3 \
		"$T_TMP/$key-crl3b.pem" "$S@$rev@$reason" "$U@$rev@4"
	bc_expect "$key CRL 4 changing S's reason refused" "$REJECTED" crl 4 "$T_TMP/$key-crl4.pem" \
		"$S@$rev@3" "$U@$rev@4"
	expect_refused "$key CRL 4 changing S's reason" revocation.changed 105
	bc_expect "$key CRL 4 dropping U (revoked by CRL 3) refused" "$REJECTED" crl 4 \
		"$T_TMP/$key-crl4b.pem" "$S@$rev@$reason"
	expect_refused "$key CRL 4 dropping U" crl.unrevoked 104
	bc_stop
	# The CRL record names its number and every serial it revokes (issue 4 §1, field
	# 22 "revoked" of docs/audit-format.md): CRL 3 carries S and U.
	got=$(audit_show "$d" --decision allowed 2>/dev/null | "$SYS_PYTHON" -c '
import json, sys
for line in sys.stdin:
    b = json.loads(line)["body"]
    if b.get("data_kind") == 2 and b.get("crl_number") == "03":
        print(" ".join(sorted(b.get("revoked", []))))' )
	check_eq "$key CRL 3's record lists its revoked serials (S and U)" "$got" \
		"$(printf '%s\n' "${S,,}" "${U,,}" | sort | tr '\n' ' ' | sed 's/ $//')"
	[ "$key" = rsa2048 ] && prehashed_limit
	warden_stop

	n=$(audit_count "$d" "r['type']=='sign' and b.get('data_kind')==2 and b.get('decision')==0")
	check_eq "$key refused CRL records in the log (show --decision refused)" "$n" 6
	n=$(audit_count "$d" "r['type']=='sign' and b.get('data_kind')==2 and b.get('decision')==1")
	check_eq "$key allowed CRL records" "$n" 2
	check "$key log verifies --checkpoint" audit_verify "$d" --checkpoint
	check "$key issued certificates reconcile with the log" \
		"$WARDEN_AUDIT" reconcile "$d/audit" --certs "$T_TMP/$key-issued"
	# The tooling half of issue 5 §3: the log lists its revocations, and the CRLs that
	# left the enclave reconcile with their records and with the replayed state.
	"$WARDEN_AUDIT" show "$d/audit" --revocations >"$T_TMP/$key-revs.json" 2>&1
	check "$key show --revocations lists S" grep -qi "\"serial\": *\"${S}\"" "$T_TMP/$key-revs.json"
	check "$key show --revocations lists U" grep -qi "\"serial\": *\"${U}\"" "$T_TMP/$key-revs.json"
	mkdir -p "$T_TMP/$key-crls"
	cp "$T_TMP/$key-crl1.pem" "$T_TMP/$key-crl3.pem" "$T_TMP/$key-crls/"
	check "$key signed CRLs reconcile, and pass the policy against the replayed state" \
		"$WARDEN_AUDIT" reconcile "$d/audit" --crls "$T_TMP/$key-crls" --policy "$d/policy.json"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Other" \
		-keyout "$T_TMP/$key-other.key" -out "$T_TMP/$key-other.pem" -days 2 2>/dev/null
	printf 'unique_subject = no\n' >"$T_TMP/$key-idx.attr"
	: >"$T_TMP/$key-idx"
	cat >"$T_TMP/$key-other.cnf" <<CNF
[ca]
default_ca = o
[o]
database = $T_TMP/$key-idx
default_md = sha256
default_crl_days = 1
CNF
	openssl ca -config "$T_TMP/$key-other.cnf" -gencrl -keyfile "$T_TMP/$key-other.key" \
		-cert "$T_TMP/$key-other.pem" -out "$T_TMP/$key-unseen.pem" 2>/dev/null
	"$WARDEN_AUDIT" reconcile "$d/audit" --crls "$T_TMP/$key-unseen.pem" >"$T_TMP/$key-unseen.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q UNSEEN "$T_TMP/$key-unseen.out"; then
		pass "$key a CRL the log never saw is listed UNSEEN"
	else fail "$key a CRL the log never saw is listed UNSEEN" "exit $rc: $(tr '\n' ' ' <"$T_TMP/$key-unseen.out")"; fi
done
t_done
