#!/usr/bin/python3
"""tests/peers/modbus_sim serves writes as well as reads (bench/commands
relies on it):
- FC 6, 16, 5 and 15 are answered with the echo no sooner than the latency,
  and the connection's holding registers and coils then read what was
  written; registers not written keep the value of their address;
- a write request that arrives one byte at a time (longer than a read
  request, so its start is kept across reads) is served like any other;
- written values belong to the connection: another connection still reads
  the addresses;
- a bad quantity or a range past 65535 gets exception 3 or 2 and the
  connection goes on;
- --write-log has one line per applied write, with its wall-clock time
  between the request and its answer, and the exit summary counts writes."""

import socket
import struct
import subprocess
import time

import sbtest
from sbtest import check

LATENCY_MS = 50


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tid = 0

    def request(self, pdu, split=False):
        """Sends one request; returns (reply PDU, seconds until it came)."""
        self.tid += 1
        adu = struct.pack(">HHHB", self.tid, 0, len(pdu) + 1, 1) + pdu
        t0 = time.monotonic()
        if split:
            for i in range(len(adu)):
                self.sock.sendall(adu[i:i + 1])
                time.sleep(0.002)
        else:
            self.sock.sendall(adu)
        head = self._recv(7)
        tid, proto, length, unit = struct.unpack(">HHHB", head)
        check(tid == self.tid and proto == 0 and unit == 1, f"bad MBAP {head.hex()}")
        return self._recv(length - 1), time.monotonic() - t0

    def _recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            check(chunk, "the simulator closed the connection")
            out += chunk
        return out

    def read_holding(self, address, quantity):
        pdu, _ = self.request(struct.pack(">BHH", 3, address, quantity))
        check(pdu[0] == 3 and pdu[1] == 2 * quantity, f"bad read reply {pdu.hex()}")
        return list(struct.unpack(f">{quantity}H", pdu[2:]))

    def read_coils(self, address, quantity):
        pdu, _ = self.request(struct.pack(">BHH", 1, address, quantity))
        check(pdu[0] == 1, f"bad coil reply {pdu.hex()}")
        bits = int.from_bytes(pdu[2:], "little")
        return [(bits >> i) & 1 for i in range(quantity)]

    def close(self):
        self.sock.close()


def write_multiple(address, values):
    return struct.pack(f">BHHB{len(values)}H", 16, address, len(values), 2 * len(values),
                       *values)


def main():
    with sbtest.Stack() as stack:
        log = stack.path("writes.log")
        err = stack.path("modbus_sim.stderr")
        with open(err, "w") as f:
            sim = subprocess.Popen([sbtest.MODBUS_SIM, "--latency-ms", str(LATENCY_MS),
                                    "--write-log", log], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=f, text=True)
        stack.procs.append(sim)
        line = sim.stdout.readline()
        check(line.startswith("PORT "), f"modbus_sim did not report its port: {line!r}")
        port = int(line.split()[1])
        a, b = Client(port), Client(port)

        check(a.read_holding(10, 3) == [10, 11, 12], "holding registers before any write")
        t_sent = time.time() * 1000
        pdu, took = a.request(struct.pack(">BHH", 6, 10, 1234))
        t_answered = time.time() * 1000
        check(pdu == struct.pack(">BHH", 6, 10, 1234), f"FC 6 echo {pdu.hex()}")
        check(took >= LATENCY_MS / 1000, f"FC 6 answered after {took * 1000:.1f} ms")
        check(a.read_holding(9, 3) == [9, 1234, 11], "FC 6 not applied")

        pdu, _ = a.request(write_multiple(20, [7] * 100), split=True)
        check(pdu == struct.pack(">BHH", 16, 20, 100), f"FC 16 echo {pdu.hex()}")
        check(a.read_holding(19, 102) == [19] + [7] * 100 + [120], "FC 16 not applied")

        pdu, _ = a.request(struct.pack(">BHH", 5, 4, 0xFF00))
        check(pdu == struct.pack(">BHH", 5, 4, 0xFF00), f"FC 5 echo {pdu.hex()}")
        pdu, _ = a.request(struct.pack(">BHHBB", 15, 0, 3, 1, 0b010))
        check(pdu == struct.pack(">BHH", 15, 0, 3), f"FC 15 echo {pdu.hex()}")
        check(a.read_coils(0, 6) == [0, 1, 0, 1, 1, 1], "coils not written")

        check(b.read_holding(10, 1) == [10] and b.read_coils(4, 1) == [0],
              "another connection sees the first one's writes")

        pdu, _ = b.request(struct.pack(">BHHB", 16, 1, 0, 2) + b"\0\0")
        check(pdu == bytes([0x90, 3]), f"FC 16 with quantity 0: {pdu.hex()}")
        pdu, _ = b.request(write_multiple(65535, [1, 2]))
        check(pdu == bytes([0x90, 2]), f"FC 16 past 65535: {pdu.hex()}")
        check(b.read_holding(65535, 1) == [65535], "a refused write changed a register")
        a.close()
        b.close()

        sbtest.stop_process(sim)
        check(sim.returncode == 0, f"modbus_sim exited with {sim.returncode}")
        with open(err) as f:
            summary = f.read()
        check(", writes 4, " in summary and "requests 13," in summary,
              f"exit summary: {summary!r}")
        with open(log) as f:
            lines = [l.split() for l in f]
        check(len(lines) == 4, f"{len(lines)} lines in the write log, not 4: {lines}")
        check(lines[0][1:] == ["6", "10", "1", "1234"], f"first logged write {lines[0]}")
        check(t_sent <= float(lines[0][0]) <= t_answered,
              f"FC 6 logged at {lines[0][0]}, outside [{t_sent:.3f}, {t_answered:.3f}]")
        check(lines[1][1:4] == ["16", "20", "100"] and lines[1][4:] == ["7"] * 100,
              f"FC 16 logged as {lines[1][:6]}")
        check(lines[3][1:] == ["15", "0", "3", "0", "1", "0"], f"FC 15 logged as {lines[3]}")


if __name__ == "__main__":
    sbtest.run(main)
