#!/usr/bin/python3
"""badinput_params.py MODULE PIN CA_ID_HEX MAX_DATA_LEN - bad arguments from a real
PyKCS11 client against an RSA CA key: unknown and wrong-kind handles, bad RSA-PSS
parameters, mechanisms the key does not take, data beyond the bound.  Each error must be
the documented CK_RV, and the session must stay usable afterwards.
"""
import sys

import PyKCS11
from PyKCS11 import LowLevel as LL

import p11client as pc

R = PyKCS11

MSG = b"warden bad-input test message"


def main():
    module, pin, ca_id, max_data = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), \
        int(sys.argv[4])
    r = pc.Results()
    tok = pc.Token(module)

    sha256_rsa = pc.mech(R.CKM_SHA256_RSA_PKCS)
    r.expect_rv("C_SignInit before login is CKR_USER_NOT_LOGGED_IN or KEY_HANDLE_INVALID",
                lambda: tok.sign_init(1, sha256_rsa),
                R.CKR_USER_NOT_LOGGED_IN, R.CKR_KEY_HANDLE_INVALID)
    tok.login(pin)
    key = tok.key(ca_id)
    pub = tok.find(R.CKO_PUBLIC_KEY, ca_id)[0]
    cert = tok.find(R.CKO_CERTIFICATE, ca_id)[0]

    # -- unknown handles ---------------------------------------------------------------
    for h in (0, 0xDEAD, 4 * 63 + 1, 0xFFFFFFFF):
        r.expect_rv("C_SignInit on unknown key handle 0x%x" % h,
                    lambda h=h: tok.sign_init(h, sha256_rsa), R.CKR_KEY_HANDLE_INVALID,
                    R.CKR_OBJECT_HANDLE_INVALID)
    def get_attr(h):
        tmpl = LL.ckattrlist(1)
        tmpl[0].SetType(R.CKA_LABEL)
        tok.call("C_GetAttributeValue", tok.h, pc.handle(h), tmpl)
    r.expect_rv("C_GetAttributeValue on unknown handle", lambda: get_attr(0xDEAD),
                R.CKR_OBJECT_HANDLE_INVALID)
    r.expect_rv("C_GetAttributeValue on handle 0", lambda: get_attr(0),
                R.CKR_OBJECT_HANDLE_INVALID)
    r.expect_rv("C_SignInit on the certificate object",
                lambda: tok.sign_init(cert, sha256_rsa), R.CKR_KEY_HANDLE_INVALID,
                R.CKR_KEY_TYPE_INCONSISTENT, R.CKR_KEY_FUNCTION_NOT_PERMITTED)
    r.expect_rv("C_SignInit on the public key",
                lambda: tok.sign_init(pub, sha256_rsa), R.CKR_KEY_FUNCTION_NOT_PERMITTED,
                R.CKR_KEY_TYPE_INCONSISTENT, R.CKR_KEY_HANDLE_INVALID)
    bad_session = LL.CK_SESSION_HANDLE()
    bad_session.assign(0xDEAD)
    r.expect_rv("C_SignInit on unknown session handle", lambda: tok.call(
        "C_SignInit", bad_session, sha256_rsa.to_native(), pc.handle(key)),
        R.CKR_SESSION_HANDLE_INVALID)
    r.expect_rv("C_Sign without C_SignInit", lambda: tok.sign_only(MSG),
                R.CKR_OPERATION_NOT_INITIALIZED)

    # -- mechanisms the key does not take ---------------------------------------------
    r.expect_rv("CKM_ECDSA_SHA256 on an RSA key",
                lambda: tok.sign_init(key, pc.mech(R.CKM_ECDSA_SHA256)),
                R.CKR_KEY_TYPE_INCONSISTENT, R.CKR_MECHANISM_INVALID)
    r.expect_rv("CKM_SHA1_RSA_PKCS (not offered)",
                lambda: tok.sign_init(key, pc.mech(R.CKM_SHA1_RSA_PKCS)),
                R.CKR_MECHANISM_INVALID)
    r.expect_rv("CKM_RSA_PKCS on a default key",
                lambda: tok.sign_init(key, pc.mech(R.CKM_RSA_PKCS)),
                R.CKR_MECHANISM_INVALID, R.CKR_KEY_FUNCTION_NOT_PERMITTED)

    # -- bad RSA-PSS parameters -------------------------------------------------------
    def pss(name, m, params):
        def go():  # the error may come from C_SignInit or, at the latest, C_Sign
            tok.sign_init(key, pc.mech(m, params) if params else pc.mech(m))
            tok.sign_only(MSG)
        r.expect_rv("PSS %s is CKR_MECHANISM_PARAM_INVALID" % name, go,
                    R.CKR_MECHANISM_PARAM_INVALID)
    pss("hashAlg SHA384 with CKM_SHA256_RSA_PKCS_PSS", R.CKM_SHA256_RSA_PKCS_PSS,
        (R.CKM_SHA384, R.CKG_MGF1_SHA384, 48))
    pss("mgf MGF1-SHA1 with CKM_SHA256_RSA_PKCS_PSS", R.CKM_SHA256_RSA_PKCS_PSS,
        (R.CKM_SHA256, R.CKG_MGF1_SHA1, 32))
    pss("salt length 1000 on RSA-2048", R.CKM_SHA256_RSA_PKCS_PSS,
        (R.CKM_SHA256, R.CKG_MGF1_SHA256, 1000))
    pss("without parameters", R.CKM_SHA256_RSA_PKCS_PSS, None)
    pss("unknown mgf 0x77", R.CKM_SHA512_RSA_PKCS_PSS, (R.CKM_SHA512, 0x77, 64))
    try:
        sig = tok.sign(key, pc.mech(R.CKM_SHA256_RSA_PKCS_PSS,
                                    (R.CKM_SHA256, R.CKG_MGF1_SHA256, 32)), MSG)
        r.check("good PSS parameters still sign after the bad ones", len(sig) == 256,
                "signature of %d bytes" % len(sig))
    except pc.P11Error as e:
        r.bad("good PSS parameters still sign after the bad ones", str(e))

    # -- data beyond the bound -------------------------------------------------------
    mib = 1 << 20
    chunk = LL.ckbytelist(mib)  # zeros; fast to build

    def oversized_updates():
        tok.sign_init(key, sha256_rsa)
        sent = 0
        while sent <= max_data:
            tok.call("C_SignUpdate", tok.h, chunk)
            sent += mib
        tok.sign_final()
    r.expect_rv("%d MiB + 1 MiB in C_SignUpdate is CKR_DATA_LEN_RANGE" % (max_data // mib),
                oversized_updates, R.CKR_DATA_LEN_RANGE)
    r.expect_rv("operation ended by the oversize error", lambda: tok.sign_final(),
                R.CKR_OPERATION_NOT_INITIALIZED)

    def oversized_sign():
        tok.sign_init(key, sha256_rsa)
        sig = LL.ckbytelist(512)
        tok.call("C_Sign", tok.h, LL.ckbytelist(max_data + 1), sig)
    r.expect_rv("C_Sign of max_data_len + 1 bytes is CKR_DATA_LEN_RANGE", oversized_sign,
                R.CKR_DATA_LEN_RANGE)

    def exactly_max():
        tok.sign_init(key, sha256_rsa)
        sent = 0
        while sent + mib <= max_data:
            tok.call("C_SignUpdate", tok.h, chunk)
            sent += mib
        if sent < max_data:
            tok.call("C_SignUpdate", tok.h, LL.ckbytelist(max_data - sent))
        return tok.sign_final()
    try:
        sig = exactly_max()
        r.check("exactly max_data_len bytes sign", len(sig) == 256)
    except pc.P11Error as e:
        r.bad("exactly max_data_len bytes sign", str(e))

    try:
        sig = tok.sign(key, sha256_rsa, MSG)
        r.check("session still signs after all the bad input", len(sig) == 256)
    except pc.P11Error as e:
        r.bad("session still signs after all the bad input", str(e))
    tok.logout()
    tok.close()
    return 1 if r.fails else 0


if __name__ == "__main__":
    sys.exit(main())
