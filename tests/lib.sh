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

# warden_setup DIR KEY [more warden-admin init options]: a fresh CA in DIR whose policy
# is the permissive TEST policy (tests/policy-test.json: any data kind, wide names,
# validity and keys), so that mechanics tests (conformance, pkcs11-tool on arbitrary
# data) sign what they ask.  The starter policy init wrote is kept as DIR/policy.starter.json.
WARDEN_TEST_POLICY="$TOP/tests/policy-test.json"
warden_setup() {
	local dir=$1 key=$2; shift 2
	"$WARDEN_ADMIN" init "$dir" --key "$key" --pin "${WARDEN_PIN:-1234}" \
		--subject "/CN=Warden Test CA $key" "$@" >"$dir.init.log" 2>&1 || {
		cat "$dir.init.log"; return 1; }
	cp "$dir/policy.json" "$dir/policy.starter.json" &&
		cp "$WARDEN_TEST_POLICY" "$dir/policy.json"
}

# warden_reload DIR: SIGHUP to the enclave of DIR (WARDEN_PID) and waits until it has
# logged the outcome (reloaded, or kept the old policy).  0 when reloaded.
warden_reload() {
	local dir=$1 before i
	before=$(grep -c 'SIGHUP: policy .* reloaded\|keeping the policy in force' \
		"$dir/enclave.log" 2>/dev/null)
	kill -HUP "$WARDEN_PID" 2>/dev/null || return 1
	for i in $(seq 1 200); do
		if [ "$(grep -c 'SIGHUP: policy .* reloaded\|keeping the policy in force' \
			"$dir/enclave.log" 2>/dev/null)" -gt "$before" ]; then
			tail -n 3 "$dir/enclave.log" | grep -q 'keeping the policy in force' &&
				return 1
			return 0
		fi
		sleep 0.05
	done
	echo "the enclave did not log a reload"; return 1
}

# warden_policy DIR FILE: writes FILE over DIR/policy.json (in place) and reloads it (SIGHUP);
# waits until the enclave logged the reload.  Non-zero when the enclave kept the old one.
warden_policy() {
	local dir=$1 file=$2
	# In place (the sandbox can read that file, not a new one renamed over it).
	cat "$file" >"$dir/policy.json" && warden_reload "$dir"
}

# warden_start DIR: starts the enclave for DIR in the background and waits for its
# socket.  Sets WARDEN_PID and exports WARDEN_CONF.
warden_start() {
	local dir=$1 i
	# A fresh log per start, so an old "serving" line is never taken for this start's.
	if [ -f "$dir/enclave.log" ]; then
		cat "$dir/enclave.log" >>"$dir/enclave.log.old"
		: >"$dir/enclave.log"
	fi
	"$WARDEN_ENCLAVE" --config "$dir/enclave.json" >>"$dir/enclave.log" 2>&1 &
	WARDEN_PID=$!
	T_PIDS+=("$WARDEN_PID")
	export WARDEN_CONF="$dir/module.conf"
	for i in $(seq 1 600); do
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

# ---- client-test helpers (tests/integration/clients_*.sh, badinput_*.sh) ---------------
#
# ca_up DIR KEY [init options]: a CA signing key of type KEY (rsa2048 ... ed25519) served
# to PKCS#11 clients.  Sets CA_DIR, CA_MODULE, CA_PIN, CA_CERT (PEM), CA_ID (hex CKA_ID
# shared by key, public key and certificate), CA_LABEL.  T_TARGET=warden (default) runs
# warden-admin init + the enclave; T_TARGET=softhsm serves the same layout straight from
# SoftHSMv2 (no policy: only for developing the client side of a test).
T_TARGET=${T_TARGET:-warden}
T_SANITIZED=
CA_PIN=${WARDEN_PIN:-1234}
CA_LABEL=ca
P11KIT_PROXY=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so

# key_genpkey_args KEY: openssl genpkey arguments for a key type.
key_genpkey_args() {
	case "$1" in
	rsa*) echo "-algorithm RSA -pkeyopt rsa_keygen_bits:${1#rsa}" ;;
	p256) echo "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" ;;
	p384) echo "-algorithm EC -pkeyopt ec_paramgen_curve:P-384" ;;
	ed25519) echo "-algorithm ED25519" ;;
	*) return 1 ;;
	esac
}

