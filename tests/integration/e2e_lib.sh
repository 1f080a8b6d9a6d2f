#!/bin/bash
# tests/integration/e2e_lib.sh - helpers shared by the end-to-end audit and revocation
# tests (e2e_audit_*.sh, e2e_revocation_*.sh); sourced after tests/lib.sh.
# (scripts/run-integration runs tests/integration/*.sh: run directly, this does nothing.)
[ "${BASH_SOURCE[0]}" != "$0" ] || exit 0
#
# Policy files are written before the enclave starts (e2e_policy), so these tests do not
# depend on SIGHUP; the audit log is checked with warden-audit (verify, show, reconcile).

WARDEN_AUDIT="$BUILD/bin/warden-audit"
E2E_DIR=$TOP/tests/integration
BC_CP=/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar

# e2e_policy DIR FILE: installs FILE as DIR/policy.json (the enclave reads it at start).
e2e_policy() {
	cp "$2" "$1/policy.json"
}

# audit_verify DIR [--checkpoint]: warden-audit verify DIR/audit with the audit public key.
audit_verify() {
	local dir=$1; shift
	if [ "${1:-}" = --checkpoint ]; then
		"$WARDEN_AUDIT" verify "$dir/audit" --pubkey "$dir/audit/audit.pub" \
			--checkpoint "$dir/audit/checkpoint.txt"
	else
		"$WARDEN_AUDIT" verify "$dir/audit" --pubkey "$dir/audit/audit.pub"
	fi
}

# audit_show DIR [filters...]: JSON lines on stdout.
audit_show() {
	local dir=$1; shift
	"$WARDEN_AUDIT" show "$dir/audit" "$@"
}

# audit_count DIR EXPR [show filters]: number of records (warden-audit show) for which
# the python expression EXPR is true; r is the record, b its body.
audit_count() {
	local dir=$1 expr=$2; shift 2
	audit_show "$dir" "$@" 2>>"$T_TMP/audit_show.err" | "$SYS_PYTHON" -c '
import json, sys
expr = sys.argv[1]
n = 0
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    b = r.get("body") or {}
    if eval(expr, {}, {"r": r, "b": b}):
        n += 1
print(n)' "$expr"
}

# check_eq NAME GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# enclave_alive: the enclave of the last warden_start still runs.
enclave_alive() { kill -0 "$WARDEN_PID" 2>/dev/null; }

# enclave_log_has DIR REGEX: the enclave's log for DIR (current and earlier starts).
enclave_log_has() {
	cat "$1"/enclave.log* 2>/dev/null | grep -Eq "$2"
}

# ---- Java: BouncyCastle on SunPKCS11 (tests/integration/java/WardenBc.java) ------------

