#!/usr/bin/env python3
"""netpeer.py - the host's side of Mica's network tests (standard library only).

Two peers, each run by tests/runner.py against a boot of net_peer.serve
(tests/kernel/test_net.c), which prints "# net ready mac=... ip=..." and
answers commands on UDP port 5555 ("stats", "ping A.B.C.D N S", "done").

SocketPeer: QEMU's `-netdev socket,udp=127.0.0.1:P,localaddr=127.0.0.1:Q`
carries raw Ethernet frames, one datagram each, between Mica's e1000 and
this process, which plays a host on Mica's subnet: it answers ARP and
pings, pings Mica, sends UDP to the echo service and checks every byte,
sends every kind of malformed frame and checks that exactly the right drop
counter moved (and that every frame Mica took ends in one counter), storms
it with broadcasts, wraps its rings many times, and takes the link down
and up through QMP's set_link.

UserPeer: QEMU's user networking (libslirp's TCP/IP stack) with
hostfwd=udp:127.0.0.1:P-:7: this process is an ordinary UDP client of
Mica's echo service and sends datagrams of every size up to the MTU,
32 in flight, checking each echo.

Counters come from Mica itself, through its statistics IOCTLs, in the
"stats" answer; the peer compares them with what it sent.
"""
import json
import os
import queue
import random
import re
import socket
import struct
import threading
import time

CONTROL_PORT = 5555
ECHO_PORT = 7
READY_RE = re.compile(r"# net ready mac=([0-9a-f:]+) ip=([0-9.]+)")
BROADCAST = b"\xff" * 6
ETH_IP, ETH_ARP = 0x0800, 0x0806
UDP_MAX = 1472

# Mica's outcome counters: every frame its layer takes ends in exactly one.
OUTCOMES = ["RxRunt", "RxNotForUs", "RxUnknownType", "RxBroadcastThrottled", "ArpRequestsAnswered",
            "ArpRepliesTaken", "ArpOtherHost", "ArpMalformed", "IpTruncated", "IpBadHeader",
            "IpBadChecksum", "IpFragments", "IpOtherHost", "IpUnknownProtocol", "IcmpEchoAnswered",
            "IcmpEchoRepliesTaken", "IcmpBadChecksum", "IcmpMalformed", "IcmpOtherType", "UdpDelivered",
            "UdpBadLength", "UdpBadChecksum", "UdpNoPort"]


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_bytes(text):
    return socket.inet_aton(text)


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def eth(dst, src, ethertype, payload):
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, flags_frag=0, ihl=5, version=4, total=None, corrupt=False, ident=0):
    total = 20 + len(payload) if total is None else total
    header = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total, ident, flags_frag, 64, proto, 0,
                         src, dst)
    header += b"\0" * max(0, ihl * 4 - 20) if ihl > 5 else b""
    c = checksum(header[:max(20, ihl * 4)])
    if corrupt:
        c ^= 0x5555
    header = header[:10] + struct.pack("!H", c) + header[12:]
    return header + payload


def udp(src, dst, sport, dport, data, length=None, with_checksum=True, corrupt=False):
    length = 8 + len(data) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, length, 0) + data
    if with_checksum:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(seg))
        c = checksum(pseudo + seg) or 0xFFFF
        seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    if corrupt:
        seg = seg[:8] + bytes([seg[8] ^ 0xFF]) + seg[9:]
    return seg


def icmp(typ, ident, seq, data, corrupt=False):
    msg = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    c = checksum(msg)
    if corrupt:
        c ^= 0x1111
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def arp(op, sha, spa, tha, tpa, hlen=6):
    return struct.pack("!HHBBH", 1, ETH_IP, hlen, 4, op) + sha + spa + tha + tpa


def parse_stats(text):
    """'e1000 A=1 B=2 ... net C=3 ...' -> {'e1000': {...}, 'net': {...}}"""
    out, section = {}, None
    for word in text.split():
        if "=" not in word:
            section = word
            out[section] = {}
        else:
            k, v = word.split("=", 1)
            out[section][k] = int(v)
    return out


def wait_ready(lines, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for l in list(lines):
            m = READY_RE.search(l)
            if m:
                return m.group(1), m.group(2)
        time.sleep(0.05)
    return None


class Qmp:
    def __init__(self, path):
        self.path = path

    def command(self, execute, arguments=None):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.path)
        f = s.makefile("rw")
        json.loads(f.readline())
        f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
        f.flush()
        json.loads(f.readline())
        msg = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "return" in r or "error" in r:
                s.close()
                return r


