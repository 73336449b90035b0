#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Send commands to the human monitor of a running test host and print the
# answers, e.g. the registers of every L1 CPU of a stuck test host:
#
#   scripts/testhost-monitor.py .cache/testhost/last "info registers -a"
#
# The first argument is the test host's results directory (testhost.sh
# prints it; .cache/testhost/last is the newest), the rest are commands.
import socket
import sys
import time


def read_until_prompt(sock):
    data = b""
    sock.settimeout(30)
    while not data.endswith(b"(qemu) "):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: testhost-monitor.py RESULTS-DIR COMMAND...")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1] + "/monitor.sock")
    read_until_prompt(sock)
    for cmd in sys.argv[2:]:
        sock.sendall(cmd.encode() + b"\n")
        out = read_until_prompt(sock)
        # The monitor echoes the command line with terminal escapes first.
        lines = out.replace("\r", "").split("\n")[1:-1]
        print("\n".join(lines))
        time.sleep(0.1)


main()
