"""The namespace hosts behave like separate machines on one network (tests/netns.py)."""

from __future__ import annotations

import socket
import sys
import threading

import pytest

from netns import ROOT_ADDRESS

pytestmark = [pytest.mark.distributed, pytest.mark.xdist_group("distributed")]

#: A client that prints what it got from HOST:PORT (or the error), run inside a namespace.
CLIENT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as s:
        print(s.recv(100).decode())
except OSError as exc:
    print("error", type(exc).__name__)
"""


def _serve_once(address: str) -> int:
    """A root-namespace listener on ``address`` that answers 'hello' to each connection."""
    server = socket.create_server((address, 0))
    port = server.getsockname()[1]

    def answer():
        with server:
            for _ in range(2):
                conn, _ = server.accept()
                with conn:
                    conn.sendall(b"hello")

    threading.Thread(target=answer, daemon=True).start()
    return port


def test_hosts_reach_the_root_services_and_each_other_but_not_root_localhost(lab):
    a, b = lab.add_host("lab-a"), lab.add_host("lab-b")
    assert a.address != b.address
    port = _serve_once(ROOT_ADDRESS)
    out = a.run([sys.executable, "-c", CLIENT, ROOT_ADDRESS, str(port)], capture_output=True, text=True)
    assert out.stdout.strip() == "hello"
    local = _serve_once("127.0.0.1")  # root's loopback is not the host's
    out = a.run([sys.executable, "-c", CLIENT, "127.0.0.1", str(local)], capture_output=True, text=True)
    assert out.stdout.startswith("error")
    server = b.popen([sys.executable, "-c",
                      "import socket\ns = socket.create_server(('0.0.0.0', 7070))\nc, _ = s.accept()\n"
                      "c.sendall(b'from-b')\nc.close()"])
    for _ in range(50):  # b's listener comes up in well under a second
        out = a.run([sys.executable, "-c", CLIENT, b.address, "7070"], capture_output=True, text=True)
        if out.stdout.strip() == "from-b":
            break
    assert out.stdout.strip() == "from-b"
    b.kill(server)
