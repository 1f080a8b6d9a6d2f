#!/bin/bash
# tests/bench/enclave_startup.sh - `make bench-enclave-startup` (part of `make bench`): the
# real warden-enclave's start-up time (process start to "serving") on an audit log of N
# records, for each N in BENCH_STARTUP_RECORDS (default "1000000 10000000"):
#   1. the log holds no snapshot (every record verified and replayed);
#   2. after one decision the enclave has written its snapshot (audit.snapshot_records,
#      default 100,000, is long past): full verification, replay only after it;
#   3. the same with audit.fast_start true (verification from the snapshot on).
# The logs are written by enc_loggen (tests/bench/enc_loggen.c): enclave-shaped SIGN
# records with real policy summaries.  Each log goes to BENCH_STARTUP_DIR (default a new
# directory under /var/tmp, removed after); 10M records take about 7 GB there.  Each
# start is run twice; both times are printed (the log is in the page cache both times
# when RAM allows: this measures CPU, not the disk).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
ENCLAVE=$BUILD/bin/warden-enclave
ADMIN=$BUILD/bin/warden-admin
MODULE=$BUILD/lib/libwarden-pkcs11.so
LOGGEN=$BUILD/bench/enc_loggen
SIZES=${BENCH_STARTUP_RECORDS:-1000000 10000000}
base=${BENCH_STARTUP_DIR:-}
own_base=
if [ -z "$base" ]; then
	base=$(mktemp -d /var/tmp/warden-startup.XXXXXX) || exit 1
	own_base=1
fi
PID=
MS=
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ -n "$own_base" ] && rm -rf "$base"
}
trap cleanup EXIT

ms_now() { date +%s%3N; }

# set_audit DIR FAST: audit.fast_start in DIR/enclave.json.
set_audit() {
	/usr/bin/python3 - "$1/enclave.json" "$2" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c.setdefault("audit", {})["fast_start"] = sys.argv[2] == "true"
json.dump(c, open(p, "w"), indent=2)
PY
}

# start DIR: runs the enclave until it serves; MS gets the milliseconds it took.
start() {
	local dir=$1 t0 i
	: >"$dir/enclave.log"
	t0=$(ms_now)
	"$ENCLAVE" --config "$dir/enclave.json" >>"$dir/enclave.log" 2>&1 &
	PID=$!
	for i in $(seq 1 60000); do
		grep -q 'serving' "$dir/enclave.log" && { MS=$(($(ms_now) - t0)); return 0; }
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.005
	done
	echo "enclave did not start:" >&2
	tail -n 5 "$dir/enclave.log" >&2
	return 1
}
stop() {
	kill -TERM "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}
# what DIR: the enclave's own line on what it started from.
what() {
	grep -Eo 'state from the snapshot at record [0-9]+, [a-z ]+|no state snapshot used' \
		"$1/enclave.log" | head -n 1
}

for n in $SIZES; do
	d=$base/ca-$n
	rm -rf "$d"
	"$ADMIN" init "$d" --key p256 --pin 1234 --subject "/CN=Warden Bench CA" >"$d.init.log" 2>&1 ||
		{ cat "$d.init.log"; exit 1; }
	t0=$(ms_now)
	"$LOGGEN" "$d/audit" "$d/audit.key" "$n" >/dev/null || exit 1
	echo "log of $n records written in $(( ($(ms_now) - t0) / 1000 )) s; $(du -sh "$d/audit" | cut -f1)"

	set_audit "$d" false
	start "$d" || exit 1
	a=$MS
	echo "  $(what "$d") / $(grep -o '[0-9]* serials, [0-9]* buckets' "$d/enclave.log" | head -n 1)"
	# One decision (refused by the starter policy: not a certificate) brings the snapshot.
	head -c 100 /dev/urandom >"$d/data"
	WARDEN_CONF=$d/module.conf pkcs11-tool --module "$MODULE" --login --pin 1234 --sign \
		-m ECDSA-SHA256 --input-file "$d/data" --output-file "$d/sig" >/dev/null 2>&1
	snap=$(grep -o 'state snapshot at record.*' "$d/enclave.log" | head -n 1)
	stop
	start "$d" || exit 1
	b=$MS
	stop
	echo "  no snapshot:                      ${a} ms, ${b} ms"
	echo "  enclave wrote: $snap"
	set_audit "$d" false
	start "$d" || exit 1; a=$MS; w=$(what "$d"); stop
	start "$d" || exit 1; b=$MS; stop
	echo "  snapshot, full verification:      ${a} ms, ${b} ms  ($w)"
	set_audit "$d" true
	start "$d" || exit 1; a=$MS; w=$(what "$d"); stop
	start "$d" || exit 1; b=$MS; stop
	echo "  snapshot, fast start:             ${a} ms, ${b} ms  ($w)"
	rm -rf "$d" "$d.init.log"
done
