#!/bin/bash
# e2e_policy_prehashed.sh - issue 3 §4 end to end: OpenSSL 3.0's libp11 engine (through
# p11-kit-proxy) sends only a digest (CKM_RSA_PKCS on a DigestInfo, CKM_ECDSA on a hash).
#   - policy signingKeys.ca.prehashed "deny" (tests/policy/e2e/prehashed-deny.json): the
#     key does not offer the raw mechanisms, `openssl x509 -req -CAkeyform engine` fails
#     and no certificate comes out;
#   - after a SIGHUP to prehashed "audit" with prehashedRateLimit {count 2, period 1h,
#     burst 2} (prehashed-audit.json): two certificates are signed (openssl verify), the
#     third is refused (rate.prehashed); the audit log has 2 allowed records
#     (prehashed.audit) carrying the digest = SHA-256 of each issued TBS and 1 refused
#     record with the rate-limit reason; `warden-audit reconcile --certs` matches both
#     certificates to their records by digest (and flags a certificate it never saw).
#   - the bucket survives a restart (state is rebuilt from the log): still refused.
#   - a client that connected under "audit" keeps its module state (mechanism list from
#     the old HELLO, pooled connections) across a SIGHUP to "deny": its next raw-digest
#     request must be refused by the enclave (prehashed.denied), and a new client no
#     longer sees the raw mechanism (tests/policy/e2e/raw_agent.py).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_policy_lib.sh"

ENGINE_SO=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
[ -f "$ENGINE_SO" ] || { skip libp11 "libengine-pkcs11-openssl not installed"; exit 0; }
[ -f "$P11KIT_PROXY" ] || { skip libp11 "p11-kit-proxy not installed"; exit 0; }
p11kit_usable || { skip libp11 "unshare --user fails: p11-kit would ignore HOME module files"; exit 0; }
T0=$(date +%s)

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
EOF
# p11kit_run runs the client as uid 65534 in a user namespace: it must read its inputs
# and write its outputs there.
chmod 0755 "$T_TMP"

ossl() { OPENSSL_CONF=$T_TMP/openssl.cnf p11kit_run openssl "$@"; }
key_uri() { echo "pkcs11:object=$CA_LABEL;type=private;pin-value=$CA_PIN"; }

# issue DIR NAME: signs DIR/NAME.csr (CN=NAME.example.test) with the CA key through the
# engine into DIR/NAME.pem (SAN = CN, 16-octet serial, 30 days).
issue() {
	local dir=$1 name=$2
	rm -f "$dir/$name.pem"
	printf '[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:%s.example.test\nauthorityKeyIdentifier = keyid\nsubjectKeyIdentifier = hash\n' \
		"$name" >"$dir/$name.ext"
	ossl x509 -req -in "$dir/$name.csr" -CA "$CA_CERT" -engine pkcs11 -CAkeyform engine \
		-CAkey "$(key_uri)" -days 30 -set_serial "$(rand_serial)" \
		-extfile "$dir/$name.ext" -extensions ext -out "$dir/$name.pem"
}

