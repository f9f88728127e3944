#!/usr/bin/python3
"""tests/e2e/frames.py: seeded malformed Ethernet frames for hostile.py, sent on a tap.

Usage (root, inside the test's namespace; scapy is importable from /usr/bin/python3 only):
    frames.py IFACE GUEST_MAC GUEST_IP COUNT SEED

Builds COUNT frames with scapy from a fixed seed, cycling through the kinds below, and writes
them to IFACE through a raw packet socket. Never sends to anything but IFACE. Prints one JSON
object: frames sent per kind and send errors. Kinds:
IPv4 with bad IHL / total length / checksum / options, IPv4 fragments (tiny, overlapping,
beyond 64 KiB), TCP with random flags and data offsets and bad checksums, UDP with bad lengths
and checksums (echo, DHCP client port, closed ports), ICMP of random types, truncated, IPv6
with bad payload lengths and extension-header chains, ICMPv6/NDP with bad options, ARP with
bad sizes and opcodes (never claiming the host's or the guest's address), runt frames
(shorter than 60 bytes), oversize frames (up to 9000 bytes), random EtherTypes and VLAN tags,
and random byte flips of valid frames.
"""
import json
import random
import socket
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, BOOTP, Dot1Q, Ether, ICMPv6EchoRequest, ICMPv6ND_NS,
                       ICMPv6NDOptSrcLLAddr, IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting,
                       Raw)

HOST_IP = "10.0.0.1"


