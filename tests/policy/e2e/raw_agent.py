#!/usr/bin/python3
"""raw_agent.py MODULE CA_ID_HEX PIN - a long-lived PyKCS11 client for raw-digest
mechanisms, driven line by line (one answer line per command), so that one process keeps
its module state (and its pooled enclave connections) across a policy reload.

  sign     C_SignInit(CKM_RSA_PKCS on a SHA-256 DigestInfo | CKM_ECDSA on a SHA-256
           digest) + C_Sign -> "OK <digest hex>" | "ERR <CKR_NAME> <digest hex>"
  mechs    C_GetMechanismList -> "OK <raw mechanism listed: yes|no>"
  quit
Used by tests/integration/e2e_policy_prehashed.sh.
"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "integration"))

import PyKCS11  # noqa: E402

import p11client as pc  # noqa: E402

SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")


def main():
    module, ca_id, pin = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
    tok = pc.Token(module)
    tok.login(pin)
    key = tok.key(ca_id)
    obj = tok.s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
                             (PyKCS11.CKA_ID, ca_id)])[0]
    kt = tok.s.getAttributeValue(obj, [PyKCS11.CKA_KEY_TYPE])[0]
    raw = PyKCS11.CKM_RSA_PKCS if kt == PyKCS11.CKK_RSA else PyKCS11.CKM_ECDSA
    print("OK ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        out = "EXC unknown command"
        try:
            if cmd == "quit":
                print("OK", flush=True)
                break
            if cmd == "mechs":
                listed = PyKCS11.CKM[raw] in tok.pk.getMechanismList(tok.slot)
                out = "OK %s" % ("yes" if listed else "no")
            elif cmd == "sign":
                digest = hashlib.sha256(os.urandom(32)).digest()
                data = SHA256_DIGESTINFO + digest if raw == PyKCS11.CKM_RSA_PKCS else digest
                try:
                    tok.sign(key, pc.mech(raw), data)
                    out = "OK %s" % digest.hex()
                except pc.P11Error as e:
                    out = "ERR %s %s" % (pc.rv_name(e.rv), digest.hex())
        except Exception as e:  # noqa: BLE001 - every answer is one line
            out = "EXC %s" % str(e).replace("\n", " ")
        print(out, flush=True)
    tok.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
