#!/bin/bash
# tests/integration/e2e_policy_lib.sh - helpers for the policy end-to-end tests
# (e2e_policy_*.sh, admin_policy.sh).  Sourced after tests/lib.sh.
#
# Policy files and inputs live in tests/policy/e2e/.  A test CA is brought up with the
# policy it needs already installed as DIR/policy.json (e2e_ca_up), so that the start-up
# path is what loads it; SIGHUP reloads are tested on purpose (e2e_reload).

[ "${BASH_SOURCE[0]}" = "$0" ] && { echo "# e2e_policy_lib.sh is sourced by the tests, not run"; exit 0; }
E2E_POL=$TOP/tests/policy/e2e
WARDEN_AUDIT="$BUILD/bin/warden-audit"

# reason_code NAME: the stable number of a policy reason name (enum pol_reason in
# policy-engine/policy.h; docs/policy.md says they never change).
reason_code() {
	case "$1" in
	ok) echo 0 ;;
	prehashed.audit) echo 1 ;;
	key.unknown) echo 3 ;;
	key.kind_not_allowed) echo 4 ;;
	prehashed.denied) echo 5 ;;
	signature.mechanism) echo 6 ;;
	parse.malformed) echo 8 ;;
	signature.algorithm_mismatch) echo 9 ;;
	signature.pss_params) echo 10 ;;
	issuer.mismatch) echo 11 ;;
	profile.none) echo 13 ;;
	name.dns.wildcard) echo 21 ;;
	name.dns.denied) echo 22 ;;
	name.dns.not_allowed) echo 23 ;;
	name.cn.not_in_san) echo 34 ;;
	name.san.missing) echo 36 ;;
	validity.too_long) echo 42 ;;
	key.rsa_size) echo 51 ;;
	ext.basic_constraints.ca) echo 60 ;;
	serial.too_short) echo 72 ;;
	serial.reused) echo 73 ;;
	rate.key) echo 80 ;;
	rate.profile) echo 81 ;;
	rate.provisioner) echo 82 ;;
	rate.san_set) echo 84 ;;
	rate.prehashed) echo 85 ;;
	state.full) echo 87 ;;
	*) echo "reason_code: unknown name $1" >&2; echo -1 ;;
	esac
}

# ckm_value NAME: the CK_MECHANISM_TYPE number (audit records store it as a number).
ckm_value() {
	case "$1" in
	CKM_RSA_PKCS) echo 1 ;;
	CKM_SHA256_RSA_PKCS) echo 64 ;;
	CKM_SHA384_RSA_PKCS) echo 65 ;;
	CKM_ECDSA) echo 4161 ;;
	CKM_ECDSA_SHA256) echo 4164 ;;
	*) echo -1 ;;
	esac
}

# serial_norm HEX: lower case, no leading zeros (how serials are compared here).
serial_norm() { tr 'A-F' 'a-f' <<<"$1" | sed 's/^0*//'; }

# e2e_ca_up DIR KEY POLICY [init options]: ca_up with POLICY installed as DIR/policy.json
# before the enclave first starts.  Sets what ca_up sets.
e2e_ca_up() {
	local dir=$1 key=$2 policy=$3; shift 3
	CA_DIR=$dir CA_CERT=$dir/ca.pem
	san_client_env
	warden_setup "$dir" "$key" "$@" || return 1
	[ -f "$dir/policy.json" ] || { echo "warden-admin init wrote no $dir/policy.json"; return 1; }
	cp "$policy" "$dir/policy.json" || return 1
	warden_start "$dir" || return 1
	CA_MODULE=$WARDEN_MODULE
	openssl x509 -in "$CA_CERT" -pubkey -noout >"$dir/ca.pub" || return 1
	CA_ID=$(pkcs11-tool --module "$CA_MODULE" -O --type cert 2>/dev/null |
		sed -n 's/^ *ID: *//p' | head -n 1)
	[ -n "$CA_ID" ] || { echo "no certificate object on the token"; return 1; }
}

