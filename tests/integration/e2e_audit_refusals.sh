#!/bin/bash
# e2e_audit_refusals.sh - SIGN requests the enclave refuses before the policy is consulted
# are recorded too (issue 4: every decision): no valid login ticket
# (request.not_logged_in), a key id that names no key (key.unknown), a mechanism the key
# does not take (signature.mechanism), data over max_data_len (request.data_too_long).
# Raw frames (enclave_wire.py) provoke each; the client gets the same answers as always;
# `warden-audit show` has one refused SIGN record per request with its reason, caller,
# mechanism, key label (or the key id as given), data length and SHA-256, and the
# policy hash; nothing of it reaches the replayed state; the log verifies.  Then the log
# is put on a full tmpfs: the refusals keep their answers when their records cannot be
# made durable.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

d=$T_TMP/p256
MAX_DATA=4096
warden_setup "$d" p256 || { fail setup; t_done; exit; }
"$SYS_PYTHON" - "$d/enclave.json" "$MAX_DATA" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["max_data_len"] = int(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
warden_start "$d" || { fail "enclave starts"; t_done; exit; }

# refuse MODE [ENCLAVE-LOG]: logs in, then one request of each kind on one connection;
# prints "PASS/FAIL name" lines for the answers, then "CASE name reason sha256 data_len
# key mechanism" lines for the checks below.  With ENCLAVE-LOG: rounds of those requests
# until the log says a refusal's record could not be made durable, then two more.
refuse() {
	PYTHONPATH=$E2E_DIR "$SYS_PYTHON" - "$d/enclave.sock" "${WARDEN_PIN:-1234}" "$MAX_DATA" "$@" <<'PY'
import hashlib, os, sys
from enclave_wire import *

sock, pin, max_data, mode = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4]
log = sys.argv[5] if len(sys.argv) > 5 else None
s = connect(sock)
hello(s)
st, _, ticket = login(s, pin)
assert st == OK, st
cases = [
    # name, ticket, key id, mechanism, data, status, message, reason
    ("no_ticket", b"", 0, CKM_ECDSA_SHA256, b"probe without a ticket",
     E_NOT_LOGGED_IN, "log in first", "request.not_logged_in"),
    ("unknown_ticket", os.urandom(32), 0, CKM_ECDSA_SHA256, b"probe with a forged ticket",
     E_NOT_LOGGED_IN, "log in first", "request.not_logged_in"),
    ("unknown_key", ticket, 7, CKM_ECDSA_SHA256, b"probe of key 7",
     E_KEY, "no such key", "key.unknown"),
    ("wrong_mechanism", ticket, 0, CKM_SHA256_RSA_PKCS, b"probe of an RSA mechanism",
     E_MECHANISM, 'mechanism 0x40 is not allowed for key "ca"', "signature.mechanism"),
    ("data_too_long", ticket, 0, CKM_ECDSA_SHA256, b"L" * (max_data + 1),
     E_DATA_LEN, "data of %d bytes exceeds the enclave's bound of %d" % (max_data + 1, max_data),
     "request.data_too_long"),
    ("no_ticket_no_data", b"", 0, CKM_ECDSA_SHA256, b"",
     E_NOT_LOGGED_IN, "log in first", "request.not_logged_in"),
]


def round_(quiet):
    bad = 0
    for name, t, key, mech, data, want, want_msg, reason in cases:
        status, msg, sig = sign(s, t, key, mech, data)
        ok = status == want and msg == want_msg and sig is None
        bad += not ok
        if not quiet or not ok:
            print("%s %s %s: answer %d %r" % ("PASS" if ok else "FAIL", mode, name, status, msg),
                  flush=True)
    return bad


if log is None:
    round_(False)
    for name, t, key, mech, data, want, want_msg, reason in cases:
        print("CASE %s %s %s %d %s %d" % (name, reason,
                                          hashlib.sha256(data).hexdigest() if data else "-",
                                          len(data), "ca" if key == 0 else "#%d" % key, mech))
    sys.exit(0)
rounds = bad = 0
while rounds < 5000:
    rounds += 1
    bad += round_(True)
    if "record of a refused request could not be made durable" in open(log).read():
        break
else:
    print("FAIL %s: the log never filled up (%d rounds)" % (mode, rounds))
    sys.exit(1)
for _ in range(2):
    bad += round_(True)
print("%s %s: every answer unchanged over %d rounds" % ("PASS" if bad == 0 else "FAIL", mode,
                                                       rounds + 2))
PY
}