class SocketPeer:
    """A host on Mica's subnet, at the other end of QEMU's socket back-end."""

    MAC = bytes.fromhex("525400aabb01")

    def __init__(self, sock, qemu_addr, peer_ip, lines, qmp=None, log=print):
        self.sock, self.qemu_addr, self.lines, self.qmp, self.log = sock, qemu_addr, lines, qmp, log
        self.ip = ip_bytes(peer_ip)
        self.failures = []
        self.control_seq, self.control_tries = 0, 0
        self.inbox = queue.Queue()
        self.echo_requests_answered = 0
        self.routed_echo_requests = 0
        self.stop = False
        self.ident = 0x5050

    # -- the wire ------------------------------------------------------------
    def send(self, frame):
        self.sock.sendto(frame, self.qemu_addr)

    def reader(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                frame, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(frame) < 14:
                continue
            ethertype = struct.unpack("!H", frame[12:14])[0]
            if ethertype == ETH_ARP and len(frame) >= 42:
                op = struct.unpack("!H", frame[20:22])[0]
                if op == 1 and frame[38:42] == self.ip:
                    self.send(eth(frame[22:28], self.MAC, ETH_ARP,
                                  arp(2, self.MAC, self.ip, frame[22:28], frame[28:32])))
                    continue
            # Echo requests to us, or through us: the peer is also Mica's
            # gateway (gw=), and answers for the far address it was sent to.
            if ethertype == ETH_IP and len(frame) >= 34 and frame[23] == 1 and \
                    (frame[30:34] == self.ip or frame[0:6] == self.MAC):
                ihl = (frame[14] & 15) * 4
                total = struct.unpack("!H", frame[16:18])[0]
                msg = frame[14 + ihl:14 + total]
                if msg and msg[0] == 8:
                    reply = icmp(0, struct.unpack("!H", msg[4:6])[0], struct.unpack("!H", msg[6:8])[0], msg[8:])
                    self.send(eth(frame[6:12], self.MAC, ETH_IP, ipv4(frame[30:34], frame[26:30], 1, reply)))
                    self.echo_requests_answered += 1
                    if frame[30:34] != self.ip:
                        self.routed_echo_requests += 1
                    continue
            self.inbox.put(frame)

    def expect(self, match, timeout=2.0):
        """The first queued frame match() accepts (others are dropped)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                frame = self.inbox.get(timeout=left)
            except queue.Empty:
                return None
            r = match(frame)
            if r is not None:
                return r

    def drain(self):
        while not self.inbox.empty():
            self.inbox.get_nowait()

    def fail(self, text):
        self.failures.append(text)
        self.log("  peer: FAIL " + text)

    # -- talking to Mica -------------------------------------------------------
    def udp_to_mica(self, sport, dport, data, **kw):
        return eth(self.mica_mac, self.MAC, ETH_IP,
                   ipv4(self.ip, self.mica_ip, 17, udp(self.ip, self.mica_ip, sport, dport, data, **kw)))

    def udp_reply(self, sport, dport):
        return self.udp_reply_any(sport, (dport,))

    def udp_reply_any(self, sport, dports):
        def match(frame):
            if frame[12:14] != b"\x08\x00" or frame[23] != 17:
                return None
            ihl = (frame[14] & 15) * 4
            u = frame[14 + ihl:]
            s, d, length = struct.unpack("!HHH", u[:6])
            if s != sport or d not in dports:
                return None
            return u[8:length]
        return match

    def control(self, command, timeout=5.0, tries=3):
        """Mica's answer to `command`, or None.  Each try comes from a port
        of its own, so an answer that comes late cannot be taken for the
        answer to a later command; self.control_tries says how many frames
        this one cost (a test that counts frames needs to know)."""
        ports = []
        for i in range(tries):
            self.control_seq += 1
            ports.append(40000 + self.control_seq % 20000)
            self.control_tries = i + 1
            self.send(self.udp_to_mica(ports[-1], CONTROL_PORT, command.encode()))
            r = self.expect(self.udp_reply_any(CONTROL_PORT, ports), timeout)
            if r is not None:
                if i:
                    self.log("  peer: %r (command %d) answered after %d tries" % (command, self.control_seq, i + 1))
                return r.decode()
        return None

    def stats(self):
        text = self.control("stats")
        if text is None:
            self.fail("no answer to stats")
            return None
        return parse_stats(text)

    def ping(self, seq, data, timeout=2.0):
        self.send(eth(self.mica_mac, self.MAC, ETH_IP,
                      ipv4(self.ip, self.mica_ip, 1, icmp(8, self.ident, seq, data))))

        def match(frame):
            if frame[12:14] != b"\x08\x00" or frame[23] != 1:
                return None
            ihl = (frame[14] & 15) * 4
            total = struct.unpack("!H", frame[16:18])[0]
            m = frame[14 + ihl:14 + total]
            if len(m) < 8 or m[0] != 0 or struct.unpack("!HH", m[4:8]) != (self.ident, seq):
                return None
            return m
        return self.expect(match, timeout)

    # -- the test --------------------------------------------------------------
    def run(self):
        t = threading.Thread(target=self.reader, daemon=True)
        t.start()
        try:
            self._run()
        except Exception as e:          # a peer bug is a failure, not a hang
            self.fail("peer raised %r" % (e,))
        finally:
            if not any("no answer to done" in f for f in self.failures):
                pass
            self.stop = True
        return self.failures

    def _run(self):
        ready = wait_ready(self.lines, 90)
        if not ready:
            self.fail("Mica never said '# net ready'")
            return
        self.mica_mac, self.mica_ip = mac_bytes(ready[0]), ip_bytes(ready[1])

        # ARP: who has Mica's address? (QEMU holds frames for 1 s at first.)
        def arp_reply(frame):
            if frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x02" and frame[28:32] == self.mica_ip:
                return frame[22:28]
            return None
        mac = None
        for _ in range(40):
            self.send(eth(BROADCAST, self.MAC, ETH_ARP,
                          arp(1, self.MAC, self.ip, b"\0" * 6, self.mica_ip)))
            mac = self.expect(arp_reply, 0.25)
            if mac:
                break
        if mac != self.mica_mac:
            self.fail("ARP for Mica's address answered %r, expected %s" % (mac, self.mica_mac.hex(":")))
            return
        self.log("  peer: ARP ok")
        start = self.stats()
        if start is None:
            return

        # Pings to Mica, every payload size class.
        rtts, bad = [], 0
        for seq, size in enumerate([0, 1, 8, 56, 100, 512, 1000, 1400, 1472] + list(range(20, 60))):
            data = bytes(random.getrandbits(8) for _ in range(size))
            t0 = time.perf_counter()
            m = self.ping(seq, data)
            rtts.append(time.perf_counter() - t0)
            if m is None or m[8:] != data or checksum(m) != 0:
                bad += 1
        if bad:
            self.fail("%d of %d pings to Mica unanswered or wrong" % (bad, len(rtts)))
        self.log("  peer: %d pings to Mica ok, median %.0f us" % (len(rtts), sorted(rtts)[len(rtts) // 2] * 1e6))

        # Mica pings us (its ARP resolves our address first).
        before = self.echo_requests_answered
        r = self.control("ping %s 5 56" % socket.inet_ntoa(self.ip), timeout=20)
        if r is None or not r.startswith("ping ok=5 "):
            self.fail("Mica's pings to the peer: %r" % r)
        elif self.echo_requests_answered - before != 5:
            self.fail("Mica's pings: the peer answered %d requests" % (self.echo_requests_answered - before))
        else:
            self.log("  peer: Mica pinged the peer: " + r)

        # Off the subnet: Mica sends through its gateway (gw=, the peer here).
        r = self.control("ping 198.51.100.7 2 8", timeout=20)
        if r is None or not r.startswith("ping ok=2 ") or self.routed_echo_requests != 2:
            self.fail("pings off the subnet through the gateway: %r, %d routed" % (r, self.routed_echo_requests))
        else:
            self.log("  peer: Mica's pings to 198.51.100.7 went through the gateway")

        # UDP echo, byte by byte.
        bad = 0
        sizes = list(range(0, 80)) + list(range(80, UDP_MAX, 61)) + [UDP_MAX]
        for i, size in enumerate(sizes):
            data = bytes((i + j * 31) & 0xFF for j in range(size))
            got = None
            for _ in range(3):
                self.send(self.udp_to_mica(41000 + (i % 100), ECHO_PORT, data))
                got = self.expect(self.udp_reply(ECHO_PORT, 41000 + (i % 100)), 2)
                if got is not None:
                    break
            if got != data:
                bad += 1
        if bad:
            self.fail("%d of %d UDP echoes missing or wrong" % (bad, len(sizes)))
        self.log("  peer: %d UDP echoes checked" % len(sizes))

        self.malformed()
        self.storm()
        self.wrap()
        self.link()

        end = self.stats()
        if end is not None:
            e, n = end["e1000"], end["net"]
            if e["RxFrames"] - start["e1000"]["RxFrames"] < 10 * e["RxBuffersOutstanding"]:
                self.fail("the receive ring did not wrap ten times")
            for k in ("RxErrors", "RxOutOfBuffers", "TxBadLength"):
                if e[k] != start["e1000"][k]:
                    self.fail("e1000 %s moved: %d -> %d" % (k, start["e1000"][k], e[k]))
            if sum(n[k] for k in OUTCOMES) != n["RxFrames"]:
                self.fail("net: outcomes %d != RxFrames %d" % (sum(n[k] for k in OUTCOMES), n["RxFrames"]))
        if self.control("done") != "bye":
            self.fail("no answer to done")

    def malformed(self):
        m, me, them = self.mica_mac, self.MAC, self.mica_ip
        other = ip_bytes("192.168.76.99") if self.ip.startswith(b"\xc0\xa8") else ip_bytes("10.0.2.99")
        good_udp = udp(self.ip, them, 4444, ECHO_PORT, b"x" * 16)

        def ip(payload, proto=17, **kw):
            return eth(m, me, ETH_IP, ipv4(self.ip, them, proto, payload, **kw))

        cases = [
            ("a runt (QEMU pads it: type 0)", eth(m, me, 0, b"")[:10], "net", "RxUnknownType"),
            ("an unknown EtherType", eth(m, me, 0x88B5, b"\0" * 46), "net", "RxUnknownType"),
            ("a VLAN-sized frame (1518 bytes)", eth(m, me, ETH_IP, b"\0" * 1504), "e1000", "RxOversize"),
            ("ARP for another host", eth(BROADCAST, me, ETH_ARP, arp(1, me, self.ip, b"\0" * 6, other)),
             "net", "ArpOtherHost"),
            ("ARP with hlen 7", eth(BROADCAST, me, ETH_ARP, arp(1, me, self.ip, b"\0" * 6, them, hlen=7)),
             "net", "ArpMalformed"),
            ("ARP operation 5", eth(BROADCAST, me, ETH_ARP, arp(5, me, self.ip, b"\0" * 6, them)),
             "net", "ArpMalformed"),
            # A frame cut inside the IPv4 header reaches Mica padded to 60
            # bytes with zeros, so its header checksum is what fails.
            ("a 4-byte IPv4 header", eth(m, me, ETH_IP, b"\x45\0\0\x14")[:18], "net", "IpBadChecksum"),
            ("IP version 6", ip(good_udp, version=6), "net", "IpBadHeader"),
            ("IHL 4", ip(good_udp, ihl=4), "net", "IpBadHeader"),
            ("total length beyond the frame", ip(good_udp, total=1000), "net", "IpTruncated"),
            ("total length below the header", ip(good_udp, total=12), "net", "IpBadHeader"),
            ("a bad header checksum", ip(good_udp, corrupt=True), "net", "IpBadChecksum"),
            ("a first fragment", ip(good_udp, flags_frag=0x2000), "net", "IpFragments"),
            ("a later fragment", ip(good_udp, flags_frag=0x0010), "net", "IpFragments"),
            ("IP for another host", eth(m, me, ETH_IP, ipv4(self.ip, other, 17, good_udp)), "net", "IpOtherHost"),
            ("IP protocol 99", ip(b"\0" * 8, proto=99), "net", "IpUnknownProtocol"),
            ("ICMP shorter than its header", ip(b"\x08\0\0\0", proto=1), "net", "IcmpMalformed"),
            ("ICMP with a bad checksum", ip(icmp(8, 1, 1, b"abc", corrupt=True), proto=1), "net", "IcmpBadChecksum"),
            ("ICMP timestamp request", ip(icmp(13, 1, 1, b"\0" * 12), proto=1), "net", "IcmpOtherType"),
            ("UDP length beyond the IP payload", ip(udp(self.ip, them, 1, ECHO_PORT, b"y" * 20, length=100,
                                                        with_checksum=False)), "net", "UdpBadLength"),
            ("UDP length below its header", ip(udp(self.ip, them, 1, ECHO_PORT, b"y" * 20, length=4,
                                                   with_checksum=False)), "net", "UdpBadLength"),
            ("UDP header cut by the IP length", ip(b"\0\1\0"), "net", "UdpBadLength"),
            ("UDP with a bad checksum", ip(udp(self.ip, them, 1, ECHO_PORT, b"z" * 20, corrupt=True)),
             "net", "UdpBadChecksum"),
            ("UDP to a port nobody bound", ip(udp(self.ip, them, 1, 9999, b"z" * 20)), "net", "UdpNoPort"),
        ]
        # Frames the e1000's filters drop before Mica's driver sees them:
        # nothing may move but QEMU's own, and Mica must still answer.
        silent = [
            ("a frame for another MAC", eth(bytes.fromhex("525400999999"), me, ETH_IP, ip(good_udp)[14:])),
            ("a multicast frame", eth(bytes.fromhex("01005e000001"), me, ETH_IP, ip(good_udp)[14:])),
            ("a giant (1600 bytes)", eth(m, me, ETH_IP, b"\0" * 1586)),
        ]
        prev = self.stats()
        if prev is None:
            return
        for name, frame, section, counter in cases:
            self.send(frame)
            now = self.stats()
            if now is None:
                return
            if self.control_tries > 1:
                self.log("  peer: (the query after %s needed %d tries)" % (name, self.control_tries))
            moved = now[section][counter] - prev[section][counter]
            if moved != 1:
                self.fail("%s: %s.%s moved by %d, expected 1" % (name, section, counter, moved))
            n = now["net"]
            if sum(n[k] for k in OUTCOMES) != n["RxFrames"]:
                self.fail("%s: outcomes %d != RxFrames %d" % (name, sum(n[k] for k in OUTCOMES), n["RxFrames"]))
            prev = now
        for name, frame in silent:
            # Between two answers Mica's driver may take only the second
            # query - and any ARP exchange meanwhile (on a slow host Mica's
            # entry for the peer can expire between two queries, and it asks
            # again).  A query that had to be sent again makes the count
            # unknowable (the extra frame lands on either side of a
            # snapshot), so that round is done again from a fresh snapshot.
            for attempt in range(3):
                prev = self.stats()
                if prev is None:
                    return
                if self.control_tries > 1:
                    continue
                self.send(frame)
                now = self.stats()
                if now is None:
                    return
                if self.control_tries == 1:
                    break
            else:
                self.fail("%s: no two statistics queries in a row answered at the first try" % name)
                continue
            arp_frames = sum(now["net"][k] - prev["net"][k] for k in ("ArpRequestsAnswered", "ArpRepliesTaken"))
            taken = now["e1000"]["RxFrames"] - prev["e1000"]["RxFrames"] - arp_frames
            if taken != 1:
                moved = ["%s.%s+%d" % (sec, k, now[sec][k] - prev[sec][k]) for sec in ("e1000", "net")
                         for k in now[sec] if k in prev[sec] and now[sec][k] != prev[sec][k]]
                self.fail("%s reached the driver (%d frames besides the query; moved: %s)" %
                          (name, taken - 1, " ".join(moved)))
        if self.ping(9000, b"still there") is None:
            self.fail("Mica stopped answering pings after the malformed frames")
        self.log("  peer: %d malformed kinds counted, %d filtered by the NIC" % (len(cases), len(silent)))

    def storm(self):
        other = ip_bytes("192.168.76.98") if self.ip.startswith(b"\xc0\xa8") else ip_bytes("10.0.2.98")
        frame = eth(BROADCAST, self.MAC, ETH_ARP, arp(1, self.MAC, self.ip, b"\0" * 6, other))
        before = self.stats()
        count = 3000
        for _ in range(count):
            self.send(frame)
        time.sleep(1.0)
        after = self.stats()
        if before is None or after is None:
            return
        b, a = before["net"], after["net"]
        taken = (a["ArpOtherHost"] - b["ArpOtherHost"]) + (a["RxBroadcastThrottled"] - b["RxBroadcastThrottled"])
        seen = after["e1000"]["RxFrames"] - before["e1000"]["RxFrames"] - 1     # less the stats query
        # QEMU stops reading its socket while the ring is full, so the
        # host's socket buffer may drop some: every frame Mica's driver
        # took must end as "another host" or "throttled", no more, no less.
        if taken != seen:
            self.fail("broadcast storm: the driver took %d frames, the layer accounted for %d" % (seen, taken))
        if seen < 100:
            self.fail("broadcast storm: only %d of %d frames arrived" % (seen, count))
        if seen > 2 * 256 and a["RxBroadcastThrottled"] == b["RxBroadcastThrottled"]:
            self.fail("broadcast storm: %d frames and nothing throttled" % seen)
        if self.ping(9001, b"after the storm") is None:
            self.fail("Mica stopped answering pings after the broadcast storm")
        self.log("  peer: storm of %d broadcasts: %d reached Mica, %d throttled" %
                 (count, seen, a["RxBroadcastThrottled"] - b["RxBroadcastThrottled"]))

    def wrap(self, count=800, window=32):
        """Echoes, `window` in flight: the rings wrap count/64 times each way."""
        pending, done, bad, sport = {}, 0, 0, 42000
        sent = 0
        deadline = time.monotonic() + 60
        while (sent < count or pending) and time.monotonic() < deadline:
            while sent < count and len(pending) < window:
                data = struct.pack("!I", sent) + bytes((sent * 7 + j) & 0xFF for j in range(60))
                pending[sent] = data
                self.send(self.udp_to_mica(sport, ECHO_PORT, data))
                sent += 1
            got = self.expect(self.udp_reply(ECHO_PORT, sport), 2)
            if got is None:
                break
            key = struct.unpack("!I", got[:4])[0] if len(got) >= 4 else -1
            if pending.get(key) == got:
                del pending[key]
                done += 1
            else:
                bad += 1
        if done != count or bad:
            self.fail("ring wrap: %d of %d echoes, %d wrong" % (done, count, bad))
        else:
            self.log("  peer: %d echoes with %d in flight" % (count, window))

    def link(self):
        if self.qmp is None:
            self.log("  peer: no QMP: link down/up skipped")
            return
        before = self.stats()
        r = self.qmp.command("set_link", {"name": "n0", "up": False})
        if "error" in r:
            self.log("  peer: set_link unavailable (%s): skipped" % r["error"])
            return
        time.sleep(0.5)
        if self.ping(9100, b"link down", timeout=0.5) is not None:
            self.fail("Mica answered with its link down")
        self.qmp.command("set_link", {"name": "n0", "up": True})
        m = None
        for i in range(20):
            m = self.ping(9101 + i, b"link up", timeout=0.5)
            if m is not None:
                break
        if m is None:
            self.fail("no answer after the link came back")
        after = self.stats()
        if before and after and after["e1000"]["LinkChanges"] - before["e1000"]["LinkChanges"] < 2:
            self.fail("link down/up: LinkChanges moved by %d" %
                      (after["e1000"]["LinkChanges"] - before["e1000"]["LinkChanges"]))
        if not any("link down" in l for l in self.lines) or not any("link up" in l for l in self.lines):
            self.fail("Mica did not report the link going down and up")
        else:
            self.log("  peer: link down and up seen")


class UserPeer:
    """An ordinary UDP client of Mica's echo service through QEMU's slirp."""

    def __init__(self, echo_port, control_port, lines, log=print, rounds=2, window=32):
        self.echo = ("127.0.0.1", echo_port)
        self.control_addr = ("127.0.0.1", control_port)
        self.lines, self.log, self.rounds, self.window = lines, log, rounds, window
        self.failures = []

    def fail(self, text):
        self.failures.append(text)
        self.log("  user peer: FAIL " + text)

    def control(self, command, timeout=5, tries=3):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            for _ in range(tries):
                s.sendto(command.encode(), self.control_addr)
                try:
                    return s.recv(2048).decode()
                except socket.timeout:
                    continue
        finally:
            s.close()
        return None

    def run(self):
        try:
            self._run()
        except Exception as e:
            self.fail("peer raised %r" % (e,))
        return self.failures

    def _run(self):
        if not wait_ready(self.lines, 240):
            self.fail("Mica never said '# net ready'")
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.settimeout(0.25)
        # The first echo (QEMU holds frames for 1 s after the driver starts).
        for _ in range(60):
            s.sendto(b"hello", self.echo)
            try:
                if s.recv(2048) == b"hello":
                    break
            except socket.timeout:
                continue
        else:
            self.fail("no first echo through slirp")
            return
        start = self.control("stats")
        # Every size 0..1472, `rounds` times, `window` in flight; a lost
        # datagram is sent again (slirp is a real stack: UDP may drop).
        sizes = [size for _ in range(self.rounds) for size in range(UDP_MAX + 1)]
        pending, nxt, done, bad, resent = {}, 0, 0, 0, 0
        deadline = time.monotonic() + 180
        s.settimeout(1.0)
        while (nxt < len(sizes) or pending) and time.monotonic() < deadline:
            while nxt < len(sizes) and len(pending) < self.window:
                size = sizes[nxt]
                tag = struct.pack("!I", nxt)
                data = (tag + bytes((nxt * 13 + j) & 0xFF for j in range(size)))[:size] if size >= 4 else \
                    bytes([nxt & 0xFF] * size)
                pending[nxt] = [data, time.monotonic()]
                s.sendto(data, self.echo)
                nxt += 1
            try:
                got = s.recv(2048)
            except socket.timeout:
                now = time.monotonic()
                for k, v in pending.items():
                    if now - v[1] > 1.0:
                        s.sendto(v[0], self.echo)
                        v[1] = now
                        resent += 1
                continue
            if len(got) >= 4:
                key = struct.unpack("!I", got[:4])[0]
            else:
                key = next((k for k, v in pending.items() if v[0] == got), -1)
            if key in pending and pending[key][0] == got:
                del pending[key]
                done += 1
            elif key not in pending and any(v[0] == got for v in pending.values()):
                k = next(k for k, v in pending.items() if v[0] == got)
                del pending[k]
                done += 1
            else:
                bad += 1 if got not in [b"hello"] else 0
        s.close()
        if done != len(sizes):
            self.fail("%d of %d echoes came back (%d resent)" % (done, len(sizes), resent))
        if bad:
            self.fail("%d echoes did not match what was sent" % bad)
        self.log("  user peer: %d datagrams of every size 0..%d echoed byte for byte (%d resent)" %
                 (done, UDP_MAX, resent))
        r = self.control("ping 10.0.2.2 3 56", timeout=15)
        if r is None or not r.startswith("ping ok=3 "):
            self.fail("Mica's pings to the gateway (slirp): %r" % r)
        end = self.control("stats")
        if start and end:
            a, b = parse_stats(start), parse_stats(end)
            delivered = b["net"]["UdpDelivered"] - a["net"]["UdpDelivered"]
            if delivered < len(sizes):
                self.fail("Mica counted %d UDP deliveries for %d datagrams" % (delivered, len(sizes)))
            for k in ("UdpBadChecksum", "UdpBadLength", "IpBadChecksum", "IpTruncated"):
                if b["net"][k] != a["net"][k]:
                    self.fail("net %s moved under slirp: %d -> %d" % (k, a["net"][k], b["net"][k]))
        else:
            self.fail("no stats from Mica")
        if self.control("done") != "bye":
            self.fail("no answer to done")


def udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- bench-net -------------------------------------------------------------------------

class BenchPeer:
    """The benchmarks, measured as the Linux peer measures its guest
    (/work/shared/peers/linux/qemu_run.py): one thread, select() and
    recvfrom() on the socket back-end, ARP answered inline, 10.0.2.2 as
    52:54:00:12:34:02 pinging the guest at 10.0.2.15 with 56-byte echoes,
    500 after 5 warm-ups, the median."""

    MAC = bytes.fromhex("525400123402")
    IP = ip_bytes("10.0.2.2")

    def __init__(self, sock, qemu_addr, lines, log=print):
        self.sock, self.qemu_addr, self.lines, self.log = sock, qemu_addr, lines, log

    def send(self, frame):
        self.sock.sendto(frame, self.qemu_addr)

    def recv(self, timeout):
        import select
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        frame, _ = self.sock.recvfrom(65536)
        if frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x01" and frame[38:42] == self.IP:
            self.send(eth(frame[22:28], self.MAC, ETH_ARP, arp(2, self.MAC, self.IP, frame[22:28], frame[28:32])))
            return None
        return frame

    def wait_for(self, match, timeout):
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            frame = self.recv(left)
            if frame is not None:
                r = match(frame)
                if r is not None:
                    return r

    def udp_frame(self, sport, dport, data):
        return eth(self.mica_mac, self.MAC, ETH_IP,
                   ipv4(self.IP, self.mica_ip, 17, udp(self.IP, self.mica_ip, sport, dport, data)))

    @staticmethod
    def udp_match(sport, dport):
        def match(frame):
            if frame[12:14] != b"\x08\x00" or frame[23] != 17:
                return None
            u = frame[14 + (frame[14] & 15) * 4:]
            if struct.unpack("!HH", u[:4]) != (sport, dport):
                return None
            return u[8:struct.unpack("!H", u[4:6])[0]]
        return match

    def control(self, command, timeout=5):
        for _ in range(3):
            self.send(self.udp_frame(40000, CONTROL_PORT, command.encode()))
            r = self.wait_for(self.udp_match(CONTROL_PORT, 40000), timeout)
            if r is not None:
                return r.decode()
        return None

    def ping_rtts(self, count=500, warm=5):
        ident, payload, rtts, lost = 0x4848, bytes(range(56)), [], 0
        for seq in range(count + warm):
            frame = eth(self.mica_mac, self.MAC, ETH_IP,
                        ipv4(self.IP, self.mica_ip, 1, icmp(8, ident, seq, payload), ident=seq))

            def match(f, seq=seq):
                if f[12:14] == b"\x08\x00" and f[23] == 1:
                    m = f[14 + (f[14] & 15) * 4:]
                    if m[0] == 0 and struct.unpack("!HH", m[4:8]) == (ident, seq):
                        return True
                return None
            t0 = time.perf_counter_ns()
            self.send(frame)
            if self.wait_for(match, 1.0):
                if seq >= warm:
                    rtts.append((time.perf_counter_ns() - t0) / 1000.0)
            else:
                lost += 1
        return rtts, lost

    def udp_rtts(self, count=500, warm=5, size=64):
        rtts, lost, sport = [], 0, 43000
        for i in range(count + warm):
            data = struct.pack("!I", i) + bytes(size - 4)
            t0 = time.perf_counter_ns()
            self.send(self.udp_frame(sport, ECHO_PORT, data))
            got = self.wait_for(self.udp_match(ECHO_PORT, sport), 1.0)
            if got == data:
                if i >= warm:
                    rtts.append((time.perf_counter_ns() - t0) / 1000.0)
            else:
                lost += 1
        return rtts, lost

    def udp_pps(self, total=4000, window=32, size=64):
        sport, sent, got, inflight = 43001, 0, 0, 0
        t0 = time.perf_counter()
        deadline = t0 + 60
        while got < total and time.perf_counter() < deadline:
            while sent < total and inflight < window:
                self.send(self.udp_frame(sport, ECHO_PORT, struct.pack("!I", sent) + bytes(size - 4)))
                sent += 1
                inflight += 1
            r = self.wait_for(self.udp_match(ECHO_PORT, sport), 1.0)
            if r is None:
                inflight = 0            # lost: refill the window
                continue
            got += 1
            inflight -= 1
        return got / (time.perf_counter() - t0), got

    def run(self):
        import statistics
        ready = wait_ready(self.lines, 120)
        if not ready:
            return None, "Mica never said '# net ready'"
        self.mica_mac, self.mica_ip = mac_bytes(ready[0]), ip_bytes(ready[1])
        # The first answer (QEMU holds frames for 1 s after RCTL is written).
        for _ in range(40):
            if self.control("stats", timeout=0.25) is not None:
                break
        figures = {}
        rtts, lost = self.ping_rtts()
        if not rtts:
            return None, "no ping answered"
        figures["e1000.ping.rtt_us"] = (int(round(statistics.median(rtts))), "us")
        figures["e1000.ping.lost"] = (lost, "pings")
        rtts, lost = self.udp_rtts()
        if rtts:
            figures["e1000.udp.rtt_us"] = (int(round(statistics.median(rtts))), "us")
        before = parse_stats(self.control("stats") or "")
        pps, echoes = self.udp_pps()
        after = parse_stats(self.control("stats") or "")
        figures["e1000.udp.pps"] = (int(round(pps)), "echoes/s")
        if before and after and echoes:
            ints = after["e1000"]["Interrupts"] - before["e1000"]["Interrupts"]
            figures["e1000.udp.interrupts_per_100_echoes"] = (int(round(100.0 * ints / echoes)), "irqs")
            figures["e1000.itr"] = (after["e1000"]["Itr"], "256ns")
        self.control("done")
        return figures, None


# ---- by hand ---------------------------------------------------------------------------

def main():
    """python3 tests/netpeer.py ping PEER_PORT QEMU_PORT [COUNT]  (make run NET=socket)
    python3 tests/netpeer.py echo PORT [TEXT...]                (make run NET=user)"""
    import statistics
    import sys
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "ping":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", int(args[1])))
        peer = BenchPeer(sock, ("127.0.0.1", int(args[2])), [])
        peer.mica_ip = ip_bytes("10.0.2.15")
        mac = None
        for _ in range(20):             # who has 10.0.2.15?
            peer.send(eth(BROADCAST, peer.MAC, ETH_ARP, arp(1, peer.MAC, peer.IP, b"\0" * 6, peer.mica_ip)))
            mac = peer.wait_for(lambda f: f[22:28] if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02"
                                else None, 0.5)
            if mac:
                break
        if not mac:
            print("no ARP answer from 10.0.2.15 (is Mica running with NET=socket?)")
            return 1
        peer.mica_mac = mac
        print("10.0.2.15 is at %s" % mac.hex(":"))
        count = int(args[3]) if len(args) > 3 else 10
        rtts, lost = peer.ping_rtts(count, warm=0)
        for i, r in enumerate(rtts):
            print("64 bytes from 10.0.2.15: icmp_seq=%d time=%.0f us" % (i, r))
        if rtts:
            print("%d sent, %d lost, median %.0f us" % (count, lost, statistics.median(rtts)))
        return 0 if rtts else 1
    if len(args) >= 2 and args[0] == "echo":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        text = (" ".join(args[2:]) or "hello, Mica").encode()
        t0 = time.perf_counter()
        s.sendto(text, ("127.0.0.1", int(args[1])))
        try:
            got = s.recv(2048)
        except socket.timeout:
            print("no echo (is Mica running with NET=user?)")
            return 1
        print("echo %r in %.0f us" % (got.decode(errors="replace"), (time.perf_counter() - t0) * 1e6))
        return 0 if got == text else 1
    print(main.__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
