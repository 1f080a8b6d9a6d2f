#!/bin/bash
# e2e_policy_rules.sh - representative refusals through a real full-TBS client (PyKCS11,
# tests/policy/e2e/rules_client.py: hand-built TBSCertificates signed with
# CKM_SHA256_RSA_PKCS) under tests/policy/e2e/rules.json, each answered
# CKR_FUNCTION_REJECTED with the matching reason in the enclave log and the audit log:
#   dNSName not allowed, CN not among the SANs, leaf without SAN, wildcard not allowed,
#   issuer differing from the CA subject, AlgorithmIdentifier (sha384WithRSAEncryption)
#   not matching the mechanism, a serial reused after it was issued once.
# Also: arbitrary bytes under sign ["certificate"] (key.kind_not_allowed); a refusal
# reassembled from 1-byte C_SignUpdate pieces; races of 6 processes signing at the same
# moment (one serial: exactly 1 allowed; one SAN set under perSANSet burst 2: exactly 2);
# the serial and the SAN-set bucket still bind after a restart; a P-256 CA subset
# (CKM_ECDSA_SHA256 against an ecdsa-with-SHA384 TBS).
# Then SIGHUP: a policy that denies x.example.test is installed and reloaded (x refused,
# a `policy` audit record with the new hash); a broken policy + SIGHUP keeps the old one
# (x still refused, the enclave log says why), and the enclave keeps serving.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_policy_lib.sh"

"$SYS_PYTHON" -c 'import PyKCS11, cryptography' 2>/dev/null ||
	{ skip rules "python3-pykcs11 or python3-cryptography not installed"; exit 0; }
T0=$(date +%s)
d=$T_TMP/ca
out=$T_TMP/out
mkdir -p "$out"

# client, res_state, res_rv, res_serial, expect_ok: e2e_policy_lib.sh (rules_client.py).
# expect_refused NAME CASE REASON [noserial]: CKR_FUNCTION_REJECTED, decision line and
# audit record (both for the case's serial, unless the data is no certificate).
expect_refused() {
	local name=$1 c=$2 reason=$3 ser
	if [ "$(res_state "$c")" = ERR ] && [ "$(res_rv "$c")" = CKR_FUNCTION_REJECTED ]; then
		pass "$name: CKR_FUNCTION_REJECTED"
	else fail "$name: CKR_FUNCTION_REJECTED" "case $c: ${RES[$c]:-no answer}"; fi
	if [ "${4:-}" = noserial ]; then
		check_decision "$name: enclave log says $reason" "$d" refused "$reason" "serial=-"
		check_audit_refusal "$name: audit record with $reason" "$d" "$reason" \
			"'serial' not in r"
		return
	fi
	ser=$(serial_norm "$(res_serial "$c")")
	check_decision "$name: enclave log says $reason" "$d" refused "$reason" "serial=0*$ser"
	check_audit_refusal "$name: audit record with $reason" "$d" "$reason" \
		"r.get('serial', '').lower().lstrip('0') == '$ser'"
}

if ! e2e_ca_up "$d" rsa2048 "$E2E_POL/rules.json"; then fail "setup"; exit 1; fi
# The module's log goes to a file, to see the enclave's sentence it logs on a refusal.
sed -i "s|^log = .*|log = $d/module.log|" "$d/module.conf"

S=5b$(openssl rand -hex 15)
client good \
	evil:cn=evil.example,san=evil.example \
	cnsan:cn=other.example.test,san=www.example.test \
	nosan:san=- \
	wild:cn=*.example.test \
	"issuer:issuer=Someone Else" \
	alg:hash=sha384 \
	"first:serial=$S" \
	"reuse:serial=$S,cn=reuse.example.test"
expect_ok "allowed TBS signed, certificate verifies" good
check_decision "enclave log: allowed decision for the good TBS" "$d" allowed ok \
	"kind=certificate.*serial=0*$(serial_norm "$(res_serial good)")"