refuse main >"$T_TMP/main.out" 2>&1
grep -E '^(PASS|FAIL) ' "$T_TMP/main.out"
grep -qE '^CASE ' "$T_TMP/main.out" || fail "refusal client ran" "$(tail -n 5 "$T_TMP/main.out" | tr '\n' ' ')"
enclave_alive && pass "enclave up after the refusals" || fail "enclave up after the refusals"

policy_sha=$(sha256sum "$d/policy.json" | cut -d' ' -f1)
uid=$(id -u)
# One refused SIGN record per request, with what the auditor needs.
while read -r _ name reason sha len key mech; do
	expr="r['type']=='sign' and b.get('decision')==0 and b.get('reason_name')=='$reason'"
	expr+=" and b.get('caller_uid')==$uid and b.get('caller_pid', 0) > 0"
	expr+=" and b.get('mechanism')==$mech and b.get('data_len')==$len"
	expr+=" and b.get('policy_sha256')=='$policy_sha' and 'pol_summary' not in b"
	if [ "$sha" = - ]; then expr+=" and 'data_sha256' not in b"
	else expr+=" and b.get('data_sha256')=='$sha'"; fi
	if [ "$key" = ca ]; then expr+=" and b.get('key')=='ca' and 'key_id' not in b"
	else expr+=" and b.get('key_id')==${key#\#} and 'key' not in b"; fi
	check_eq "$name: one refused sign record ($reason)" "$(audit_count "$d" "$expr")" 1
done < <(grep '^CASE ' "$T_TMP/main.out")

# Stable codes and sentences.
check_eq "request.not_logged_in is code 140" \
	"$(audit_count "$d" "b.get('reason_name')=='request.not_logged_in' and b.get('reason_code')==140")" 3
check_eq "request.data_too_long is code 141" \
	"$(audit_count "$d" "b.get('reason_name')=='request.data_too_long' and b.get('reason_code')==141 and b.get('reason')==\"data of $((MAX_DATA + 1)) bytes exceeds the enclave's bound of $MAX_DATA\"")" 1
check_eq "key.unknown (3) names the id in its sentence" \
	"$(audit_count "$d" "b.get('reason_code')==3 and b.get('reason','').startswith('no such key: key id 7')")" 1
check_eq "signature.mechanism (6) keeps the answer as its sentence" \
	"$(audit_count "$d" "b.get('reason_code')==6 and b.get('reason')=='mechanism 0x40 is not allowed for key \"ca\"'")" 1
check_eq "the forged ticket's sentence says so" \
	"$(audit_count "$d" "b.get('reason_code')==140 and 'does not hold for uid' in b.get('reason','')")" 1
if enclave_log_has "$d" 'decision key=#7 mech=CKM_ECDSA_SHA256 kind=- refused reason=key\.unknown serial=-: no such key'; then
	pass "enclave log has the decision line"
else fail "enclave log has the decision line" "$(grep decision "$d/enclave.log" | tail -n 3 | tr '\n' '|')"; fi
check "log verifies" audit_verify "$d"

# Replay ignores them: a restart rebuilds the same (empty) state and serves; the
# checkpoint written at shutdown covers them.
warden_stop
warden_start "$d" || { fail "enclave restarts after refusals"; t_done; exit; }
pass "enclave restarts after refusals"
if enclave_log_has "$d" 'replay.*(does not decode|could not be applied)'; then
	fail "replay skips the refusals" "$(grep replay "$d/enclave.log" | tr '\n' '|')"
else pass "replay skips the refusals"; fi
check "log verifies against its checkpoint" audit_verify "$d" --checkpoint
warden_stop

# The log cannot be written (a full tmpfs; the writer's preallocated space is cut, as in
# e2e_audit_diskfull.sh): the answers do not change, the enclave stays up.
audit_on_tmpfs "$d" 8m || { fail "tmpfs for the audit log"; t_done; exit; }
fs_fill "$AUDIT_FS" "$AUDIT_FS/filler" $((64 * 1024))
warden_start "$d" || { fail "enclave starts on the tmpfs"; t_done; exit; }
refuse "disk full" "$d/enclave.log"
enclave_alive && pass "disk full: enclave stays up" || fail "disk full: enclave stays up"
rm -f "$AUDIT_FS/filler"
warden_stop
check "after the disk full: log verifies" audit_verify "$d"
t_done
