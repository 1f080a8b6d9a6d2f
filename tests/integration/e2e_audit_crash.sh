#!/bin/bash
# e2e_audit_crash.sh - kill -9 the enclave at random moments while three PyKCS11 clients
# sign real TBSCertificates (issue 4 §6 "Crash"), restart it each time (once with a torn
# record appended, as a crash in the middle of a write leaves it).  Afterwards the log
# verifies (also against the checkpoint written at the final SIGTERM), the torn tail was
# repaired with a recovery record that `warden-audit show` lists, and every signature any
# client received has its allowed record (`warden-audit reconcile --certs` on the
# certificates assembled from each TBS and the signature returned for it).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

ROUNDS=${E2E_CRASH_ROUNDS:-4}
WORKERS=3
TEAR_ROUND=2

e2e_write_policy "$T_TMP/policy.json"
d=$T_TMP/p256
audit_ca_up "$d" p256 "$T_TMP/policy.json" || { fail "setup"; t_done; exit; }

mkdir -p "$T_TMP/certs"
stop=$T_TMP/stop
wpids=()
for i in $(seq 1 $WORKERS); do
	PYTHONPATH=$E2E_DIR "$SYS_PYTHON" -u "$E2E_DIR/e2e_p11.py" worker "$CA_MODULE" "$CA_ID" \
		"$CA_CERT" "$CA_PIN" "$T_TMP/certs" "w$i" "$stop" \
		>"$T_TMP/w$i.json" 2>"$T_TMP/w$i.err" &
	wpids+=($!)
	T_PIDS+=($!)
done

# Kill only once every client is signing.
for i in $(seq 1 400); do
	n=0
	for w in $(seq 1 $WORKERS); do ls "$T_TMP/certs/w$w-"*.pem >/dev/null 2>&1 && n=$((n + 1)); done
	[ "$n" -eq $WORKERS ] && break
	sleep 0.05
done
check_eq "all $WORKERS clients sign before the first kill" "$n" $WORKERS

restarts_ok=0 torn=""
for r in $(seq 1 "$ROUNDS"); do
	# 0.4 .. 1.5 s of signing, then SIGKILL wherever the enclave happens to be.
	sleep "$(printf '0.%03d' $((RANDOM % 1000)))"; sleep 0.4
	n_before=$(find "$T_TMP/certs" -name '*.pem' | wc -l)
	kill -KILL "$WARDEN_PID" 2>/dev/null
	wait "$WARDEN_PID" 2>/dev/null
	if [ "$r" -eq "$TEAR_ROUND" ]; then
		torn=$(audit_tear "$d")
		echo "# round $r: torn record written at $torn"
	fi
	sleep "$(printf '0.%03d' $((RANDOM % 300)))"
	if warden_start "$d"; then restarts_ok=$((restarts_ok + 1)); fi
	echo "# round $r: $n_before certificates received before the kill"
done
check_eq "enclave restarted after each of $ROUNDS kill -9" "$restarts_ok" "$ROUNDS"
n_last=$(find "$T_TMP/certs" -name '*.pem' | wc -l)
sleep 1 # clients resume against the last start
touch "$stop"
for p in "${wpids[@]}"; do wait "$p"; done

total=0 bad=0
for i in $(seq 1 $WORKERS); do
	s=$(cat "$T_TMP/w$i.json")
	echo "# worker $i: $s"
	got=$("$SYS_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["received"], d["bad_signatures"])' "$s" 2>/dev/null)
	[ -n "$got" ] || { fail "worker $i summary" "$(tail -n 3 "$T_TMP/w$i.err" | tr '\n' ' ')"; continue; }
	set -- $got
	total=$((total + $1)) bad=$((bad + $2))
	if [ "$1" -gt 0 ]; then pass "worker $i received signatures ($1)"
	else fail "worker $i received signatures" "none"; fi
done
check_eq "every signature received verifies with the CA key" "$bad" 0
npem=$(find "$T_TMP/certs" -name '*.pem' | wc -l)
check_eq "certificates assembled = signatures received" "$npem" "$total"

if [ "$npem" -gt "$n_last" ]; then pass "clients sign again after the last restart"
else fail "clients sign again after the last restart" "no certificate after the last start"; fi
warden_stop

check "warden-audit verify (chain, checkpoints)" audit_verify "$d"
check "warden-audit verify --checkpoint (final SIGTERM)" audit_verify "$d" --checkpoint
if [ -n "$torn" ]; then
	if enclave_log_has "$d" 'torn tail'; then pass "enclave reported the torn tail at start-up"
	else fail "enclave reported the torn tail at start-up" "no 'torn tail' in its log"; fi
	set -- $torn
	n=$(audit_count "$d" "r['type']=='recovery' and b.get('file')=='$1' and b.get('offset')==$2")
	if [ "$n" -ge 1 ]; then pass "warden-audit show lists the recovery record ($1 at $2)"
	else fail "warden-audit show lists the recovery record" "no recovery record for $1 offset $2"; fi
fi
nrec=$(audit_count "$d" "r['type']=='recovery'")
echo "# recovery records: $nrec; kills: $ROUNDS"
nallowed=$(audit_count "$d" "r['type']=='sign' and b.get('decision')==1")
if [ "$nallowed" -ge "$total" ]; then pass "allowed sign records ($nallowed) >= signatures received ($total)"
else fail "allowed sign records >= signatures received" "$nallowed < $total"; fi
check "every certificate received has its allowed record (warden-audit reconcile)" \
	"$WARDEN_AUDIT" reconcile "$d/audit" --certs "$T_TMP/certs"
t_done
