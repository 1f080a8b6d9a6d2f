#!/bin/bash
# e2e_audit_restart.sh - the enclave's state is rebuilt from the audit log at start-up
# (issue 4 §4, §6 "Restart keeps rate limits, serial uniqueness and PIN lockouts").
#  A: perKey rate limit 3 per hour, burst 3: three certificates allowed, the fourth
#     refused (rate.key); after a restart the fifth is still refused.  PIN failures
#     (pkcs11-tool and PyKCS11, not libp11) count across a restart and the lockout
#     survives one, with state_dir/pin-state removed (the log is the only memory).
#  B: a serial issued before a restart is refused after it (serial.reused); a clean
#     SIGTERM leaves a checkpoint that `warden-audit verify --checkpoint` accepts; cutting
#     the log below that checkpoint is detected by verify, and the enclave refuses to
#     start with a message naming the file and the offset.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

COUNT_LOW=$((0x10000)) FINAL_TRY=$((0x20000)) LOCKED=$((0x40000))

# flags_expect NAME SET CLEAR: token flags (p11 agent) have every bit of SET and none of CLEAR.
flags_expect() {
	local name=$1 set=$2 clear=$3 f
	p11a flags
	case "$P11A_REPLY" in
	OK\ *) f=$((0x${P11A_REPLY#OK }))
		if [ $((f & set)) -eq "$set" ] && [ $((f & clear)) -eq 0 ]; then pass "$name"
		else fail "$name" "token flags 0x$(printf %x $f)"; fi ;;
	*) fail "$name" "C_GetTokenInfo: $P11A_REPLY" ;;
	esac
}
# p11tool_login_fails NAME CKR PIN: pkcs11-tool --login with PIN fails with CKR.
p11tool_login_fails() {
	check_fails_with "$1" "$2" pkcs11-tool --module "$CA_MODULE" --login --pin "$3" -O
}

# ---- A: rate limit and PIN lockout ---------------------------------------------------------
e2e_write_policy "$T_TMP/policy-rate.json" '{ "count": 3, "period": "1h", "burst": 3 }'
a=$T_TMP/rate
if audit_ca_up "$a" p256 "$T_TMP/policy-rate.json"; then
	p11a_start
	p11a_expect "A login" "OK" login "$CA_PIN"
	for i in 1 2 3; do
		p11a_expect "A certificate $i of burst 3 allowed" "OK *" issue "r$i.example.internal" - 30 "$T_TMP/r$i.pem"
	done
	p11a_expect "A 4th certificate refused" "ERR CKR_FUNCTION_REJECTED" issue r4.example.internal - 30 "$T_TMP/r4.pem"
	expect_refused "A 4th" rate.key 80
	p11a_stop
	audit_restart || fail "A restart"
	check "A after SIGTERM: warden-audit verify --checkpoint" audit_verify "$a" --checkpoint
	p11a_start
	p11a_expect "A login after restart" "OK" login "$CA_PIN"
	p11a_expect "A 5th certificate still refused after the restart" "ERR CKR_FUNCTION_REJECTED" \
		issue r5.example.internal - 30 "$T_TMP/r5.pem"
	expect_refused "A 5th after restart" rate.key 80
	p11a_expect "A logout" "OK" logout

	# PIN failures: 2 before a restart, 3 after (pin_max_failures 5), lock survives.
	p11tool_login_fails "A wrong PIN 1 (pkcs11-tool)" CKR_PIN_INCORRECT 0000
	p11a_expect "A wrong PIN 2 (PyKCS11)" "ERR CKR_PIN_INCORRECT" login 9999
	p11a_stop
	rm -f "$a/state/pin-state"
	audit_restart || fail "A restart after 2 PIN failures"
	p11a_start
	flags_expect "A after restart: 2 failures remembered (COUNT_LOW)" $COUNT_LOW $LOCKED
	p11a_expect "A wrong PIN 3" "ERR CKR_PIN_INCORRECT" login 8888
	p11tool_login_fails "A wrong PIN 4 (pkcs11-tool)" CKR_PIN_INCORRECT 0000
	flags_expect "A one attempt left: FINAL_TRY" $FINAL_TRY $LOCKED
	p11a_expect "A wrong PIN 5" "ERR CKR_PIN_@(INCORRECT|LOCKED)" login 7777
	flags_expect "A after 5 failures: LOCKED" $LOCKED 0
	p11a_expect "A right PIN when locked: CKR_PIN_LOCKED" "ERR CKR_PIN_LOCKED" login "$CA_PIN"
	p11a_stop
	rm -f "$a/state/pin-state"
	audit_restart || fail "A restart when locked"
	if pkcs11-tool --module "$CA_MODULE" -L 2>&1 | grep -q 'user PIN locked'; then
		pass "A lockout survives a restart (pkcs11-tool -L: user PIN locked)"
	else fail "A lockout survives a restart" "pkcs11-tool -L shows no lock"; fi
	p11tool_login_fails "A right PIN after restart: CKR_PIN_LOCKED (pkcs11-tool)" CKR_PIN_LOCKED "$CA_PIN"
	p11a_start
	p11a_expect "A right PIN after restart: CKR_PIN_LOCKED (PyKCS11)" "ERR CKR_PIN_LOCKED" login "$CA_PIN"
	p11a_stop
	warden_stop
	# Every attempt is counted (login_fail) before the PIN is compared; a good PIN then
	# resets the count (login_ok).  The five wrong ones count 1..5 across the restarts.
	got=$(audit_show "$a" 2>/dev/null | "$SYS_PYTHON" -c '
import json, sys
seq = []
for line in sys.stdin:
    r = json.loads(line)
    if r["type"] == "login_ok":
        seq = []
    elif r["type"] == "login_fail":
        seq.append(r["body"].get("failures"))
print(",".join(map(str, seq)))')
	check_eq "A login_fail records count 1..5 across the restart" "$got" "1,2,3,4,5"
	n=$(audit_count "$a" "r['type']=='lockout'")
	if [ "$n" -ge 1 ]; then pass "A lockout record"; else fail "A lockout record" "none"; fi
	check "A log verifies --checkpoint" audit_verify "$a" --checkpoint
else
	fail "A setup"
fi

# ---- B: serial uniqueness, checkpoint, truncation ------------------------------------------
e2e_write_policy "$T_TMP/policy.json"
b=$T_TMP/serial
SERIAL=5eda1a77e57ab1e0c0ffee0123456789
if audit_ca_up "$b" p256 "$T_TMP/policy.json"; then
	# What warden-admin init leaves for the log: the audit key pair and the genesis.
	check_eq "B audit.key is 0600" "$(stat -c %a "$b/audit.key" 2>&1)" 600
	check "B audit/audit.pub exists" test -s "$b/audit/audit.pub"
	check_eq "B record 0 is the genesis, with the audit public key" \
		"$(audit_count "$b" "r['seq']==0 and r['type']=='genesis' and 'audit_pubkey' in b")" 1
	p11a_start
	p11a_expect "B login" "OK" login "$CA_PIN"
	p11a_expect "B serial $SERIAL issued" "OK *" issue s1.example.internal "$SERIAL" 30 "$T_TMP/s1.pem"
	p11a_expect "B same serial again refused (same run)" "ERR CKR_FUNCTION_REJECTED" \
		issue s1b.example.internal "$SERIAL" 30 "$T_TMP/s1b.pem"
	p11a_stop
	audit_restart || fail "B restart"
	p11a_start
	p11a_expect "B login after restart" "OK" login "$CA_PIN"
	p11a_expect "B same serial after the restart refused" "ERR CKR_FUNCTION_REJECTED" \
		issue s2.example.internal "$SERIAL" 30 "$T_TMP/s2.pem"
	expect_refused "B serial after restart" serial.reused 73
	p11a_expect "B a new serial after the restart allowed" "OK *" issue s3.example.internal - 30 "$T_TMP/s3.pem"
	p11a_stop
	warden_stop
	check "B shutdown record" test "$(audit_count "$b" "r['type']=='shutdown'")" -ge 2
	check "B after SIGTERM: warden-audit verify --checkpoint" audit_verify "$b" --checkpoint

	# Cut the log two records below what checkpoint.txt covers.
	size=$(sed -n 2p "$b/audit/checkpoint.txt")
	where=$(audit_show "$b" 2>/dev/null | "$SYS_PYTHON" -c '
import json, sys
want = int(sys.argv[1]) - 2
for line in sys.stdin:
    r = json.loads(line)
    if r["seq"] == want:
        print(r["file"], r["offset"])' "$size")
	echo "# checkpoint.txt covers $size records; cutting at record $((size - 2)): $where"
	if [ -n "$where" ]; then
		set -- $where
		truncate -s "$2" "$b/audit/$1"
		check_fails_with "B truncated below the checkpoint: verify --checkpoint fails" \
			'truncat|checkpoint|fewer' audit_verify "$b" --checkpoint
		timeout 20 "$WARDEN_ENCLAVE" --config "$b/enclave.json" >"$T_TMP/trunc.log" 2>&1
		rc=$?
		if [ $rc -eq 124 ]; then fail "B enclave refuses to start on a truncated log" "it started"
		elif [ $rc -eq 0 ]; then fail "B enclave refuses to start on a truncated log" "exit 0"
		else pass "B enclave refuses to start on a truncated log (exit $rc)"; fi
		if grep -Eq "$1.*(byte|offset) [0-9]+" "$T_TMP/trunc.log"; then
			pass "B the refusal names the file and the offset"
		else fail "B the refusal names the file and the offset" "$(tr '\n' ' ' <"$T_TMP/trunc.log")"; fi
	else
		fail "B record $((size - 2)) found in the log" "no such record"
	fi
else
	fail "B setup"
fi
t_done
