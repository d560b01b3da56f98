#!/usr/bin/python3
"""Modbus TCP against a real libmodbus server (tests/peers/modbus_server.c),
through mosquitto and mosquitto_sub:
- every type and byte order decodes to the exact expected value;
- a Modbus exception becomes quality bad with its name, NaN becomes bad;
- a killed and restarted server is reconnected within the backoff bound and
  polling resumes (also for a device whose every cycle overruns), with the device's status going offline and online (the
  device is named `localhost`: resolved off the loop thread, again at every
  reconnect);
- a blackholed device and a slow device (late responses, discarded and
  counted) do not change the sampling rate of two healthy devices;
- with `phase: aligned` every poll falls on a multiple of its interval;
- devices held back by a full outbox (overflow: block, broker away) wait
  without firing a timer every interval, and poll again once it drains."""

import json
import os
import re
import signal
import time

import sbtest
from sbtest import check

HEADER = """\
gateway:
  id: mb
mqtt:
  uri: tcp://127.0.0.1:{broker}
adapters:
"""

VALUES = [  # name, point keys, expected JSON value
    ("u16", "address: 0, type: uint16", 4660),
    ("i16", "address: 1, type: int16", -1234),
    ("i32_abcd", "address: 2, type: int32", -123456789),
    ("i32_cdab", "address: 4, type: int32, order: CDAB", -123456789),
    ("i32_badc", "address: 6, type: int32, order: BADC", -123456789),
    ("i32_dcba", "address: 8, type: int32, order: DCBA", -123456789),
    ("u32", "address: 10, type: uint32", 3000000000),
    ("f32_abcd", "address: 12, type: float32", 123.456),
    ("f32_cdab", "address: 14, type: float32, order: CDAB", 123.456),
    ("f32_badc", "address: 16, type: float32, order: BADC", 123.456),
    ("f32_dcba", "address: 18, type: float32, order: DCBA", 123.456),
    ("bit1", "address: 20, type: bool, bit: 1", True),
    ("bit2", "address: 20, type: bool, bit: 2", False),
    ("i16_ffff", "address: 21, type: int16", -1),
    ("i64_abcd", "address: 24, type: int64", -1234567890123),
    ("i64_cdab", "address: 28, type: int64, order: GHEFCDAB", -1234567890123),
    ("i64_badc", "address: 32, type: int64, order: BADC", -1234567890123),
    ("i64_dcba", "address: 36, type: int64, order: HGFEDCBA", -1234567890123),
    ("u64", "address: 40, type: uint64", 72623859790382856),
    ("f64_abcd", "address: 44, type: float64", -9876.54321),
    ("f64_cdab", "address: 48, type: float64, order: CDAB", -9876.54321),
    ("f64_badc", "address: 52, type: float64, order: BADC", -9876.54321),
    ("f64_dcba", "address: 56, type: float64, order: DCBA", -9876.54321),
    ("text", "address: 60, type: string, length: 6", "HELLO WORLD"),
    ("text_swapped", "address: 70, type: string, length: 6, order: BADC", "HELLO WORLD"),
    ("temperature", "address: 100, type: float32, unit: celsius", 21.5),
    ("pressure", "table: input, address: 7, type: int16, scale: 0.1, unit: bar", 101.3),
    ("in_f32", "table: input, address: 8, type: float32", -40.5),
    ("in_u32", "table: input, address: 10, type: uint32", 100000),
    ("coil0", "table: coil, address: 0", True),
    ("coil1", "table: coil, address: 1", False),
    ("coil3", "table: coil, address: 3", True),
    ("di1", "table: discrete, address: 1", True),
    ("di7", "table: discrete, address: 7", True),
    ("di5", "table: discrete, address: 5", False),
]


def device(name, port, points, interval="100ms", extra="", host="127.0.0.1"):
    lines = [f"  - name: {name}", "    type: modbus_tcp", f"    host: {host}",
             f"    port: {port}", f"    interval: {interval}", "    timeout: 300ms",
             "    backoff_min: 100ms", "    backoff_max: 1s"]
    lines += [f"    {l}" for l in extra.splitlines()]
    lines.append("    points:")
    lines += [f"      - {{name: {n}, {keys}}}" for n, keys in points]
    return "\n".join(lines) + "\n"


def latest(sub, adapter):
    """{point: last payload} for one adapter."""
    out = {}
    for topic, payload in sub.readings():
        parts = topic.split("/")
        if parts[2] == adapter:
            out[parts[3]] = json.loads(payload)
    return out


