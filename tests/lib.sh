#!/bin/bash
# tests/lib.sh - shared helpers for integration tests (sourced, bash).
#
# Every test makes its own temporary directory, its own SoftHSM token (through
# warden-admin init) and its own enclave daemon, and tears them down on exit.
# Results are lines "PASS name" / "FAIL name: why" / "SKIP name: why" on stdout.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
WARDEN_MODULE="$BUILD/lib/libwarden-pkcs11.so"
WARDEN_ENCLAVE="$BUILD/bin/warden-enclave"
WARDEN_ADMIN="$BUILD/bin/warden-admin"
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
SYS_PYTHON=/usr/bin/python3

T_FAILS=0
T_TMP=$(mktemp -d /tmp/warden-test.XXXXXX)
T_PIDS=()

t_cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${T_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T_TMP"
}
trap t_cleanup EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; T_FAILS=$((T_FAILS + 1)); }
skip() { echo "SKIP $1${2:+: $2}"; }
# check NAME COMMAND...: runs the command, PASS if it exits 0.
check() {
	local name=$1; shift
	if "$@" >"$T_TMP/last.out" 2>&1; then pass "$name"; else
		fail "$name" "$(tail -n 5 "$T_TMP/last.out" | tr '\n' ' ')"; fi
}
# check_fails NAME COMMAND...: PASS if the command exits non-zero.
check_fails() {
	local name=$1; shift
	if "$@" >"$T_TMP/last.out" 2>&1; then
		fail "$name" "expected failure, got success"; else pass "$name"; fi
}
t_done() { [ "$T_FAILS" -eq 0 ]; }

# warden_setup DIR KEY [more warden-admin init options]: a fresh CA in DIR.
warden_setup() {
	local dir=$1 key=$2; shift 2
	"$WARDEN_ADMIN" init "$dir" --key "$key" --pin "${WARDEN_PIN:-1234}" \
		--subject "/CN=Warden Test CA $key" "$@" >"$dir.init.log" 2>&1 || {
		cat "$dir.init.log"; return 1; }
}

# warden_start DIR: starts the enclave for DIR in the background and waits for its
# socket.  Sets WARDEN_PID and exports WARDEN_CONF.
warden_start() {
	local dir=$1 i
	"$WARDEN_ENCLAVE" --config "$dir/enclave.json" >>"$dir/enclave.log" 2>&1 &
	WARDEN_PID=$!
	T_PIDS+=("$WARDEN_PID")
	export WARDEN_CONF="$dir/module.conf"
	for i in $(seq 1 200); do
		[ -S "$dir/enclave.sock" ] && grep -q 'serving' "$dir/enclave.log" && return 0
		kill -0 "$WARDEN_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "enclave did not start:"; cat "$dir/enclave.log"
	return 1
}

# warden_stop: SIGTERM and wait.
warden_stop() {
	kill -TERM "$WARDEN_PID" 2>/dev/null
	wait "$WARDEN_PID" 2>/dev/null
}

# softhsm_token DIR LABEL SOPIN PIN: an empty SoftHSM token in DIR; exports SOFTHSM2_CONF.
softhsm_token() {
	local dir=$1 label=$2 so=$3 pin=$4
	mkdir -p "$dir/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$dir" >"$dir/softhsm2.conf"
	export SOFTHSM2_CONF="$dir/softhsm2.conf"
	softhsm2-util --init-token --free --label "$label" --so-pin "$so" --pin "$pin" >/dev/null
}
