"""enclave_protocol.py DIR MODE - drives a running warden-enclave (set up by
enclave_protocol.sh) with good, bad and hostile clients.  Prints PASS/FAIL lines;
exits 1 if anything failed.

MODE main:   the protocol, login, signing, hostile frames, busy, lockout (last)
MODE locked: after a restart the PIN is still locked
MODE flood:  signs in a loop until the enclave closes; checks every answer was whole
"""
import os
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from enclave_wire import *  # noqa: E402,F403

D = sys.argv[1]
MODE = sys.argv[2]
SOCK = D + "/enclave.sock"
PIN = os.environ.get("WARDEN_PIN", "1234").encode()
FAILS = 0


def result(name, ok, why=""):
    global FAILS
    if ok:
        print("PASS " + name, flush=True)
    else:
        FAILS += 1
        print("FAIL %s: %s" % (name, why), flush=True)


def case(name):
    def wrap(fn):
        try:
            r = fn()
            result(name, r is None or r is True, "" if r in (None, True) else str(r))
        except Exception as e:  # noqa: BLE001
            result(name, False, "%s: %s" % (type(e).__name__, e))
        return fn
    return wrap


def alive():
    """The enclave still answers (retrying while slots of just-closed clients free up:
    the tests run with max_clients 3)."""
    for _ in range(40):
        s = connect(SOCK)
        s.sendall(frame(HELLO, struct.pack(">I", 1)))
        r = response(s)
        s.close()
        if r is not None and r[1] == OK:
            return True
        if r is None or r[1] != E_BUSY:
            return False
        time.sleep(0.05)
    return False


def closes(payload, name):
    s = connect(SOCK, timeout=5)
    s.sendall(payload)
    ok = closed(s)
    s.close()
    result(name, ok and alive(), "connection not closed" if not ok else "enclave gone")


def openssl_verify(data, der_sig):
    with open(D + "/t.data", "wb") as f:
        f.write(data)
    with open(D + "/t.sig", "wb") as f:
        f.write(der_sig)
    subprocess.run(["openssl", "x509", "-in", D + "/ca.pem", "-pubkey", "-noout", "-out",
                    D + "/t.pub"], check=True)
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", D + "/t.pub", "-signature",
                        D + "/t.sig", D + "/t.data"], capture_output=True)
    return r.returncode == 0


