#!/usr/bin/python3
"""rules_client.py MODULE CA.pem CA_ID_HEX PIN OUTDIR CASE... - signs hand-built
TBSCertificates through a PKCS#11 module with PyKCS11 (full data: CKM_SHA256_RSA_PKCS or
CKM_ECDSA_SHA256), one line per case on stdout:

    <case> OK <serial-hex>                  signed; OUTDIR/<case>.pem verifies (openssl)
    <case> BADCERT <serial-hex> <why>       signed, but the certificate does not verify
    <case> ERR <CKR_NAME> <serial-hex>      C_Sign failed with that CK_RV
    <case> EXC <message>

A case is NAME[:option=value,...] with options
    cn=TEXT        subject commonName (default NAME.example.test; "-" for none)
    san=A+B        dNSNames (default the CN; "-" for no subjectAltName extension)
    issuer=TEXT    issuer commonName instead of the CA certificate's subject
    hash=sha384    the TBS's signature AlgorithmIdentifier hash (default the mechanism's)
    serial=HEX     the serial (default 16 random octets)
    days=N         lifetime in days (default 30)
    data=junk      sign 64 random bytes instead of a TBS (data kind "other")
    pss=N          RSA only: the TBS says RSASSA-PSS (SHA-256, MGF1-SHA-256, salt N) and
                   the mechanism is CKM_SHA256_RSA_PKCS_PSS with salt mpss=M (default N)
    update=N       send the data with C_SignUpdate in N-byte pieces + C_SignFinal
    prov=TYPE/NAME step-ca's provisioner extension (1.3.6.1.4.1.37476.9000.64.1):
                   SEQUENCE { type INTEGER, name OCTET STRING, credentialID OCTET
                   STRING }; TYPE a step-ca name (JWK, ACME, ...) or number
With RULES_BARRIER=PATH in the environment, each case waits (logged in, TBS built) until
PATH exists before it signs, so that several processes sign at the same moment.
Used by tests/integration/e2e_policy_rules.sh.
"""
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "integration"))

import PyKCS11  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

import p11client as pc  # noqa: E402

HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
PROVISIONER_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37476.9000.64.1")
PROVISIONER_TYPES = {"JWK": 1, "OIDC": 2, "GCP": 3, "AWS": 4, "Azure": 5, "ACME": 6,
                     "X5C": 7, "K8sSA": 8, "SSHPOP": 9, "SCEP": 10, "Nebula": 11}


def provisioner_ext(spec):
    """The extension value step-ca writes: SEQUENCE { type INTEGER, name OCTET STRING,
    credentialID OCTET STRING }."""
    t = pc._der_tlv
    ptype, _, pname = spec.partition("/")
    n = PROVISIONER_TYPES[ptype] if ptype in PROVISIONER_TYPES else int(ptype)
    return t(0x30, t(0x02, bytes([n])) + t(0x04, pname.encode()) + t(0x04, b"kid-" +
                                                                     pname.encode()))


def parse_case(spec):
    name, _, rest = spec.partition(":")
    opts = {}
    for kv in filter(None, rest.split(",")):
        k, _, v = kv.partition("=")
        opts[k] = v
    return name, opts


def build_tbs(ca, kind, name, opts):
    """(tbs, sig_alg_der, serial) for one case."""
    cn = opts.get("cn", name + ".example.test")
    san = opts.get("san", cn)
    h = HASHES[opts.get("hash", "sha256")]
    serial = int(opts["serial"], 16) if "serial" in opts else \
        int.from_bytes(b"\x5a" + os.urandom(15), "big")
    days = int(opts.get("days", "30"))
    # A throwaway key of the CA's type makes the builder write the AlgorithmIdentifier.
    throwaway = rsa.generate_private_key(65537, 1024) if kind == "rsa" else \
        ec.generate_private_key(ca.public_key().curve)
    leaf = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    subject = x509.Name([] if cn == "-" else [x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer = ca.subject if "issuer" not in opts else \
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, opts["issuer"])])
    b = (x509.CertificateBuilder()
         .subject_name(subject)
         .issuer_name(issuer)
         .public_key(leaf.public_key())
         .serial_number(serial)
         .not_valid_before(now - datetime.timedelta(minutes=1))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                      False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                        critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf.public_key()),
                        critical=False))
    if "prov" in opts:
        b = b.add_extension(x509.UnrecognizedExtension(PROVISIONER_OID,
                                                       provisioner_ext(opts["prov"])),
                            critical=False)
    if san != "-":
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(s) for s in san.split("+")]), critical=False)
    tmp = b.sign(throwaway, h)
    parts = pc._der_split(tmp.public_bytes(serialization.Encoding.DER))
    assert parts[0] == tmp.tbs_certificate_bytes
    return parts[0], parts[1], serial


