#!/bin/bash
# run-softhsm.sh [RESULTS-DIR] - runs p11-conformance against SoftHSMv2 (the reference).
#
# Makes a temporary token (own SOFTHSM2_CONF, never the system's), an RSA-2048, a
# P-256 and an Ed25519 key pair (pkcs11-tool --keypairgen), and runs the suite once per key
# with pkcs11-conformance/softhsm2.deviations.  Prints "PASS/FAIL/SKIP/XFAIL key: test"
# lines; with RESULTS-DIR also writes them to RESULTS-DIR/conformance-softhsm.txt.
# Exits non-zero on any failure that is not a listed deviation.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
RESULTS=${1:-}
SUITE="$BUILD/tests/p11-conformance"
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
PIN=123456
SO_PIN=12345678
TARGET=softhsm

TMP=$(mktemp -d /tmp/p11c-softhsm.XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
OUT="$TMP/results.txt"
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
if [ ! -f "$SOFTHSM_MODULE" ]; then
	emit "SKIP $TARGET: $SOFTHSM_MODULE not installed"
	finish 0
fi

# Under ASan: SoftHSM's own leaks are not ours to report (see lsan-softhsm.supp).
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/lsan-softhsm.supp"

mkdir -p "$TMP/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$TMP" >"$TMP/softhsm2.conf"
export SOFTHSM2_CONF="$TMP/softhsm2.conf"
if ! softhsm2-util --init-token --free --label p11c --so-pin "$SO_PIN" --pin "$PIN" \
	>"$TMP/init.log" 2>&1; then
	emit "FAIL $TARGET: softhsm2-util --init-token: $(tr '\n' ' ' <"$TMP/init.log")"
	finish 1
fi
# The slot id SoftHSM gave the new token.
SLOT=$(softhsm2-util --show-slots 2>/dev/null |
	awk '/^Slot /{s=$2} /Label:[[:space:]]*p11c[[:space:]]*$/{print s; exit}')

status=0
# key label, pkcs11-tool key type, CKA_ID
for spec in "rsa2048 rsa:2048 01" "p256 EC:prime256v1 02" "ed25519 EC:edwards25519 03"; do
	# shellcheck disable=SC2086  # split the spec into its words
	set -- $spec
	label=$1 ktype=$2 id=$3
	if ! pkcs11-tool --module "$SOFTHSM_MODULE" --token-label p11c --login --pin "$PIN" \
		--keypairgen --key-type "$ktype" --label "$label" --id "$id" --usage-sign \
		>"$TMP/keygen-$label.log" 2>&1; then
		emit "FAIL $TARGET $label: keypairgen: $(tail -n 3 "$TMP/keygen-$label.log" | tr '\n' ' ')"
		status=1
		continue
	fi
	# The leak SoftHSM has with Ed25519 keys is only attributed to libsofthsm2.so (and
	# so suppressed) with the slow unwinder, which goes through libcrypto's frames.
	asan=${ASAN_OPTIONS:-}
	[ "$label" = ed25519 ] && asan="${asan:+$asan:}fast_unwind_on_malloc=0"
	ASAN_OPTIONS=$asan \
	P11C_MODULE="$SOFTHSM_MODULE" P11C_SLOT="$SLOT" P11C_PIN="$PIN" P11C_SO_PIN="$SO_PIN" \
	P11C_KEY_LABEL="$label" P11C_WRONG_PIN_OK=1 \
	P11C_DEVIATIONS="$HERE/softhsm2.deviations" \
		"$SUITE" >"$TMP/suite-$label.log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP|XFAIL) ' "$TMP/suite-$label.log" |
		sed "s/^\([A-Z]*\) /\1 $TARGET-$label: /" | tee -a "$OUT"
	if [ $rc -ne 0 ]; then
		status=1
		grep -q '^FAIL ' "$TMP/suite-$label.log" ||
			emit "FAIL $TARGET-$label: suite exited $rc: $(tail -n 5 "$TMP/suite-$label.log" | tr '\n' ' ')"
	fi
	[ -n "${P11C_VERBOSE:-}" ] && cat "$TMP/suite-$label.log"
done
finish $status
