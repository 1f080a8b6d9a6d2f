#!/usr/bin/python3
"""p11agent.py MODULE CA_ID_HEX - a long-lived PyKCS11 client driven line by line.

The integration scripts run it as a bash coprocess, so that one client process lives
across enclave kills and restarts.  Each command line gets exactly one answer line:
"OK [value]", "ERR CKR_NAME" or "EXC message".

  init            load the module, open a session on the first token
  login PIN       C_Login(CKU_USER)
  login_so PIN    C_Login(CKU_SO)
  logout          C_Logout
  flags           C_GetTokenInfo -> OK <flags in hex>
  sign            C_SignInit + C_Sign (length query first) of a fixed message with the
                  key's full-data mechanism -> OK <signature length>; the key handle is
                  found at the first sign and kept
  session         open a fresh session (the old one stays open)
  quit            exit
"""
import sys

import PyKCS11

import p11client as pc

MECH_BY_KEYTYPE = {
    PyKCS11.CKK_RSA: PyKCS11.CKM_SHA256_RSA_PKCS,
    PyKCS11.CKK_EC: PyKCS11.CKM_ECDSA_SHA256,
    PyKCS11.CKK_EC_EDWARDS: PyKCS11.CKM_EDDSA,
}


def main():
    module, ca_id = sys.argv[1], bytes.fromhex(sys.argv[2])
    tok = None
    key = None
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        try:
            out = "OK"
            if cmd == "quit":
                print("OK", flush=True)
                return 0
            if cmd == "init":
                tok = pc.Token(module)
            elif cmd == "session":
                tok.open()
            elif cmd == "login":
                tok.login(args[0])
            elif cmd == "login_so":
                tok.call("C_Login", tok.h, PyKCS11.CKU_SO, PyKCS11.ckbytelist(args[0]))
            elif cmd == "logout":
                tok.logout()
            elif cmd == "flags":
                out = "OK %x" % tok.token_flags()
            elif cmd == "sign":
                if key is None:  # found once (logged in); handles are stable
                    obj = tok.s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
                                             (PyKCS11.CKA_ID, ca_id)])[0]
                    kt = tok.s.getAttributeValue(obj, [PyKCS11.CKA_KEY_TYPE])[0]
                    key = (obj.value(), MECH_BY_KEYTYPE[kt])
                sig = tok.sign(key[0], pc.mech(key[1]), b"warden agent test message")
                out = "OK %d" % len(sig)
            else:
                out = "EXC unknown command %s" % cmd
        except pc.P11Error as e:
            out = "ERR %s" % pc.rv_name(e.rv)
        except PyKCS11.PyKCS11Error as e:
            out = "ERR %s" % pc.rv_name(e.value)
        except Exception as e:  # noqa: BLE001 - every answer is one line
            out = "EXC %s" % str(e).replace("\n", " ")
        print(out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
