#!/bin/bash
# enclave_snapshot.sh - state snapshots in the audit log (issue 4: start-up at 10M records):
# the enclave writes one every audit.snapshot_records records (20 here) and starts from
# the newest, with audit.fast_start true (verify from the snapshot on) and false (verify
# everything, replay only after it).
#  A: 45 certificates (perKey burst 45) produce several snapshots; the 46th is refused.
#  B: fast start: the log says the snapshot was used; the first serial, issued before
#     every snapshot, is still refused (serial.reused); the rate limit still holds.
#  C: the same with full verification.
#  D: five wrong PINs lock the token; decisions after that bring a snapshot that holds
#     the lockout; after a restart from it the token is still locked.
#  E: a snapshot whose blob does not decode (planted with the audit key, so chain and
#     checkpoint are good): the enclave says so, verifies and replays every record
#     instead, and the state is still right; with the files before it removed (no full
#     replay possible) it refuses to start.
#  F: three clients sign and another logs in over and over while snapshots are taken: no
#     deadlock, and the newest snapshot plus the records after it give the same state
#     (serials, buckets, revocations, PIN count) as a full replay.
# warden-audit verify --checkpoint passes on every log the enclave left.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

LOCKED=$((0x40000))
SERIAL=5eda1a77e57ab1e0c0ffee0123456789
PUT=$T_TMP/enclave_snapshot_put

# snap_config DIR FAST: audit.snapshot_records 20 and audit.fast_start FAST in enclave.json.
snap_config() {
	"$SYS_PYTHON" - "$1/enclave.json" "$2" <<'PY'
import json, sys
p, fast = sys.argv[1], sys.argv[2] == "true"
c = json.load(open(p))
a = c.setdefault("audit", {})
a["snapshot_records"] = 20
a["fast_start"] = fast
json.dump(c, open(p, "w"), indent=2)
PY
}
# snap_used DIR: the record the current start took its state from ("" when none).
snap_used() {
	sed -n 's/.*state from the snapshot at record \([0-9]*\),.*/\1/p' "$1/enclave.log" | tail -n 1
}
# restart_with FAST: stop, set fast_start, start again.
restart_with() {
	warden_stop
	snap_config "$CA_DIR" "$1" && warden_start "$CA_DIR"
}
p11tool_login_fails() {
	check_fails_with "$1" "$2" pkcs11-tool --module "$CA_MODULE" --login --pin "$3" -O
}

# Built against the build's own audit archive (instrumented too under `make asan`).
PUT_SAN=
nm "$BUILD/obj/libwarden-audit.a" 2>/dev/null | grep -q __asan_init &&
	PUT_SAN="-fsanitize=address,undefined"
if ! cc -std=c11 -D_GNU_SOURCE $PUT_SAN -I"$TOP/audit" -I"$TOP/enclave" \
	"$TOP/tests/integration/enclave_snapshot_put.c" "$BUILD/obj/libwarden-audit.a" \
	-o "$PUT" -lcrypto -lpthread 2>"$T_TMP/cc.log"; then
	fail "build enclave_snapshot_put" "$(tr '\n' ' ' <"$T_TMP/cc.log")"; t_done; exit 1
fi

e2e_write_policy "$T_TMP/policy.json" '{ "count": 45, "period": "1h", "burst": 45 }'
d=$T_TMP/snap
CA_DIR=$d CA_CERT=$d/ca.pem CA_MODULE=$WARDEN_MODULE
san_client_env
if ! { warden_setup "$d" p256 && e2e_policy "$d" "$T_TMP/policy.json" &&
	snap_config "$d" false && warden_start "$d"; }; then
	fail "setup"; t_done; exit 1
fi
CA_ID=$(pkcs11-tool --module "$CA_MODULE" -O --type cert 2>/dev/null | sed -n 's/^ *ID: *//p' | head -n 1)

# ---- A: certificates and snapshots --------------------------------------------------------
p11a_start
p11a_expect "A login" "OK" login "$CA_PIN"
p11a_expect "A serial $SERIAL issued first" "OK *" issue s0.example.internal "$SERIAL" 30 "$T_TMP/s0.pem"
ok=0
for i in $(seq 1 44); do
	p11a issue "c$i.example.internal" - 30 "$T_TMP/c.pem"
	[[ $P11A_REPLY == OK\ * ]] && ok=$((ok + 1))
