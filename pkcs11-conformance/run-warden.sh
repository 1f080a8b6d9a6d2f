#!/bin/bash
# run-warden.sh [RESULTS-DIR] - runs p11-conformance against libwarden-pkcs11.so with a
# real enclave (warden-admin init + warden-enclave, through tests/lib.sh), with
# pkcs11-conformance/warden.deviations, once per CA key: rsa2048, p256 and ed25519 with the
# default configuration (full-data mechanisms only), and rsa2048-prehashed and
# p256-prehashed whose policy says "prehashed": "audit" (so CKM_RSA_PKCS / CKM_ECDSA are listed).
# Prints "PASS/FAIL/SKIP/XFAIL warden-KEY: test" lines; with RESULTS-DIR also writes them
# to RESULTS-DIR/conformance-warden.txt.  Without the module, the enclave or warden-admin
# in $BUILD it prints SKIP lines saying what is missing.
# Exits non-zero on any failure that is not a listed deviation.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091  # tests/lib.sh
. "$HERE/../tests/lib.sh"
RESULTS=${1:-}
SUITE="$BUILD/tests/p11-conformance"
TARGET=warden
PIN=${WARDEN_PIN:-1234}
OUT="$T_TMP/results.txt"
RUNS="rsa2048 p256 ed25519 rsa2048-prehashed p256-prehashed"
: >"$OUT"

emit() { echo "$*" | tee -a "$OUT"; }
finish() {
	if [ -n "$RESULTS" ]; then
		mkdir -p "$RESULTS"
		cp "$OUT" "$RESULTS/conformance-$TARGET.txt"
	fi
	exit "$1"
}

if [ ! -x "$SUITE" ]; then
	emit "FAIL $TARGET: suite binary $SUITE not built"
	finish 1
fi
missing=""
for f in "$WARDEN_MODULE" "$WARDEN_ENCLAVE" "$WARDEN_ADMIN"; do
	[ -e "$f" ] || missing="$missing $f"
done
if [ "${P11C_WARDEN_BUILD:-ok}" != ok ]; then
	why=$(grep -m 3 -E 'error|Error|No rule' "${P11C_WARDEN_BUILD_LOG:-/dev/null}" | tr '\n' ' ')
	for key in $RUNS; do
		emit "SKIP $TARGET-$key: the Warden products do not build yet: ${why:-see $P11C_WARDEN_BUILD_LOG}"
	done
	finish 0
fi
if [ -n "$missing" ]; then
	for key in $RUNS; do
		emit "SKIP $TARGET-$key: not built yet:$missing"
	done
	finish 0
fi

# Under ASan: leaks inside SoftHSMv2 (the enclave's and warden-admin's backend) are not
# Warden's; see lsan-softhsm.supp.  Warden's own leaks are still reported.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/lsan-softhsm.supp"
ASAN_BASE=${ASAN_OPTIONS:-}

status=0
for key in $RUNS; do
	dir="$T_TMP/$key"
	# SoftHSM's Ed25519 leak is attributed to it only with the slow unwinder.
	export ASAN_OPTIONS=$ASAN_BASE
	[ "$key" = ed25519 ] && ASAN_OPTIONS="${ASAN_BASE:+$ASAN_BASE:}fast_unwind_on_malloc=0"
	if ! warden_setup "$dir" "${key%-prehashed}" >"$T_TMP/setup-$key.log" 2>&1; then
		emit "FAIL $TARGET-$key: warden-admin init: $(tail -n 5 "$T_TMP/setup-$key.log" | tr '\n' ' ')"
		status=1
		continue
	fi
	case "$key" in
	*-prehashed)
		# prehashed lives in the policy (the permissive test policy warden_setup wrote).
		if ! grep -q '"prehashed": *"deny"' "$dir/policy.json"; then
			emit "FAIL $TARGET-$key: no \"prehashed\": \"deny\" in $dir/policy.json to switch"
			status=1
			continue
		fi
		sed -i 's/"prehashed": *"deny"/"prehashed": "audit"/' "$dir/policy.json" ;;
	esac
	if ! warden_start "$dir" >"$T_TMP/start-$key.log" 2>&1; then
		emit "FAIL $TARGET-$key: warden-enclave did not start: $(tail -n 5 "$T_TMP/start-$key.log" | tr '\n' ' ')"
		status=1
		continue
	fi
	# The enclave keeps its PIN failure count; the suite tries one wrong PIN, then the
	# right one, which resets it.
	P11C_MODULE="$WARDEN_MODULE" P11C_PIN="$PIN" P11C_KEY_LABEL="${WARDEN_KEY_LABEL:-ca}" \
	P11C_WRONG_PIN_OK=1 P11C_DEVIATIONS="$HERE/warden.deviations" \
		"$SUITE" >"$T_TMP/suite-$key.log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP|XFAIL) ' "$T_TMP/suite-$key.log" |
		sed "s/^\([A-Z]*\) /\1 $TARGET-$key: /" | tee -a "$OUT"
	if [ $rc -ne 0 ]; then
		status=1
		grep -q '^FAIL ' "$T_TMP/suite-$key.log" ||
			emit "FAIL $TARGET-$key: suite exited $rc: $(tail -n 5 "$T_TMP/suite-$key.log" | tr '\n' ' ')"
		echo "---- enclave log ($key), last lines:"
		tail -n 20 "$dir/enclave.log"
	fi
	[ -n "${P11C_VERBOSE:-}" ] && cat "$T_TMP/suite-$key.log"
	if ! kill -0 "$WARDEN_PID" 2>/dev/null; then
		emit "FAIL $TARGET-$key: enclave_alive: the enclave died during the suite: $(tail -n 3 "$dir/enclave.log" | tr '\n' ' ')"
		status=1
	fi
	warden_stop
done
finish $status
