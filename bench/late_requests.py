#!/usr/bin/env python3
"""bench/late_requests.py: where a late HTTP request's time went, from a capture of the tap.

Issue 12 item 4. wrk 4.1 counts a "timeout" only when a response completes more than
--timeout after its request was first written (requests still unanswered when the run ends
are not counted). This script reads a capture of the host side of the guest's tap
(`ring_bench.py --pcap-dir`, `tcpdump -s 96 -w`), pairs each request (a client segment with
data, by sequence number) with the response that follows it on the same connection, and for
every request answered more than --late seconds after its first copy was seen, says which
side lost time:

- `request resent`: the client sent the request more than once and the guest answered soon
  (< --prompt s) after the last copy: the earlier copies were lost on the way in (the tap
  drops a frame for the guest when QEMU does not read it in time, or the guest dropped it);
- `guest slow`: the guest answered --prompt s or more after the last copy of the request
  (the response was lost before the tap and resent after the guest's RTO, or queued);
  `acked` says whether the guest ACKed the request in the meantime (then the guest had it).

Also counted: requests still unanswered at the end of the capture, first sent more than
--late s before it, on connections neither side closed (wrk does not count these).
A client frame is captured before the tap decides to drop it, a guest frame only once QEMU
has written it to the tap. Prints a summary and writes JSON (--json).

Usage: bench/late_requests.py CAPTURE.pcap [--guest-ip 10.0.0.2] [--late 5] [--prompt 0.5] [--json OUT]
"""
import argparse
import json
import statistics
import struct
import sys


def packets(path):
    """(time, src ip, sport, dst ip, dport, seq, ack, flags, payload len) per IPv4/TCP frame
    of a classic pcap with Ethernet link type; anything else is skipped."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            t = sec + frac / (1e9 if nano else 1e6)
            if len(data) < 14 + 20 or data[12:14] != b"\x08\x00":
                continue
            ip = data[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 6 or ihl < 20 or len(ip) < ihl + 20:
                continue
            total = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:]
            sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
            doff = (tcp[12] >> 4) * 4
            flags = tcp[13]
            plen = max(0, total - ihl - doff)
            yield t, ip[12:16], sport, ip[16:20], dport, seq, ack, flags, plen


FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


class Flow:
    def __init__(self, port, isn, t):
        self.port = port
        self.isn = isn
        self.syn = [t]
        self.reqs = {}   # seq -> [first time, copies, times, length]
        # Response segments by the ack they carry: the guest's data after request i carries
        # ack = the end of request i (the client sends the next request only after the response).
        self.resps = {}  # ack -> [first time, {seq: copies}]
        self.guest_acks = []  # (time, ack) of guest segments
        self.closed = False  # a FIN or RST either way: unanswered requests are not waiting


def analyse(path, guest_ip, late, prompt):
    gip = bytes(int(x) for x in guest_ip.split("."))
    flows, done = {}, []
    t_first = t_last = None
    # Frames by kind and direction; a data segment seen again (same port and sequence
    # number) counts as resent.
    mix, seen = {}, set()
    for t, src, sport, dst, dport, seq, ack, flags, plen in packets(path):
        t_first = t if t_first is None else t_first
        t_last = t
        if gip in (src, dst):
            way = "in" if dst == gip else "out"
            kind = ("SYN" if flags & SYN else "RST" if flags & RST else "FIN" if flags & FIN
                    else "data" if plen else "pure ACK")
            if kind == "data":
                key = (way, sport, dport, seq)
                kind = "data resent" if key in seen else "data"
                seen.add(key)
            mix[f"{way} {kind}"] = mix.get(f"{way} {kind}", 0) + 1
        if dst == gip:  # client -> guest
            key = sport
            if flags & SYN:
                fl = flows.get(key)
                if fl is None or fl.isn != seq:
                    if fl is not None:
                        done.append(fl)
                    flows[key] = Flow(key, seq, t)
                else:
                    fl.syn.append(t)
                continue
            fl = flows.get(key)
            if fl is not None and flags & (FIN | RST):
                fl.closed = True
            if fl is None or plen == 0:
                continue
            r = fl.reqs.setdefault(seq, [t, 0, [], plen])
            r[1] += 1
            r[2].append(t)
        elif src == gip:  # guest -> client
            fl = flows.get(dport)
            if fl is None:
                continue
            if flags & (FIN | RST):
                fl.closed = True
            if flags & ACK:
                fl.guest_acks.append((t, ack))
            if plen:
                r = fl.resps.setdefault(ack, [t, {}])
                r[1][seq] = r[1].get(seq, 0) + 1
    done.extend(flows.values())
    rows, unanswered, answered = [], 0, 0
    req_copies = []
    for fl in done:
        for rseq, (t_req, copies, times, rlen) in fl.reqs.items():
            req_copies.append(copies)
            resp = fl.resps.get((rseq + rlen) % 2**32)
            if resp is None:
                if t_last is not None and t_last - t_req > late and not fl.closed:
                    unanswered += 1
                continue
            answered += 1
            t_resp, resp_copies = resp[0], max(resp[1].values())
            if t_resp - t_req <= late:
                continue
            before = [x for x in times if x <= t_resp]
            last_copy = before[-1] if before else t_req
            acked = any(t_req <= ta <= t_resp and (ack - rseq) % 2**32 < 2**31 and ack != rseq
                        for ta, ack in fl.guest_acks)
            kind = "request resent" if t_resp - last_copy < prompt and len(before) > 1 else "guest slow"
            rows.append({"latency_s": round(t_resp - t_req, 3), "request_copies": len(before),
                         "guest_delay_after_last_copy_s": round(t_resp - last_copy, 3),
                         "response_copies": resp_copies, "guest_acked_request": acked, "kind": kind,
                         "syn_copies": len(fl.syn), "client_port": fl.port,
                         # The connection's first request: it waited for the handshake too.
                         "first_request": (rseq - fl.isn) % 2**32 == 1})
    kinds = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    dist = {}
    for c in req_copies:
        dist[c] = dist.get(c, 0) + 1
    syn_dist = {}
    for fl in done:
        syn_dist[len(fl.syn)] = syn_dist.get(len(fl.syn), 0) + 1
    return {"capture": path, "span_s": round((t_last or 0) - (t_first or 0), 1),
            "frames": dict(sorted(mix.items())),
            "connections": len(done), "requests_answered": answered,
            "late_over_s": late, "late": len(rows), "late_by_kind": kinds,
            "late_guest_slow_acked": sum(1 for r in rows if r["kind"] == "guest slow" and r["guest_acked_request"]),
            "late_first_request_of_connection": sum(1 for r in rows if r["first_request"]),
            "late_median_request_copies": statistics.median([r["request_copies"] for r in rows]) if rows else None,
            "unanswered_older_than_late_at_end": unanswered,
            "request_copies_distribution": dict(sorted(dist.items())),
            "syn_copies_distribution": dict(sorted(syn_dist.items())),
            "late_rows": rows}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("pcap")
    p.add_argument("--guest-ip", default="10.0.0.2")
    p.add_argument("--late", type=float, default=5.0)
    p.add_argument("--prompt", type=float, default=0.5)
    p.add_argument("--json", default="")
    a = p.parse_args()
    r = analyse(a.pcap, a.guest_ip, a.late, a.prompt)
    summary = {k: v for k, v in r.items() if k != "late_rows"}
    print(json.dumps(summary, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
