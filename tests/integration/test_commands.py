#!/usr/bin/python3
"""Write-back: MQTT commands to Modbus points, against the libmodbus peer
(tests/peers/modbus_server, which records every request it reads), through
mosquitto, published with mosquitto_pub:

values       for every type and byte order, scale/offset, strings, bits of
             a register (read-modify-write) and a coil, against the libmodbus
             peer and a pymodbus server (tests/peers/pymodbus_server.py):
             the registers hold exactly the expected words afterwards (read
             by this test over its own socket, not by the gateway), the
             result says ok with the id, and the read-back reading arrives
             at once with the value
exceptions   a write answered with exception 2 or 6 gives ok false with the
             exception's name; a device that never answers writes gives a
             timeout result within its timeout and goes on polling
hostile      non-JSON, a 1 MiB payload, NaN, out-of-range and fractional
             values for every integer type, a string for a number, a string
             too long, a command older than max_age, a retained command, a
             command for a point that is not writable: each gets
             its documented result (or none, as documented) and no write
             reaches the wire; 1,000 commands in a second to one device: ok
             or busy each, as many writes on the wire as ok results, the
             counters of the stats message match; RSS and fds come back
reconnect    the broker restarts: commands published after it is back are
             executed, none published before is executed twice
mqtt5_response  MQTT 5: the result goes to the command's Response Topic with
             its Correlation Data
reload_topics  a reload that makes another point writable subscribes anew"""

import json
import os
import signal
import socket
import struct
import subprocess
import time

import sbtest
from sbtest import check

GID = "cmd"


def device(name, port, points, interval="10s", extra=""):
    lines = [f"  - name: {name}", "    type: modbus_tcp", "    host: 127.0.0.1",
             f"    port: {port}", f"    interval: {interval}", "    timeout: 500ms",
             "    backoff_min: 100ms", "    backoff_max: 500ms"]
    lines += [f"    {line}" for line in extra.splitlines()]
    lines.append("    points:")
    lines += [f"      - {{name: {n}, {keys}, writable: true}}" if w else
              f"      - {{name: {n}, {keys}}}" for n, keys, w in points]
    return "\n".join(lines) + "\n"


def config(broker, *devices, stats="0s"):
    return (f"gateway:\n  id: {GID}\n  stats_interval: {stats}\n"
            f"mqtt:\n  uri: tcp://127.0.0.1:{broker}\n" + "".join(devices))


def adapters(text):
    return "adapters:\n" + text


def publish(broker, topic, payload, retain=False, qos=1):
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker), "-q", str(qos), "-t", topic]
    args += ["-r"] if retain else []
    if isinstance(payload, bytes):
        args += ["-s"]
        subprocess.run(args, input=payload, check=True, timeout=20)
    else:
        subprocess.run(args + ["-m", payload], check=True, timeout=20)


