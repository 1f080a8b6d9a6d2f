"""enclave_wire.py - a minimal client of the enclave's wire protocol (enclave/wire.h),
used by tests/integration/enclave_*.sh to speak to warden-enclave directly, including
with frames no well-behaved module would send."""
import socket
import struct

VERSION = 1
HELLO, STATUS, LOGIN, LOGOUT, SIGN = 1, 2, 3, 4, 5
RESPONSE = 0x80
OK, E_PROTOCOL, E_INTERNAL, E_NOMEM, E_DENIED = 0, 1, 2, 3, 4
E_PIN_INCORRECT, E_PIN_LOCKED, E_PIN_LEN, E_NOT_LOGGED_IN, E_KEY = 5, 6, 7, 8, 9
E_MECHANISM, E_MECH_PARAM, E_DATA_LEN, E_DATA_INVALID, E_BACKEND = 10, 11, 12, 13, 14
E_BUSY, E_USER_TYPE = 16, 17
TF_COUNT_LOW, TF_FINAL_TRY, TF_LOCKED = 1, 2, 4
CKM_ECDSA, CKM_ECDSA_SHA256, CKM_EDDSA = 0x1041, 0x1044, 0x1057
CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKM_RSA_PKCS = 0x40, 0x43, 0x1
MAX_BODY = 64 * 1024 * 1024 + 4096


def header(typ, body_len, version=VERSION, reserved=0):
    return struct.pack(">IBBH", body_len, version, typ, reserved)


def frame(typ, body):
    return header(typ, len(body)) + body


def b(data):
    return struct.pack(">I", len(data)) + data


def connect(path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


class Cur:
    def __init__(self, data):
        self.d, self.p = data, 0

    def u8(self):
        self.p += 1
        return self.d[self.p - 1]

    def u32(self):
        self.p += 4
        return struct.unpack(">I", self.d[self.p - 4:self.p])[0]

    def u64(self):
        self.p += 8
        return struct.unpack(">Q", self.d[self.p - 8:self.p])[0]

    def bytes(self):
        n = self.u32()
        self.p += n
        return self.d[self.p - n:self.p]

    def done(self):
        return self.p == len(self.d)


def response(s):
    """(type, status, message, cursor) or None when the enclave closed."""
    h = recv_exact(s, 8)
    if h is None:
        return None
    n, ver, typ, res = struct.unpack(">IBBH", h)
    body = recv_exact(s, n)
    if body is None:
        return None
    c = Cur(body)
    status = c.u32()
    msg = c.bytes().decode()
    return typ, status, msg, c


def closed(s):
    """True when the enclave closed the connection (EOF or reset), not a timeout."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def hello(s):
    s.sendall(frame(HELLO, struct.pack(">I", 1)))
    typ, status, msg, c = response(s)
    assert typ == HELLO | RESPONSE and status == OK, (typ, status, msg)
    info = {"boot_id": c.u64(), "label": c.bytes(), "manufacturer": c.bytes(),
            "model": c.bytes(), "serial": c.bytes(), "flags": c.u32(),
            "min_pin": c.u32(), "max_pin": c.u32(), "max_data": c.u64(), "keys": []}
    for _ in range(c.u32()):
        k = {"id": c.u32(), "type": c.u64(), "flags": c.u32(), "sig_len": c.u32()}
        k["mechs"] = [c.u64() for _ in range(c.u32())]
        k["objects"] = []
        for _ in range(c.u32()):
            cls = c.u64()
            attrs = {}
            for _ in range(c.u32()):
                t, kind = c.u64(), c.u8()
                if kind == 0:
                    attrs[t] = c.bytes()
                elif kind == 1:
                    attrs[t] = c.u8()
                elif kind == 2:
                    attrs[t] = c.u64()
                else:
                    attrs[t] = [c.u64() for _ in range(c.u32())]
            k["objects"].append((cls, attrs))
        info["keys"].append(k)
    assert c.done()
    return info


def login(s, pin, user_type=1):
    s.sendall(frame(LOGIN, struct.pack(">I", user_type) + b(pin)))
    typ, status, msg, c = response(s)
    flags = c.u32()
    ticket = c.bytes()
    assert c.done()
    return status, flags, ticket


def sign(s, ticket, key_id, mech, data, pss=None):
    body = b(ticket) + struct.pack(">IQ", key_id, mech)
    if pss is None:
        body += b"\0"
    else:
        body += b"\1" + struct.pack(">QQQ", *pss)
    body += b(data)
    s.sendall(frame(SIGN, body))
    typ, status, msg, c = response(s)
    sig = c.bytes() if status == OK else None
    assert c.done()
    return status, msg, sig


def ecdsa_der(sig):
    """r||s -> DER ECDSA-Sig-Value (for openssl dgst -verify)."""
    def integer(x):
        x = x.lstrip(b"\0") or b"\0"
        if x[0] & 0x80:
            x = b"\0" + x
        return b"\x02" + bytes([len(x)]) + x
    half = len(sig) // 2
    body = integer(sig[:half]) + integer(sig[half:])
    return b"\x30" + bytes([len(body)]) + body
