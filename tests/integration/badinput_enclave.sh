#!/bin/bash
# badinput_enclave.sh - the enclave going away under real clients, and clients going away
# under the enclave:
#  - the enclave killed (SIGKILL) mid-request: the client gets CKR_DEVICE_ERROR;
#  - the enclave not running: clean errors, no crash (PyKCS11, pkcs11-tool);
#  - the enclave restarted: the same long-lived client reconnects, its ticket is gone
#    (CKR_USER_NOT_LOGGED_IN, docs/architecture.md), it logs in again and signs;
#  - clients that disconnect mid-request (raw socket: partial frames; a signing PyKCS11
#    process killed mid-transfer): the enclave keeps serving good clients.
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$T_TARGET" != warden ]; then skip badinput_enclave "needs the enclave"; exit 0; fi

# not_crashed NAME RC: PASS when a client exited by itself (not killed by a signal).
not_crashed() {
	if [ "$2" -lt 128 ]; then pass "$1"; else fail "$1" "exit status $2 (signal)"; fi
}

d=$T_TMP/p256
ca_up "$d" p256 || { fail setup; t_done; exit; }
agent_start
agent_expect "client initialises" "OK" init
agent_expect "client logs in" "OK" login "$CA_PIN"
agent_expect "client signs" "OK 64" sign

# --- killed mid-request -------------------------------------------------------------
# SIGSTOP is asynchronous for a multi-threaded process: wait until every thread is stopped,
# else a connection thread can still serve the request under load.
all_stopped() {
	local st
	for st in /proc/"$1"/task/*/stat; do
		[ "$(sed 's/^.*) \(.\).*/\1/' "$st")" = T ] || return 1
	done
}
kill -STOP "$WARDEN_PID"
for _ in $(seq 1 100); do all_stopped "$WARDEN_PID" && break; sleep 0.02; done
all_stopped "$WARDEN_PID" || fail "enclave stopped with SIGSTOP" "threads still running"
echo sign >&"${AGENT[1]}"
sleep 0.5
kill -KILL "$WARDEN_PID"
wait "$WARDEN_PID" 2>/dev/null
IFS= read -r -t 30 AGENT_REPLY <&"${AGENT[0]}" || AGENT_REPLY="EXC no answer"
if [ "$AGENT_REPLY" = "ERR CKR_DEVICE_ERROR" ]; then
	pass "enclave killed mid-request: CKR_DEVICE_ERROR"
else fail "enclave killed mid-request: CKR_DEVICE_ERROR" "got '$AGENT_REPLY'"; fi

# --- not running ------------------------------------------------------------------
agent_expect "enclave gone: next sign is CKR_DEVICE_ERROR" "ERR CKR_DEVICE_ERROR" sign
agent_expect "enclave gone: token info does not crash" "@(OK|ERR) *" flags
rm -f "$d/enclave.sock" # also: no socket at all
agent_expect "no socket: sign is CKR_DEVICE_ERROR" "ERR CKR_DEVICE_ERROR" sign
pkcs11-tool --module "$CA_MODULE" -L >"$T_TMP/L" 2>&1
not_crashed "pkcs11-tool -L with no enclave exits cleanly" $?
pkcs11-tool --module "$CA_MODULE" --login --pin "$CA_PIN" -O >"$T_TMP/O" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -lt 128 ]; then pass "pkcs11-tool --login with no enclave fails cleanly"
else fail "pkcs11-tool --login with no enclave fails cleanly" "exit $rc: $(tr '\n' ' ' <"$T_TMP/O")"
fi
PYTHONPATH=$HERE "$SYS_PYTHON" - "$CA_MODULE" "$CA_PIN" >"$T_TMP/py" 2>&1 <<'PY'
import sys
import p11client as pc
try:
    tok = pc.Token(sys.argv[1])
    tok.login(sys.argv[2])
    print("logged in with no enclave")
    sys.exit(2)
except pc.P11Error as e:
    print("error", e)
except Exception as e:  # PyKCS11Error from the high-level calls
    print("error", e)
PY
rc=$?
if [ $rc -eq 0 ]; then pass "PyKCS11 with no enclave gets an error ($(tr '\n' ' ' <"$T_TMP/py"))"
else fail "PyKCS11 with no enclave gets an error" "exit $rc: $(tr '\n' ' ' <"$T_TMP/py")"; fi

# --- restarted: reconnect, log in again -----------------------------------------------
ca_restart || fail "enclave restart"
agent_expect "after restart: the old ticket is gone (CKR_USER_NOT_LOGGED_IN)" \
	"ERR CKR_USER_NOT_LOGGED_IN" sign
agent_expect "after restart: log in again" "OK" login "$CA_PIN"
agent_expect "after restart: sign works" "OK 64" sign

# --- clients that disconnect mid-request --------------------------------------------
check "raw socket clients disconnect mid-frame" \
	"$SYS_PYTHON" "$HERE/badinput_rawsock.py" "$d/enclave.sock"
PYTHONPATH=$HERE "$SYS_PYTHON" - "$CA_MODULE" "$CA_PIN" "$CA_ID" >"$T_TMP/big" 2>&1 <<'PY' &
import sys
import PyKCS11
from PyKCS11 import LowLevel as LL
import p11client as pc
tok = pc.Token(sys.argv[1])
tok.login(sys.argv[2])
key = tok.key(bytes.fromhex(sys.argv[3]))
data = LL.ckbytelist(12 << 20)
print("signing", flush=True)
while True:
    tok.sign_init(key, pc.mech(PyKCS11.CKM_ECDSA_SHA256))
    sig = LL.ckbytelist(64)
    tok.call("C_Sign", tok.h, data, sig)
PY
big=$!
for _ in $(seq 1 100); do grep -q signing "$T_TMP/big" && break; sleep 0.05; done
sleep 0.3
kill -KILL "$big"
wait "$big" 2>/dev/null
if grep -q signing "$T_TMP/big" && ! grep -q Error "$T_TMP/big"; then
	pass "a client signing 12 MiB killed mid-request"
else fail "a client signing 12 MiB killed mid-request" "$(tr '\n' ' ' <"$T_TMP/big")"; fi
if kill -0 "$WARDEN_PID" 2>/dev/null; then pass "enclave survives clients that disconnect"
else fail "enclave survives clients that disconnect" "enclave exited"; fi
agent_expect "the long-lived client still signs" "OK 64" sign
check "a new client (pkcs11-tool) signs" pkcs11-tool --module "$CA_MODULE" --login \
	--pin "$CA_PIN" --sign --id "$CA_ID" -m ECDSA-SHA256 -i "$HERE/badinput_rawsock.py" \
	-o "$T_TMP/sig"
agent_stop
warden_stop
t_done
