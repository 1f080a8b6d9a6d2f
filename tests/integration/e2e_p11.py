#!/usr/bin/python3
"""e2e_p11.py - PyKCS11 clients for the end-to-end audit tests (e2e_audit_*.sh).

Real TBSCertificates (issuer = the CA's subject, AKI = the CA's SKI, one dNSName under
the domain the test policy allows) signed through the module with the key's full-data
mechanism; every signature received is checked against the CA's public key and saved
as the assembled certificate (PEM), so that `warden-audit reconcile --certs DIR` can
match each one to its allowed record.

  e2e_p11.py worker MODULE CA_ID CA.pem PIN OUTDIR NAME STOPFILE
      signs in a loop until STOPFILE exists, surviving enclave kills (CKR_DEVICE_ERROR:
      retry; CKR_USER_NOT_LOGGED_IN: log in again); saves OUTDIR/NAME-<n>.pem per
      signature received and prints one JSON summary line at the end.
  e2e_p11.py agent MODULE CA_ID CA.pem
      one command per stdin line, one answer line ("OK [...]", "ERR CKR_...", "EXC ..."):
        login PIN | logout | flags
        issue DNSNAME SERIALHEX|- DAYS OUT.pem   sign a certificate; OK <sha256 of TBS>
        lastsha        OK <sha256> <serial hex> of the last TBS sent, signed or not
        quit
"""
import datetime
import hashlib
import json
import os
import sys
import time

import PyKCS11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import p11client as pc

RETRY_SLEEP_S = 0.02
LOGIN_TIMEOUT_S = 30.0


class Issuer:
    """Builds TBSCertificates under one CA and assembles the signed certificates."""

    def __init__(self, ca_path):
        self.ca = pc.load_ca(ca_path)
        self.kind = pc.ca_kind(self.ca)
        self.mech_type, self.hash = pc.FULL_MECH[self.kind]
        # One throwaway key of the CA's type (only the TBS of its signature is kept) and
        # one leaf key, so that building a TBS costs no key generation.
        if self.kind == "rsa":
            self.throwaway = rsa.generate_private_key(65537, 1024)
        else:
            self.throwaway = ec.generate_private_key(self.ca.public_key().curve)
        self.leaf = ec.generate_private_key(ec.SECP256R1())
        self.ski = self.ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value

    def tbs(self, dns, serial=None, days=30):
        """(tbs, sig_alg_der, serial)."""
        if serial is None:
            serial = int.from_bytes(os.urandom(16), "big") >> 1 | (1 << 120)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
             .issuer_name(self.ca.subject)
             .public_key(self.leaf.public_key())
             .serial_number(serial)
             .not_valid_before(now - datetime.timedelta(minutes=1))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                          False, False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                 self.ski), critical=False))
        tmp = b.sign(self.throwaway, self.hash)
        parts = pc._der_split(tmp.public_bytes(serialization.Encoding.DER))
        return parts[0], parts[1], serial

    def verify(self, tbs, sig):
        """Raises if sig (as the token returns it) is not the CA's signature of tbs."""
        pub = self.ca.public_key()
        if self.kind == "rsa":
            pub.verify(sig, tbs, padding.PKCS1v15(), self.hash)
        else:
            pub.verify(pc.ec_raw_to_der(sig), tbs, ec.ECDSA(self.hash))

    def save(self, tbs, sig_alg, sig, path):
        der = pc.assemble_cert(tbs, sig_alg, sig, self.kind)
        pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(pem)
        os.rename(tmp, path)


class Client:
    def __init__(self, module, ca_id):
        self.module = module
        self.ca_id = ca_id
        self.tok = pc.Token(module)
        self.key = None

    def login(self, pin):
        try:
            self.tok.login(pin)
        except pc.P11Error as e:
            if e.rv != PyKCS11.CKR_USER_ALREADY_LOGGED_IN:
                raise

    def find_key(self):
        if self.key is None:
            self.key = self.tok.key(self.ca_id)
        return self.key

    def sign(self, mech_type, data):
        return self.tok.sign(self.find_key(), pc.mech(mech_type), data)


