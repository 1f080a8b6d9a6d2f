#!/bin/bash
# clients_pykcs11.sh - PyKCS11 (python3-pykcs11) signs real TBSCertificates through the
# module, in 1-byte C_SignUpdate pieces and with C_Sign; openssl verifies each result.
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

extra=()
[ "$T_TARGET" = softhsm ] && extra=(--softhsm)
for key in rsa2048 p256 p384 ed25519; do
	d=$T_TMP/$key
	if ! ca_up "$d" "$key"; then fail "$key setup"; continue; fi
	mkdir -p "$T_TMP/out-$key"
	PYTHONPATH=$HERE "$SYS_PYTHON" "$HERE/clients_pykcs11.py" "$CA_MODULE" "$CA_PIN" \
		"$CA_ID" "$CA_CERT" "$T_TMP/out-$key" "${extra[@]}" ||
		T_FAILS=$((T_FAILS + 1))
	[ "$T_TARGET" = warden ] && warden_stop
done
t_done
