#!/bin/bash
# A backend that returns a corrupted RSA signature (an RSA-CRT fault leaks the key):
# the enclave verifies every RSA signature before it leaves and withholds a bad one.
# The backend is tests/faulty/faulty_p11.c, a PKCS#11 shim over SoftHSMv2 that flips one
# bit of each signature once a trigger file exists.
. "$(dirname "$0")/../lib.sh"
SHIM=$T_TMP/faulty_p11.so
if ! cc -shared -fPIC -O1 -Wall -Wextra -Werror $(pkg-config --cflags p11-kit-1) \
	"$TOP/tests/faulty/faulty_p11.c" -o "$SHIM" -ldl 2>"$T_TMP/cc.log"; then
	fail build_faulty_backend "$(tr '\n' ' ' <"$T_TMP/cc.log")"; t_done; exit 1
fi
san_client_env # make asan: pkcs11-tool needs the sanitizer runtime to load the module
D=$T_TMP/ca
warden_setup "$D" rsa2048 || { fail setup; t_done; exit 1; }
# Point the enclave's backend at the shim; the shim forwards to SoftHSMv2.
TRIGGER=$D/tokens/faulty-trigger # inside a directory the sandbox leaves open
/usr/bin/python3 - "$D/enclave.json" "$SHIM" "$TRIGGER" <<'PY'
import json, sys
p, shim, trig = sys.argv[1:4]
c = json.load(open(p))
c["backend"]["module"] = shim
c["backend"].setdefault("environment", {})["FAULTY_P11_TRIGGER"] = trig
json.dump(c, open(p, "w"), indent=2)
PY
warden_start "$D" || { fail start "$(tail -n 5 "$D/enclave.log")"; t_done; exit 1; }
head -c 600 /dev/urandom >"$T_TMP/data"
sign() { # sign OUT: CKM_SHA256_RSA_PKCS with pkcs11-tool through Warden
	pkcs11-tool --module "$WARDEN_MODULE" --login --pin 1234 --sign -m SHA256-RSA-PKCS \
		--input-file "$T_TMP/data" --output-file "$1"
}
openssl x509 -in "$D/ca.pem" -pubkey -noout >"$T_TMP/pub.pem"
check healthy_backend_signs sign "$T_TMP/sig1"
check healthy_signature_verifies openssl dgst -sha256 -verify "$T_TMP/pub.pem" \
	-signature "$T_TMP/sig1" "$T_TMP/data"
touch "$TRIGGER"
rm -f "$T_TMP/sig2"
check_fails faulty_signature_withheld sign "$T_TMP/sig2"
if [ -s "$T_TMP/sig2" ]; then fail no_signature_bytes_returned; else pass no_signature_bytes_returned; fi
check enclave_logs_failed_verification grep -q "signature did not verify" "$D/enclave.log"
check enclave_still_serving kill -0 "$WARDEN_PID"
rm -f "$TRIGGER"
check signs_again_when_backend_healthy sign "$T_TMP/sig3"

# The same on one connection (one enclave thread, which keeps its verification context
# between signatures): healthy, faulty, healthy again within one PyKCS11 session.
/usr/bin/python3 - "$WARDEN_MODULE" "$TRIGGER" "$T_TMP/data" "$T_TMP/one" >"$T_TMP/one.out" 2>&1 <<'PY'
import os, sys
import PyKCS11
mod, trig, data, out = sys.argv[1:5]
lib = PyKCS11.PyKCS11Lib()
lib.load(mod)
s = lib.openSession(lib.getSlotList(tokenPresent=True)[0], PyKCS11.CKF_SERIAL_SESSION)
s.login("1234")
k = s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_LABEL, "ca")])[0]
m = PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS, None)
d = open(data, "rb").read()
def sign(name):
    try:
        sig = bytes(s.sign(k, d, m))
        open(out + "." + name, "wb").write(sig)
        print(name, "signed")
    except PyKCS11.PyKCS11Error as e:
        print(name, "refused", e)
sign("a")
sign("b")
open(trig, "w").close()
sign("c")
os.unlink(trig)
sign("d")
PY
for n in a b d; do
	check "one_connection_sig_${n}_verifies" openssl dgst -sha256 -verify "$T_TMP/pub.pem" \
		-signature "$T_TMP/one.$n" "$T_TMP/data"
done
check one_connection_faulty_refused grep -q "^c refused" "$T_TMP/one.out"
if [ -e "$T_TMP/one.c" ]; then fail one_connection_faulty_no_bytes; else pass one_connection_faulty_no_bytes; fi
t_done