expect_refused "dNSName not allowed" evil name.dns.not_allowed
expect_refused "CN not among the SANs" cnsan name.cn.not_in_san
expect_refused "leaf without a SAN" nosan name.san.missing
expect_refused "wildcard SAN not allowed" wild name.dns.wildcard
expect_refused "issuer differs from the CA subject" issuer issuer.mismatch
expect_refused "sha384WithRSAEncryption TBS with CKM_SHA256_RSA_PKCS" alg \
	signature.algorithm_mismatch
expect_ok "serial S issued once" first
expect_refused "serial S reused" reuse serial.reused
client junk:data=junk pieces:cn=evil.example,san=evil.example,update=1 \
	pieces-ok:update=1
expect_refused "arbitrary bytes under sign [certificate]" junk key.kind_not_allowed noserial
decision_line "$d" refused key.kind_not_allowed "kind=other" &&
	pass "arbitrary bytes: kind=other in the decision line" ||
	fail "arbitrary bytes: kind=other in the decision line"
expect_refused "evil.example in 1-byte C_SignUpdate pieces" pieces name.dns.not_allowed
expect_ok "allowed TBS in 1-byte C_SignUpdate pieces" pieces-ok
# RSASSA-PSS: the TBS's parameters (salt 32) must be the mechanism's.  (Salt 20 is the
# DEFAULT and must be omitted in DER, so the cases use 32.)
client pss-ok:pss=32 pss-bad:pss=32,mpss=64
expect_ok "PSS TBS (salt 32) with CKM_SHA256_RSA_PKCS_PSS salt 32" pss-ok
expect_refused "PSS TBS (salt 32) with CKM_SHA256_RSA_PKCS_PSS salt 64" pss-bad \
	signature.pss_params
if grep -q "evil\.example" "$d/module.log" 2>/dev/null; then
	pass "module logged the enclave's sentence for the refusal"
else fail "module logged the enclave's sentence for the refusal" "$(tail -n 3 "$d/module.log" 2>/dev/null | tr '\n' '|')"; fi
n=$(audit_count "$d" "r.get('decision') == 0")
[ "${n:-0}" -eq 10 ] && pass "audit: exactly 10 refused sign records" ||
	fail "audit: exactly 10 refused sign records" "found ${n:-0}"

# ---- races: 6 processes at once ---------------------------------------------------------
# race TAG CASE-SPEC...: one client process per spec, all released together.
race() {
	local tag=$1 i=0 spec pids=(); shift
	rm -f "$out/$tag.go"
	for spec in "$@"; do
		RULES_BARRIER=$out/$tag.go "$SYS_PYTHON" "$E2E_POL/rules_client.py" "$CA_MODULE" \
			"$CA_CERT" "$CA_ID" "$CA_PIN" "$out" "$spec" >"$out/$tag.$i" 2>&1 &
		pids+=($!)
		i=$((i + 1))
	done
	sleep 1.5 # every process loaded, logged in and built its TBS
	touch "$out/$tag.go"
	wait "${pids[@]}" 2>/dev/null
	cat "$out/$tag".[0-9]* >"$out/$tag.all"
}
S2=5c$(openssl rand -hex 15)
race serial "r0:serial=$S2,cn=r0.example.test" "r1:serial=$S2,cn=r1.example.test" \
	"r2:serial=$S2,cn=r2.example.test" "r3:serial=$S2,cn=r3.example.test" \
	"r4:serial=$S2,cn=r4.example.test" "r5:serial=$S2,cn=r5.example.test"
nok=$(grep -c ' OK ' "$out/serial.all"); nrej=$(grep -c 'ERR CKR_FUNCTION_REJECTED' "$out/serial.all")
[ "$nok" -eq 1 ] && [ "$nrej" -eq 5 ] && pass "race: one serial from 6 processes, exactly 1 allowed" ||
	fail "race: one serial from 6 processes, exactly 1 allowed" "$nok allowed, $nrej rejected: $(tr '\n' '|' <"$out/serial.all")"