for spec in rsa2048:CKM_RSA_PKCS p256:CKM_ECDSA; do
	IFS=: read -r key mech <<<"$spec"
	d=$T_TMP/$key
	out=$T_TMP/$key-certs
	mkdir -p "$out" && chmod 0777 "$out"
	if ! e2e_ca_up "$d" "$key" "$E2E_POL/prehashed-deny.json"; then fail "$key setup"; continue; fi
	chmod -R a+rX "$d"
	for n in one two three four; do
		mk_csr "$out" "$key-$n" "/CN=$key-$n.example.test" p256
	done
	chmod a+r "$out"/*

	# -- prehashed "deny" --------------------------------------------------------------
	check_fails_with "$key deny: libp11 x509 -req refused" \
		"ERR_CKR_error:Mechanism invalid" issue "$out" "$key-one"
	cp "$T_TMP/last.out" "$T_TMP/$key-deny.out"
	[ -s "$out/$key-one.pem" ] && fail "$key deny: no certificate written" "$out/$key-one.pem exists"
	n=$(audit_count "$d" "r.get('decision') == 1")
	[ "${n:-1}" -eq 0 ] && pass "$key deny: no allowed sign record" ||
		fail "$key deny: no allowed sign record" "found $n"

	# -- prehashed "audit", rate limit 2 per hour, burst 2 -------------------------------
	if ! e2e_reload "$d" "$E2E_POL/prehashed-audit.json"; then
		fail "$key reload to prehashed audit"; warden_stop; continue
	fi
	check "$key audit: 1st libp11 certificate issued" issue "$out" "$key-one"
	check "$key audit: 1st certificate verifies" verify_leaf "$out/$key-one.pem"
	check "$key audit: 2nd libp11 certificate issued" issue "$out" "$key-two"
	check "$key audit: 2nd certificate verifies" verify_leaf "$out/$key-two.pem"
	# CKR_FUNCTION_REJECTED (0x200 = 512), which libp11 has no name for.
	check_fails_with "$key audit: 3rd beyond the rate limit refused (CKR_FUNCTION_REJECTED)" \
		"ERR_CKR_error:reason\(512\)" issue "$out" "$key-three"
	cp "$T_TMP/last.out" "$T_TMP/$key-rate.out"
	rm -f "$out/$key-three.pem"
	check_decision "$key enclave log: prehashed allowed (prehashed.audit)" "$d" allowed \
		prehashed.audit "mech=$mech"
	check_decision "$key enclave log: 3rd refused (rate.prehashed)" "$d" refused rate.prehashed \
		"mech=$mech"

	# -- the audit log -------------------------------------------------------------------
	m=$(ckm_value "$mech")
	n=$(audit_count "$d" "r.get('decision') == 1 and r.get('reason_code') == $(reason_code prehashed.audit) and r.get('mechanism') == $m and len(r.get('prehash', '')) == 64")
	[ "${n:-0}" -eq 2 ] && pass "$key audit: 2 allowed prehashed records with a digest" ||
		fail "$key audit: 2 allowed prehashed records with a digest" "found ${n:-0}: $(audit_show "$d" --type sign | cut -c1-300 | tr '\n' '|')"
	for c in one two; do
		[ -s "$out/$key-$c.pem" ] || continue
		tbs_of "$out/$key-$c.pem" "$T_TMP/$key-$c.tbs"
		h=$(sha256sum "$T_TMP/$key-$c.tbs" | cut -d' ' -f1)
		n=$(audit_count "$d" "r.get('decision') == 1 and r.get('prehash') == '$h' and r.get('prehash_alg') == 'sha256'")
		[ "${n:-0}" -eq 1 ] && pass "$key audit: record of cert $c holds its TBS digest" ||
			fail "$key audit: record of cert $c holds its TBS digest" "no record with prehash $h"
	done
	# libp11's ECDSA path sends a refused digest a second time from the same process (a
	# client retry): each attempt is a record, so count distinct (caller, digest) pairs.
	n=$(audit_sign_records "$d" "r.get('decision') == 0 and r.get('reason_code') == $(reason_code rate.prehashed) and len(r.get('prehash', '')) == 64" |
		"$SYS_PYTHON" -c 'import json,sys; print(len({(b["caller_pid"], b["prehash"]) for b in (json.loads(l)["body"] for l in sys.stdin)}))')
	[ "${n:-0}" -eq 1 ] && pass "$key audit: 1 refused request (rate.prehashed) with its digest" ||
		fail "$key audit: 1 refused request (rate.prehashed) with its digest" "found ${n:-0}"
	n=$(audit_sign_records "$d" "r.get('mechanism') == $m" |
		"$SYS_PYTHON" -c 'import json,sys; print(len({json.loads(l)["body"].get("prehash") for l in sys.stdin}))')
	[ "${n:-0}" -eq 3 ] && pass "$key audit: exactly 3 prehashed requests recorded" ||
		fail "$key audit: exactly 3 prehashed requests recorded" "found ${n:-0} distinct digests"

	# -- reconcile (a directory of certificates only) ------------------------------------
	mkdir -p "$out/issued"
	cp "$out/$key-one.pem" "$out/$key-two.pem" "$out/issued/" 2>/dev/null
	if "$WARDEN_AUDIT" reconcile "$d/audit" --certs "$out/issued" >"$T_TMP/recon.out" 2>&1 &&
	   [ "$(grep -c '^OK .*(prehashed)' "$T_TMP/recon.out")" -eq 2 ] &&
	   grep -q '^2 certificates, 0 not accounted for' "$T_TMP/recon.out"; then
		pass "$key reconcile --certs matches both certificates by digest"
	else fail "$key reconcile --certs matches both certificates by digest" "$(tr '\n' ' ' <"$T_TMP/recon.out")"; fi
	if "$WARDEN_AUDIT" reconcile "$d/audit" --certs "$out/issued" --policy "$d/policy.json" \
		>"$T_TMP/recon.out" 2>&1; then
		pass "$key reconcile --policy: the issued certificates comply"
	else fail "$key reconcile --policy: the issued certificates comply" "$(tr '\n' ' ' <"$T_TMP/recon.out")"; fi
	# A certificate the log never saw (signed by a throwaway CA with the same name).
	mkdir -p "$T_TMP/$key-foreign"
	mk_ca "$T_TMP" "$key-rogue" rsa
	cp "$out/$key-four.csr" "$T_TMP/$key-four.csr"
	mk_leaf "$T_TMP" "$key-four" "$key-rogue" "DNS:$key-four.example.test" 30 "$(rand_serial)"
	cp "$out/$key-one.pem" "$T_TMP/$key-four.pem" "$T_TMP/$key-foreign/" 2>/dev/null
	if ! "$WARDEN_AUDIT" reconcile "$d/audit" --certs "$T_TMP/$key-foreign" \
		>"$T_TMP/recon.out" 2>&1 && grep -q '^UNSEEN' "$T_TMP/recon.out" &&
	   grep -q '^OK' "$T_TMP/recon.out"; then
		pass "$key reconcile flags a certificate the log never saw"
	else fail "$key reconcile flags a certificate the log never saw" "$(tr '\n' ' ' <"$T_TMP/recon.out")"; fi

	# -- the bucket is rebuilt from the log after a restart ------------------------------
	if ca_restart; then
		check_fails_with "$key after restart: still over the rate limit" \
			"ERR_CKR_error:reason\(512\)" issue "$out" "$key-four"
		check_decision "$key after restart: refusal is rate.prehashed" "$d" refused rate.prehashed
	else fail "$key restart"; fi
	check "$key warden-audit verify" "$WARDEN_AUDIT" verify "$d/audit" \
		--pubkey "$d/audit/audit.pub"
	warden_stop
done
# ---- a connection made under "audit" after a reload to "deny" ---------------------------
"$SYS_PYTHON" -c 'import PyKCS11' 2>/dev/null || { skip "stale connection" "no PyKCS11"; t_done; exit; }
# raw CMD: one command to the long-lived raw_agent.py; the answer in RAW.
raw() {
	RAW=""
	echo "$1" >&"${RA[1]}" && IFS= read -r -t 30 RAW <&"${RA[0]}" || RAW="EXC no answer"
}
for key in rsa2048 p256; do
	d=$T_TMP/$key-stale
	if ! e2e_ca_up "$d" "$key" "$E2E_POL/prehashed-audit-wide.json"; then
		fail "$key stale: setup"; continue; fi
	coproc RA { exec "$SYS_PYTHON" -u "$E2E_POL/raw_agent.py" "$CA_MODULE" "$CA_ID" \
		"$CA_PIN" 2>>"$T_TMP/raw_agent.err"; }
	# shellcheck disable=SC2153 # RA_PID is set by coproc
	RA_PID_=$RA_PID
	IFS= read -r -t 30 RAW <&"${RA[0]}"
	raw mechs
	[ "$RAW" = "OK yes" ] && pass "$key stale: raw mechanism listed under audit" ||
		fail "$key stale: raw mechanism listed under audit" "$RAW"
	raw sign
	[[ $RAW == OK* ]] && pass "$key stale: raw signature allowed under audit" ||
		fail "$key stale: raw signature allowed under audit" "$RAW $(tail -n 2 "$T_TMP/raw_agent.err")"
	if e2e_reload "$d" "$E2E_POL/prehashed-deny.json"; then
		raw sign
		dg=${RAW##* }
		case "$RAW" in
		"ERR CKR_FUNCTION_REJECTED "*)
			pass "$key stale: same process refused after reload to deny"
			check_decision "$key stale: enclave says prehashed.denied" "$d" refused \
				prehashed.denied
			n=$(audit_count "$d" "r.get('decision') == 0 and r.get('reason_code') == $(reason_code prehashed.denied) and r.get('prehash') == '$dg'")
			[ "${n:-0}" -ge 1 ] && pass "$key stale: refusal recorded with its digest" ||
				fail "$key stale: refusal recorded with its digest" "found ${n:-0}" ;;
		"ERR CKR_MECHANISM_INVALID "*)
			pass "$key stale: same process refused after reload to deny (mechanism invalid)" ;;
		*) fail "$key stale: same process refused after reload to deny" "$RAW" ;;
		esac
		n=$(audit_count "$d" "r.get('decision') == 1 and r.get('prehash') == '$dg'")
		[ "${n:-1}" -eq 0 ] && pass "$key stale: nothing signed for it" ||
			fail "$key stale: nothing signed for it" "$n allowed records"
	else fail "$key stale: reload to prehashed-deny.json"; fi
	raw quit
	wait "$RA_PID_" 2>/dev/null
	# A new client gets the new HELLO: the raw mechanism is gone.
	coproc RA { exec "$SYS_PYTHON" -u "$E2E_POL/raw_agent.py" "$CA_MODULE" "$CA_ID" \
		"$CA_PIN" 2>>"$T_TMP/raw_agent.err"; }
	# shellcheck disable=SC2153 # RA_PID is set by coproc
	RA_PID_=$RA_PID
	IFS= read -r -t 30 RAW <&"${RA[0]}"
	raw mechs
	[ "$RAW" = "OK no" ] && pass "$key stale: a new client no longer sees the raw mechanism" ||
		fail "$key stale: a new client no longer sees the raw mechanism" "$RAW"
	raw sign
	[ "${RAW% *}" = "ERR CKR_MECHANISM_INVALID" ] &&
		pass "$key stale: a new client's raw C_SignInit is CKR_MECHANISM_INVALID" ||
		fail "$key stale: a new client's raw C_SignInit is CKR_MECHANISM_INVALID" "$RAW"
	raw quit
	wait "$RA_PID_" 2>/dev/null
	warden_stop
	# "prehashed" moved from enclave.json to the policy: the old key is refused, with
	# a message that points at policy.json.
	if [ "$key" = rsa2048 ]; then
		cp "$d/enclave.json" "$d/enclave.json.orig"
		"$SYS_PYTHON" - "$d/enclave.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["keys"][0]["prehashed"] = "audit"
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PY
		mv "$d/enclave.log" "$d/enclave.log.before-prehashed"
		if warden_start "$d" >"$T_TMP/start.out" 2>&1; then
			fail "enclave.json \"prehashed\" refused" "the enclave started"
			warden_stop
		elif log_has "$d" 'keys\[0\].*prehashed.*signingKeys.*prehashed.*policy'; then
			pass "enclave.json \"prehashed\" refused, pointing at the policy"
		else fail "enclave.json \"prehashed\" refused, pointing at the policy" "$(tail -n 2 "$d/enclave.log" | tr '\n' '|')"; fi
		mv "$d/enclave.json.orig" "$d/enclave.json"
	fi
done
echo "# e2e_policy_prehashed: $(elapsed_since "$T0")s"
t_done
