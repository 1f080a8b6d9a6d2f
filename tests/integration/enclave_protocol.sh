#!/bin/bash
# tests/integration/enclave_protocol.sh - warden-enclave's wire protocol against good,
# broken and hostile clients (enclave_protocol.py), PIN lockout across a restart, and
# SIGTERM with requests in flight.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=$T_TMP/ca

if ! warden_setup "$D" p256; then fail setup "warden-admin init failed"; exit 1; fi
# Small bounds so that the tests can reach them cheaply.
$SYS_PYTHON - "$D/enclave.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["max_data_len"] = 4096
c["max_clients"] = 3
json.dump(c, open(p, "w"), indent=2)
PY
if ! warden_start "$D"; then fail start "the enclave did not start"; exit 1; fi

$SYS_PYTHON "$HERE/enclave_protocol.py" "$D" main || T_FAILS=$((T_FAILS + 1))

# SIGTERM with an idle client connected (its thread waits in recv): exits 0, promptly.
$SYS_PYTHON -c "
import sys, time; sys.path.insert(0, '$HERE')
from enclave_wire import *
s = connect('$D/enclave.sock'); hello(s); print('ready', flush=True); time.sleep(20)
" >"$T_TMP/idle.out" 2>&1 &
IDLE=$!
for _ in $(seq 1 100); do grep -q ready "$T_TMP/idle.out" 2>/dev/null && break; sleep 0.05; done
start=$(date +%s%N)
kill -TERM "$WARDEN_PID"
wait "$WARDEN_PID"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill "$IDLE" 2>/dev/null; wait "$IDLE" 2>/dev/null
if [ "$rc" -eq 0 ] && [ "$ms" -lt 3000 ]; then pass sigterm_with_idle_client_exits_zero
else fail sigterm_with_idle_client_exits_zero "exit $rc after ${ms}ms"; fi
grep -q 'info: stopped' "$D/enclave.log" && pass sigterm_logs_stopped ||
	fail sigterm_logs_stopped "no 'stopped' in the log"

# Restart: the PIN lock is durable (rebuilt from the audit log), tickets are not.
mv "$D/enclave.log" "$D/enclave.log.1"
if ! warden_start "$D"; then fail restart "the enclave did not restart"; exit 1; fi
$SYS_PYTHON "$HERE/enclave_protocol.py" "$D" locked || T_FAILS=$((T_FAILS + 1))

# Unlock: the count lives in the audit log, so this operator starts a new log (the old
# one is kept aside; there is no unlock command yet), then flood + SIGTERM.
warden_stop
mv "$D/audit" "$D/audit.locked" && mkdir -m 0700 "$D/audit" &&
	cp "$D/audit.locked/audit.pub" "$D/audit/"
mv "$D/enclave.log" "$D/enclave.log.2"
if ! warden_start "$D"; then fail restart2 "the enclave did not restart"; exit 1; fi
$SYS_PYTHON "$HERE/enclave_protocol.py" "$D" flood >"$T_TMP/flood.out" 2>&1 &
FLOOD=$!
for _ in $(seq 1 100); do grep -q ready "$T_TMP/flood.out" 2>/dev/null && break; sleep 0.05; done
sleep 0.3
kill -TERM "$WARDEN_PID"
wait "$WARDEN_PID"; rc=$?
[ "$rc" -eq 0 ] && pass sigterm_mid_flood_exits_zero || fail sigterm_mid_flood_exits_zero "exit $rc"
if wait "$FLOOD"; then pass sigterm_answers_in_flight_whole
else fail sigterm_answers_in_flight_whole "$(cat "$T_TMP/flood.out")"; fi

# A bad config names the JSON path.
$SYS_PYTHON - "$D/enclave.json" "$T_TMP/bad.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["keys"][0]["prehashed"] = "sometimes"
json.dump(c, open(sys.argv[2], "w"))
PY
out=$("$WARDEN_ENCLAVE" --config "$T_TMP/bad.json" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -q 'keys\[0\]' <<<"$out"; then pass bad_config_names_json_path
else fail bad_config_names_json_path "exit $rc: $out"; fi

t_done