def modbus_read(port, fc, addr, count, unit=1):
    """Function 1 or 3 over a socket of this test's own: words or bits."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, unit, fc, addr, count))
        head = b""
        while len(head) < 9:
            head += s.recv(9 - len(head))
        _, _, length, _, rfc, nbytes = struct.unpack(">HHHBBB", head)
        check(rfc == fc, f"read answered with function {rfc}")
        data = b""
        while len(data) < nbytes:
            data += s.recv(nbytes - len(data))
    if fc == 3:
        return list(struct.unpack(f">{count}H", data))
    return [(data[i // 8] >> (i % 8)) & 1 for i in range(count)]


def writes(record):
    """The write requests the device has read so far: PDUs as hex strings."""
    with open(record) as f:
        return [line.strip() for line in f if line[:2] in ("05", "06", "0f", "10")]


def words(data):
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def results(sub, topic):
    return [json.loads(p) for t, p in sub.lines if t == topic]


def wait_result(sub, topic, cid, timeout=5):
    ok = sub.wait_for(lambda lines: any(t == topic and json.loads(p).get("id") == cid
                                        for t, p in lines), timeout)
    check(ok, f"no result with id {cid!r} on {topic}")
    return [r for r in results(sub, topic) if r.get("id") == cid][0]


def point_topic(adapter, point):
    return f"sensorbridge/{GID}/{adapter}/{point}"


PYMODBUS_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers",
                               "pymodbus_server.py")

FMT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f",
       "int64": ">q", "uint64": ">Q", "float64": ">d"}
SAMPLE = {"int16": -1234, "uint16": 4660, "int32": -123456789, "uint32": 3000000000,
          "float32": 123.456, "int64": -1234567890123, "uint64": 18446744073709551615,
          "float64": -9876.54321}
ORDERS = {16: ["ABCD", "BADC"], 32: ["ABCD", "CDAB", "BADC", "DCBA"],
          64: ["ABCD", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"]}


def ordered(ws, order):
    """Registers of big-endian words ws in a byte order: CDAB reverses the
    words, BADC swaps the bytes of each, DCBA both (64-bit names alike)."""
    if order in ("CDAB", "GHEFCDAB", "DCBA", "HGFEDCBA") and len(ws) > 1:
        ws = ws[::-1]
    if order in ("BADC", "BADCFEHG", "DCBA", "HGFEDCBA"):
        ws = [((w & 0xFF) << 8) | (w >> 8) for w in ws]
    return ws


def matrix():
    """(name, point keys, command value, registers expected, value read back)
    for every type and byte order, scale and offset, strings and bits."""
    rows, addr = [], 1000
    for typ, fmt in FMT.items():
        bits = struct.calcsize(fmt) * 8
        for order in ORDERS[bits]:
            v = SAMPLE[typ]
            ws = ordered(words(struct.pack(fmt, v)), order)
            rows.append((f"{typ}_{order.lower()}", f"address: {addr}, type: {typ}, order: {order}",
                         v, ws, v))
            addr += len(ws)
    for order, ws in (("ABCD", [0x4845, 0x4C4C, 0x4F00]), ("BADC", [0x4548, 0x4C4C, 0x004F])):
        rows.append((f"text_{order.lower()}", f"address: {addr}, type: string, length: 3, "
                     f"order: {order}", "HELLO", ws, "HELLO"))
        addr += 3
    rows += [
        ("scaled_i16", f"address: {addr}, type: int16, scale: 0.1, offset: -40", 21.5, [615], 21.5),
        ("scaled_u32", f"address: {addr + 1}, type: uint32, scale: 0.01, order: CDAB", 123456.78,
         [12345678 & 0xFFFF, 12345678 >> 16], 123456.78),
        ("bit3", f"address: {addr + 3}, type: bool, bit: 3", True, [0x0008], True),
        ("bit0", f"address: {addr + 3}, type: bool, bit: 0", True, [0x0009], True),  # keeps bit 3
        ("bit3_off", f"address: {addr + 3}, type: bool, bit: 3", False, [0x0001], False),
    ]
    return rows


def command_all(st, broker, sub, port, rows, adapter):
    """Each row's command in turn: result ok with its id, the registers as
    expected (read over this test's own socket), the read-back reading."""
    for cid, keys, value, raw, back in rows:
        name = cid.removesuffix("_off")  # bit3_off commands bit3 again
        topic = point_topic(adapter, name) + "/set"
        n_before = len([1 for t, _ in sub.readings() if t == point_topic(adapter, name)])
        publish(broker, topic, json.dumps({"value": value, "id": f"c-{cid}"}))
        r = wait_result(sub, topic + "/result", f"c-{cid}")
        check(r == {"id": f"c-{cid}", "ok": True}, f"{adapter} {cid}: result {r}")
        addr = int(keys.split("address: ")[1].split(",")[0])
        got = modbus_read(port, 3, addr, len(raw))
        check(got == raw, f"{adapter} {name}: registers {[hex(w) for w in got]}, "
                          f"want {[hex(w) for w in raw]}")
        # A poll already on the wire when the command came is answered
        # first, with the old value (and its own earlier ts): the read-back
        # is the new reading that has the written value.
        def new_readings():
            return [json.loads(p) for t, p in sub.readings()
                    if t == point_topic(adapter, name)][n_before:]

        ok = sub.wait_for(lambda lines: any(r["value"] == back and r["quality"] == "good"
                                            for r in new_readings()), 3)
        check(ok, f"{adapter} {name}: no read-back reading with {back!r}: {new_readings()}")


def values():
    """Against the libmodbus peer and the pymodbus one, every row of matrix()
    and a coil; on the libmodbus peer the exact PDUs on the wire too."""
    rows = matrix()
    # Points sharing a register (the bits) are planned into one read each.
    pts = [(n, k, True) for n, k, *_ in rows if n != "bit3_off"]
    pts.append(("pump", "table: coil, address: 1000", True))
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        rec = st.path("requests.log")
        _, lib = st.modbus_server("--record", rec)
        _, py = st.modbus_server(binary=PYMODBUS_SERVER)
        cfg = config(broker, adapters(device("plc", lib, pts) + device("py", py, pts)))
        gw = st.gateway(cfg)
        gw.wait_log(f"mqtt: subscribed to {2 * len(pts)} command topics", 10)
        sub.wait_for(lambda lines: len(sub.readings()) >= 2 * len(pts), 10)  # the first polls
        for adapter, port in (("plc", lib), ("py", py)):
            command_all(st, broker, sub, port, rows, adapter)
            publish(broker, point_topic(adapter, "pump") + "/set", "true")
            topic = point_topic(adapter, "pump") + "/set/result"
            sub.wait_for(lambda lines: any(t == topic for t, _ in lines), 5)
            check(results(sub, topic) == [{"id": None, "ok": True}], f"{adapter}: coil result")
            check(modbus_read(port, 1, 1000, 1) == [1], f"{adapter}: coil 1000 not set")
        # The exact requests: FC 6 for one register, FC 16 for more, FC 5 for
        # the coil (write_function: auto).
        want = []
        for _, keys, _, raw, _ in rows:
            addr = int(keys.split("address: ")[1].split(",")[0])
            if len(raw) == 1:
                pdu = struct.pack(">BHH", 6, addr, raw[0])
            else:
                pdu = struct.pack(f">BHHB{len(raw)}H", 16, addr, len(raw), 2 * len(raw), *raw)
            want.append(" ".join(f"{b:02x}" for b in pdu))
        want.append("05 03 e8 ff 00")
        w = writes(rec)
        check(w == want, f"write requests on the wire: {w} want {want}")
        n_rmw = sum(1 for n, *_ in rows if n.startswith("bit"))
        with open(rec) as f:
            reads_of_bit = [line for line in f if line.startswith("03 ") and
                            line.split()[3:5] == ["00", "01"]]
        check(len(reads_of_bit) >= n_rmw, "a register bit written without reading it first")
        infos = [line for line in gw.log if "command plc/" in line]
        check(any('command plc/int16_abcd = -1234 (id "c-int16_abcd"): ok' in line
                  for line in infos), f"command log lines: {infos[:3]}")


def exceptions():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        _, port = st.modbus_server("--write-exception", "2000:2", "--write-exception", "2001:6")
        _, mute = st.modbus_server("--silent-writes")
        cfg = config(broker, adapters(
            device("plc", port, [("a", "address: 2000", True), ("b", "address: 2001", True)])
            + device("mute", mute, [("c", "address: 10", True)], interval="200ms")))
        gw = st.gateway(cfg)
        gw.wait_log("mqtt: subscribed to 3 command topics", 10)
        for point, err in (("a", "illegal data address"), ("b", "server busy")):
            topic = point_topic("plc", point) + "/set"
            publish(broker, topic, f'{{"value": 7, "id": "{point}"}}')
            r = wait_result(sub, topic + "/result", point)
            check(r == {"id": point, "ok": False, "error": err}, f"{point}: {r}")
        topic = point_topic("mute", "c") + "/set"
        t0 = time.monotonic()
        publish(broker, topic, '{"value": 1, "id": "m"}')
        r = wait_result(sub, topic + "/result", "m", 5)
        took = time.monotonic() - t0
        check(r == {"id": "m", "ok": False, "error": "timeout"}, f"silent device: {r}")
        check(took < 0.5 + 1.5, f"timeout result after {took:.2f} s (timeout 500 ms)")
        n = len([1 for t, _ in sub.readings() if t == point_topic("mute", "c")])
        ok = sub.wait_for(lambda lines: len([1 for t, _ in sub.readings()
                                             if t == point_topic("mute", "c")]) >= n + 5, 5)
        check(ok, "the device stopped polling after a write timed out")
        last = [json.loads(p) for t, p in sub.readings() if t == point_topic("mute", "c")][-1]
        check(last["quality"] == "good", f"polls after the timeout: {last}")


def send_flood(broker, topic, prefix):
    """1,000 commands at once (mosquitto_pub -l), values 0..999, ids
    prefix + number."""
    lines = "\n".join(json.dumps({"value": i, "id": f"{prefix}{i}"}) for i in range(1000))
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker), "-q", "1", "-t", topic,
                    "-l"], input=lines + "\n", text=True, check=True, timeout=30)