def _pss_alg(salt):
    """AlgorithmIdentifier RSASSA-PSS {SHA-256, MGF1 SHA-256, saltLength salt}."""
    t = pc._der_tlv
    sha256 = t(0x30, bytes.fromhex("0609608648016503040201") + b"\x05\x00")
    mgf1 = t(0x30, bytes.fromhex("06092a864886f70d010108") + sha256)
    params = t(0x30, t(0xa0, sha256) + t(0xa1, mgf1) +
               t(0xa2, t(0x02, salt.to_bytes(2, "big").lstrip(b"\x00") or b"\x00")))
    return t(0x30, bytes.fromhex("06092a864886f70d01010a") + params)


def with_sig_alg(tbs, alg):
    """The TBS with its signature AlgorithmIdentifier (after version and serial) replaced."""
    parts = pc._der_split(tbs)
    parts[2] = alg
    return pc._der_tlv(0x30, b"".join(parts))


def main():
    module, ca_path, ca_id, pin, outdir = sys.argv[1:6]
    ca = pc.load_ca(ca_path)
    kind = pc.ca_kind(ca)
    kind_mech = "rsa" if kind == "rsa" else kind
    mech = pc.FULL_MECH[kind_mech][0]
    tok = pc.Token(module)
    tok.login(pin)
    key = tok.key(bytes.fromhex(ca_id))
    for spec in sys.argv[6:]:
        name, opts = parse_case(spec)
        try:
            tbs, alg, serial = build_tbs(ca, "rsa" if kind == "rsa" else "ec", name, opts)
            m = pc.mech(mech)
            if "pss" in opts:
                alg = _pss_alg(int(opts["pss"]))
                tbs = with_sig_alg(tbs, alg)
                m = pc.mech(PyKCS11.CKM_SHA256_RSA_PKCS_PSS,
                            (PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256,
                             int(opts.get("mpss", opts["pss"]))))
            if opts.get("data") == "junk":
                tbs = os.urandom(64)
            with open(os.path.join(outdir, name + ".tbs"), "wb") as f:
                f.write(tbs)
            sh = "%x" % serial
            barrier = os.environ.get("RULES_BARRIER")
            deadline = time.time() + 30
            while barrier and not os.path.exists(barrier) and time.time() < deadline:
                time.sleep(0.005)
            try:
                if "update" in opts:
                    tok.sign_init(key, m)
                    tok.sign_update(tbs, int(opts["update"]))
                    sig = tok.sign_final()
                else:
                    sig = tok.sign(key, m, tbs)
            except pc.P11Error as e:
                print("%s ERR %s %s" % (name, pc.rv_name(e.rv), sh), flush=True)
                # the failed operation must be over: a fresh one starts cleanly
                continue
            if opts.get("data") == "junk":
                print("%s OK %s" % (name, sh), flush=True)
                continue
            der = pc.assemble_cert(tbs, alg, sig, kind)
            ok, why = pc.openssl_verify(ca_path, der, os.path.join(outdir, name + ".pem"))
            print("%s %s %s%s" % (name, "OK" if ok else "BADCERT", sh, "" if ok else " " + why),
                  flush=True)
        except Exception as e:  # noqa: BLE001 - one line per case whatever happens
            print("%s EXC %s" % (name, str(e).replace("\n", " ")), flush=True)
    tok.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
