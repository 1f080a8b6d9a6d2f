#!/usr/bin/python3
"""nss_pty.py - runs an NSS tool on a pseudo-terminal and answers its PIN prompt.

usage: nss_pty.py PIN-FILE TOKEN -- COMMAND [ARG...]

Some NSS tools ask for a token PIN on /dev/tty whatever -f says: crlutil -G looks the CA key
up with no password argument (SECU_SignAndEncodeCRL -> PK11_FindKeyByAnyCert(cert, NULL)),
so NSS prompts 'Enter Password or Pin for "TOKEN":'.  NSS turns echo off with TCSAFLUSH,
which discards anything typed ahead, so the PIN is written only once the prompt has appeared and the terminal's echo is off (on
Linux, tcgetattr on the master side reads the slave's settings).
Everything the command prints is copied to stdout; the exit status is the command's (124 on
a timeout, 125 if the prompt never came and the command failed).
"""
import os
import pty
import select
import sys
import termios
import time

TIMEOUT_S = 30.0
READ_CHUNK = 4096
POLL_S = 0.01  # while waiting for echo to go off
ECHO_WAIT_S = 3.0  # a reader that never turns echo off gets the PIN anyway


def echo_on(fd):
    try:
        return bool(termios.tcgetattr(fd)[3] & termios.ECHO)
    except termios.error:  # the child is gone
        return True


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.stderr.write("usage: nss_pty.py PIN-FILE TOKEN -- COMMAND [ARG...]\n")
        return 2
    with open(sys.argv[1], "rb") as f:
        pin = f.readline().rstrip(b"\r\n")
    prompt = ('Enter Password or Pin for "%s":' % sys.argv[2]).encode()
    argv = sys.argv[4:]

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)

    out = b""
    answered = False
    prompt_seen = None
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.stdout.write(out.decode(errors="replace") + "\nnss_pty: timed out\n")
            return 124
        waiting = not answered and prompt in out
        if waiting and prompt_seen is None:
            prompt_seen = time.monotonic()
        ready, _, _ = select.select([fd], [], [], min(left, POLL_S) if waiting else left)
        if waiting and (not echo_on(fd) or time.monotonic() - prompt_seen > ECHO_WAIT_S):
            os.write(fd, pin + b"\n")
            answered = True
        if not ready:
            continue
        try:
            chunk = os.read(fd, READ_CHUNK)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            break
        out += chunk
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))
    rc = os.waitstatus_to_exitcode(status)
    if not answered and rc == 0:
        return 0
    if not answered:
        sys.stdout.write("\nnss_pty: no PIN prompt seen\n")
        return 125
    return rc


if __name__ == "__main__":
    sys.exit(main())