def main():
    st = {}

    @case("hello_describes_token_and_key")
    def _():
        s = connect(SOCK)
        h = hello(s)
        assert h["label"] == b"warden" and h["manufacturer"] == b"Warden", h
        assert h["min_pin"] == 4 and h["max_pin"] == 256 and h["max_data"] == 4096
        k = h["keys"][0]
        assert k["id"] == 0 and k["type"] == 3 and k["sig_len"] == 64 and k["flags"] == 0
        # P-256: ECDSA with SHA-256 only (the policy pairs the hash with the curve)
        assert k["mechs"] == [0x1044], k["mechs"]
        classes = [o[0] for o in k["objects"]]
        assert classes == [3, 2, 1], classes
        priv, pub, cert = (o[1] for o in k["objects"])
        assert priv[0x102] == pub[0x102] == cert[0x102]       # CKA_ID shared
        assert priv[3] == pub[3] == cert[3] == b"ca"            # CKA_LABEL
        assert priv[0x162] == 0 and priv[0x103] == 1 and priv[2] == 1  # !EXTRACTABLE, SENSITIVE, PRIVATE
        assert priv[0x181] == pub[0x181] and priv[0x181][:3] == b"\x04\x41\x04"  # EC_POINT
        assert priv[0x600 | 0x40000000] == k["mechs"]          # ALLOWED_MECHANISMS
        der = subprocess.run(["openssl", "x509", "-in", D + "/ca.pem", "-outform", "DER"],
                             capture_output=True, check=True).stdout
        assert cert[0x11] == der                                # CKA_VALUE
        assert cert[0x82][0] == 0x02 and cert[0x80] == 0 and cert[0x87] == 2
        assert len(cert[0x110]) == 8 and len(cert[0x111]) == 8  # START/END_DATE
        assert 0x11 not in priv and 0x123 not in priv            # no private values
        st["hello"] = h

    @case("status_answers_flags")
    def _():
        s = connect(SOCK)
        s.sendall(frame(STATUS, b""))
        typ, status, msg, c = response(s)
        assert typ == STATUS | RESPONSE and status == OK and c.u32() == 0 and c.done()

    @case("sign_without_login_is_refused")
    def _():
        s = connect(SOCK)
        status, msg, sig = sign(s, b"", 0, CKM_ECDSA_SHA256, b"x")
        assert status == E_NOT_LOGGED_IN, status
        status, msg, sig = sign(s, b"\x01" * 32, 0, CKM_ECDSA_SHA256, b"x")
        assert status == E_NOT_LOGGED_IN, status
        hello(s)  # the connection stays usable

    @case("login_so_is_refused")
    def _():
        s = connect(SOCK)
        status, flags, ticket = login(s, PIN, user_type=0)
        assert status == E_USER_TYPE and ticket == b"", status

    @case("login_pin_length_checked")
    def _():
        s = connect(SOCK)
        assert login(s, b"123")[0] == E_PIN_LEN
        assert login(s, b"1" * 257)[0] == E_PIN_LEN

    @case("login_wrong_pin_counts")
    def _():
        s = connect(SOCK)
        status, flags, ticket = login(s, b"9999")
        assert status == E_PIN_INCORRECT and flags & TF_COUNT_LOW and ticket == b""

    @case("login_right_pin_gives_ticket_and_resets")
    def _():
        s = connect(SOCK)
        status, flags, ticket = login(s, PIN)
        assert status == OK and flags == 0 and len(ticket) == 32, (status, flags)
        st["ticket"] = ticket

    t = st.get("ticket", b"\0" * 32)

    @case("sign_ecdsa_sha256_verifies_with_openssl")
    def _():
        s = connect(SOCK)
        data = b"to be signed " * 50
        status, msg, sig = sign(s, t, 0, CKM_ECDSA_SHA256, data)
        assert status == OK and len(sig) == 64, (status, msg)
        assert openssl_verify(data, ecdsa_der(sig))

    @case("sign_raw_ecdsa_refused_on_deny_key")
    def _():
        s = connect(SOCK)
        status, msg, sig = sign(s, t, 0, CKM_ECDSA, b"\x11" * 32)
        # the policy decides (and the refusal is an audit record), not a mechanism list
        assert status == E_DENIED and "prehashed" in msg, (status, msg)

    @case("sign_rsa_mechanism_on_ec_key_refused")
    def _():
        s = connect(SOCK)
        assert sign(s, t, 0, CKM_SHA256_RSA_PKCS, b"x")[0] == E_MECHANISM

    @case("sign_unknown_key_refused")
    def _():
        s = connect(SOCK)
        assert sign(s, t, 7, CKM_ECDSA_SHA256, b"x")[0] == E_KEY

    @case("sign_data_over_bound_refused")
    def _():
        s = connect(SOCK)
        assert sign(s, t, 0, CKM_ECDSA_SHA256, b"x" * 4097)[0] == E_DATA_LEN
        assert sign(s, t, 0, CKM_ECDSA_SHA256, b"x" * 4096)[0] == OK

    @case("sign_pss_params_on_ecdsa_refused")
    def _():
        s = connect(SOCK)
        assert sign(s, t, 0, CKM_ECDSA_SHA256, b"x", pss=(0x250, 2, 32))[0] == E_MECH_PARAM

    # Hostile frames: each closes its own connection only.
    closes(os.urandom(64), "garbage_closes_connection")
    closes(header(HELLO, 4, version=2) + b"\0\0\0\1", "bad_version_closes_connection")
    closes(header(HELLO, 4, reserved=1) + b"\0\0\0\1", "reserved_bits_close_connection")
    closes(header(HELLO | RESPONSE, 4) + b"\0\0\0\1", "response_type_closes_connection")
    closes(header(9, 0), "unknown_type_closes_connection")
    closes(header(HELLO, 0xFFFFFFFF), "huge_length_closes_connection")
    closes(header(SIGN, 4096 + 4096 + 1), "sign_body_over_bound_closes_before_reading")
    closes(header(LOGIN, 4 + 4 + 513), "login_body_over_bound_closes")
    closes(frame(HELLO, b"\0\0\0\1\0"), "trailing_bytes_close_connection")
    closes(frame(STATUS, b"\0"), "status_with_body_closes_connection")
    closes(frame(LOGOUT, b(b"short")), "bad_ticket_length_closes_connection")
    closes(frame(SIGN, b(b"\0" * 32) + struct.pack(">IQ", 0, 0x1044) + b"\x07" + b(b"x")),
           "bad_param_kind_closes_connection")

    @case("truncated_frame_then_disconnect")
    def _():
        s = connect(SOCK)
        s.sendall(header(SIGN, 100) + b"\0" * 10)
        s.close()
        return alive()

    @case("disconnect_mid_sign_request")
    def _():
        s = connect(SOCK)
        body = b(t) + struct.pack(">IQ", 0, CKM_ECDSA_SHA256) + b"\0" + b(b"y" * 3000)
        s.sendall(header(SIGN, len(body)) + body[:-1000])
        s.close()
        return alive()

    @case("disconnect_before_reading_answer")
    def _():
        for _ in range(5):
            s = connect(SOCK)
            body = b(t) + struct.pack(">IQ", 0, CKM_ECDSA_SHA256) + b"\0" + b(b"z" * 100)
            s.sendall(frame(SIGN, body))
            s.close()
        return alive()

    @case("pipelined_requests_answered_in_order")
    def _():
        s = connect(SOCK)
        s.sendall(frame(STATUS, b"") + frame(HELLO, b"\0\0\0\1") + frame(STATUS, b""))
        types = [response(s)[0] for _ in range(3)]
        assert types == [STATUS | 0x80, HELLO | 0x80, STATUS | 0x80], types

    @case("parallel_clients_sign")
    def _():
        errors = []

        def worker():
            try:
                s = connect(SOCK)
                for i in range(20):
                    status, msg, sig = sign(s, t, 0, CKM_ECDSA_SHA256, b"%d" % i)
                    if status != OK:
                        errors.append((status, msg))
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        th = [threading.Thread(target=worker) for _ in range(3)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        assert not errors, errors

    @case("client_over_max_clients_told_busy")
    def _():
        time.sleep(0.3)  # earlier clients' threads finish
        held = [connect(SOCK) for _ in range(3)]
        for s in held:
            hello(s)
        extra = connect(SOCK)
        extra.sendall(frame(STATUS, b""))
        typ, status, msg, c = response(extra)
        assert status == E_BUSY and typ == STATUS | RESPONSE, (typ, status)
        assert closed(extra)
        held[0].close()
        time.sleep(0.2)
        return alive()

    @case("logout_revokes_ticket")
    def _():
        s = connect(SOCK)
        status, flags, tk = login(s, PIN)
        assert status == OK
        s.sendall(frame(LOGOUT, b(tk)))
        assert response(s)[1] == OK
        assert sign(s, tk, 0, CKM_ECDSA_SHA256, b"x")[0] == E_NOT_LOGGED_IN
        s.sendall(frame(LOGOUT, b(tk)))
        assert response(s)[1] == E_NOT_LOGGED_IN
        assert sign(s, t, 0, CKM_ECDSA_SHA256, b"x")[0] == OK  # other tickets live on

    @case("pin_locks_after_max_failures")
    def _():
        s = connect(SOCK)
        for i in range(1, 5):
            status, flags, _ = login(s, b"0000")
            assert status == E_PIN_INCORRECT, status
            assert bool(flags & TF_FINAL_TRY) == (i == 4), (i, flags)
        status, flags, _ = login(s, b"0000")
        assert status == E_PIN_INCORRECT and flags & TF_LOCKED, (status, flags)
        status, flags, tk = login(s, PIN)
        assert status == E_PIN_LOCKED and tk == b"", status
        assert sign(s, t, 0, CKM_ECDSA_SHA256, b"x")[0] == OK  # live tickets still sign


def locked():
    @case("pin_lock_survives_restart")
    def _():
        s = connect(SOCK)
        status, flags, tk = login(s, PIN)
        assert status == E_PIN_LOCKED and flags & TF_LOCKED, (status, flags)

    @case("tickets_do_not_survive_restart")
    def _():
        s = connect(SOCK)
        assert sign(s, b"\x01" * 32, 0, CKM_ECDSA_SHA256, b"x")[0] == E_NOT_LOGGED_IN


def flood():
    """Logs in, prints 'ready', signs until the enclave closes at a frame boundary."""
    s = connect(SOCK)
    status, flags, tk = login(s, PIN)
    if status != OK:
        print("login failed", status)
        sys.exit(1)
    n = 0
    print("ready", flush=True)
    while True:
        try:
            s.sendall(frame(SIGN, b(tk) + struct.pack(">IQ", 0, CKM_ECDSA_SHA256) + b"\0" +
                            b(b"flood")))
        except (BrokenPipeError, ConnectionResetError):
            break
        h = recv_exact(s, 8)
        if h is None:
            break
        n_body = struct.unpack(">I", h[:4])[0]
        body = recv_exact(s, n_body)
        if body is None or struct.unpack(">I", body[:4])[0] != OK:
            print("partial or failed answer after %d signatures" % n)
            sys.exit(1)
        n += 1
    print("signed %d" % n, flush=True)
    sys.exit(0 if n > 0 else 1)


{"main": main, "locked": locked, "flood": flood}[MODE]()
sys.exit(1 if FAILS else 0)