def rss_fds(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = [int(line.split()[1]) for line in f if line.startswith("VmRSS:")][0]
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def hostile():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        rec = st.path("requests.log")
        _, port = st.modbus_server("--record", rec)
        pts = [("i16", "address: 3000, type: int16", True),
               ("u16", "address: 3001", True),
               ("f32", "address: 3002, type: float32", True),
               ("s", "address: 3004, type: string, length: 2", True),
               ("i32", "address: 3006, type: int32", True),
               ("u32", "address: 3008, type: uint32", True),
               ("i64", "address: 3012, type: int64", True),
               ("u64", "address: 3016, type: uint64", True),
               ("ro", "address: 3010", False)]
        base = point_topic("plc", "")
        # A retained command left on the broker: replayed when the gateway
        # subscribes, and ignored.
        publish(broker, base + "u16/set", '{"value": 5, "id": "retained"}', retain=True)
        gw = st.gateway(config(broker, "commands:\n  max_age: 10s\n" +
                               adapters(device("plc", port, pts)), stats="1s"))
        gw.wait_log("mqtt: subscribed to 8 command topics", 10)
        gw.wait_log("command plc/u16: retained, ignored (commands.accept_retained is false)", 5)
        cases = [  # point, payload, error
            ("i16", "hello", "not JSON"),
            ("i16", "NaN", "not JSON"),
            ("i16", '{"value": 40000, "id": 1}', "out of range for int16"),
            ("i16", '{"value": -32769, "id": 2}', "out of range for int16"),
            ("u16", '{"value": -1, "id": 3}', "out of range for uint16"),
            ("u16", '{"value": 1.5, "id": 4}', "not a whole number"),
            ("u16", '{"value": "12", "id": 5}', "expected a number"),
            ("f32", '{"value": 1e39, "id": 6}', "out of range for float32"),
            ("s", '{"value": "toolong", "id": 7}', "string longer than 4 bytes"),
            ("u16", '{"id": 8}', 'no "value" in the object'),
            ("i16", "Infinity", "not JSON"),
            ("i32", '{"value": 2147483648, "id": 9}', "out of range for int32"),
            ("u32", '{"value": 4294967296, "id": 10}', "out of range for uint32"),
            ("i64", '{"value": -9223372036854775809, "id": 11}', "out of range for int64"),
            ("u64", '{"value": 18446744073709551616, "id": 12}', "out of range for uint64"),
            ("u64", '{"value": -1, "id": 13}', "out of range for uint64"),
            ("u16", f'{{"value": 1, "id": 14, "ts": {int(time.time() * 1000) - 60000}}}',
             "too old"),
        ]
        for point, payload, err in cases:
            publish(broker, base + point + "/set", payload)
        publish(broker, base + "u16/set", b"x" * (1 << 20))
        topic_r = lambda p: base + p + "/set/result"
        ok = sub.wait_for(lambda lines: sum(1 for t, _ in lines if t.endswith("/set/result"))
                          >= len(cases) + 1, 10)
        check(ok, "not every refused command got a result")
        got = [json.loads(p) for t, p in sub.lines if t.endswith("/set/result")]
        for point, payload, err in cases:
            want_id = json.loads(payload).get("id") if payload.startswith("{") else None
            match = [r for r in results(sub, topic_r(point))
                     if r.get("error") == err and r.get("id") == want_id]
            check(match and match[0]["ok"] is False, f"{point} {payload!r}: want {err!r}; got {got}")
        check({"id": None, "ok": False, "error": "payload too large"} in results(sub, topic_r("u16")),
              "1 MiB payload")
        # Ignored as documented: a command for a point that is not writable
        # (nobody subscribed to it).
        publish(broker, base + "ro/set", '{"value": 5, "id": "ro"}')
        time.sleep(1.0)
        check(not [r for r in got + results(sub, topic_r("u16")) if r.get("id") == "retained"],
              "a retained command was answered")
        check(not results(sub, topic_r("ro")), "a read-only point was answered")
        publish(broker, base + "u16/set", "", retain=True)  # clears it; empty: ignored
        gw.wait_log("command plc/u16: empty, ignored", 5)
        check(writes(rec) == [], f"refused commands reached the wire: {writes(rec)}")

        # A flood: 1,000 commands within a second to one device.
        rss0, fds0 = rss_fds(gw.proc.pid)
        t0 = time.monotonic()
        send_flood(broker, base + "u16/set", "f")
        sent_in = time.monotonic() - t0

        def flood_results():
            return [r for r in results(sub, topic_r("u16"))
                    if isinstance(r.get("id"), str) and r["id"].startswith("f")]

        sub.wait_for(lambda ls: len(flood_results()) >= 1000, 20)
        flood = flood_results()
        n_ok = sum(1 for r in flood if r["ok"])
        n_busy = sum(1 for r in flood if r.get("error") == "busy")
        print(f"flood: 1000 commands in {sent_in:.2f} s: {n_ok} ok, {n_busy} busy")
        check(len(flood) == 1000 and n_ok + n_busy == 1000, f"flood results: {len(flood)}")
        check(n_ok >= 16, f"only {n_ok} written")
        w = writes(rec)
        check(len(w) == n_ok, f"{len(w)} writes on the wire for {n_ok} ok results")
        time.sleep(1.5)  # a stats message after the flood
        stats = [json.loads(p) for t, p in sub.lines if t == f"sensorbridge/{GID}/stats"][-1]
        c = stats["commands"]
        refused = len(cases) + 1 + n_busy + 2  # + the retained one and the empty one
        check(c["ok"] == n_ok and c["failed"] == 0 and c["refused"] == refused,
              f"stats commands {c}, want ok {n_ok} refused {refused}")
        # Memory comes back: a second flood leaves RSS where the first did
        # (the heap keeps its peak, it does not grow by what was flooded).
        rss1, fds1 = rss_fds(gw.proc.pid)
        send_flood(broker, base + "u16/set", "g")
        sub.wait_for(lambda ls: sum(1 for r in results(sub, topic_r("u16"))
                                    if str(r.get("id")).startswith("g")) >= 1000, 20)
        time.sleep(0.5)
        rss2, fds2 = rss_fds(gw.proc.pid)
        print(f"RSS {rss0} before, {rss1} after one flood, {rss2} after two KiB; "
              f"fds {fds0}, {fds1}, {fds2}")
        check(fds1 == fds0 and fds2 == fds0, f"fds {fds0} -> {fds1} -> {fds2}")
        # AddressSanitizer keeps freed memory in quarantine: RSS says nothing there.
        if os.environ.get("SB_SANITIZE") != "ON":
            check(rss2 <= rss1 * 1.05, f"RSS {rss1} -> {rss2} KiB over a second flood")


def reconnect():
    with sbtest.Stack() as st:
        broker_port = sbtest.free_port()
        broker = st.broker(broker_port)
        rec = st.path("requests.log")
        _, port = st.modbus_server("--record", rec)
        cfg = config(broker, adapters(device("plc", port, [("u16", "address: 4000", True)])))
        cfg = cfg.replace("mqtt:\n", "mqtt:\n  reconnect_min: 100ms\n  reconnect_max: 300ms\n")
        gw = st.gateway(cfg)
        gw.wait_log("mqtt: subscribed to 1 command topic", 10)
        topic = point_topic("plc", "u16") + "/set"
        publish(broker, topic, '{"value": 1, "id": "before"}')
        time.sleep(0.5)
        check(len(writes(rec)) == 1, f"writes before the restart: {writes(rec)}")
        mosq = st.procs[0]
        sbtest.stop_process(mosq)
        gw.wait_log("connection to", 10)
        st.broker(broker_port)
        gw.wait_messages(r"mqtt: subscribed to 1 command topic", 2, 15)
        sub = st.subscriber(broker_port)
        publish(broker_port, topic, '{"value": 2, "id": "after"}')
        wait_result(sub, topic + "/result", "after")
        w = writes(rec)
        check(w == ["06 0f a0 00 01", "06 0f a0 00 02"], f"writes: {w}")
        check(modbus_read(port, 3, 4000, 1) == [2], "register 4000")


def mqtt5_response():
    """MQTT 5: a command with a Response Topic and Correlation Data gets its
    result on that topic with the correlation data echoed; one without gets
    it on {command topic}/result as with MQTT 3.1.1."""
    with sbtest.Stack() as st:
        broker = st.broker()
        _, port = st.modbus_server()
        cfg = config(broker, adapters(device("plc", port, [("u16", "address: 5000", True)])))
        cfg = cfg.replace("mqtt:\n", "mqtt:\n  version: \"5\"\n")
        gw = st.gateway(cfg)
        gw.wait_log("mqtt: subscribed to 1 command topic", 10)
        out = st.path("results.txt")
        with open(out, "w") as f:
            mon = subprocess.Popen(["mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p",
                                    str(broker), "-t", "my/results", "-t",
                                    point_topic("plc", "u16") + "/set/result", "-F", "%t|%D|%p"],
                                   stdout=f, stdin=subprocess.DEVNULL)
        st.procs.append(mon)
        time.sleep(0.5)  # subscribed
        topic = point_topic("plc", "u16") + "/set"
        subprocess.run(["mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", str(broker), "-q",
                        "1", "-t", topic, "-m", '{"value": 7, "id": "r5"}', "-D", "publish",
                        "response-topic", "my/results", "-D", "publish", "correlation-data",
                        "req-7"], check=True, timeout=20)
        subprocess.run(["mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", str(broker), "-q",
                        "1", "-t", topic, "-m", '{"value": 8, "id": "plain"}'], check=True,
                       timeout=20)
        deadline = time.monotonic() + 5
        lines = []
        while time.monotonic() < deadline and len(lines) < 2:
            time.sleep(0.1)
            with open(out) as f:
                lines = [line.rstrip("\n") for line in f]
        check(lines == ['my/results|req-7|{"id":"r5","ok":true}',
                        f'{topic}/result||{{"id":"plain","ok":true}}'], f"results: {lines}")
        check(modbus_read(port, 3, 5000, 1) == [8], "register 5000")


def reload_topics():
    """SIGHUP with one more writable point: the gateway reconnects and
    subscribes to the new set; the new point takes commands."""
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        _, port = st.modbus_server()
        one = [("a", "address: 6000", True), ("b", "address: 6001", False)]
        two = [("a", "address: 6000", True), ("b", "address: 6001", True)]
        gw = st.gateway(config(broker, adapters(device("plc", port, one))))
        gw.wait_log("mqtt: subscribed to 1 command topic", 10)
        with open(st.path("sensorbridge.yaml"), "w") as f:
            f.write(config(broker, adapters(device("plc", port, two))))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_log("mqtt: subscribed to 2 command topics", 10)
        topic = point_topic("plc", "b") + "/set"
        publish(broker, topic, '{"value": 9, "id": "new"}')
        check(wait_result(sub, topic + "/result", "new") == {"id": "new", "ok": True},
              "the point made writable by the reload")
        check(modbus_read(port, 3, 6001, 1) == [9], "register 6001")


def main():
    reload_topics()
    mqtt5_response()
    values()
    exceptions()
    hostile()
    reconnect()


if __name__ == "__main__":
    sbtest.run(main)
