#!/bin/bash
# tests/integration/review_stress.sh - libwarden-pkcs11.so from many threads against the
# real enclave (review_stress.c): sessions, login/logout races, find, attributes, length
# queries, one-shot and multi-part signatures, a fork mid-run, no descriptor leaked.
# REVIEW_TSAN=DIR: DIR holds a -fsanitize=thread build of the module (lib/); the stress
# client is built with it too and any ThreadSanitizer report fails the test.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=$T_TMP/ca
STRESS=$T_TMP/review_stress
MODULE=$WARDEN_MODULE
SAN=
if [ -n "${REVIEW_TSAN:-}" ]; then
	SAN=-fsanitize=thread
	MODULE=$REVIEW_TSAN/lib/libwarden-pkcs11.so
fi
# Under make asan the module is instrumented: so must be the program that loads it.
if [ -z "$SAN" ] && ldd "$MODULE" 2>/dev/null | grep -q libasan; then
	SAN="-fsanitize=address,undefined"
fi
if ! cc -std=c11 -D_GNU_SOURCE -O1 -g $SAN -Wall -Wextra -Werror \
	$(pkg-config --cflags p11-kit-1) "$HERE/review_stress.c" -o "$STRESS" -ldl -lpthread \
	>"$T_TMP/cc.log" 2>&1; then
	fail build "$(tail -n 5 "$T_TMP/cc.log" | tr '\n' ' ')"; exit 1
fi
for key in p256 rsa2048; do
	if ! warden_setup "$D-$key" "$key"; then fail "setup_$key" "warden-admin init failed"; continue; fi
	if ! warden_start "$D-$key"; then fail "start_$key" "the enclave did not start"; continue; fi
	echo "log = $T_TMP/module-$key.log" >>"$D-$key/module.conf"
	if TSAN_OPTIONS="halt_on_error=0 exitcode=66" "$STRESS" "$MODULE" "${WARDEN_PIN:-1234}" 4 8 \
		>"$T_TMP/stress-$key.out" 2>&1; then
		pass "threads_sessions_login_sign_fork_$key"
		grep -h signed "$T_TMP/stress-$key.out"
	else
		fail "threads_sessions_login_sign_fork_$key" \
			"$(grep -v '^ *#' "$T_TMP/stress-$key.out" | tail -n 8 | tr '\n' ' ')"
	fi
	if grep -q 'WARNING: ThreadSanitizer' "$T_TMP/stress-$key.out"; then
		fail "no_data_races_$key" "$(grep -A3 'WARNING: ThreadSanitizer' "$T_TMP/stress-$key.out" | head -n 20 | tr '\n' ' ')"
	elif [ -n "$SAN" ]; then pass "no_data_races_$key"; fi
	if kill -0 "$WARDEN_PID" 2>/dev/null; then pass "enclave_survives_many_connections_$key"
	else fail "enclave_survives_many_connections_$key" "$(tail -n 2 "$D-$key/enclave.log" | tr '\n' ' ')"; fi
	warden_stop
done
t_done