# san_client_env: when the module is an ASan/UBSan build (make asan), preloads the
# sanitizer runtimes into every client (pkcs11-tool, java, python, openssl, certtool are
# not instrumented; the runtime must come first).  Leak checks are off for them (the host
# tools leak by design) and the JVM keeps its own SIGSEGV handling.
san_client_env() {
	local libs
	[ -z "$T_SANITIZED" ] && [ -f "$WARDEN_MODULE" ] || return 0
	libs=$(LD_PRELOAD='' ldd "$WARDEN_MODULE" 2>/dev/null |
		awk '/lib(asan|ubsan)\.so.* => / { print $3 }' | tr '\n' ' ')
	[ -n "$libs" ] || return 0
	T_SANITIZED=1
	export LD_PRELOAD="$libs"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:handle_segv=0:allow_user_segv_handler=1"
}

ca_up() {
	local dir=$1 key=$2; shift 2
	CA_DIR=$dir CA_CERT=$dir/ca.pem
	[ "$T_TARGET" = warden ] && san_client_env
	case "$T_TARGET" in
	warden)
		warden_setup "$dir" "$key" "$@" || return 1
		warden_start "$dir" || return 1
		CA_MODULE=$WARDEN_MODULE ;;
	softhsm)
		mkdir -p "$dir"
		softhsm_token "$dir" warden 00000000 "$CA_PIN" || return 1
		# shellcheck disable=SC2046
		openssl genpkey $(key_genpkey_args "$key") -out "$dir/key.pem" 2>/dev/null &&
		openssl req -x509 -new -key "$dir/key.pem" -subj "/CN=Warden Test CA $key" \
			-days 3650 -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign -out "$dir/ca.pem" &&
		softhsm2-util --import "$dir/key.pem" --token warden --label ca --id 0102 \
			--pin "$CA_PIN" >/dev/null &&
		pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$CA_PIN" --write-object \
			"$dir/ca.pem" --type cert --id 0102 --label ca >/dev/null || return 1
		CA_MODULE=$SOFTHSM_MODULE ;;
	*) echo "unknown T_TARGET $T_TARGET"; return 1 ;;
	esac
	openssl x509 -in "$CA_CERT" -pubkey -noout >"$dir/ca.pub" || return 1
	CA_ID=$(pkcs11-tool --module "$CA_MODULE" -O --type cert 2>/dev/null |
		sed -n 's/^ *ID: *//p' | head -n 1)
	[ -n "$CA_ID" ] || { echo "no certificate object on the token"; return 1; }
}

# ca_restart: stops (if still running) and restarts the enclave of CA_DIR (no-op for
# softhsm).  The old log is set aside so that warden_start waits for the new "serving".
ca_restart() {
	[ "$T_TARGET" = warden ] || return 0
	warden_stop
	CA_RESTARTS=$((${CA_RESTARTS:-0} + 1))
	mv "$CA_DIR/enclave.log" "$CA_DIR/enclave.log.$CA_RESTARTS" 2>/dev/null
	warden_start "$CA_DIR"
}

# ca_set_prehashed MODE: sets signingKeys.*.prehashed (every entry) in CA_DIR/policy.json
# and reloads the policy (SIGHUP; new connections get the new mechanism list).
ca_set_prehashed() {
	[ "$T_TARGET" = warden ] || return 0
	"$SYS_PYTHON" - "$CA_DIR/policy.json" "$1" <<'PY' || return 1
import json, sys
path, mode = sys.argv[1], sys.argv[2]
with open(path) as f:
    pol = json.load(f)
keys = pol.setdefault("signingKeys", {"*": {}})
for k in keys.values():
    k["prehashed"] = mode
with open(path, "w") as f:  # in place: the sandbox reads that file only
    json.dump(pol, f, indent=2)
PY
	warden_reload "$CA_DIR"
}