# e2e_reload DIR FILE: installs FILE as DIR/policy.json and makes the enclave reload it
# (tests/lib.sh's warden_policy: SIGHUP, waits for the enclave's reload line).
e2e_reload() {
	if ! declare -F warden_policy >/dev/null; then
		echo "tests/lib.sh has no warden_policy (contract: installs a policy and SIGHUPs)"
		return 1
	fi
	warden_policy "$1" "$2"
}

# log_has DIR REGEX: the enclave log of DIR (this start's) matches REGEX (grep -E).
log_has() { grep -Eq "$2" "$1/enclave.log"; }

# decision_line DIR STATE REASON [EXTRA-REGEX]: the enclave logged a decision line
#   decision key=... mech=... kind=... allowed|refused reason=<name> serial=<hex>: <sentence>
# with that state and reason (and EXTRA on the same line).
decision_line() {
	local dir=$1 state=$2 reason=$3 extra=${4:-}
	grep -E "decision key=[^ ]+ mech=CKM_[A-Z0-9_]+ kind=[a-z_]+ $state reason=$reason( |:)" \
		"$dir/enclave.log" | grep -Eiq "${extra:-.}"
}

# check_decision NAME DIR STATE REASON [EXTRA]: PASS when decision_line holds.
check_decision() {
	local name=$1 dir=$2 state=$3 reason=$4 extra=${5:-}
	if decision_line "$dir" "$state" "$reason" "$extra"; then pass "$name"
	else fail "$name" "no '$state reason=$reason' decision line${extra:+ matching /$extra/}; log: $(grep 'decision' "$dir/enclave.log" | tail -n 3 | tr '\n' '|')"; fi
}

# audit_show DIR [show options]: warden-audit show DIR/audit, JSON lines on stdout.
audit_show() {
	local dir=$1; shift
	"$WARDEN_AUDIT" show "$dir/audit" "$@" 2>"$T_TMP/audit-show.err"
}

# audit_sign_records DIR FILTER.py: prints the SIGN records (JSON lines of warden-audit
# show) for which the Python expression FILTER holds; in it, r is the record's body (the
# fields: decision, reason_code, serial, prehash, policy_sha256...) and rec the record.
audit_sign_records() {
	local dir=$1 expr=$2
	audit_show "$dir" --type sign | "$SYS_PYTHON" -c '
import json, sys
expr = sys.argv[1]
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    rec = json.loads(line)
    r = rec.get("body") or {}
    if rec.get("type") == "sign" and eval(expr, {}, {"r": r, "rec": rec}):
        print(line)
' "$expr"
}

# audit_count DIR FILTER: how many SIGN records match.
audit_count() { audit_sign_records "$1" "$2" | wc -l; }

# check_audit_refusal NAME DIR REASON [FILTER]: at least one refused SIGN record with
# that reason code (and FILTER).
check_audit_refusal() {
	local name=$1 dir=$2 reason=$3 filt=${4:-True} code n
	code=$(reason_code "$reason")
	n=$(audit_count "$dir" "r.get('decision') == 0 and r.get('reason_code') == $code and r.get('reason_name', '$reason') == '$reason' and ($filt)")
	if [ "${n:-0}" -ge 1 ]; then pass "$name"
	else fail "$name" "no refused sign record with reason_code $code ($reason); show: $(audit_show "$dir" --type sign | tail -n 2 | cut -c1-400 | tr '\n' '|') $(head -c 300 "$T_TMP/audit-show.err")"; fi
}

# ---- rules_client.py (PyKCS11, hand-built TBSCertificates) ------------------------------
# These use $out (the test's output directory) and CA_MODULE, CA_CERT, CA_ID, CA_PIN.
# client CASE...: runs rules_client.py; its lines go to $out/client.txt (appended) and
# RES[case]="OK serial" / "ERR CKR_... serial" / ...
declare -A RES
client() {
	local line name
	"$SYS_PYTHON" "$E2E_POL/rules_client.py" "$CA_MODULE" "$CA_CERT" "$CA_ID" "$CA_PIN" \
		"$out" "$@" >"$out/client.last" 2>"$out/client.err"
	cat "$out/client.last" >>"$out/client.txt"
	while read -r name line; do RES[$name]=$line; done <"$out/client.last"
}
res_state() { cut -d' ' -f1 <<<"${RES[$1]:-MISSING}"; }
res_rv() { cut -d' ' -f2 <<<"${RES[$1]:-}"; }
res_serial() { local r=${RES[$1]:-}; [ "${r%% *}" = OK ] && cut -d' ' -f2 <<<"$r" || cut -d' ' -f3 <<<"$r"; }

