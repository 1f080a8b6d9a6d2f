#!/bin/bash
# admin_pin_unlock.sh - `warden-admin pin unlock CONFIG [--reason TEXT]` (docs/man/warden-admin.8).
#   The PIN is locked with wrong PINs (pkcs11-tool) while a PyKCS11 client stays logged in
#   and signs on, so that state snapshots (audit.snapshot_records 4) are taken AFTER the
#   lockout: the enclave then starts from a snapshot that holds the locked count.  The
#   right PIN is CKR_PIN_LOCKED, also after a restart.  `pin unlock` while the enclave
#   runs is refused ("stop the enclave first"); stopped, it appends an operator login_ok
#   record (reason, caller_uid, caller_pid) and a checkpoint, and says the PIN was locked
#   with 5 failures.  After a start the right PIN logs in and signs; `warden-audit show`
#   lists the unlock record; `warden-audit verify --pubkey --checkpoint` passes.  An unlock
#   with no failures is allowed and says so.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

MAX_FAILURES=5
REASON="ticket OPS-42: locked by a typo"

# snap_config DIR: a snapshot every 4 records, fast start (verify from the snapshot on).
snap_config() {
	"$SYS_PYTHON" - "$1/enclave.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
a = c.setdefault("audit", {})
a["snapshot_records"] = 4
a["fast_start"] = True
json.dump(c, open(p, "w"), indent=2)
PY
}
p11tool_login() {
	pkcs11-tool --module "$CA_MODULE" --login --pin "$1" -O
}
# unlock_record_count DIR: login_ok records that are operator unlocks with our reason.
unlock_record_count() {
	audit_count "$1" "r['type']=='login_ok' and b.get('reason')=='$REASON' and \
'operator' in b.get('text','') and b.get('caller_uid')==$(id -u) and 'caller_pid' in b"
}

d=$T_TMP/p256
if ! { warden_setup "$d" p256 && snap_config "$d" && warden_start "$d"; }; then
	fail setup; t_done; exit 1
fi
CA_DIR=$d CA_CERT=$d/ca.pem CA_MODULE=$WARDEN_MODULE
san_client_env
CA_ID=$(pkcs11-tool --module "$CA_MODULE" -O --type cert 2>/dev/null | sed -n 's/^ *ID: *//p' | head -n 1)
[ -n "$CA_ID" ] || { fail "setup" "no certificate object"; t_done; exit 1; }

# ---- lock the PIN; a logged-in client signs on, so snapshots follow the lockout ----------
agent_start
agent_expect "client initialises" "OK" init
agent_expect "client logs in" "OK" login "$CA_PIN"
agent_expect "client signs" "OK *" sign
for i in $(seq 1 $MAX_FAILURES); do
	check_fails_with "wrong PIN $i of $MAX_FAILURES (pkcs11-tool)" \
		'CKR_PIN_(INCORRECT|LOCKED)' p11tool_login 0000
done
check_fails_with "right PIN when locked: CKR_PIN_LOCKED" CKR_PIN_LOCKED p11tool_login "$CA_PIN"
for i in 1 2 3 4 5 6; do
	agent_expect "logged-in client signs after the lockout ($i)" "OK *" sign
done
agent_expect "client logs out" "OK" logout
agent_stop

check_fails_with "pin unlock while the enclave runs is refused: stop the enclave first" \
	'stop the enclave first' "$WARDEN_ADMIN" pin unlock "$d/enclave.json" --reason "$REASON"
check "the enclave still runs after the refused unlock" enclave_alive

