#!/bin/bash
# tests/integration/enclave_sandbox.sh - the enclave's sandbox, proved from outside:
# forbidden system calls kill it with SIGSYS, files outside the allowed directories
# cannot be opened, every key type signs with every mechanism inside the sandbox, and
# the running daemon shows seccomp mode 2, no_new_privs, non-dumpable, dropped uid.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
SIGSYS_STATUS=$((128 + 31))

# set_json FILE PY-EXPR...: edits enclave.json or policy.json (c is the parsed JSON), in
# place (the sandboxed enclave may read only the policy file it started with).
set_json() {
	local f=$1; shift
	$SYS_PYTHON - "$f" "$@" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
for e in sys.argv[2:]:
    exec(e)
with open(p, "w") as f:
    json.dump(c, f, indent=2)
PY
}

# selftest DIR ACTION: runs the sandbox self-test; prints the exit status.
selftest() {
	"$WARDEN_ENCLAVE" --config "$1/enclave.json" --sandbox-selftest "$2" \
		>>"$1/selftest.log" 2>&1
	echo $?
}

expect_status() { # name want got
	if [ "$3" -eq "$2" ]; then pass "$1"; else fail "$1" "exit status $3, want $2"; fi
}

# Every key type: every mechanism (raw ones too: prehashed "audit") signs and
# verifies inside the sandbox, from a thread made after seccomp.
for key in rsa2048 p256 p384 ed25519; do
	D=$T_TMP/$key
	if ! warden_setup "$D" "$key"; then fail "setup_$key" "warden-admin init failed"; continue; fi
	set_json "$D/enclave.json" 'c["keys"][0]["verify_signatures"] = True'
	set_json "$D/policy.json" 'c["signingKeys"]["*"]["prehashed"] = "audit"'
	expect_status "sandboxed_sign_every_mechanism_$key" 0 "$(selftest "$D" sign)"
done

D=$T_TMP/p256
[ -d "$D" ] || { fail setup "no p256 setup"; t_done; exit 1; }
expect_status execve_killed_by_sigsys $SIGSYS_STATUS "$(selftest "$D" execve)"
expect_status socket_killed_by_sigsys $SIGSYS_STATUS "$(selftest "$D" socket)"
expect_status ptrace_killed_by_sigsys $SIGSYS_STATUS "$(selftest "$D" ptrace)"
expect_status fork_killed_by_sigsys $SIGSYS_STATUS "$(selftest "$D" fork)"
expect_status open_etc_passwd_refused 3 "$(selftest "$D" open:/etc/passwd)"
expect_status open_config_dir_file_refused 3 "$(selftest "$D" "open:$D/enclave.json")"
expect_status open_user_pin_hash_refused 3 "$(selftest "$D" "open:$D/user-pin.scrypt")"
expect_status open_token_dir_allowed 0 "$(selftest "$D" "open:$D/tokens")"
if grep -q 'Landlock not available' "$D/selftest.log"; then
	skip landlock "the kernel has no Landlock"
fi

# The running daemon, dropped to an unprivileged user: nobody needs the token and
# state directories and a path to the socket.
chmod 755 "$T_TMP" "$D"
chown -R nobody "$D/tokens" "$D/state" "$D/audit"
set_json "$D/enclave.json" 'c["user"] = "nobody"'
if warden_start "$D"; then
	st=/proc/$WARDEN_PID/status
	grep -q $'^Seccomp:\t2' "$st" && pass running_seccomp_mode_2 ||
		fail running_seccomp_mode_2 "$(grep Seccomp: "$st")"
	grep -q $'^NoNewPrivs:\t1' "$st" && pass running_no_new_privs ||
		fail running_no_new_privs "$(grep NoNewPrivs "$st")"
	uid=$(awk '/^Uid:/ {print $2 $3 $4 $5}' "$st")
	nobody=$(id -u nobody)
	[ "$uid" = "$nobody$nobody$nobody$nobody" ] && pass running_uid_dropped ||
		fail running_uid_dropped "Uid: $uid"
	# A non-dumpable process's /proc files belong to root, not to its own uid.
	[ "$(stat -c %u "$st")" = 0 ] && pass running_not_dumpable ||
		fail running_not_dumpable "/proc/PID/status owned by $(stat -c %u "$st")"
	# and a process of the same uid cannot read its memory map
	if setpriv --reuid="$nobody" --regid="$nobody" --clear-groups \
		cat "/proc/$WARDEN_PID/maps" >/dev/null 2>&1; then
		fail same_uid_cannot_read_maps "nobody read the enclave's maps"
	else pass same_uid_cannot_read_maps; fi
	[ "$(stat -c %U "$D/enclave.sock")" = nobody ] && pass socket_owned_by_user ||
		fail socket_owned_by_user "$(stat -c %U "$D/enclave.sock")"
	# signs while dropped (the token files are reopened as nobody under Landlock)
	if $SYS_PYTHON -c "
