"""p11client.py - PyKCS11 helpers shared by the integration tests (run with /usr/bin/python3).

A thin layer over PyKCS11's low-level calls so that tests see every CK_RV, plus a
builder of real TBSCertificates (issuer = the CA's subject, AKI = the CA's SKI) and the
assembly of the signed certificate, so that `openssl verify` checks the result.
"""
import datetime
import os
import subprocess

import PyKCS11
from PyKCS11 import LowLevel as LL
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CKR_NAMES = {v: k for k, v in PyKCS11.CKR.items() if isinstance(k, str)}


def rv_name(rv):
    return CKR_NAMES.get(rv, "0x%x" % rv)


class P11Error(Exception):
    def __init__(self, call, rv):
        super().__init__("%s: %s" % (call, rv_name(rv)))
        self.call = call
        self.rv = rv


class Results:
    """PASS/FAIL lines in the format of tests/lib.sh."""

    def __init__(self):
        self.fails = 0

    def ok(self, name):
        print("PASS %s" % name, flush=True)

    def bad(self, name, why=""):
        print("FAIL %s%s" % (name, ": " + why if why else ""), flush=True)
        self.fails += 1

    def check(self, name, cond, why=""):
        if cond:
            self.ok(name)
        else:
            self.bad(name, why)

    def expect_rv(self, name, fn, *want):
        """Runs fn(); PASS when it raises P11Error with one of the CK_RVs in want."""
        try:
            fn()
        except P11Error as e:
            if e.rv in want:
                self.ok(name)
            else:
                self.bad(name, "%s, want %s" % (e, "/".join(rv_name(w) for w in want)))
            return
        except Exception as e:  # noqa: BLE001 - report anything else as a failure
            self.bad(name, "raised %r" % e)
            return
        self.bad(name, "succeeded, want %s" % "/".join(rv_name(w) for w in want))


