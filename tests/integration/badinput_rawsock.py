#!/usr/bin/python3
"""badinput_rawsock.py SOCKET - clients that go away mid-request, at the socket level:
a partial header, a header promising a body that never comes in full, a SIGN frame cut
off halfway through its data, and a connect-and-close.  Prints one line per scenario;
the calling script then checks that the enclave still serves a good client.
"""
import socket
import struct
import sys

WIRE_VERSION = 1
WIRE_LOGIN, WIRE_SIGN = 3, 5


def header(body_len, typ):
    return struct.pack(">IBBH", body_len, WIRE_VERSION, typ, 0)


def session(path, payload):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    if payload:
        s.sendall(payload)
    s.close()


def main():
    path = sys.argv[1]
    session(path, b"")
    print("connect and close", flush=True)
    session(path, header(100, WIRE_LOGIN)[:3])
    print("3 bytes of a header", flush=True)
    session(path, header(1000, WIRE_LOGIN) + b"\x00" * 10)
    print("LOGIN header promising 1000 bytes, 10 sent", flush=True)
    body_len = 4 << 20
    session(path, header(body_len, WIRE_SIGN) + b"\x00\x00\x00\x20" + b"\x01" * (2 << 20))
    print("SIGN frame of 4 MiB cut after 2 MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
