#!/usr/bin/python3
"""`sensorbridge --test`: the configured devices read once without a broker.

- Modbus TCP against the libmodbus test peer: one row per point in the
  configuration's order; for every type and byte order the table's value, unit, quality and raw registers (worked out here from the
  expected value with Python's struct, not taken from the gateway) are exact;
  exit status 1 with a bad point, 0 with only good ones; a silent device is
  reported as a timeout within its timeout; a refused one at once.
- `--json` lines equal what the daemon publishes for the same points through
  a real mosquitto (field by field, ts and seq aside), topics included.
- raw_tcp in server and client mode: lines sent within --seconds appear; a
  device that sends nothing is reported, exit status 1.
- Nothing is published: a listener on the configured broker port is never
  connected to.
- A broken configuration gives the same FILE:LINE:COL error as
  --check-config, exit status 2; an unknown --adapter is named."""

import json
import socket
import struct
import subprocess
import threading
import time

import sbtest
from sbtest import check
from test_modbus import VALUES, device

HEADER = """\
gateway:
  id: probe
mqtt:
  uri: tcp://127.0.0.1:{broker}
adapters:
"""

COLUMNS = ["ADAPTER", "DEVICE", "POINT", "VALUE", "QUALITY", "ERROR", "RAW"]


def run(cfg_path, *args, timeout=30):
    t0 = time.monotonic()
    p = subprocess.run([sbtest.SB_BIN, "--test", "-c", cfg_path, *args], capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


def table(out):
    """The table's rows as dicts, cut at the header's column starts, and the
    summary line."""
    lines = out.rstrip("\n").split("\n")
    head, rows, summary = lines[0], lines[1:-1], lines[-1]
    rows = [line for line in rows if not line.startswith("adapter '")]  # notes
    starts = [head.index(c) for c in COLUMNS]
    check(head.split() == COLUMNS, f"header {head!r}")
    got = []
    for line in rows:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        got.append(dict(zip(COLUMNS, cells)))
    return got, summary


def words(data):
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def raw_of(keys, want):
    """The registers a point's expected value is stored in, from the type
    and order in its keys: ABCD big-endian; CDAB swaps 16-bit words; BADC
    swaps the bytes in each word; DCBA both (GHEFCDAB / HGFEDCBA for 64 bits
    likewise)."""
    k = dict(kv.split(": ") for kv in keys.split(", "))
    typ, order = k.get("type", "uint16"), k.get("order", "ABCD")
    if "scale" in k:
        want = round(want / float(k["scale"]))
    fmt = {"uint16": ">H", "int16": ">h", "int32": ">i", "uint32": ">I", "float32": ">f",
           "int64": ">q", "uint64": ">Q", "float64": ">d"}
    if typ == "bool" or k.get("table") in ("coil", "discrete"):  # no registers
        return None
    if typ == "string":
        data = want.encode().ljust(2 * int(k["length"]), b"\0")
    else:
        data = struct.pack(fmt[typ], want)
    w = words(data)
    if order in ("CDAB", "GHEFCDAB", "DCBA", "HGFEDCBA"):
        w.reverse()
    if order in ("BADC", "DCBA", "HGFEDCBA"):
        w = [((x & 0xFF) << 8) | (x >> 8) for x in w]
    return " ".join(f"{x:04X}" for x in w)


def shown(want, unit):
    text = json.dumps(want)
    return f"{text} {unit}" if unit else text


def modbus_table():
    with sbtest.Stack() as st:
        _, port = st.modbus_server("--exception", "300:2")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        broker = listener.getsockname()[1]
        points = [(n, k) for n, k, _ in VALUES] + [("forbidden", "address: 300")]
        cfg = st.path("plc.yaml")
        with open(cfg, "w") as f:
            f.write(HEADER.format(broker=broker) + device("plc", port, points))
        rc, out, err, took = run(cfg)
        print(out, end="")
        rows, summary = table(out)
        by = {r["POINT"]: r for r in rows}
        check([r["POINT"] for r in rows] == [n for n, _ in points],
              f"rows not one per point in configuration order: {[r['POINT'] for r in rows]}")
        dev = f"127.0.0.1:{port} unit 1"
        for name, keys, want in VALUES:
            r = by[name]
            unit = dict(kv.split(": ") for kv in keys.split(", ")).get("unit")
            raw = raw_of(keys, want)
            if "bit: " in keys:  # the register, whose bit is the value
                bit = int(keys.split("bit: ")[1])
                raw = r["RAW"]
                check(len(raw) == 4 and (int(raw, 16) >> bit & 1) == want, f"{name}: raw {raw}")
            expect = {"ADAPTER": "plc", "DEVICE": dev, "POINT": name, "VALUE": shown(want, unit),
                      "QUALITY": "good", "ERROR": "-", "RAW": raw or "-"}
            check(r == expect, f"{name}: got {r}, want {expect}")
        check(by["forbidden"] == {"ADAPTER": "plc", "DEVICE": dev, "POINT": "forbidden",
                                  "VALUE": "null", "QUALITY": "bad",
                                  "ERROR": "illegal data address", "RAW": "-"},
              f"forbidden: {by['forbidden']}")
        n = len(points)
        check(summary.startswith(f"1 adapter, {n} readings: {n - 1} good, 1 bad ("),
              f"summary {summary!r}")
        check(rc == 1, f"exit status {rc} with a bad point")
        check(err == "", f"stderr {err!r}")

        with open(cfg, "w") as f:
            f.write(HEADER.format(broker=broker) + device("plc", port, points[:-1]))
        rc, out, err, _ = run(cfg)
        check(rc == 0, f"exit status {rc} with every point good: {out} {err}")
        try:
            listener.accept()
            check(False, "--test connected to the broker's port")
        except BlockingIOError:
            pass
        listener.close()


def silent_devices():
    """A blackholed device (connects, never answers) is a timeout within its
    timeout; a refused connection is reported at once. --adapter picks."""
    with sbtest.Stack() as st:
        _, hole = st.modbus_server("--blackhole")
        closed = sbtest.free_port()
        cfg = st.path("silent.yaml")
        pts = [("a", "address: 0"), ("b", "address: 200")]  # two requests
        with open(cfg, "w") as f:
            f.write(HEADER.format(broker=sbtest.free_port())
                    + device("hole", hole, pts).replace("timeout: 300ms", "timeout: 700ms")
                    + device("gone", closed, pts[:1]))
        rc, out, err, took = run(cfg, "--adapter", "hole")
        print(out, end="")
        rows, summary = table(out)
        check([(r["ADAPTER"], r["POINT"], r["QUALITY"], r["ERROR"]) for r in rows] ==
              [("hole", "a", "bad", "timeout"), ("hole", "b", "bad", "timeout")], f"{rows}")
        check(rc == 1 and summary.startswith("1 adapter, 2 readings: 0 good, 2 bad"),
              f"{rc} {summary!r}")
        check(0.7 <= took < 0.7 + 1.5, f"the blackholed device took {took:.2f} s (timeout 0.7)")

        rc, out, err, took = run(cfg, "--adapter", "gone")
        rows, _ = table(out)
        check([(r["POINT"], r["ERROR"]) for r in rows] == [("a", "connection refused")],
              f"{rows}")
        check(rc == 1 and took < 1.5, f"refused: exit {rc} after {took:.2f} s")
        check(f"adapter 'gone': 127.0.0.1:{closed}: connection refused" in err, f"{err!r}")

        rc, out, err, _ = run(cfg, "--adapter", "nope")
        check(rc == 2 and out == "" and err == f"sensorbridge: {cfg} has no adapter named "
                                               "'nope' (adapters: hole, gone)\n", f"{rc} {err!r}")


def json_equals_daemon():
    """--json prints what the daemon publishes: the same topics, and payloads
    equal field by field but for ts and seq."""
    with sbtest.Stack() as st:
        _, port = st.modbus_server()
        broker = st.broker()
        sub = st.subscriber(broker)
        points = [(n, k) for n, k, _ in VALUES]
        cfg_text = HEADER.format(broker=broker) + device("plc", port, points, interval="1s")
        cfg = st.path("json.yaml")
        with open(cfg, "w") as f:
            f.write(cfg_text)
        rc, out, err, _ = run(cfg, "--json")
        check(rc == 0, f"--json exit {rc}: {err}")
        check(err.startswith(f"1 adapter, {len(points)} readings: {len(points)} good, 0 bad"),
              f"summary on stderr: {err!r}")
        tested = {}
        for line in out.splitlines():
            m = json.loads(line)
            check(m["qos"] == 1 and m["retain"] is False, f"qos/retain {line}")
            tested[m["topic"]] = m["payload"]
        check(len(tested) == len(points), f"{len(tested)} JSON lines")

        gw = st.gateway(cfg_text)
        want_topics = set(tested)
        sub.wait_for(lambda _: {t for t, _ in sub.readings()} >= want_topics, 10)
        published = {}
        for topic, payload in sub.readings():
            published.setdefault(topic, json.loads(payload))
        gw.close()
        check(set(published) >= want_topics, f"missing {want_topics - set(published)}")
        for topic, p in tested.items():
            a = {k: v for k, v in p.items() if k not in ("ts", "seq")}
            b = {k: v for k, v in published[topic].items() if k not in ("ts", "seq")}
            check(a == b, f"{topic}: --json {a} != published {b}")
            check(list(p) == list(published[topic]), f"{topic}: key order differs")


def raw_tcp():
    """Server mode: a device connects and pushes lines within --seconds;
    client mode: the gateway connects to a device that pushes; a second
    client device that sends nothing is reported."""
    with sbtest.Stack() as st:
        listen_port = sbtest.free_port()
        pusher = socket.socket()
        pusher.bind(("127.0.0.1", 0))
        pusher.listen(4)
        quiet = socket.socket()
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(4)
        cfg = st.path("raw.yaml")
        with open(cfg, "w") as f:
            f.write(HEADER.format(broker=sbtest.free_port()) + f"""\
  - name: yard
    type: raw_tcp
    mode: server
    host: 127.0.0.1
    port: {listen_port}
    format: kv
    unit: celsius
  - name: meter
    type: raw_tcp
    mode: client
    host: 127.0.0.1
    port: {pusher.getsockname()[1]}
    format: json
  - name: mute
    type: raw_tcp
    mode: client
    host: 127.0.0.1
    port: {quiet.getsockname()[1]}
    format: json
""")
        conns = []

        def serve_meter():
            c, _ = pusher.accept()
            conns.append(c)
            c.sendall(b'{"sensor": "power", "value": 1.5, "unit": "kW"}\n')

        def serve_quiet():
            c, _ = quiet.accept()
            conns.append(c)

        def push_yard():
            sbtest.wait_port(listen_port, 5)
            with socket.create_connection(("127.0.0.1", listen_port)) as s:
                s.sendall(b"t1=20.5 t2=21\nt1=20.75\n")
                time.sleep(0.5)

        threads = [threading.Thread(target=f, daemon=True)
                   for f in (serve_meter, serve_quiet, push_yard)]
        for t in threads:
            t.start()
        rc, out, err, took = run(cfg, "--seconds", "2")
        print(out, end="")
        rows, summary = table(out)
        got = [(r["ADAPTER"], r["POINT"], r["VALUE"], r["QUALITY"]) for r in rows]
        check(got == [("yard", "t1", "20.5 celsius", "good"), ("yard", "t2", "21 celsius", "good"),
                      ("yard", "t1", "20.75 celsius", "good"), ("meter", "power", "1.5 kW", "good")],
              f"rows {got}")
        check(rows[0]["DEVICE"].startswith("127.0.0.1:") and rows[0]["DEVICE"] != f"127.0.0.1:{listen_port}",
              f"yard's device is the pushing peer: {rows[0]['DEVICE']}")
        check(rows[3]["DEVICE"] == f"127.0.0.1:{pusher.getsockname()[1]}",
              f"meter's device: {rows[3]['DEVICE']}")
        check("adapter 'mute': no reading in 2." in out, f"silent device not reported: {out!r}")
        check(summary.startswith("3 adapters, 4 readings: 4 good, 0 bad, 1 adapter without a "
                                 "reading"), f"summary {summary!r}")
        check(rc == 1, f"exit status {rc} with a silent device")
        check(2.0 <= took < 3.5, f"listened {took:.2f} s for --seconds 2")
        for c in conns + [pusher, quiet]:
            c.close()


def bad_config():
    with sbtest.Stack() as st:
        bad = st.path("bad.yaml")
        with open(bad, "w") as f:
            f.write("adapters:\n  - name: plc\n    type: modbus_tcp\n    host: 127.0.0.1\n"
                    "    points:\n      - {name: t, address: 0, type: float33}\n")
        rc, out, err, _ = run(bad)
        p = subprocess.run([sbtest.SB_BIN, "--check-config", "-c", bad], capture_output=True,
                           text=True, timeout=20)
        check(rc == 2 and out == "", f"--test with a bad config: exit {rc}")
        check(err == p.stderr and err.startswith(f"{bad}:6:"), f"{err!r} vs {p.stderr!r}")


def main():
    modbus_table()
    silent_devices()
    json_equals_daemon()
    raw_tcp()
    bad_config()


if __name__ == "__main__":
    sbtest.run(main)