class Token:
    """One loaded module, first slot with a token, one RW session."""

    def __init__(self, module):
        self.pk = PyKCS11.PyKCS11Lib()
        self.pk.load(module)
        self.lib = self.pk.lib
        slots = self.pk.getSlotList(tokenPresent=True)
        if not slots:
            raise RuntimeError("no slot with a token")
        self.slot = slots[0]
        self.s = None
        self.open()

    def open(self):
        self.s = self.pk.openSession(self.slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
        self.h = self.s.session

    def call(self, name, *args):
        rv = getattr(self.lib, name)(*args)
        if rv != PyKCS11.CKR_OK:
            raise P11Error(name, rv)

    def login(self, pin):
        self.call("C_Login", self.h, PyKCS11.CKU_USER, PyKCS11.ckbytelist(pin))

    def logout(self):
        self.call("C_Logout", self.h)

    def token_flags(self):
        info = LL.CK_TOKEN_INFO()
        self.call("C_GetTokenInfo", self.slot, info)
        return info.flags

    def find(self, cls, ckid=None):
        tmpl = [(PyKCS11.CKA_CLASS, cls)]
        if ckid is not None:
            tmpl.append((PyKCS11.CKA_ID, ckid))
        return [o.value() for o in self.s.findObjects(tmpl)]

    def key(self, ckid):
        keys = self.find(PyKCS11.CKO_PRIVATE_KEY, ckid)
        if not keys:
            raise RuntimeError("no private key with CKA_ID %s" % bytes(ckid).hex())
        return keys[0]

    def sign_init(self, key, mech):
        self.call("C_SignInit", self.h, mech.to_native(), handle(key))

    def sign(self, key, mech, data):
        """C_SignInit + C_Sign twice (length query first), as PyKCS11 does."""
        self.sign_init(key, mech)
        return self.sign_only(data)

    def sign_only(self, data):
        sig = PyKCS11.ckbytelist()
        d = PyKCS11.ckbytelist(data)
        self.call("C_Sign", self.h, d, sig)  # length query
        if len(sig) == 0:
            raise RuntimeError("length query returned 0")
        self.call("C_Sign", self.h, d, sig)
        return bytes(sig)

    def sign_update(self, data, piece=1):
        for i in range(0, len(data), piece):
            self.call("C_SignUpdate", self.h, PyKCS11.ckbytelist(data[i:i + piece]))

    def sign_final(self):
        sig = PyKCS11.ckbytelist()
        self.call("C_SignFinal", self.h, sig)  # length query
        self.call("C_SignFinal", self.h, sig)
        return bytes(sig)

    def close(self):
        try:
            self.s.closeSession()
        except PyKCS11.PyKCS11Error:
            pass


def handle(value):
    """A low-level object handle holding any value (also invalid ones)."""
    h = LL.CK_OBJECT_HANDLE()
    h.assign(value)
    return h


def mech(m, pss=None):
    """A PyKCS11 mechanism object; pss = (hashAlg, mgf, sLen) for the PSS forms."""
    if pss is not None:
        return PyKCS11.RSA_PSS_Mechanism(m, *pss)
    return PyKCS11.Mechanism(m, None)


# --- certificates -----------------------------------------------------------------------

def load_ca(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def ca_kind(ca):
    k = ca.public_key()
    if isinstance(k, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(k, ec.EllipticCurvePublicKey):
        return "p384" if k.curve.name == "secp384r1" else "p256"
    if isinstance(k, ed25519.Ed25519PublicKey):
        return "ed25519"
    raise RuntimeError("unexpected CA key type")


# Per CA key kind: full-data mechanism, hash for the certificate signature algorithm.
FULL_MECH = {
    "rsa": (PyKCS11.CKM_SHA256_RSA_PKCS, hashes.SHA256()),
    "p256": (PyKCS11.CKM_ECDSA_SHA256, hashes.SHA256()),
    "p384": (PyKCS11.CKM_ECDSA_SHA384, hashes.SHA384()),
    "ed25519": (PyKCS11.CKM_EDDSA, None),
}


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_tlv(tag, body):
    return bytes([tag]) + _der_len(len(body)) + body


def _der_split(der):
    """The elements of a DER SEQUENCE, as raw TLVs."""
    assert der[0] == 0x30
    if der[1] < 0x80:
        off = 2
    else:
        off = 2 + (der[1] & 0x7F)
    out = []
    while off < len(der):
        hl = 2 if der[off + 1] < 0x80 else 2 + (der[off + 1] & 0x7F)
        ln = der[off + 1] if der[off + 1] < 0x80 else int.from_bytes(der[off + 2:off + hl], "big")
        out.append(der[off:off + hl + ln])
        off += hl + ln
    return out


def make_tbs(ca, cn="leaf.example.com"):
    """(tbs, sig_alg_der): a leaf TBSCertificate issued under ca, with the signature
    AlgorithmIdentifier of the CA key's full-data mechanism."""
    kind = ca_kind(ca)
    h = FULL_MECH[kind][1]
    if kind == "rsa":
        throwaway = rsa.generate_private_key(65537, 1024)
    elif kind == "ed25519":
        throwaway = ed25519.Ed25519PrivateKey.generate()
    else:
        throwaway = ec.generate_private_key(ca.public_key().curve)
    leaf = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(ca.subject)
         .public_key(leaf.public_key())
         .serial_number(int.from_bytes(os.urandom(16), "big") >> 1)
         .not_valid_before(now - datetime.timedelta(minutes=1))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                      False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                        critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf.public_key()),
                        critical=False))
    tmp = b.sign(throwaway, h)
    der = tmp.public_bytes(serialization.Encoding.DER)
    parts = _der_split(der)
    assert parts[0] == tmp.tbs_certificate_bytes
    return parts[0], parts[1]


def ec_raw_to_der(sig):
    n = len(sig) // 2
    return encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))


def assemble_cert(tbs, sig_alg, sig, kind):
    """The signed certificate (DER) from a TBS, its AlgorithmIdentifier and the token's
    signature (raw r||s for ECDSA)."""
    if kind in ("p256", "p384"):
        sig = ec_raw_to_der(sig)
    return _der_tlv(0x30, tbs + sig_alg + _der_tlv(0x03, b"\x00" + sig))


def openssl_verify(ca_path, cert_der, out_path):
    """Writes the certificate as PEM and runs `openssl verify`; returns (ok, output)."""
    with open(out_path, "wb") as f:
        f.write(x509.load_der_x509_certificate(cert_der).public_bytes(
            serialization.Encoding.PEM))
    p = subprocess.run(["openssl", "verify", "-CAfile", ca_path, out_path],
                       capture_output=True, text=True)
    return p.returncode == 0, (p.stdout + p.stderr).strip().replace("\n", " ")
