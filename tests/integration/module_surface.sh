#!/bin/bash
# The attack surface the threat model claims, checked on the built artefacts:
# the module exports only the PKCS#11 entry points and links no cryptographic library
# (it holds no key and does no crypto), and the enclave closes a peer whose uid is not in
# allowed_uids before it reads a byte.
. "$(dirname "$0")/../lib.sh"

exports=$(nm -D --defined-only "$WARDEN_MODULE" | awk '$2 ~ /^[TW]$/ { print $3 }' | sort | tr '\n' ' ')
if [ "$exports" = "C_GetFunctionList C_GetInterface C_GetInterfaceList " ]; then
	pass module_exports_only_pkcs11_entry_points
else
	fail module_exports_only_pkcs11_entry_points "exports: $exports"
fi
# ldd of an ASan build also lists the sanitizer runtimes; crypto libraries never.
check_fails module_links_no_crypto_library \
	bash -c "ldd '$WARDEN_MODULE' | grep -E 'libcrypto|libssl|libgnutls|libnss|libsofthsm|libp11'"
check module_needs_only_libc bash -c \
	"ldd '$WARDEN_MODULE' | grep -vE 'linux-vdso|ld-linux|libc\\.so|lib(a|ub)san|libstdc|libgcc_s|libm\\.so|libdl|libpthread|librt' | grep -q . && exit 1 || exit 0"

# A uid outside allowed_uids ([0], the default for a setup made as root) is closed.
D=$T_TMP/ca
warden_setup "$D" p256 || { fail setup; t_done; exit 1; }
/usr/bin/python3 - "$D/enclave.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["socket_mode"] = "0666"; json.dump(c, open(p, "w"), indent=2)
PY
chmod 711 "$T_TMP" "$D" # let the other uid reach the socket
warden_start "$D" || { fail start; t_done; exit 1; }
peer() { # peer USER: HELLO as USER; prints "answered" or "closed"
	setpriv --reuid="$(id -u "$1")" --regid="$(id -g "$1")" --clear-groups env PYTHONPATH="$TOP/tests/integration" \
		/usr/bin/python3 -c '
import sys, struct, enclave_wire as w
s = w.connect(sys.argv[1], timeout=10)
try:
    s.sendall(w.frame(w.HELLO, struct.pack(">I", 1)))
except (BrokenPipeError, ConnectionResetError):
    print("closed"); sys.exit(0)
print("closed" if w.closed(s) else "answered")' "$D/enclave.sock"
}
out=$(peer nobody 2>&1)
[ "$out" = closed ] && pass enclave_closes_uid_not_allowed || fail enclave_closes_uid_not_allowed "$out"
check enclave_logs_refused_uid grep -qi "uid $(id -u nobody)" "$D/enclave.log"
out=$(peer 0 2>&1)
[ "$out" = answered ] && pass enclave_answers_allowed_uid || fail enclave_answers_allowed_uid "$out"
t_done
