#!/usr/bin/python3
"""Hostile input to a raw TCP adapter in server mode: over-long lines, binary
garbage, NUL bytes, names that try to leave their topic subtree, half lines
followed by a disconnect, a client sending one byte at a time, a silent
client, more clients than max_clients, and 10,000 connect/disconnect
cycles. The daemon keeps running, every counter matches what was sent, its
file descriptors and memory do not grow, and a healthy device beside it
keeps its sampling rate."""

import json
import os
import re
import signal
import socket
import threading
import time

import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: hostile
  stats_interval: 0s
mqtt:
  uri: tcp://127.0.0.1:{broker}
  qos: 0
adapters:
  - name: yard
    type: raw_tcp
    mode: server
    host: 127.0.0.1
    port: {port}
    format: json
    max_line: 256
    max_clients: 8
    idle_timeout: 2s
  - name: pulse
    type: simulated
    sensors: 1
    interval: 20ms
"""


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def send(port, data, close_wait=0.05):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)
        time.sleep(close_wait)


def main():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        port = sbtest.free_port()
        gw = st.gateway(CONFIG.format(broker=broker, port=port))
        gw.wait_log("listening on", 10)
        pid = gw.proc.pid

        good = lambda name, v: json.dumps({"sensor": name, "value": v}).encode() + b"\n"
        # One connection carrying every kind of bad line between good ones.
        stream = b"".join([
            good("ok", 1),
            b"x" * 1000 + b"\n",                       # too_long
            b"y" * 300 + b"\n",                        # too_long
            bytes(range(0x80, 0xc0)) + b"\x01\x02\n",  # binary garbage: bad_json
            b"\x00\x00\x00\n",                         # NUL bytes: bad_json
            b'{"sensor":"a\\u0000b","value":1}\n',     # NUL in a name: bad_name
            b'{"sensor":"tab\\there","value":1}\n',    # control character: bad_name
            b'{"sensor":"up/../+/#","value":2}\n',     # replaced: up_.._+_# -> up_.._ _ _
            b"[1,2,3]\n",                              # not_object
            b'{"sensor":"nov"}\n',                     # missing_field
            b'{"sensor":"ts","value":1,"ts":"now"}\n',  # bad_number
            good("ok", 2),
        ])
        send(port, stream)
        for _ in range(3):                             # half lines: incomplete
            send(port, b'{"sensor":"half","val')
        time.sleep(0.3)
        fds_before, rss_before = fds(pid), rss_kib(pid)  # no device connected now

        # A client trickling one byte at a time while others carry on.
        slow_line = good("slow", 7)

        # Connected here, before the churn below can fill max_clients.
        slow_sock = socket.create_connection(("127.0.0.1", port))

        def trickle():
            with slow_sock:
                for b in slow_line:
                    slow_sock.sendall(bytes([b]))
                    time.sleep(0.1)
                time.sleep(0.1)

        time.sleep(0.2)
        slow = threading.Thread(target=trickle)
        slow.start()

        # A silent client is closed after idle_timeout (2 s).
        silent = socket.create_connection(("127.0.0.1", port))

        # 10,000 connect/disconnect cycles; fds and memory before and after.
        for _ in range(10000):
            c = socket.create_connection(("127.0.0.1", port))
            c.close()
        time.sleep(0.5)
        slow.join()

        # More clients than max_clients (8): the extra ones are closed.
        extra = [socket.create_connection(("127.0.0.1", port)) for _ in range(12)]
        time.sleep(0.3)
        for c in extra:
            c.close()
        time.sleep(2.5)  # the silent client's idle timeout
        silent.close()
        fds_after, rss_after = fds(pid), rss_kib(pid)
        print(f"fds {fds_before} -> {fds_after}, RSS {rss_before} -> {rss_after} KiB")
        check(fds_after == fds_before, f"open fds went from {fds_before} to {fds_after}")
        # AddressSanitizer keeps freed memory in quarantine: RSS is only
        # meaningful in a plain build (LeakSanitizer checks leaks there).
        if os.environ.get("SB_SANITIZE") != "ON":
            check(rss_after - rss_before < 1024, f"RSS grew by {rss_after - rss_before} KiB")
        check(gw.proc.poll() is None, "the gateway died")

        check(sub.wait_for(lambda lines: any('"sensor":"slow"' in p for _, p in lines), 10),
              "the slow client's line never arrived")
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")
        sub.wait_for(lambda lines: ("sensorbridge/hostile/status", "offline") in lines, 5)

        yard = [json.loads(p) for t, p in sub.readings() if t.split("/")[2] == "yard"]
        names = [(r["sensor"], r["value"]) for r in yard]
        check(names == [("ok", 1), ("up_.._+_#".replace("+", "_").replace("#", "_"), 2),
                        ("ok", 2), ("slow", 7)], f"yard readings {names}")
        check(all(t.count("/") == 3 for t, _ in sub.readings()), "a topic left its subtree")

        stop = [l for l in gw.log if "adapter 'yard': stopped:" in l]
        check(len(stop) == 1, "no counter line for yard")
        counters = stop[0].split("stopped: ", 1)[1]
        # Lines: the 12 of the stream but the 2 too long ones, and the slow one.
        m = re.fullmatch(r"11 lines, 4 readings, (\d+) connections \((\d+) refused over "
                         r"max_clients, 1 closed idle\), too_long 2, incomplete 3, bad_json 2, "
                         r"not_object 1, missing_field 1, bad_number 1, bad_name 2", counters)
        check(m is not None, f"counters: {counters}")
        accepted, refused = int(m.group(1)), int(m.group(2))
        # 1 stream + 3 half lines + 1 slow + 1 silent + 10,000 cycles + 12 extra.
        check(accepted + refused == 10018, f"{accepted} accepted + {refused} refused")
        check(refused >= 12 - 7, f"only {refused} refused over max_clients")
        check(any("closing a connection silent" in l for l in gw.log), "idle client not closed")
        check(any("max_clients" in l for l in gw.log), "extra clients not refused")

        pulse = [json.loads(p) for t, p in sub.readings() if t.split("/")[2] == "pulse"]
        span = (pulse[-1]["ts"] - pulse[0]["ts"]) / 1000
        rate = (len(pulse) - 1) / span
        print(f"healthy device: {len(pulse)} readings in {span:.2f} s = {rate:.1f} Hz")
        check(rate >= 0.95 * 50, f"healthy device at {rate:.1f} Hz, configured 50 Hz")


if __name__ == "__main__":
    sbtest.run(main)