import sys; sys.path.insert(0, '$TOP/tests/integration')
from enclave_wire import *
s = connect('$D/enclave.sock'); hello(s)
st, fl, t = login(s, b'${WARDEN_PIN:-1234}'); assert st == OK, st
for m, d in ((CKM_ECDSA_SHA256, b'tbs'), (CKM_ECDSA, b'd' * 32)):
    r = sign(s, t, 0, m, d); assert r[0] == OK, r
"; then pass running_signs_as_nobody; else fail running_signs_as_nobody; fi
	# Stopped and continued (SIGSTOP/SIGCONT: a sleeping poll resumes through
	# restart_syscall), it lives on and serves.
	kill -STOP "$WARDEN_PID"; sleep 0.3; kill -CONT "$WARDEN_PID"; sleep 1.5
	if kill -0 "$WARDEN_PID" 2>/dev/null && $SYS_PYTHON -c "
import sys; sys.path.insert(0, '$TOP/tests/integration')
from enclave_wire import *
s = connect('$D/enclave.sock'); hello(s)
st, fl, t = login(s, b'${WARDEN_PIN:-1234}'); assert st == OK, st
r = sign(s, t, 0, CKM_ECDSA_SHA256, b'tbs'); assert r[0] == OK, r
"; then pass stop_cont_survives_and_signs
	else fail stop_cont_survives_and_signs "$(tail -n 3 "$D/enclave.log" | tr '\n' ' ')"; fi
	# SIGHUP re-reads the policy inside the sandbox (the file written in place) ...
	set_json "$D/policy.json" 'c["signingKeys"]["*"]["prehashed"] = "deny"'
	if warden_reload "$D"; then pass sandboxed_sighup_reloads_policy
	else fail sandboxed_sighup_reloads_policy "$(tail -n 3 "$D/enclave.log" | tr '\n' ' ')"; fi
	# ... but not a file renamed over it (a new inode): the old policy stays, said why.
	cp "$D/policy.json" "$D/policy.new" && mv "$D/policy.new" "$D/policy.json"
	if ! warden_reload "$D" && grep -q 'the file was replaced' "$D/enclave.log" &&
		kill -0 "$WARDEN_PID" 2>/dev/null
	then pass sighup_renamed_policy_kept_old
	else fail sighup_renamed_policy_kept_old "$(tail -n 3 "$D/enclave.log" | tr '\n' ' ')"; fi
	warden_stop
	"$BUILD/bin/warden-audit" verify "$D/audit" --pubkey "$D/audit/audit.pub" \
		--checkpoint "$D/audit/checkpoint.txt" >"$T_TMP/verify.out" 2>&1 &&
		pass audit_log_verifies_after_sandboxed_run ||
		fail audit_log_verifies_after_sandboxed_run "$(tr '\n' ' ' <"$T_TMP/verify.out")"
	"$BUILD/bin/warden-audit" show "$D/audit" | tail -n 2 | grep -q '"type":"shutdown"' &&
		pass sigterm_writes_shutdown_and_checkpoint ||
		fail sigterm_writes_shutdown_and_checkpoint "no shutdown record before the last checkpoint"
else
	fail running_daemon "did not start as nobody"
fi
t_done
