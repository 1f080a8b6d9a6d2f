#!/usr/bin/python3
"""clients_pykcs11.py MODULE PIN CA_ID_HEX CA_PEM OUTDIR [--softhsm]

PyKCS11 signs a real leaf TBSCertificate issued under the CA: once sent in 1-byte
C_SignUpdate pieces then C_SignFinal (length query first), once with C_Sign (length
query first, as PyKCS11 always does).  Each result is assembled into a certificate that
`openssl verify` must accept against the CA.  --softhsm: SoftHSMv2 has no CKM_ECDSA_SHA*
and no multi-part EdDSA, so ECDSA signs the digest with CKM_ECDSA and EdDSA is one-shot.
"""
import hashlib
import os
import sys

import PyKCS11

import p11client as pc


def main():
    module, pin, ca_id, ca_pem, outdir = sys.argv[1:6]
    softhsm = "--softhsm" in sys.argv[6:]
    r = pc.Results()
    ca = pc.load_ca(ca_pem)
    kind = pc.ca_kind(ca)
    tok = pc.Token(module)
    tok.login(pin)
    key = tok.key(bytes.fromhex(ca_id))
    m = pc.FULL_MECH[kind][0]
    raw_ec = softhsm and kind in ("p256", "p384")
    if raw_ec:
        m = PyKCS11.CKM_ECDSA
    hfun = hashlib.sha384 if kind == "p384" else hashlib.sha256

    def signed_input(tbs):
        return hfun(tbs).digest() if raw_ec else tbs

    # 1. the TBS in 1-byte C_SignUpdate pieces, then C_SignFinal
    tbs, alg = pc.make_tbs(ca, "pieces.example.com")
    name = "%s TBS in 1-byte C_SignUpdate pieces + C_SignFinal verifies" % kind
    if softhsm and (raw_ec or kind == "ed25519"):
        print("SKIP %s: SoftHSMv2 has no multi-part form of this mechanism" % name)
    else:
        try:
            tok.sign_init(key, pc.mech(m))
            tok.sign_update(signed_input(tbs), 1)
            sig = tok.sign_final()
            ok, out = pc.openssl_verify(ca_pem, pc.assemble_cert(tbs, alg, sig, kind),
                                        os.path.join(outdir, "pieces.pem"))
            r.check(name, ok, out)
        except pc.P11Error as e:
            r.bad(name, str(e))

    # 2. C_Sign with a length query first
    tbs, alg = pc.make_tbs(ca, "oneshot.example.com")
    name = "%s TBS with C_Sign (length query first) verifies" % kind
    try:
        sig = tok.sign(key, pc.mech(m), signed_input(tbs))
        ok, out = pc.openssl_verify(ca_pem, pc.assemble_cert(tbs, alg, sig, kind),
                                    os.path.join(outdir, "oneshot.pem"))
        r.check(name, ok, out)
    except pc.P11Error as e:
        r.bad(name, str(e))

    # 3. the operation ended with the signature: C_Sign now is CKR_OPERATION_NOT_INITIALIZED
    r.expect_rv("%s C_Sign after a finished operation" % kind,
                lambda: tok.sign_only(b"x"), PyKCS11.CKR_OPERATION_NOT_INITIALIZED)

    # 4. 1 KiB chunks (pkcs11-tool / OpenSSL style) of a bigger TBS-like blob is not a
    #    certificate; covered by clients_pkcs11tool.sh.
    tok.logout()
    tok.close()
    return 1 if r.fails else 0


if __name__ == "__main__":
    sys.exit(main())