done
check_eq "A 44 more certificates allowed" "$ok" 44
p11a_expect "A the 46th refused (perKey burst 45)" "ERR CKR_FUNCTION_REJECTED" \
	issue c46.example.internal - 30 "$T_TMP/c46.pem"
expect_refused "A 46th" rate.key 80
p11a_stop
n=$(audit_count "$d" "r['type']=='snapshot'")
if [ "$n" -ge 2 ]; then pass "A $n snapshot records in the log"; else fail "A several snapshots" "$n snapshot records"; fi
if grep -Eq 'notice: audit: state snapshot at record [0-9]+ \([0-9]+ bytes' "$d/enclave.log"; then
	pass "A the enclave logged its snapshots"
else fail "A the enclave logged its snapshots" "$(grep -i snapshot "$d/enclave.log" | tail -n 2)"; fi
first_serial_seq=$(audit_show "$d" 2>/dev/null | "$SYS_PYTHON" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["type"] == "sign" and r["body"].get("serial", "").lower() == sys.argv[1]:
        print(r["seq"]); break' "$SERIAL")

# ---- B: fast start ------------------------------------------------------------------------
restart_with true || fail "B restart (fast_start true)"
used=$(snap_used "$d")
if [ -n "$used" ] && grep -q "state from the snapshot at record $used, fast start" "$d/enclave.log"; then
	pass "B started from the snapshot at record $used (fast start)"
else fail "B started from a snapshot with fast start" "$(grep -i snapshot "$d/enclave.log" | tr '\n' ' ')"; fi
if [ -n "$used" ] && [ -n "$first_serial_seq" ] && [ "$first_serial_seq" -lt "$used" ]; then
	pass "B serial record $first_serial_seq is before the snapshot (not replayed)"
else fail "B serial record before the snapshot" "serial at ${first_serial_seq:-?}, snapshot ${used:-?}"; fi
p11a_start
p11a_expect "B login" "OK" login "$CA_PIN"
p11a_expect "B reused serial refused" "ERR CKR_FUNCTION_REJECTED" issue s1.example.internal "$SERIAL" 30 "$T_TMP/s1.pem"
expect_refused "B reused serial" serial.reused 73
p11a_expect "B rate limit still holds" "ERR CKR_FUNCTION_REJECTED" issue c47.example.internal - 30 "$T_TMP/c47.pem"
expect_refused "B rate" rate.key 80
p11a_stop

# ---- C: full verification -----------------------------------------------------------------
restart_with false || fail "C restart (fast_start false)"
used=$(snap_used "$d")
if [ -n "$used" ] && grep -q "state from the snapshot at record $used, every record verified from genesis" "$d/enclave.log"; then
	pass "C started from the snapshot at record $used, every record verified"
else fail "C started from a snapshot, full verification" "$(grep -i snapshot "$d/enclave.log" | tr '\n' ' ')"; fi
p11a_start
p11a_expect "C login" "OK" login "$CA_PIN"
p11a_expect "C reused serial refused" "ERR CKR_FUNCTION_REJECTED" issue s2.example.internal "$SERIAL" 30 "$T_TMP/s2.pem"
expect_refused "C reused serial" serial.reused 73
p11a_expect "C rate limit still holds" "ERR CKR_FUNCTION_REJECTED" issue c48.example.internal - 30 "$T_TMP/c48.pem"
expect_refused "C rate" rate.key 80

# ---- D: PIN lockout inside a snapshot -----------------------------------------------------
for i in 1 2 3 4; do
	p11tool_login_fails "D wrong PIN $i" CKR_PIN_INCORRECT 0000
done
p11tool_login_fails "D wrong PIN 5" 'CKR_PIN_(INCORRECT|LOCKED)' 0000
lock_seq=$(audit_show "$d" 2>/dev/null | "$SYS_PYTHON" -c '
import json, sys
s = ""
for line in sys.stdin:
    r = json.loads(line)
    if r["type"] == "lockout":
        s = r["seq"]
print(s)')
# The agent's session is still logged in: its (refused) decisions bring the next snapshot.
for i in $(seq 1 25); do p11a issue "d$i.example.internal" - 30 "$T_TMP/d.pem"; done
check_eq "D decisions after the lockout are still recorded (refused)" "${P11A_REPLY%% *}" ERR
p11a_stop
after=$(audit_count "$d" "r['type']=='snapshot' and r['seq'] > ${lock_seq:-10**9}")
if [ -n "$lock_seq" ] && [ "$after" -ge 1 ]; then pass "D a snapshot after the lockout record $lock_seq"
else fail "D a snapshot after the lockout" "lockout ${lock_seq:-none}, $after after it"; fi
restart_with true || fail "D restart"
used=$(snap_used "$d")
if [ -n "$used" ] && [ -n "$lock_seq" ] && [ "$used" -gt "$lock_seq" ]; then
	pass "D started from snapshot $used, after the lockout"
else fail "D started from a snapshot after the lockout" "snapshot ${used:-none}, lockout ${lock_seq:-none}"; fi
if pkcs11-tool --module "$CA_MODULE" -L 2>&1 | grep -q 'user PIN locked'; then
	pass "D lockout survives the restart (pkcs11-tool -L: user PIN locked)"
else fail "D lockout survives the restart" "pkcs11-tool -L shows no lock"; fi
p11tool_login_fails "D right PIN after restart: CKR_PIN_LOCKED" CKR_PIN_LOCKED "$CA_PIN"
warden_stop
check "D warden-audit verify --checkpoint" audit_verify "$d" --checkpoint

# ---- E: a blob that does not decode --------------------------------------------------------
# A well-formed header (magic, version 1, PIN count 0, length) over a policy state whose
# SHA-256 does not match.
"$SYS_PYTHON" - "$T_TMP/bad.blob" <<'PY'
import struct, sys
pol = b"WPOLSTAT" + struct.pack(">IB", 1, 0) + b"\0" * 8 + b"\xaa" * 32
open(sys.argv[1], "wb").write(b"WENCSNAP" + struct.pack(">IIQ", 1, 0, len(pol)) + pol)
PY
bad_seq=$("$PUT" "$d/audit" "$d/audit.key" 1 "$T_TMP/bad.blob" 2>"$T_TMP/put.err")
if [ -n "$bad_seq" ]; then pass "E planted an undecodable snapshot at record $bad_seq"
else fail "E plant a snapshot" "$(cat "$T_TMP/put.err")"; fi
check "E the planted log verifies" audit_verify "$d" --checkpoint
snap_config "$d" true
if warden_start "$d"; then
	pass "E the enclave starts"
	if grep -q "state snapshot at record $bad_seq does not decode" "$d/enclave.log" &&
		grep -q "verifying and replaying every record from genesis instead" "$d/enclave.log"; then
		pass "E it says the snapshot does not decode and replays everything"
	else fail "E it says why it replays everything" "$(grep -i snapshot "$d/enclave.log" | tr '\n' ' ')"; fi
	if [ -z "$(snap_used "$d")" ]; then pass "E no snapshot used"; else fail "E no snapshot used" "$(snap_used "$d")"; fi
	if pkcs11-tool --module "$CA_MODULE" -L 2>&1 | grep -q 'user PIN locked'; then
		pass "E lockout still there after the full replay"
	else fail "E lockout still there after the full replay" "not locked"; fi
	warden_stop
else
	fail "E the enclave starts on a log whose newest snapshot does not decode"
fi
check "E warden-audit verify --checkpoint" audit_verify "$d" --checkpoint
# Without the files before it, nothing can replace the snapshot: refuse to start.
bad_file=$(printf 'audit-%020d.log' "$bad_seq")
mkdir -p "$T_TMP/old"
for f in "$d"/audit/audit-*.log; do
	[ "$(basename "$f")" \< "$bad_file" ] && mv "$f" "$T_TMP/old/"
done
timeout 30 "$WARDEN_ENCLAVE" --config "$d/enclave.json" >"$T_TMP/refuse.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then pass "E refuses to start without the earlier files (exit $rc)"
else fail "E refuses to start without the earlier files" "exit $rc"; fi
if grep -q "does not decode" "$T_TMP/refuse.log" && grep -q "full replay that replaces it failed" "$T_TMP/refuse.log"; then
	pass "E the refusal says why"
else fail "E the refusal says why" "$(tail -n 3 "$T_TMP/refuse.log" | tr '\n' ' ')"; fi
mv "$T_TMP"/old/* "$d/audit/"

# ---- F: snapshots taken while clients sign and log in concurrently ---------------------------
# Three signing clients and a loop of logins (login_lock) for a few seconds with a snapshot
# every 20 records: no deadlock, and the state a start takes from the newest snapshot (plus
# the records after it) is the state a full replay of every record gives (forced by planting
# an undecodable snapshot after it).
f=$T_TMP/conc
e2e_write_policy "$T_TMP/policy-conc.json"
CA_DIR=$f CA_CERT=$f/ca.pem
if warden_setup "$f" p256 && e2e_policy "$f" "$T_TMP/policy-conc.json" && snap_config "$f" true &&
	warden_start "$f"; then
	CA_ID=$(pkcs11-tool --module "$CA_MODULE" -O --type cert 2>/dev/null | sed -n 's/^ *ID: *//p' | head -n 1)
	mkdir -p "$T_TMP/fcerts"
	stop=$T_TMP/fstop
	wpids=()
	for i in 1 2 3; do
		PYTHONPATH=$E2E_DIR "$SYS_PYTHON" -u "$E2E_DIR/e2e_p11.py" worker "$CA_MODULE" "$CA_ID" \
			"$CA_CERT" "$CA_PIN" "$T_TMP/fcerts" "w$i" "$stop" \
			>"$T_TMP/fw$i.json" 2>"$T_TMP/fw$i.err" &
		wpids+=($!)
		T_PIDS+=($!)
	done
	# Logins: a wrong PIN then the right one, over and over; a last wrong one leaves the
	# count at 1 while the clients go on signing (snapshots after it hold it).
	logins=0
	end=$((SECONDS + 4))
	while [ $SECONDS -lt $end ]; do
		pkcs11-tool --module "$CA_MODULE" --login --pin 0000 -O >/dev/null 2>&1
		pkcs11-tool --module "$CA_MODULE" --login --pin "$CA_PIN" -O >/dev/null 2>&1 &&
			logins=$((logins + 1))
	done
	pkcs11-tool --module "$CA_MODULE" --login --pin 0000 -O >/dev/null 2>&1
	sleep 1
	touch "$stop"
	for p in "${wpids[@]}"; do wait "$p"; done
	n=$(find "$T_TMP/fcerts" -name '*.pem' | wc -l)
	if enclave_alive && [ "$n" -gt 40 ] && [ "$logins" -gt 0 ]; then
		pass "F $n certificates and $logins logins while snapshots were taken"
	else fail "F concurrent signing and logins" "$n certificates, $logins logins, enclave alive: $(enclave_alive && echo yes || echo no)"; fi
	warden_stop
	ns=$(audit_count "$f" "r['type']=='snapshot'")
	if [ "$ns" -ge 2 ]; then pass "F $ns snapshot records"; else fail "F snapshots taken" "$ns"; fi
	check "F warden-audit verify --checkpoint" audit_verify "$f" --checkpoint
	counts() { grep -o '[0-9]* serials, [0-9]* buckets, [0-9]* revocations; PIN failures [0-9]*' "$1/enclave.log" | tail -n 1; }
	warden_start "$f" && from_snap=$(counts "$f") && used=$(snap_used "$f")
	warden_stop
	"$PUT" "$f/audit" "$f/audit.key" 1 "$T_TMP/bad.blob" >/dev/null 2>"$T_TMP/put.err"
	warden_start "$f" && full=$(counts "$f")
	warden_stop
	case "${from_snap:-}" in
	*"PIN failures 1") pass "F the PIN count (1) came back" ;;
	*) fail "F the PIN count came back" "'${from_snap:-}'" ;;
	esac
	if [ -n "${used:-}" ] && [ -n "${from_snap:-}" ] && [ "$from_snap" = "${full:-}" ]; then
		pass "F start from snapshot $used = full replay ($from_snap)"
	else fail "F start from the newest snapshot = full replay" "snapshot ${used:-none}: '${from_snap:-}', full: '${full:-}'"; fi
else
	fail "F setup"
fi
t_done
