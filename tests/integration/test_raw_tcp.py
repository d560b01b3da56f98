#!/usr/bin/python3
"""Raw TCP line devices through mosquitto and mosquitto_sub, with the devices
played by Python sockets in this test:
- client mode, a device streaming JSON lines;
- client mode, a poll-style device answering a request string with CSV;
- the same with `phase: aligned`: requests on the multiples of the interval;
- server mode, 50 devices pushing key=value lines at once;
- client mode, a polled device that stops reading for a while: the requests
  it gets are whole, never half of one followed by the next.
Exact values, units and per-sensor order are checked."""

import json
import signal
import socket
import threading
import time

import sbtest
from sbtest import check

HEADER = """\
gateway:
  id: raw
mqtt:
  uri: tcp://127.0.0.1:{broker}
adapters:
"""


class DeviceServer:
    """A device the gateway connects to: handler(conn) runs per connection."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def by_sensor(sub, adapter):
    out = {}
    for topic, payload in sub.readings():
        if topic.split("/")[2] == adapter:
            r = json.loads(payload)
            out.setdefault(r["sensor"], []).append(r)
    return out


def stop(gw):
    gw.proc.send_signal(signal.SIGTERM)
    rc = gw.wait_exit(10)
    check(rc == 0, f"exit status {rc}")


def streaming_client():
    lines = []
    for k in range(1, 51):
        lines.append(json.dumps({"id": "t1", "v": k / 2, "u": "celsius"}))
        lines.append(json.dumps({"id": "t2", "v": -k, "t": 1700000000 + k}))
    data = ("\r\n".join(lines) + "\r\n").encode()

    def stream(conn):
        for i in range(0, len(data), 37):  # arbitrary splits
            conn.sendall(data[i:i + 37])
            time.sleep(0.001)
        time.sleep(30)

    with sbtest.Stack() as st:
        dev = DeviceServer(stream)
        st.closers.append(dev.close)
        broker = st.broker()
        sub = st.subscriber(broker)
        gw = st.gateway(HEADER.format(broker=broker) + f"""\
  - name: weather
    type: raw_tcp
    mode: client
    host: 127.0.0.1
    port: {dev.port}
    format: json
    fields: {{sensor: id, value: v, unit: u, ts: t}}
    unit: kelvin