# bc_build: compiles the Java programs into T_TMP/java.
bc_build() {
	mkdir -p "$T_TMP/java"
	javac -nowarn -d "$T_TMP/java" -cp "$BC_CP" "$E2E_DIR"/java/*.java >"$T_TMP/javac.log" 2>&1 || {
		cat "$T_TMP/javac.log"; return 1; }
}

# bc_start: a WardenBc process on CA_MODULE / CA_CERT as a bash coprocess; BC_REPLY
# holds its first line ("OK ready <alg>").
bc_start() {
	printf 'name = warden\nlibrary = %s\nslotListIndex = 0\n' "$CA_MODULE" >"$T_TMP/sunpkcs11.cfg"
	coproc BC { exec java -cp "$T_TMP/java:$BC_CP" WardenBc "$T_TMP/sunpkcs11.cfg" \
		"$CA_PIN" "$CA_CERT" "$CA_LABEL" 2>>"$T_TMP/bc.err"; }
	BC_PID_=$BC_PID # shellcheck disable=SC2153
	T_PIDS+=("$BC_PID_")
	BC_REPLY=""
	IFS= read -r -t 60 BC_REPLY <&"${BC[0]}" || BC_REPLY="EXC no answer"
	[[ $BC_REPLY == "OK ready"* ]]
}
# bc CMD...: one command, its answer in BC_REPLY.
bc() {
	BC_REPLY=""
	echo "$*" >&"${BC[1]}" || { BC_REPLY="EXC java gone"; return 1; }
	IFS= read -r -t 60 BC_REPLY <&"${BC[0]}" || BC_REPLY="EXC no answer"
}
# bc_expect NAME PATTERN CMD...: PASS when the answer matches the glob PATTERN.
bc_expect() {
	local name=$1 want=$2; shift 2
	bc "$@"
	# shellcheck disable=SC2053
	if [[ $BC_REPLY == $want ]]; then pass "$name"
	else fail "$name" "'$1 ...' answered '$BC_REPLY', want '$want'"; fi
}
bc_stop() {
	bc quit
	wait "$BC_PID_" 2>/dev/null
}

# ---- CA setup -----------------------------------------------------------------------------

# e2e_write_policy FILE [PERKEY]: a policy for the audit and revocation tests:
# certificates for dNSNames under *.example.internal (90 days), CRLs (next update within
# 10 days) and OCSP responses (8 hours to 10 days) with the settings of docs/policy.md
# "Revocation"; PERKEY is the authority's perKey rate limit as JSON (default: large
# enough never to matter).
e2e_write_policy() {
	local perkey=${2:-'{ "count": 1000000, "period": "1h", "burst": 1000000 }'}
	cat >"$1" <<JSON
{
  "version": 1,
  "authority": {
    "serial": { "minOctets": 8 },
    "rateLimits": { "perKey": $perkey },
    "crl": { "maxValidity": "10d", "clockSkew": "5m", "requireIssuedSerials": false,
             "allowDelta": true },
    "ocsp": { "minValidity": "8h", "maxValidity": "10d", "clockSkew": "5m", "nonce": "allow",
              "allowDelegatedResponders": true }
  },
  "signingKeys": {
    "ca": { "prehashed": "deny", "sign": ["certificate", "crl", "ocsp"] }
  },
  "profiles": {
    "servers": {
      "match": { "ca": false },
      "names": { "allow": { "dns": ["*.example.internal"] } },
      "validity": { "maxLifetime": "90d", "maxBackdate": "1h" },
      "extensions": {
        "keyUsage": { "allowed": ["digitalSignature"], "required": ["digitalSignature"] },
        "extKeyUsage": { "allowed": ["serverAuth"] }
      }
    }
  }
}
JSON
}

# audit_ca_up DIR KEY POLICY: warden-admin init, POLICY installed as DIR/policy.json,
# enclave started.  Sets CA_DIR, CA_CERT, CA_MODULE, CA_ID (as ca_up does).
audit_ca_up() {
	local dir=$1 key=$2 policy=$3
	CA_DIR=$dir CA_CERT=$dir/ca.pem CA_MODULE=$WARDEN_MODULE
	san_client_env
	warden_setup "$dir" "$key" || return 1
	[ -f "$dir/policy.json" ] || { echo "warden-admin init wrote no $dir/policy.json"; return 1; }
	e2e_policy "$dir" "$policy" || return 1
	warden_start "$dir" || return 1
	CA_ID=$(pkcs11-tool --module "$CA_MODULE" -O --type cert 2>/dev/null |
		sed -n 's/^ *ID: *//p' | head -n 1)
	[ -n "$CA_ID" ] || { echo "no certificate object on the token"; return 1; }
}

# audit_restart: SIGTERM (if running) and start the enclave of CA_DIR again.
audit_restart() {
	warden_stop
	warden_start "$CA_DIR"
}

# audit_tear DIR: appends a torn record (a length, then a fraction of the bytes) at the
# end of data of the newest log file (past any gaps), as a crash in the middle of a
# write leaves it.
# Prints "FILE OFFSET".
audit_tear() {
	"$SYS_PYTHON" - "$1/audit" <<'PY'
import glob, os, sys
f = sorted(glob.glob(os.path.join(sys.argv[1], "audit-*.log")))[-1]
with open(f, "r+b") as fh:
    d = fh.read()
    off = 64
    while off + 4 <= len(d):
        n = int.from_bytes(d[off:off + 4], "big")
        if n == 0:
            # A gap (docs/audit-format.md): zeros up to a multiple of 512 where the
            # records go on; only zeros to the end of the file: the end of data.
            rest = d[off:].lstrip(b"\0")
            if not rest:
                break
            off = (len(d) - len(rest)) // 512 * 512
            continue
        off += n
    fh.seek(off)
    fh.write((300).to_bytes(4, "big") + b"\x00\x04\x00\x00" + os.urandom(100))
print(os.path.basename(f), off)
PY
}

# ---- PyKCS11 agent (tests/integration/e2e_p11.py agent) ------------------------------------

