#!/bin/bash
# tests/integration/review_enclave.sh - hostile peers against the real enclave: a frame
# trickled a byte at a time (slowloris) and a peer that never reads its answers must not
# hold one of the max_clients threads beyond frame_timeout_ms; a ticket is bound to the
# uid that logged in.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=$T_TMP/ca

if ! warden_setup "$D" p256; then fail setup "warden-admin init failed"; exit 1; fi
# One client at a time, so a held thread shows as BUSY for the next; a short deadline.
nobody=$(id -u nobody)
$SYS_PYTHON - "$D/enclave.json" "$nobody" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["max_clients"] = 1
c["frame_timeout_ms"] = 1000
c["socket_mode"] = "0666"
c["allowed_uids"] = sorted(set(c["allowed_uids"] + [0, int(sys.argv[2])]))
c["token"]["pin_max_failures"] = 3
json.dump(c, open(p, "w"), indent=2)
PY
chmod 755 "$T_TMP" "$D"
if ! warden_start "$D"; then fail start "the enclave did not start"; exit 1; fi

$SYS_PYTHON - "$D/enclave.sock" "$HERE" "$nobody" "${WARDEN_PIN:-1234}" <<'PY'
import os, socket, struct, subprocess, sys, threading, time
sock, here, nobody, pin = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
sys.path.insert(0, here)
from enclave_wire import *

failures = 0

def result(name, ok, why=""):
    global failures
    failures += not ok
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)

def second_client_served(deadline_s):
    """A new client gets HELLO answered (not BUSY) within deadline_s."""
    end = time.time() + deadline_s
    last = None
    while time.time() < end:
        try:
            s = connect(sock, timeout=2)
            s.sendall(frame(HELLO, struct.pack(">I", 1)))
            r = response(s)
            s.close()
            if r is not None and r[1] == OK:
                return True, None
            last = r[1] if r else "closed"
        except OSError as e:
            last = e
        time.sleep(0.2)
    return False, last

def trickle(payload, stop, gap=0.2):
    s = connect(sock, timeout=10)
    s.sendall(frame(HELLO, struct.pack(">I", 1)))
    response(s)
    for i in range(len(payload)):
        if stop.is_set():
            break
        try:
            s.send(payload[i:i + 1])
        except OSError:
            break
        time.sleep(gap)
    stop.wait()
    s.close()

# 1. A SIGN whose body arrives one byte every 200 ms (it would take 60 s): the frame's
# deadline (1 s) closes it, and the single client slot frees.
stop = threading.Event()
body = b"\0" * 300
t = threading.Thread(target=trickle, args=(header(SIGN, len(body)) + body, stop))
t.start()
time.sleep(0.5)
ok, why = second_client_served(4)
stop.set(); t.join()
result("slowloris_body_does_not_hold_the_thread", ok, "second client: %s" % why)

# 2. The same with the header itself trickled.
time.sleep(0.3)
stop = threading.Event()
t = threading.Thread(target=trickle, args=(header(STATUS, 0) * 40, stop, 0.3))
t.start()
time.sleep(0.5)
ok, why = second_client_served(4)
stop.set(); t.join()
result("slowloris_header_does_not_hold_the_thread", ok, "second client: %s" % why)

# 3. A client that sends many requests and never reads an answer: once the socket is
# full, the enclave's write has the same deadline.
time.sleep(0.3)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sock)
s.settimeout(5)
try:
    s.sendall(frame(HELLO, struct.pack(">I", 1)) * 3000)
except OSError:
    pass
ok, why = second_client_served(5)
s.close()
result("reader_that_never_reads_does_not_hold_the_thread", ok, "second client: %s" % why)

# 4. A ticket works only for the uid that logged in (here root), not for another allowed
# uid that learnt it.
time.sleep(0.3)
s = connect(sock)
hello(s)
st, fl, ticket = login(s, pin)
r = sign(s, ticket, 0, CKM_ECDSA_SHA256, b"tbs")
result("ticket_signs_for_its_uid", st == OK and r[0] == OK, "login %s sign %s" % (st, r[0]))
s.close()
code = r'''
import sys; sys.path.insert(0, %r)
from enclave_wire import *
s = connect(%r); hello(s)
r = sign(s, bytes.fromhex(%r), 0, CKM_ECDSA_SHA256, b"tbs")
print(r[0])
''' % (here, sock, ticket.hex())
out = subprocess.run(["setpriv", "--reuid=%d" % nobody, "--regid=%d" % nobody,
                      "--clear-groups", sys.executable, "-c", code],
                     capture_output=True, text=True, timeout=30)
got = out.stdout.strip()
result("ticket_refused_for_another_uid", got == str(E_NOT_LOGGED_IN),
       "status %r %s" % (got, out.stderr[-300:]))
sys.exit(1 if failures else 0)
PY
[ $? -eq 0 ] || T_FAILS=$((T_FAILS + 1))
t_done
