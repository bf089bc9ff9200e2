"""A DNS server on a loopback address that answers every query with NXDOMAIN.

The real node's containerd resolves registry hosts through it (its /etc/resolv.conf, in a
mount namespace of its own, names only this server), so an image on a host under
``.invalid`` fails the way an unresolvable registry does in production ("no such host")
while no lookup ever leaves the machine, and no public registry name can resolve at all.

    python -m k8scluster.nxdomain ADDRESS [PORT]
"""

from __future__ import annotations

import socket
import sys

NXDOMAIN = 3


def answer(query: bytes) -> bytes | None:
    """The NXDOMAIN reply to ``query`` (its question echoed), or None for a malformed one."""
    if len(query) < 12:
        return None
    qdcount = int.from_bytes(query[4:6], "big")
    pos = 12
    for _ in range(qdcount):  # skip over the question(s): labels, then type and class
        while pos < len(query) and query[pos]:
            pos += query[pos] + 1
        pos += 5
    if pos > len(query):
        return None
    flags = 0x8000 | (query[2] & 0x79) << 8 | 0x80 | NXDOMAIN  # QR, opcode+RD, RA, rcode
    return (query[:2] + flags.to_bytes(2, "big") + query[4:6] + b"\0\0\0\0\0\0"
            + query[12:pos])


def serve(address: str, port: int = 53) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, port))
        while True:
            query, peer = sock.recvfrom(4096)
            reply = answer(query)
            if reply is not None:
                sock.sendto(reply, peer)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 53)