# p11kit_usable: unprivileged user namespaces work here (p11kit_run needs them).
p11kit_usable() { unshare --user true 2>/dev/null; }

# p11kit_run CMD...: runs CMD under an unprivileged user namespace (p11-kit ignores user
# module files for uid 0) with a HOME whose only enabled p11-kit module is CA_MODULE.
p11kit_run() {
	local home=$T_TMP/p11home m
	if [ ! -d "$home" ]; then
		mkdir -p "$home/.config/pkcs11/modules"
		# Shadow the system modules so that only the module under test is loaded.
		for m in /usr/share/p11-kit/modules/*.module; do
			printf 'module: /nonexistent\nenable-in: warden-none\n' \
				>"$home/.config/pkcs11/modules/$(basename "$m")"
		done
		chmod -R a+rX "$home"
	fi
	printf 'module: %s\n' "$CA_MODULE" >"$home/.config/pkcs11/modules/warden.module"
	HOME=$home timeout "${T_CLIENT_TIMEOUT:-120}" unshare --user -- "$@"
}

# ca_sign_leaf NAME: a fresh leaf key + CSR in T_TMP/NAME.{key,csr}.
leaf_csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T_TMP/$1.key" -subj "/CN=$1.example.com" -out "$T_TMP/$1.csr" 2>/dev/null
}

# verify_leaf CERT: openssl verify against CA_CERT.
verify_leaf() {
	openssl verify -CAfile "$CA_CERT" "$1"
}

# agent_start: a long-lived PyKCS11 client (tests/integration/p11agent.py) as a bash
# coprocess on CA_MODULE; agent CMD... sends one command and sets AGENT_REPLY.
agent_start() {
	coproc AGENT { PYTHONPATH=$TOP/tests/integration exec "$SYS_PYTHON" -u \
		"$TOP/tests/integration/p11agent.py" "$CA_MODULE" "$CA_ID" 2>>"$T_TMP/agent.err"; }
	AGENT_PID_=$AGENT_PID
	T_PIDS+=("$AGENT_PID_")
}
agent() {
	AGENT_REPLY=""
	echo "$*" >&"${AGENT[1]}" || { AGENT_REPLY="EXC agent gone"; return 1; }
	IFS= read -r -t "${AGENT_TIMEOUT:-60}" AGENT_REPLY <&"${AGENT[0]}" ||
		AGENT_REPLY="EXC no answer"
}
# agent_expect NAME REPLY-PATTERN CMD...: PASS when the reply matches the glob pattern.
agent_expect() {
	local name=$1 want=$2; shift 2
	agent "$@"
	# shellcheck disable=SC2053
	if [[ $AGENT_REPLY == $want ]]; then pass "$name"
	else fail "$name" "'$*' answered '$AGENT_REPLY', want '$want'"; fi
}
agent_stop() {
	agent quit
	wait "$AGENT_PID_" 2>/dev/null
}

# check_fails_with NAME REGEX COMMAND...: PASS if the command exits non-zero (not by a
# signal) and its output matches REGEX (grep -E), so a refusal is told from a breakage.
check_fails_with() {
	local name=$1 re=$2 rc; shift 2
	"$@" >"$T_TMP/last.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then fail "$name" "expected failure, got success"
	elif [ $rc -ge 128 ]; then fail "$name" "killed by a signal (exit $rc)"
	elif grep -Eq "$re" "$T_TMP/last.out"; then pass "$name"
	else fail "$name" "no /$re/ in: $(tail -n 5 "$T_TMP/last.out" | tr '\n' ' ')"; fi
}
