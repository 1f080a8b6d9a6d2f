#!/bin/bash
# badinput_pin.sh - wrong user PINs through lockout, with real clients (a long-lived
# PyKCS11 process and pkcs11-tool; not libp11, which segfaults after a wrong PIN).
# The token flags show COUNT_LOW after a failure, FINAL_TRY before the last attempt and
# LOCKED after pin_max_failures (5); then the right PIN is CKR_PIN_LOCKED, also after
# an enclave restart.
. "$(dirname "$0")/../lib.sh"

COUNT_LOW=$((0x10000)) FINAL_TRY=$((0x20000)) LOCKED=$((0x40000))
MAX_FAILURES=5
[ "$T_TARGET" = softhsm ] && MAX_FAILURES=10 # SoftHSMv2's fixed limit

# flags_expect NAME SET CLEAR: token flags (agent) have every bit of SET and none of CLEAR.
flags_expect() {
	local name=$1 set=$2 clear=$3 f
	agent flags
	case "$AGENT_REPLY" in
	OK\ *) f=$((0x${AGENT_REPLY#OK }))
		if [ $((f & set)) -eq "$set" ] && [ $((f & clear)) -eq 0 ]; then pass "$name"
		else fail "$name" "token flags 0x$(printf %x $f)"; fi ;;
	*) fail "$name" "C_GetTokenInfo: $AGENT_REPLY" ;;
	esac
}

d=$T_TMP/p256
ca_up "$d" p256 || { fail setup; t_done; exit; }
agent_start
agent_expect "agent initialises" "OK" init
flags_expect "fresh token: no PIN flags" 0 $((COUNT_LOW | FINAL_TRY | LOCKED))

# One failure, then success resets the count.
agent_expect "wrong PIN is CKR_PIN_INCORRECT" "ERR CKR_PIN_INCORRECT" login 9999
flags_expect "after one failure: COUNT_LOW" $COUNT_LOW $((FINAL_TRY | LOCKED))
agent_expect "right PIN after one failure logs in" "OK" login "$CA_PIN"
flags_expect "success clears COUNT_LOW" 0 $((COUNT_LOW | FINAL_TRY | LOCKED))
agent_expect "sign while logged in" "OK *" sign
agent_expect "logout" "OK" logout
agent_expect "second logout is CKR_USER_NOT_LOGGED_IN" "ERR CKR_USER_NOT_LOGGED_IN" logout

# pkcs11-tool with a wrong PIN counts as well, and fails cleanly.
if pkcs11-tool --module "$CA_MODULE" --login --pin 0000 -O >"$T_TMP/p11t" 2>&1; then
	fail "pkcs11-tool wrong PIN refused" "logged in"
elif grep -q CKR_PIN_INCORRECT "$T_TMP/p11t"; then pass "pkcs11-tool wrong PIN refused"
else fail "pkcs11-tool wrong PIN refused" "$(tr '\n' ' ' <"$T_TMP/p11t")"; fi

# Through lockout: failure 1 was pkcs11-tool's.
for i in $(seq 2 $((MAX_FAILURES - 1))); do
	agent_expect "wrong PIN $i of $MAX_FAILURES" "ERR CKR_PIN_INCORRECT" login 8888
done
flags_expect "one attempt left: FINAL_TRY" $((COUNT_LOW | FINAL_TRY)) $LOCKED
agent_expect "wrong PIN $MAX_FAILURES of $MAX_FAILURES" "ERR CKR_PIN_@(INCORRECT|LOCKED)" \
	login 7777
flags_expect "after $MAX_FAILURES failures: LOCKED" $LOCKED 0
agent_expect "right PIN when locked is CKR_PIN_LOCKED" "ERR CKR_PIN_LOCKED" login "$CA_PIN"
agent_expect "sign when locked: not logged in" "ERR CKR_@(USER_NOT_LOGGED_IN|KEY_HANDLE_INVALID)" sign

if [ "$T_TARGET" = warden ]; then
	agent_stop
	ca_restart || fail "enclave restart"
	if pkcs11-tool --module "$CA_MODULE" -L 2>&1 | grep -q 'user PIN locked'; then
		pass "lockout survives an enclave restart (pkcs11-tool -L: user PIN locked)"
	else fail "lockout survives an enclave restart" "pkcs11-tool -L shows no lock"; fi
	if pkcs11-tool --module "$CA_MODULE" --login --pin "$CA_PIN" -O >"$T_TMP/p11t" 2>&1; then
		fail "right PIN after restart is CKR_PIN_LOCKED" "logged in"
	elif grep -q CKR_PIN_LOCKED "$T_TMP/p11t"; then
		pass "right PIN after restart is CKR_PIN_LOCKED"
	else fail "right PIN after restart is CKR_PIN_LOCKED" "$(tr '\n' ' ' <"$T_TMP/p11t")"; fi
	agent_start
	agent_expect "new client initialises" "OK" init
	flags_expect "new client sees LOCKED" $LOCKED 0
	agent_expect "new client: right PIN is CKR_PIN_LOCKED" "ERR CKR_PIN_LOCKED" login "$CA_PIN"
	agent_expect "SO login is CKR_USER_TYPE_INVALID" "ERR CKR_USER_TYPE_INVALID" login_so 0000
fi
agent_stop
t_done
