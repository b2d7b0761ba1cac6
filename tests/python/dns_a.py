"""A one-name DNS server for tests/embassy_netns.rs: answers A queries for NAME with ADDRESS
(other types of NAME: no answer; other names: NXDOMAIN), over UDP on BIND:53, so the
embassy-net node can find its broker by name through its own DNS client (EmbassyDns).

argv:   BIND NAME ADDRESS
stdout: `ready` once bound, then one line a query: `QUERY NAME TYPE` (TYPE as a number).
Runs until killed.
"""
import socket
import struct
import sys


def main():
    bind, name, address = sys.argv[1:4]
    want = name.rstrip(".").lower()
    rdata = socket.inet_aton(address)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((bind, 53))
    print("ready", flush=True)
    while True:
        query, peer = sock.recvfrom(512)
        if len(query) < 12:
            continue
        qid, flags, qdcount = struct.unpack("!HHH", query[:6])
        if flags & 0x8000 or qdcount != 1:
            continue
        labels, at = [], 12
        while at < len(query) and query[at] != 0:
            n = query[at]
            labels.append(query[at + 1:at + 1 + n].decode("ascii", "replace"))
            at += 1 + n
        question_end = at + 5
        if question_end > len(query):
            continue
        qtype, _qclass = struct.unpack("!HH", query[at + 1:question_end])
        qname = ".".join(labels).lower()
        print("QUERY", qname, qtype, flush=True)
        answers = b""
        rcode = 0
        if qname != want:
            rcode = 3  # NXDOMAIN
        elif qtype == 1:  # A: the name at offset 12 (a pointer), IN, TTL 60, 4 bytes
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + rdata
        # QR, the query's opcode and RD, AA, RA, rcode
        out_flags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
        header = struct.pack("!HHHHHH", qid, out_flags, 1, 1 if answers else 0, 0, 0)
        sock.sendto(header + query[12:question_end] + answers, peer)


main()