def values_and_errors():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        _, port = st.modbus_server("--exception", "300:2")
        points = [(n, k) for n, k, _ in VALUES]
        points += [("nan", "address: 102, type: float32"),
                   ("forbidden", "address: 300, type: uint16")]
        gw = st.gateway(HEADER.format(broker=broker) + device("plc", port, points))
        names = [p[0] for p in points]
        ok = sub.wait_for(lambda _: set(latest(sub, "plc")) >= set(names), 10)
        check(ok, f"missing points: {set(names) - set(latest(sub, 'plc'))}")
        got = latest(sub, "plc")
        for name, _, want in VALUES:
            r = got[name]
            check(r["quality"] == "good", f"{name}: {r}")
            check(r["value"] == want and type(r["value"]) == type(want),
                  f"{name}: got {r['value']!r}, want {want!r}")
        check(got["temperature"]["unit"] == "celsius" and got["pressure"]["unit"] == "bar",
              "units")
        check(got["nan"]["quality"] == "bad" and got["nan"]["error"] == "invalid value"
              and got["nan"]["value"] is None, f"nan: {got['nan']}")
        check(got["forbidden"]["quality"] == "bad"
              and got["forbidden"]["error"] == "illegal data address", f"{got['forbidden']}")
        check("online" in sub.status(), f"device status {sub.status()}")
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")
        sub.wait_for(lambda lines: ("sensorbridge/mb/plc/status", "offline") in lines, 5)
        check(("sensorbridge/mb/plc/status", "offline") in sub.lines, "device offline at stop")


def reconnect():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        port = sbtest.free_port()
        server, _ = st.modbus_server(port=port)
        gw = st.gateway(HEADER.format(broker=broker) +
                        device("plc", port, [("u16", "address: 0")], host="localhost"))
        check(sub.wait_for(lambda _: "u16" in latest(sub, "plc"), 10), "no first reading")
        server.kill()
        server.wait()
        check(sub.wait_for(lambda _: latest(sub, "plc")["u16"]["quality"] == "bad", 5),
              "no bad reading while the server is down")
        check(sub.wait_for(lambda lines: ("sensorbridge/mb/plc/status", "offline") in lines, 5),
              "device not offline")
        time.sleep(1.5)  # let the backoff reach its 1 s cap
        bad = latest(sub, "plc")["u16"]
        check(bad["error"] in ("connection closed by the device", "connection refused"),
              f"error while down: {bad}")
        n_before = len(sub.readings())
        st.modbus_server(port=port)
        t0 = time.monotonic()
        check(sub.wait_for(lambda lines: len(lines) > n_before and
                           latest(sub, "plc")["u16"]["quality"] == "good", 5),
              "polling did not resume")
        waited = time.monotonic() - t0
        # backoff_max 1 s + one interval 0.1 s + delivery slack.
        check(waited <= 1.6, f"reconnected after {waited:.2f} s, backoff bound is 1 s")
        check(sub.status().count("online") >= 2, f"status {sub.status()}")
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")


def reconnect_overrun():
    """A device slower than its interval (so its next tick is always due)
    that stops answering: after three timeouts its connection is closed, and
    it must not start a cycle on the connection going down; it polls again
    once the device answers."""
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        _, port = st.modbus_server("--delay-ms", "5")
        mute = st.gate(port)
        mute.open()
        gw = st.gateway(HEADER.format(broker=broker) +
                        device("busy", mute.port, [("u16", "address: 0")], interval="1ms"))
        check(sub.wait_for(lambda _: "u16" in latest(sub, "busy"), 10), "no first reading")
        mute.muted = True
        gw.wait_log("no response; reconnecting", 10)
        mute.muted = False
        n_before = len(sub.readings())
        check(sub.wait_for(lambda lines: len(lines) > n_before + 20 and
                           latest(sub, "busy")["u16"]["quality"] == "good", 5),
              "polling did not resume after the connection closed for no response")


def isolation():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        _, healthy_port = st.modbus_server()
        _, hole_port = st.modbus_server("--blackhole")
        _, slow_port = st.modbus_server("--delay-ms", "450")
        cfg = HEADER.format(broker=broker)
        cfg += device("a", healthy_port, [("u16", "address: 0")])
        cfg += device("b", healthy_port, [("u16", "address: 0")])
        cfg += device("hole", hole_port, [("u16", "address: 0")])
        cfg += device("slow", slow_port, [("u16", "address: 0")])
        gw = st.gateway(cfg)
        time.sleep(4.0)
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")
        sub.wait_for(lambda lines: ("sensorbridge/mb/a/status", "offline") in lines, 5)
        by = {}
        for topic, payload in sub.readings():
            by.setdefault(topic.split("/")[2], []).append(json.loads(payload))
        for name in ("a", "b"):
            rs = by.get(name, [])
            check(all(r["quality"] == "good" and r["value"] == 4660 for r in rs),
                  f"{name}: a bad or wrong reading")
            span = (rs[-1]["ts"] - rs[0]["ts"]) / 1000
            rate = (len(rs) - 1) / span
            print(f"device {name}: {len(rs)} readings in {span:.2f} s = {rate:.2f} Hz")
            check(rate >= 0.95 * 10, f"{name} sampled at {rate:.2f} Hz, configured 10 Hz")
        check(by.get("hole") and all(r["error"] in ("timeout", "no response")
                                     for r in by["hole"]), "blackholed device readings")
        check(all(r["quality"] == "bad" or r["value"] == 4660 for r in by.get("slow", [])),
              "slow device: a late response was assigned to the wrong request")
        stop = [l for l in gw.log if "adapter 'slow': stopped" in l]
        check(stop and " 0 discarded" not in stop[0], f"late responses not counted: {stop}")