# expect_ok NAME CASE: the case was signed and its certificate verifies
expect_ok() {
	[ "$(res_state "$2")" = OK ] && pass "$1" ||
		fail "$1" "case $2: ${RES[$2]:-no answer} $(tail -n 2 "$out/client.err" | tr '\n' ' ')"
}

# ---- certificates made with openssl ------------------------------------------------------

# mk_ca DIR NAME [rsa|p256]: a throwaway CA (key DIR/NAME.key, certificate DIR/NAME.pem,
# with SKI, so that leaves get a matching AKI).
mk_ca() {
	local dir=$1 name=$2 alg=${3:-rsa} newkey
	case "$alg" in
	rsa) newkey="-newkey rsa:2048" ;;
	p256) newkey="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	esac
	# shellcheck disable=SC2086
	openssl req -x509 -new $newkey -nodes -keyout "$dir/$name.key" -subj "/CN=Throwaway $name" \
		-days 3650 -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign -addext subjectKeyIdentifier=hash \
		-out "$dir/$name.pem" 2>/dev/null
}

# mk_csr DIR NAME SUBJECT [rsa:BITS|p256]: a leaf key and CSR DIR/NAME.{key,csr}.
mk_csr() {
	local dir=$1 name=$2 subj=$3 alg=${4:-p256}
	case "$alg" in
	rsa:*) set -- -newkey "$alg" ;;
	p256) set -- -newkey ec -pkeyopt ec_paramgen_curve:P-256 ;;
	esac
	openssl req -new "$@" -nodes -keyout "$dir/$name.key" -subj "$subj" \
		-out "$dir/$name.csr" 2>/dev/null
}

# mk_leaf DIR NAME CA SAN-LINE DAYS SERIAL [extra extension lines...]: signs DIR/NAME.csr
# with DIR/CA.{key,pem} into DIR/NAME.pem.  SAN-LINE is a subjectAltName value ("" for
# none); extra lines replace the defaults (CA:FALSE, digitalSignature, serverAuth).
mk_leaf() {
	local dir=$1 name=$2 ca=$3 san=$4 days=$5 serial=$6; shift 6
	{
		echo "[ext]"
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; else
			echo "basicConstraints = critical,CA:FALSE"
			echo "keyUsage = critical,digitalSignature"
			echo "extendedKeyUsage = serverAuth"
		fi
		[ -n "$san" ] && echo "subjectAltName = $san"
		echo "authorityKeyIdentifier = keyid"
		echo "subjectKeyIdentifier = hash"
	} >"$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" \
		-set_serial "$serial" -days "$days" -extfile "$dir/$name.ext" -extensions ext \
		-out "$dir/$name.pem" 2>/dev/null
}

# rand_serial: a 16-octet positive serial for -set_serial.
rand_serial() { echo "0x7f$(openssl rand -hex 15)"; }

# tbs_of CERT.pem OUT.der: the DER TBSCertificate of a certificate.
tbs_of() {
	"$SYS_PYTHON" -c '
import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
open(sys.argv[2], "wb").write(c.tbs_certificate_bytes)
' "$1" "$2"
}

# serial_octets CERT.pem: the number of content octets of the certificate's serial
# INTEGER (DER, so with a leading 00 when the top bit is set).
serial_octets() {
	"$SYS_PYTHON" -c '
import sys
from cryptography import x509
n = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read()).serial_number
print(n.bit_length() // 8 + 1)
' "$1"
}

# cert_serial_hex CERT.pem: the serial in lower-case hex, as warden logs it (no 0x).
cert_serial_hex() {
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f'
}

# elapsed_since START: seconds since START (date +%s).
elapsed_since() { echo $(($(date +%s) - $1)); }
