"""Write a seed corpus for fuzz_ingest: real samples as a collector sends them
(envelope length byte, envelope, protobuf body), built by hand from the
proto's field numbers so no generated Python code is needed."""
import os
import struct
import sys


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def sample(node, up=True, replica=False, seq=1):
    b = field(1, 0, 1) + field(2, 2, node) + field(3, 2, b"eu") + field(9, 0, seq)
    b += field(10, 0, 1795000000000000) + field(11, 0, 1 if up else 0) + field(14, 0, 1000)
    if up:
        b += field(4, 0, 7301234567890123456) + field(5, 0, 1) + field(7, 0, 2 if replica else 1)
        if replica:
            b += field(24, 2, field(1, 0, 0x3000060) + field(2, 0, 0x3000000) + field(4, 0, 1)
                       + field(5, 2, b"streaming"))
        else:
            b += field(23, 2, field(1, 0, 0x3000060) + field(2, 2, field(1, 2, b"replica") + field(7, 0, 5)))
    return b


def main(out):
    os.makedirs(out, exist_ok=True)
    for i, (node, up, replica) in enumerate([(b"db-1", True, False), (b"db-2", True, True), (b"db-3", False, False)]):
        env = b"PV\x01\x01" + bytes([len(node)]) + node
        with open(os.path.join(out, "seed%d" % i), "wb") as f:
            f.write(bytes([len(env)]) + env + sample(node, up, replica, i + 1))


if __name__ == "__main__":
    main(sys.argv[1])
