"""client.local_consortium.launcher: ports handed out for one cluster never repeat."""

from __future__ import annotations

import socket

from client.local_consortium.launcher import free_ports


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(60)
    assert len(set(ports)) == 60
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # still free once handed out