warden_stop
lock_seq=$(audit_show "$d" 2>/dev/null | "$SYS_PYTHON" -c '
import json, sys
print(max([json.loads(l)["seq"] for l in sys.stdin if json.loads(l)["type"] == "lockout"] or [-1]))')
n=$(audit_count "$d" "r['type']=='snapshot' and r['seq']>$lock_seq")
if [ "$lock_seq" -ge 0 ] && [ "$n" -ge 1 ]; then
	pass "a state snapshot was taken after the lockout record ($lock_seq)"
else fail "a state snapshot after the lockout" "lockout at $lock_seq, $n snapshots after it"; fi

# The lockout survives a restart from that snapshot.
warden_start "$d" || fail "restart when locked"
if grep -q 'state from the snapshot at record' "$d/enclave.log" &&
	grep -q "PIN failures $MAX_FAILURES" "$d/enclave.log"; then
	pass "restart from a snapshot keeps $MAX_FAILURES failures"
else fail "restart from a snapshot keeps $MAX_FAILURES failures" "$(grep -E 'snapshot|PIN failures' "$d/enclave.log" | tr '\n' ' ')"; fi
check_fails_with "right PIN after the restart: CKR_PIN_LOCKED" CKR_PIN_LOCKED p11tool_login "$CA_PIN"
warden_stop

# ---- unlock -----------------------------------------------------------------------------
"$WARDEN_ADMIN" pin unlock "$d/enclave.json" --reason "$REASON" >"$T_TMP/unlock.out" 2>&1
rc=$?
cat "$T_TMP/unlock.out"
if [ $rc -eq 0 ] && grep -q 'PIN unlocked: record [0-9]' "$T_TMP/unlock.out" &&
	grep -q "the PIN was locked: $MAX_FAILURES failures" "$T_TMP/unlock.out"; then
	pass "pin unlock with the enclave stopped: record written, $MAX_FAILURES failures before"
else fail "pin unlock with the enclave stopped" "exit $rc: $(tr '\n' ' ' <"$T_TMP/unlock.out")"; fi
useq=$(sed -n 's/^PIN unlocked: record \([0-9]*\) .*/\1/p' "$T_TMP/unlock.out")
check_eq "warden-audit show lists the unlock record (reason, caller uid and pid)" \
	"$(unlock_record_count "$d")" 1
check_eq "the unlock record is the one pin unlock named" \
	"$(audit_count "$d" "r['seq']==${useq:-0} and r['type']=='login_ok'")" 1
size=$(sed -n 2p "$d/audit/checkpoint.txt")
if [ -n "$useq" ] && [ -n "$size" ] && [ "$size" -gt "$useq" ]; then
	pass "checkpoint.txt covers the unlock record ($size > $useq)"
else fail "checkpoint.txt covers the unlock record" "size '$size', record '$useq'"; fi
check "warden-audit verify --pubkey --checkpoint after the unlock" audit_verify "$d" --checkpoint

warden_start "$d" || fail "start after the unlock"
if grep -q 'state from the snapshot at record' "$d/enclave.log" &&
	grep -q 'PIN failures 0' "$d/enclave.log"; then
	pass "start from the snapshot replays the unlock: PIN failures 0"
else fail "start replays the unlock" "$(grep -E 'snapshot|PIN failures' "$d/enclave.log" | tr '\n' ' ')"; fi
check "right PIN after the unlock logs in (pkcs11-tool)" p11tool_login "$CA_PIN"
agent_start
agent_expect "client initialises after the unlock" "OK" init
agent_expect "client logs in after the unlock" "OK" login "$CA_PIN"
agent_expect "client signs after the unlock" "OK *" sign
agent_expect "client logs out" "OK" logout
agent_stop
warden_stop
check "warden-audit verify --pubkey --checkpoint after the restart" audit_verify "$d" --checkpoint

# ---- an unlock with nothing to clear is allowed and says so -------------------------------
"$WARDEN_ADMIN" pin unlock "$d/enclave.json" >"$T_TMP/unlock2.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'not locked and had no failures' "$T_TMP/unlock2.out"; then
	pass "pin unlock with no failures: allowed, says so"
else fail "pin unlock with no failures" "exit $rc: $(tr '\n' ' ' <"$T_TMP/unlock2.out")"; fi
check "verify --checkpoint after the second unlock" audit_verify "$d" --checkpoint
check_fails_with "pin unlock of a missing config fails" 'cannot read' \
	"$WARDEN_ADMIN" pin unlock "$T_TMP/nonexistent.json"
check_fails_with "pin unlock --reason with a newline is refused" 'reason' \
	"$WARDEN_ADMIN" pin unlock "$d/enclave.json" --reason "$(printf 'a\nb')"
t_done