def kinds(rnd, src_mac, dst_mac, guest_ip):
    eth = Ether(src=src_mac, dst=dst_mac)
    bcast = Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff")

    def rbytes(n):
        return bytes(rnd.getrandbits(8) for _ in range(n))

    def ip(**kw):
        return IP(src=HOST_IP, dst=guest_ip, **kw)

    def ipv4_bad_header():
        p = eth / ip(ihl=rnd.choice([0, 1, 4, 6, 15]), proto=rnd.choice([1, 6, 17, 250])) / Raw(rbytes(rnd.randrange(0, 40)))
        return bytes(p)

    def ipv4_bad_length():
        p = eth / ip(len=rnd.choice([0, 1, 19, 20, 21, 65535, rnd.randrange(65536)])) / TCP(dport=80) / Raw(rbytes(8))
        return bytes(p)

    def ipv4_bad_checksum():
        p = eth / ip(chksum=rnd.randrange(65536)) / TCP(dport=80, flags="S")
        return bytes(p)

    def ipv4_options():
        opts = rbytes(rnd.choice([4, 8, 40]))
        return bytes(eth) + _ipv4_with_raw_options(rnd, guest_ip, opts)

    def fragment():
        frag = rnd.choice([1, 2, 8185, 8191, rnd.randrange(8192)])
        flags = rnd.choice(["MF", 0, "DF+MF"])
        p = eth / ip(frag=frag, flags=flags, id=rnd.randrange(65536), proto=rnd.choice([1, 6, 17])) / Raw(rbytes(rnd.choice([0, 1, 8, 1400])))
        return bytes(p)

    def tcp_random():
        p = eth / ip() / TCP(sport=rnd.randrange(1, 65536), dport=rnd.choice([80, 7, 22, rnd.randrange(65536)]),
                             flags=rnd.randrange(256), dataofs=rnd.randrange(16), seq=rnd.randrange(1 << 32),
                             ack=rnd.randrange(1 << 32), window=rnd.randrange(65536),
                             chksum=rnd.choice([None, rnd.randrange(65536)])) / Raw(rbytes(rnd.randrange(0, 64)))
        return bytes(p)

    def tcp_bad_options():
        p = eth / ip() / TCP(dport=80, flags="S", options=[]) / Raw(b"")
        b = bytearray(bytes(p))
        # data offset 15 (60 bytes of header) with garbage options, frame shorter than that.
        b[14 + 20 + 12] = 0xF0
        return bytes(b) + rbytes(rnd.randrange(0, 50))

    def udp_bad():
        p = eth / ip() / UDP(sport=rnd.randrange(1, 65536), dport=rnd.choice([7, 67, 68, 9, 5353]),
                             len=rnd.choice([None, 0, 7, 8, 9, 65535]), chksum=rnd.choice([None, 0, rnd.randrange(65536)])) / Raw(rbytes(rnd.randrange(0, 64)))
        return bytes(p)

    def dhcp_garbage():
        p = bcast / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=67, dport=68) / BOOTP(op=2, xid=rnd.randrange(1 << 32)) / Raw(rbytes(rnd.randrange(0, 300)))
        return bytes(p)

    def icmp_random():
        p = eth / ip() / ICMP(type=rnd.randrange(256), code=rnd.randrange(256), chksum=rnd.choice([None, rnd.randrange(65536)])) / Raw(rbytes(rnd.randrange(0, 40)))
        return bytes(p)[: rnd.choice([34, 35, 38, 42, 1000])]

    def ipv6_bad():
        dst = rnd.choice(["fe80::5054:ff:fec0:4e01", "ff02::1", "fd00::2"])
        e6 = Ether(src=src_mac, dst=dst_mac if not dst.startswith("ff") else "33:33:00:00:00:01")
        ext = rnd.choice([IPv6ExtHdrHopByHop(), IPv6ExtHdrRouting(), IPv6ExtHdrFragment(m=1, offset=rnd.randrange(8192)),
                          Raw(rbytes(8))])
        p = e6 / IPv6(src="fe80::1", dst=dst, plen=rnd.choice([None, 0, 1, 65535]), nh=rnd.choice([None, 0, 43, 44, 58, 59, 6, 17])) / ext / Raw(rbytes(rnd.randrange(0, 40)))
        return bytes(p)

    def ndp_bad():
        e6 = Ether(src=src_mac, dst="33:33:ff:c0:4e:01")
        p = e6 / IPv6(src="fe80::1", dst="ff02::1:ffc0:4e01", hlim=255) / ICMPv6ND_NS(tgt="fe80::5054:ff:fec0:4e01") / \
            ICMPv6NDOptSrcLLAddr(len=rnd.choice([0, 1, 2, 255]), lladdr=src_mac)
        b = bytes(p)
        return b[: rnd.choice([len(b), len(b) - 3, 14 + 40 + 4])]

    def icmpv6_echo_bad():
        p = Ether(src=src_mac, dst=dst_mac) / IPv6(src="fe80::1", dst="fe80::5054:ff:fec0:4e01") / ICMPv6EchoRequest(cksum=rnd.randrange(65536)) / Raw(rbytes(16))
        return bytes(p)

    def arp_bad():
        third = "10.0.0.%d" % rnd.randrange(3, 255)
        p = bcast / ARP(hwlen=rnd.choice([6, 0, 1, 255]), plen=rnd.choice([4, 0, 16, 255]), op=rnd.choice([1, 2, 0, 3, 65535]),
                        psrc=rnd.choice([third, "192.168.7.%d" % rnd.randrange(1, 255)]), hwsrc=src_mac, pdst=rnd.choice([guest_ip, third]))
        return bytes(p)[: rnd.choice([42, 30, 20, 60])]

    def runt():
        return bytes(eth)[: rnd.randrange(1, 15)] if rnd.random() < 0.3 else (bytes(eth / ip() / TCP(dport=80)))[: rnd.randrange(14, 60)]

    def oversize():
        n = rnd.choice([1515, 1519, 1600, 4000, 9000])
        p = eth / ip(len=min(n - 14, 65535)) / UDP(dport=7) / Raw(rbytes(n - 14 - 28))
        return bytes(p)

    def ethertype_vlan():
        if rnd.random() < 0.5:
            return bytes(Ether(src=src_mac, dst=dst_mac, type=rnd.randrange(65536)) / Raw(rbytes(rnd.randrange(0, 64))))
        return bytes(eth / Dot1Q(vlan=rnd.randrange(4096)) / Dot1Q(vlan=rnd.randrange(4096)) / ip() / TCP(dport=80, flags="S"))

    def byte_flips():
        b = bytearray(bytes(eth / ip() / TCP(dport=80, flags="S", options=[("MSS", 1460), ("WScale", 7)])))
        for _ in range(rnd.randrange(1, 6)):
            b[rnd.randrange(14, len(b))] = rnd.getrandbits(8)
        return bytes(b)

    return [ipv4_bad_header, ipv4_bad_length, ipv4_bad_checksum, ipv4_options, fragment, tcp_random, tcp_bad_options,
            udp_bad, dhcp_garbage, icmp_random, ipv6_bad, ndp_bad, icmpv6_echo_bad, arp_bad, runt, oversize,
            ethertype_vlan, byte_flips]


def _ipv4_with_raw_options(rnd, guest_ip, opts):
    hdr = bytes(IP(src=HOST_IP, dst=guest_ip, proto=6, ihl=5 + len(opts) // 4, len=20 + len(opts) + 20))
    return hdr[:20] + opts + bytes(TCP(dport=80, flags="S"))


def main():
    iface, guest_mac, guest_ip, count, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = open(f"/sys/class/net/{iface}/address").read().strip()
    makers = kinds(rnd, src_mac, guest_mac, guest_ip)
    sent = {}
    errors = {}
    for i in range(count):
        mk = makers[i % len(makers)]
        try:
            frame = mk()
        except Exception as e:  # scapy refusing a combination is not the guest's problem
            errors[mk.__name__ + ":build"] = errors.get(mk.__name__ + ":build", 0) + 1
            continue
        try:
            s.send(frame)
            sent[mk.__name__] = sent.get(mk.__name__, 0) + 1
        except OSError as e:
            key = f"{mk.__name__}:{e.errno}"
            errors[key] = errors.get(key, 0) + 1
    print(json.dumps({"sent": sum(sent.values()), "by_kind": sent, "errors": errors}))


if __name__ == "__main__":
    main()