n=$(audit_count "$d" "r.get('reason_code') == $(reason_code serial.reused)")
[ "${n:-0}" -eq 6 ] && pass "race: 5 more serial.reused records (6 in all)" ||
	fail "race: 5 more serial.reused records (6 in all)" "found ${n:-0}"
race sanset s0:cn=race.example.test s1:cn=race.example.test s2:cn=race.example.test \
	s3:cn=race.example.test s4:cn=race.example.test s5:cn=race.example.test
nok=$(grep -c ' OK ' "$out/sanset.all"); nrej=$(grep -c 'ERR CKR_FUNCTION_REJECTED' "$out/sanset.all")
[ "$nok" -eq 2 ] && [ "$nrej" -eq 4 ] && pass "race: perSANSet burst 2 from 6 processes, exactly 2 allowed" ||
	fail "race: perSANSet burst 2 from 6 processes, exactly 2 allowed" "$nok allowed, $nrej rejected: $(tr '\n' '|' <"$out/sanset.all")"
n=$(audit_count "$d" "r.get('reason_code') == $(reason_code rate.san_set)")
[ "${n:-0}" -eq 4 ] && pass "race: 4 rate.san_set records" || fail "race: 4 rate.san_set records" "found ${n:-0}"

# ---- state survives a restart (rebuilt from the log) --------------------------------
if ca_restart; then
	client "again:serial=$S,cn=again.example.test" s6:cn=race.example.test
	expect_refused "after restart: serial S still reused" again serial.reused
	expect_refused "after restart: SAN-set bucket still full" s6 rate.san_set
else fail "restart"; fi
h=$(sha256sum "$E2E_POL/rules.json" | cut -d' ' -f1)
n=$(audit_count "$d" "r.get('policy_sha256') != '$h'")
[ "${n:-1}" -eq 0 ] && pass "audit: every sign record carries the policy hash" ||
	fail "audit: every sign record carries the policy hash" "$n records without $h"