def worker(module, ca_id, ca_path, pin, outdir, name, stopfile):
    iss = Issuer(ca_path)
    counts = {}
    received = bad = 0
    cl = None
    need_login = True
    while not os.path.exists(stopfile):
        try:
            if cl is None:
                cl = Client(module, ca_id)
                need_login = True
            if need_login:
                cl.login(pin)
                need_login = False
            tbs, alg, _ = iss.tbs("%s-%d.example.internal" % (name, received))
            sig = cl.sign(iss.mech_type, tbs)
        except pc.P11Error as e:
            n = pc.rv_name(e.rv)
            counts[n] = counts.get(n, 0) + 1
            if e.rv == PyKCS11.CKR_USER_NOT_LOGGED_IN:
                need_login = True
            elif e.rv in (PyKCS11.CKR_SESSION_HANDLE_INVALID, PyKCS11.CKR_SESSION_CLOSED):
                cl.tok.open()
                need_login = True
            elif e.rv == PyKCS11.CKR_DEVICE_ERROR:
                # The enclave is gone or restarting; logins die with it.
                need_login = True
            time.sleep(RETRY_SLEEP_S)
            continue
        except PyKCS11.PyKCS11Error as e:
            n = pc.rv_name(e.value)
            counts[n] = counts.get(n, 0) + 1
            cl = None  # the module could not even start: try afresh
            time.sleep(RETRY_SLEEP_S)
            continue
        except RuntimeError as e:
            # "no slot with a token": the enclave is down while the module loads.
            counts[str(e)] = counts.get(str(e), 0) + 1
            cl = None
            time.sleep(RETRY_SLEEP_S)
            continue
        # A signature left the token: keep it, whatever it is.
        path = os.path.join(outdir, "%s-%05d.pem" % (name, received))
        try:
            iss.verify(tbs, sig)
        except Exception:  # noqa: BLE001 - a bad signature is a finding, keep it
            bad += 1
            with open(os.path.join(outdir, "%s-%05d.bad" % (name, received)), "w") as f:
                f.write("%s %s\n" % (tbs.hex(), sig.hex()))
        else:
            iss.save(tbs, alg, sig, path)
        received += 1
    print(json.dumps({"name": name, "received": received, "bad_signatures": bad,
                      "errors": counts}), flush=True)
    return 0


def agent(module, ca_id, ca_path):
    iss = Issuer(ca_path)
    cl = None
    last_sha = "- -"
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        cmd, args = w[0], w[1:]
        out = "OK"
        try:
            if cmd == "quit":
                print("OK", flush=True)
                return 0
            if cl is None:
                cl = Client(module, ca_id)
            if cmd == "login":
                cl.tok.login(args[0])
            elif cmd == "logout":
                cl.tok.logout()
            elif cmd == "flags":
                out = "OK %x" % cl.tok.token_flags()
            elif cmd == "lastsha":
                out = "OK %s" % last_sha
            elif cmd == "issue":
                serial = None if args[1] == "-" else int(args[1], 16)
                tbs, alg, serial = iss.tbs(args[0], serial, int(args[2]))
                last_sha = "%s %x" % (hashlib.sha256(tbs).hexdigest(), serial)
                sig = cl.sign(iss.mech_type, tbs)
                iss.verify(tbs, sig)
                iss.save(tbs, alg, sig, args[3])
                out = "OK %s" % hashlib.sha256(tbs).hexdigest()
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


def main():
    mode = sys.argv[1]
    if mode == "worker":
        m, cid, ca, pin, outdir, name, stop = sys.argv[2:9]
        return worker(m, bytes.fromhex(cid), ca, pin, outdir, name, stop)
    if mode == "agent":
        m, cid, ca = sys.argv[2:5]
        return agent(m, bytes.fromhex(cid), ca)
    print("usage: e2e_p11.py worker|agent ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