p11a_start() {
	coproc P11A { PYTHONPATH=$E2E_DIR exec "$SYS_PYTHON" -u "$E2E_DIR/e2e_p11.py" agent \
		"$CA_MODULE" "$CA_ID" "$CA_CERT" 2>>"$T_TMP/p11a.err"; }
	P11A_PID_=$P11A_PID # shellcheck disable=SC2153
	T_PIDS+=("$P11A_PID_")
}
p11a() {
	P11A_REPLY=""
	echo "$*" >&"${P11A[1]}" || { P11A_REPLY="EXC agent gone"; return 1; }
	IFS= read -r -t 60 P11A_REPLY <&"${P11A[0]}" || P11A_REPLY="EXC no answer"
}
# p11a_expect NAME PATTERN CMD...: PASS when the answer matches the glob PATTERN.
p11a_expect() {
	local name=$1 want=$2; shift 2
	p11a "$@"
	# shellcheck disable=SC2053
	if [[ $P11A_REPLY == $want ]]; then pass "$name"
	else fail "$name" "'$*' answered '$P11A_REPLY', want '$want'"; fi
}
p11a_stop() {
	p11a quit
	wait "$P11A_PID_" 2>/dev/null
}

# ---- a small file system for the audit log -------------------------------------------------

# audit_on_tmpfs DIR SIZE: moves DIR/audit onto a tmpfs of SIZE (mount -o size=) mounted
# at T_TMP/auditfs, leaving DIR/audit a symlink to it; the log's preallocated zero tail is
# cut so that the file holds only records.  Sets AUDIT_FS.  Unmounted by e2e_cleanup.
audit_on_tmpfs() {
	local dir=$1 size=$2
	AUDIT_FS=$T_TMP/auditfs
	mkdir -p "$AUDIT_FS" && mount -t tmpfs -o "size=$size,mode=0700" tmpfs "$AUDIT_FS" || return 1
	E2E_MOUNTS+=("$AUDIT_FS")
	cp -a "$dir/audit" "$AUDIT_FS/audit" && rm -rf "$dir/audit" &&
		ln -s "$AUDIT_FS/audit" "$dir/audit" || return 1
	"$SYS_PYTHON" - "$AUDIT_FS/audit" <<'PY'
import glob, os, sys
for f in glob.glob(os.path.join(sys.argv[1], "audit-*.log")):
    with open(f, "r+b") as fh:
        d = fh.read()
        off = 64
        while off + 4 <= len(d):
            n = int.from_bytes(d[off:off + 4], "big")
            if n == 0:
                break
            off += n
        fh.truncate(off)
PY
}

# fs_free PATH: free bytes on PATH's file system.
fs_free() {
	"$SYS_PYTHON" -c 'import os,sys; s=os.statvfs(sys.argv[1]); print(s.f_bavail*s.f_frsize)' "$1"
}

# fs_fill PATH FILE LEAVE: writes FILE (on PATH's file system) so that about LEAVE bytes
# stay free.
fs_fill() {
	local free
	free=$(fs_free "$1")
	[ "$free" -gt "$3" ] || return 0
	head -c $((free - $3)) /dev/zero >"$2"
}

E2E_MOUNTS=()
# e2e_cleanup: stops every process the test started, unmounts, then t_cleanup.
e2e_cleanup() {
	local p m
	for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for m in "${E2E_MOUNTS[@]}"; do
		[ -z "${KEEP_TMP:-}" ] || cp -a "$m" "$m.kept"
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	t_cleanup
}
trap e2e_cleanup EXIT

# ---- decisions ------------------------------------------------------------------------------

# last_refusal DIR: "reason_name reason_code serial" of the newest refused sign record.
last_refusal() {
	audit_show "$1" --decision refused 2>>"$T_TMP/audit_show.err" | "$SYS_PYTHON" -c '
import json, sys
last = None
for line in sys.stdin:
    line = line.strip()
    if line:
        r = json.loads(line)
        if r.get("type") == "sign":
            last = r
if last is None:
    print("none -1 -")
else:
    b = last.get("body") or {}
    print(b.get("reason_name", "?"), b.get("reason_code", -1), b.get("serial", "-"))'
}

# expect_refused NAME REASON CODE: the newest refused sign record in CA_DIR's log has
# reason REASON (name, or its stable CODE) and the enclave log has the decision line.
expect_refused() {
	local name=$1 reason=$2 code=$3 got
	got=$(last_refusal "$CA_DIR")
	set -- $got
	if [ "$1" = "$reason" ] || { [ "$1" = "?" ] && [ "$2" = "$code" ]; }; then
		pass "$name: refusal recorded in the audit log ($reason)"
	else fail "$name: refusal recorded in the audit log" "newest refused record: $got, want $reason ($code)"; fi
	if grep -Eq "refused reason=$reason" "$CA_DIR/enclave.log"; then
		pass "$name: enclave logged 'refused reason=$reason'"
	else fail "$name: enclave logged 'refused reason=$reason'" \
		"$(grep -E 'decision|refused' "$CA_DIR/enclave.log" | tail -n 1)"; fi
}
[ -z "${KEEP_TMP:-}" ] || echo "# kept: $T_TMP"
