#!/bin/bash
# badinput_params.sh - bad handles, bad mechanism parameters and oversized data from a
# real PyKCS11 client (tests/integration/badinput_params.py) against an RSA-2048 CA key.
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$T_TARGET" != warden ]; then skip badinput_params "needs the enclave"; exit 0; fi
ca_up "$T_TMP/rsa2048" rsa2048 || { fail setup; t_done; exit; }
max=$("$SYS_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("max_data_len", 16777216))' "$CA_DIR/enclave.json")
PYTHONPATH=$HERE "$SYS_PYTHON" "$HERE/badinput_params.py" "$CA_MODULE" "$CA_PIN" "$CA_ID" \
	"$max" || T_FAILS=$((T_FAILS + 1))
if kill -0 "$WARDEN_PID" 2>/dev/null; then pass "enclave still running"
else fail "enclave still running" "exited"; fi
warden_stop
t_done