# ---- SIGHUP reload -------------------------------------------------------------------
client x1:cn=x.example.test
expect_ok "x.example.test allowed before the reload" x1
if e2e_reload "$d" "$E2E_POL/rules-deny-x.json"; then
	pass "reload of rules-deny-x.json"
	hx=$(sha256sum "$E2E_POL/rules-deny-x.json" | cut -d' ' -f1)
	n=$(audit_show "$d" --type policy | grep -c "\"policy_sha256\":\"$hx\"")
	[ "${n:-0}" -ge 1 ] && pass "audit: policy record with the new hash" ||
		fail "audit: policy record with the new hash" "$(audit_show "$d" --type policy | cut -c1-300 | tr '\n' '|')"
	client x2:cn=x.example.test y1:cn=y.example.test s7:cn=race.example.test
	expect_refused "after reload: x.example.test" x2 name.dns.denied
	expect_ok "after reload: y.example.test still allowed" y1
	expect_refused "after reload: the SAN-set bucket is still full" s7 rate.san_set
	n=$(audit_count "$d" "r.get('decision') == 0 and r.get('reason_code') == $(reason_code name.dns.denied) and r.get('policy_sha256') == '$hx'")
	[ "${n:-0}" -eq 1 ] && pass "audit: the refusal carries the new policy hash" ||
		fail "audit: the refusal carries the new policy hash" "found ${n:-0}"

	# A broken policy: SIGHUP keeps the old one and the log says why.
	cp "$E2E_POL/rules-broken.json" "$d/policy.json"
	if declare -F warden_reload >/dev/null; then
		warden_reload "$d" >"$T_TMP/reload.out" 2>&1 &&
			fail "broken policy: reload reports the old policy kept" "warden_reload said reloaded"
	else
		kill -HUP "$WARDEN_PID"
		for _ in $(seq 1 100); do log_has "$d" '10\.9\.8\.7/8' && break; sleep 0.05; done
	fi
	if log_has "$d" 'ips\[0\].*10\.9\.8\.7/8|10\.9\.8\.7/8.*host bits'; then
		pass "broken policy: enclave log names the error"
	else fail "broken policy: enclave log names the error" "$(tail -n 3 "$d/enclave.log" | tr '\n' '|')"; fi
	kill -0 "$WARDEN_PID" 2>/dev/null && pass "broken policy: enclave still running" ||
		fail "broken policy: enclave still running"
	client x3:cn=x.example.test y2:cn=y.example.test
	expect_refused "broken policy: old policy kept, x.example.test" x3 name.dns.denied
	expect_ok "broken policy: enclave still serving (y.example.test)" y2
	hb=$(sha256sum "$E2E_POL/rules-broken.json" | cut -d' ' -f1)
	n=$(audit_show "$d" | grep -c "$hb")
	[ "${n:-1}" -eq 0 ] && pass "audit: the broken policy's hash appears nowhere" ||
		fail "audit: the broken policy's hash appears nowhere" "$n records"
	n=$(audit_count "$d" "r.get('reason_code') == $(reason_code name.dns.denied) and r.get('policy_sha256') == '$hx'")
	[ "${n:-0}" -eq 2 ] && pass "audit: refusal under the kept policy carries its hash" ||
		fail "audit: refusal under the kept policy carries its hash" "found ${n:-0}"

	# The policy file gone: SIGHUP keeps the policy in force too.
	rm -f "$d/policy.json"
	if declare -F warden_reload >/dev/null && warden_reload "$d" >"$T_TMP/reload.out" 2>&1; then
		fail "missing policy file: SIGHUP keeps the policy in force" "reported reloaded"
	else
		client x4:cn=x.example.test y3:cn=z.example.test
		[ "$(res_rv x4)" = CKR_FUNCTION_REJECTED ] && [ "$(res_state y3)" = OK ] &&
			pass "missing policy file: SIGHUP keeps the policy in force" ||
			fail "missing policy file: SIGHUP keeps the policy in force" "x4: ${RES[x4]:-} y3: ${RES[y3]:-}"
	fi

	# A broken policy at start-up: the enclave refuses to start and says why.
	warden_stop
	cp "$E2E_POL/rules-broken.json" "$d/policy.json"
	mv "$d/enclave.log" "$d/enclave.log.before-broken"
	if warden_start "$d" >"$T_TMP/start.out" 2>&1; then
		fail "broken policy at start-up: the enclave does not start" "it started"
		warden_stop
	elif log_has "$d" '10\.9\.8\.7/8'; then
		pass "broken policy at start-up: the enclave does not start, the log says why"
	else fail "broken policy at start-up: the enclave does not start, the log says why" "$(tail -n 2 "$d/enclave.log" | tr '\n' '|')"; fi
	cp "$E2E_POL/rules-deny-x.json" "$d/policy.json"
	warden_start "$d" >/dev/null || fail "restart with rules-deny-x.json"
else
	fail "reload of rules-deny-x.json" "(the SIGHUP tests need it)"
fi
check "warden-audit verify" "$WARDEN_AUDIT" verify "$d/audit" --pubkey "$d/audit/audit.pub"
warden_stop

# ---- a P-256 CA: CKM_ECDSA_SHA256 ------------------------------------------------------
d=$T_TMP/p256
if e2e_ca_up "$d" p256 "$E2E_POL/rules.json"; then
	client p-good p-alg:hash=sha384 p-evil:cn=evil.example,san=evil.example
	expect_ok "P-256: allowed TBS signed, certificate verifies" p-good
	expect_refused "P-256: ecdsa-with-SHA384 TBS with CKM_ECDSA_SHA256" p-alg \
		signature.algorithm_mismatch
	expect_refused "P-256: dNSName not allowed" p-evil name.dns.not_allowed
	check_decision "P-256: decision line names CKM_ECDSA_SHA256" "$d" refused \
		signature.algorithm_mismatch "mech=CKM_ECDSA_SHA256"
	warden_stop
else fail "P-256 setup"; fi
echo "# e2e_policy_rules: $(elapsed_since "$T0")s"
t_done