def aligned():
    """phase: aligned: every poll falls on a multiple of the interval on the
    wall clock (a reading's ts is when its request left), so devices of
    one interval poll together, and each poll is one interval after the
    last. Random phases would put each device anywhere in the interval."""
    tol = 40  # ms a poll may leave after its multiple: the loop's wake-up
    intervals = {"a": 200, "b": 200, "c": 200, "d": 300}
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        _, port = st.modbus_server()
        cfg = HEADER.format(broker=broker)
        for name, interval in intervals.items():
            cfg += device(name, port, [("u16", "address: 0")], interval=f"{interval}ms",
                          extra="phase: aligned")
        gw = st.gateway(cfg)
        time.sleep(3.0)
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")
        by = {}
        for topic, payload in sub.readings():
            by.setdefault(topic.split("/")[2], []).append(json.loads(payload)["ts"])
        for name, interval in intervals.items():
            ts = by.get(name, [])
            check(len(ts) >= 2000 // interval, f"{name}: {len(ts)} readings in 3 s")
            late = [t % interval for t in ts if t % interval > tol]
            check(not late, f"{name}: polls {late} ms after a multiple of {interval} ms")
            steps = sorted({round((b - a) / interval) for a, b in zip(ts, ts[1:])})
            check(steps == [1], f"{name}: polls {steps} intervals apart")
        print("aligned: " + ", ".join(f"{n} {len(by[n])} polls, at most "
                                      f"{max(t % i for t in by[n])} ms after the multiple"
                                      for n, i in intervals.items()))


def loop_wakeups(pid):
    """Voluntary context switches of the gateway's main thread (the event
    loop): one each time epoll_wait sleeps and is woken."""
    with open(f"/proc/{pid}/task/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")


def held_back():
    """60 devices polled every millisecond, overflow: block, an outbox of 50
    and no broker yet: the outbox fills at once and holds them back. While it
    does, their ticks are parked, not fired every millisecond to be skipped
    (which woke the loop 1,000 times a second, and at 10,000 devices took
    most of its time): over 2 s of waiting the loop thread sleeps and wakes
    at most 100 times (reconnect attempts every 200 ms, Paho's wake-ups).
    Once the broker is reachable every device polls again, and each one's
    stop line counts the ticks it held back."""
    n = 60
    with sbtest.Stack() as st:
        broker_port = sbtest.free_port()
        gate = st.gate(broker_port)  # refuses connections: no broker yet
        _, port = st.modbus_server()
        cfg = HEADER.format(broker=gate.port).replace(
            "adapters:\n", "outbox:\n  capacity: 50\n  overflow: block\nadapters:\n")
        cfg = cfg.replace("uri:", "reconnect_min: 200ms\n  reconnect_max: 200ms\n  uri:")
        for i in range(n):
            cfg += device(f"d{i:02d}", port, [("u16", "address: 0")], interval="1ms")
        gw = st.gateway(cfg)
        gw.wait_log("cannot connect to", 10)
        time.sleep(1.0)  # every device connected and the outbox full
        before = loop_wakeups(gw.proc.pid)
        time.sleep(2.0)
        woke = loop_wakeups(gw.proc.pid) - before
        print(f"held back: the loop woke {woke} times in 2 s")
        check(woke <= 100, f"held-back devices woke the loop {woke} times in 2 s")

        st.broker(broker_port)
        sub = st.subscriber(broker_port)
        gate.open()
        names = {f"d{i:02d}" for i in range(n)}
        ok = sub.wait_for(lambda _: {t.split("/")[2] for t, _ in sub.readings()} >= names, 15)
        check(ok, "devices that never polled again: "
              f"{sorted(names - {t.split('/')[2] for t, _ in sub.readings()})}")
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")
        held = {}
        for line in gw.log:
            m = re.search(r"adapter '(d\d+)': stopped: .* (\d+) ticks held back by the outbox",
                          line)
            if m:
                held[m.group(1)] = int(m.group(2))
        check(set(held) == names, f"stop lines for {len(held)} of {n} devices")
        check(all(v >= 1000 for v in held.values()),
              f"ticks held back: min {min(held.values(), default=0)}, expected >= 1000 each")


def main():
    values_and_errors()
    reconnect()
    reconnect_overrun()
    isolation()
    aligned()
    held_back()


if __name__ == "__main__":
    sbtest.run(main)