""")
        check(sub.wait_for(lambda _: len(sub.readings()) >= 100, 10), "not all readings arrived")
        stop(gw)
        got = by_sensor(sub, "weather")
        t1, t2 = got.get("t1", []), got.get("t2", [])
        check([r["seq"] for r in t1] == list(range(1, 51)), "t1 order")
        check([r["value"] for r in t1] == [k / 2 for k in range(1, 51)], "t1 values")
        check(all(r["unit"] == "celsius" for r in t1), "t1 unit from the line")
        check([r["value"] for r in t2] == [-k for k in range(1, 51)], "t2 values")
        check(all(r["unit"] == "kelvin" for r in t2), "t2 default unit")
        check([r["ts"] for r in t2] == [(1700000000 + k) * 1000 for k in range(1, 51)],
              "t2 device timestamps (seconds -> ms)")


def answering(reply):
    """A device that answers each request line (CRLF) with reply(request)."""
    def answer(conn):
        buf = b""
        while True:
            chunk = conn.recv(100)
            if not chunk:
                return
            buf += chunk
            while b"\r\n" in buf:
                req, buf = buf.split(b"\r\n", 1)
                conn.sendall(reply(req))
    return answer


def polled_meter(port, interval, extra=""):
    """The adapter of a device polled with READ, answering sensor;value[;unit]."""
    return f"""\
  - name: meter
    type: raw_tcp
    host: 127.0.0.1
    port: {port}
    request: "READ\\r\\n"
    interval: {interval}
    format: csv
    columns: [sensor, value, unit]
    separator: ";"
{extra}"""


def polling_client():
    requests = []

    def reply(req):
        requests.append(req)
        n = len(requests)
        return f"p1;{n}.5;bar\np2;{-n};\n".encode()

    with sbtest.Stack() as st:
        dev = DeviceServer(answering(reply))
        st.closers.append(dev.close)
        broker = st.broker()
        sub = st.subscriber(broker)
        gw = st.gateway(HEADER.format(broker=broker) + polled_meter(dev.port, "100ms"))
        check(sub.wait_for(lambda _: len(sub.readings()) >= 20, 10), "no answers")
        stop(gw)
        got = by_sensor(sub, "meter")
        check(set(requests) == {b"READ"}, f"requests {set(requests)}")
        p1, p2 = got["p1"], got["p2"]
        check(len(p1) >= 10 and len(p1) == len(p2), f"{len(p1)} p1, {len(p2)} p2")
        check([r["value"] for r in p1] == [n + 0.5 for n in range(1, len(p1) + 1)], "p1 values")
        check([r["value"] for r in p2] == [-n for n in range(1, len(p2) + 1)], "p2 values")
        check(all(r["unit"] == "bar" for r in p1) and all("unit" not in r for r in p2), "units")
        check(len(requests) - len(p1) <= 1, f"{len(requests)} requests, {len(p1)} answers")


def aligned_client():
    """phase: aligned: each request arrives on a multiple of the interval of
    the wall clock (give or take the loop's wake-up and loopback), one
    interval after the last."""
    arrivals = []

    def reply(_):
        arrivals.append(time.time_ns() // 1_000_000)
        return b"p1;1;\n"

    with sbtest.Stack() as st:
        dev = DeviceServer(answering(reply))
        st.closers.append(dev.close)
        broker = st.broker()
        sub = st.subscriber(broker)
        gw = st.gateway(HEADER.format(broker=broker)
                        + polled_meter(dev.port, "500ms", "    phase: aligned\n"))
        check(sub.wait_for(lambda _: len(sub.readings()) >= 6, 10), "no answers")
        stop(gw)
        late = [t % 500 for t in arrivals if t % 500 > 40]
        check(not late, f"requests arrived {late} ms after a multiple of 500 ms")
        steps = sorted({round((b - a) / 500) for a, b in zip(arrivals, arrivals[1:])})
        check(steps == [1], f"requests {steps} intervals apart")
        print(f"aligned: {len(arrivals)} requests, at most "
              f"{max(t % 500 for t in arrivals)} ms after the multiple")


def pushing_server():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        port = sbtest.free_port()
        gw = st.gateway(HEADER.format(broker=broker) + f"""\
  - name: yard
    type: raw_tcp
    mode: server
    host: 127.0.0.1
    port: {port}
    format: kv
    unit: celsius
""")
        gw.wait_log("listening on", 10)

        def push(i):
            with socket.create_connection(("127.0.0.1", port)) as s:
                for k in range(1, 21):
                    s.sendall(f"c{i:02d}_temp={k} c{i:02d}_on=true\n".encode())
                    time.sleep(0.005)
                time.sleep(0.2)

        threads = [threading.Thread(target=push, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(sub.wait_for(lambda _: len(sub.readings()) >= 2000, 10),
              f"{len(sub.readings())} of 2000 readings")
        stop(gw)
        got = by_sensor(sub, "yard")
        check(len(got) == 100, f"{len(got)} sensors")
        for i in range(50):
            temps = got[f"c{i:02d}_temp"]
            check([r["value"] for r in temps] == list(range(1, 21)), f"c{i:02d}_temp values")
            check([r["seq"] for r in temps] == list(range(1, 21)), f"c{i:02d}_temp order")
            check(all(r["unit"] == "celsius" for r in temps), "default unit")
            check([r["value"] for r in got[f"c{i:02d}_on"]] == [True] * 20, "bools")


def slow_reader():
    """A device with a tiny receive buffer that reads nothing for a second
    while the gateway sends a 3 kB request every millisecond: the gateway's
    writes come up short. What the device then reads must be whole requests
    (and, at the very end, the start of one cut by the gateway's stop)."""
    body = b"REQ:" + b"0123456789abcdef" * 190
    received = []
    done = threading.Event()

    def lazy(conn):
        time.sleep(1.0)
        conn.settimeout(0.2)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            received.append(chunk)
        done.set()

    with sbtest.Stack() as st:
        dev = DeviceServer.__new__(DeviceServer)
        dev.sock = socket.socket()
        dev.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # inherited by accept
        dev.sock.bind(("127.0.0.1", 0))
        dev.sock.listen(8)
        dev.port = dev.sock.getsockname()[1]
        dev.handler, dev.conns = lazy, []
        threading.Thread(target=dev._accept, daemon=True).start()
        st.closers.append(dev.close)
        broker = st.broker()
        gw = st.gateway(HEADER.format(broker=broker) + f"""\
  - name: slow
    type: raw_tcp
    host: 127.0.0.1
    port: {dev.port}
    request: "{body.decode()}\\r\\n"
    interval: 1ms
    format: csv
    columns: [sensor, value]
""")
        check(done.wait(15), "the device did not finish reading")
        stop(gw)
        data = b"".join(received)
        parts = data.split(b"\r\n")
        whole, tail = parts[:-1], parts[-1]
        bad = [i for i, p in enumerate(whole) if p != body]
        check(len(whole) >= 10, f"only {len(whole)} requests arrived")
        check(not bad, f"{len(bad)} of {len(whole)} requests were not whole (first at "
                       f"#{bad[0] if bad else 0}: {whole[bad[0]][:40] if bad else b''!r}...)")
        check(body.startswith(tail), f"a trailing fragment that starts no request: {tail[:40]!r}")


def main():
    streaming_client()
    polling_client()
    aligned_client()
    pushing_server()
    slow_reader()


if __name__ == "__main__":
    sbtest.run(main)
