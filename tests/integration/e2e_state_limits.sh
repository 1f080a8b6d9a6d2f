#!/bin/bash
# e2e_state_limits.sh - the policy state's bounds come from enclave.json ("state":
# max_serials, max_buckets, max_revocations) and hold across restarts, through a real
# full-TBS client (PyKCS11, tests/policy/e2e/rules_client.py) under rules.json:
#   - with max_serials 3, three certificates (30 days, so none has expired) are signed
#     and the fourth is refused with state.full (fail closed, recorded);
#   - after a restart with the same bound the state rebuilt from the log is still full;
#   - raised to 10 the enclave signs again, and the serials issued before are still
#     counted (seven more fit, the eighth does not);
#   - lowered to 5 below the 10 unexpired serials the log holds, the enclave refuses to
#     start (it would forget serials) and says to raise "state"; back at 10 it starts;
#   - a bound out of range stops the enclave at start-up with the JSON path.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_policy_lib.sh"

"$SYS_PYTHON" -c 'import PyKCS11, cryptography' 2>/dev/null ||
	{ skip state_limits "python3-pykcs11 or python3-cryptography not installed"; exit 0; }
d=$T_TMP/ca
out=$T_TMP/out
mkdir -p "$out"
CA_PIN=${WARDEN_PIN:-1234}

# set_state JSON: replaces enclave.json's "state" object.
set_state() {
	"$SYS_PYTHON" - "$d/enclave.json" "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["state"] = json.loads(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
}
expect_full() {
	if [ "$(res_state "$2")" = ERR ] && [ "$(res_rv "$2")" = CKR_FUNCTION_REJECTED ]; then
		pass "$1: CKR_FUNCTION_REJECTED"
	else fail "$1: CKR_FUNCTION_REJECTED" "case $2: ${RES[$2]:-no answer}"; fi
}

# expect_start_refused NAME REGEX: the enclave does not start, and its log says REGEX.
expect_start_refused() {
	if warden_start "$d" 2>/dev/null; then
		fail "$1: start refused" "the enclave started"
		warden_stop
	else
		check "$1: start refused, saying why" grep -Eq "$2" "$d/enclave.log"
	fi
}

e2e_ca_up "$d" p256 "$E2E_POL/rules.json" || { fail "setup" "CA did not come up"; t_done; exit; }
warden_stop
set_state '{"max_serials": 3}'
warden_start "$d" || { fail "starts with max_serials 3"; t_done; exit; }

client s1:cn=s1.example.test s2:cn=s2.example.test s3:cn=s3.example.test
for c in s1 s2 s3; do expect_ok "max_serials 3: $c signed" "$c"; done
client s4:cn=s4.example.test
expect_full "max_serials 3: the fourth is refused" s4
check_decision "max_serials 3: enclave log says state.full" "$d" refused state.full
check_audit_refusal "max_serials 3: audit record with state.full" "$d" state.full

warden_stop
warden_start "$d" || { fail "restarts with max_serials 3"; t_done; exit; }
client s5:cn=s5.example.test
expect_full "after a restart: the state rebuilt from the log is still full" s5

warden_stop
set_state '{"max_serials": 10, "max_buckets": 1000, "max_revocations": 1000}'
warden_start "$d" || { fail "restarts with max_serials 10"; t_done; exit; }
cases=()
for i in 6 7 8 9 10 11 12; do cases+=("s$i:cn=s$i.example.test"); done
client "${cases[@]}"
n=0
for i in 6 7 8 9 10 11 12; do [ "$(res_state "s$i")" = OK ] && n=$((n + 1)); done
if [ "$n" -eq 7 ]; then pass "max_serials 10: seven more signed"
else fail "max_serials 10: seven more signed" "$n signed: $(tr '\n' ' ' <"$out/client.last")"; fi
client s13:cn=s13.example.test
expect_full "max_serials 10: the eleventh serial is refused (the first three still count)" s13

warden_stop
set_state '{"max_serials": 5}'
expect_start_refused "max_serials 5 below the log's 10 serials" \
	'do not fit the policy state \(state\.max_serials 5'
set_state '{"max_serials": 10}'
if warden_start "$d"; then
	pass "back at max_serials 10: starts"
	client s14:cn=s14.example.test
	expect_full "back at max_serials 10: still full" s14
	warden_stop
else fail "back at max_serials 10: starts" "$(tail -n 2 "$d/enclave.log")"; fi
set_state '{"max_serials": 0}'
expect_start_refused "max_serials 0" '\$\.state\.max_serials: must be an integer from 1'
check "warden-audit verify" "$WARDEN_AUDIT" verify "$d/audit" --pubkey "$d/audit/audit.pub"
t_done
