#!/bin/bash
# e2e_audit_diskfull.sh - the audit log on a small tmpfs that fills up (issue 4 §6 "Disk
# full").  A PyKCS11 client logged in before the disk fills signs real TBSCertificates
# until the log cannot be written: from then on signing is refused with CKR_DEVICE_ERROR
# and no signature comes back, the enclave stays up; once space returns (the filler file
# is removed) the same client signs again without logging in again.  Afterwards the log
# verifies, `warden-audit show` has the recovery record naming the refused range, and
# every certificate the client received has its allowed record (reconcile).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

# Free space left on the tmpfs when the enclave starts: enough for the start-up records
# (config, policy, login) and some signatures, far below the 4 MiB the writer
# preallocates (AUD_DEFAULT_PREALLOC_BYTES), so that the log runs out after a few dozen
# records.
LEAVE=$((64 * 1024))
MAX_SIGNS=1000

e2e_write_policy "$T_TMP/policy.json"
d=$T_TMP/p256
CA_DIR=$d CA_CERT=$d/ca.pem CA_MODULE=$WARDEN_MODULE
san_client_env
warden_setup "$d" p256 || { fail setup; t_done; exit; }
e2e_policy "$d" "$T_TMP/policy.json"
audit_on_tmpfs "$d" 8m || { fail "tmpfs for the audit log"; t_done; exit; }
fs_fill "$AUDIT_FS" "$AUDIT_FS/filler" "$LEAVE"
echo "# audit tmpfs: $(fs_free "$AUDIT_FS") bytes free at start"
warden_start "$d" || { fail "enclave starts with $LEAVE bytes free"; t_done; exit; }
pass "enclave starts with $LEAVE bytes free"
CA_ID=$(pkcs11-tool --module "$CA_MODULE" -O --type cert 2>/dev/null | sed -n 's/^ *ID: *//p' | head -n 1)

mkdir -p "$T_TMP/certs"
p11a_start
p11a_expect "login" "OK" login "$CA_PIN"
ok=0 first_err=""
for i in $(seq 1 $MAX_SIGNS); do
	p11a issue "d$i.example.internal" - 30 "$T_TMP/certs/d$i.pem"
	case "$P11A_REPLY" in
	OK*) ok=$((ok + 1)) ;;
	*) first_err=$P11A_REPLY; rm -f "$T_TMP/certs/d$i.pem"
	   p11a lastsha; echo "${P11A_REPLY#OK }" >>"$T_TMP/refused.sha"; break ;;
	esac
done
echo "# $ok signatures before the log filled up; then: $first_err"
if [ "$ok" -gt 0 ]; then pass "signing works while the log has room ($ok)"
else fail "signing works while the log has room" "first answer: $first_err"; fi
check_eq "disk full: signing refused with CKR_DEVICE_ERROR" "$first_err" "ERR CKR_DEVICE_ERROR"
for j in 1 2 3; do
	p11a_expect "disk full: request $j refused, no signature" "ERR CKR_DEVICE_ERROR" \
		issue "full$j.example.internal" - 30 "$T_TMP/certs/full$j.pem"
	p11a lastsha; echo "${P11A_REPLY#OK }" >>"$T_TMP/refused.sha"
	sleep 0.4 # let the writer's retry (every second) find the disk still full
done
if enclave_alive; then pass "enclave stays up while the log cannot be written"
else fail "enclave stays up while the log cannot be written" "$(tail -n 3 "$d/enclave.log" | tr '\n' ' ')"; fi
if grep -qiE 'no space left|ENOSPC' "$d/enclave.log"; then pass "enclave log says why (no space)"
else fail "enclave log says why (no space)" "$(grep -i audit "$d/enclave.log" | tail -n 2 | tr '\n' ' ')"; fi
n_full=$(ls "$T_TMP/certs"/full*.pem 2>/dev/null | wc -l)
check_eq "no certificate file for a refused request" "$n_full" 0

rm -f "$AUDIT_FS/filler"
resumed=""
for j in 1 2 3 4 5 6; do
	sleep 0.6
	p11a issue "back$j.example.internal" - 30 "$T_TMP/certs/back$j.pem"
	case "$P11A_REPLY" in
	OK*) resumed=$j; break ;;
	*) rm -f "$T_TMP/certs/back$j.pem"
	   p11a lastsha; echo "${P11A_REPLY#OK }" >>"$T_TMP/refused.sha" ;;
	esac
done
if [ -n "$resumed" ]; then pass "space back: signing resumes (attempt $resumed), same login"
else fail "space back: signing resumes" "last answer: $P11A_REPLY"; fi
for j in 1 2 3; do
	p11a_expect "after recovery: signature $j" "OK *" issue "after$j.example.internal" - 30 \
		"$T_TMP/certs/after$j.pem"
done
p11a_stop
warden_stop

check "warden-audit verify" audit_verify "$d"
check "warden-audit verify --checkpoint" audit_verify "$d" --checkpoint
n=$(audit_count "$d" "r['type']=='recovery' and 'refused_from' in b and 'refused_to' in b")
if [ "$n" -ge 1 ]; then pass "show lists the recovery record with the refused range"
else fail "show lists the recovery record with the refused range" "none"; fi
ncerts=$(ls "$T_TMP/certs"/*.pem | wc -l)
nallowed=$(audit_count "$d" "r['type']=='sign' and b.get('decision')==1")
if [ "$nallowed" -ge "$ncerts" ]; then pass "allowed sign records ($nallowed) >= certificates received ($ncerts)"
else fail "allowed sign records >= certificates received" "$nallowed < $ncerts"; fi
echo "# $(wc -l <"$T_TMP/refused.sha") requests answered CKR_DEVICE_ERROR"
# A request answered CKR_DEVICE_ERROR has no record, or only one inside a recovery
# record's refused range (written late, never signed): nothing counts it as signed.
bad=$(audit_show "$d" 2>/dev/null | "$SYS_PYTHON" -c '
import json, sys
refused = set(l.split()[0] for l in open(sys.argv[1]) if l.strip())
recs, ranges = [], []
for line in sys.stdin:
    r = json.loads(line)
    b = r.get("body") or {}
    if r["type"] == "recovery" and "refused_from" in b:
        ranges.append((b["refused_from"], b["refused_to"]))
    elif r["type"] == "sign" and b.get("decision") == 1 and b.get("data_sha256") in refused:
        recs.append(r["seq"])
print(" ".join(str(s) for s in recs if not any(a <= s <= z for a, z in ranges)))' "$T_TMP/refused.sha")
check_eq "no allowed record outside a refused range for a request answered CKR_DEVICE_ERROR" "$bad" ""
check "every certificate received has its allowed record, none refused (reconcile)" \
	"$WARDEN_AUDIT" reconcile "$d/audit" --certs "$T_TMP/certs"

# The replay at start-up ignores allowed records of a refused range: the serial of the
# first refused request was never issued, so it may be issued now.
first_serial=$(head -n 1 "$T_TMP/refused.sha" | cut -d' ' -f2)
if warden_start "$d"; then
	p11a_start
	p11a_expect "restart: login" "OK" login "$CA_PIN"
	p11a_expect "restart: the serial of a refused request ($first_serial) can be issued" "OK *" \
		issue again.example.internal "$first_serial" 30 "$T_TMP/certs/again.pem"
	p11a_stop
	warden_stop
else
	fail "restart after the disk-full episode"
fi
t_done
