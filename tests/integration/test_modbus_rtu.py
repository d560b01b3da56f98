#!/usr/bin/python3
"""Modbus RTU (adapter modbus_rtu) and several unit ids over one Modbus TCP
connection (modbus_tcp with `devices:` and `framing:`), against real peers on
pseudo-terminal buses made by socat (tests/peers/rtu_bus.py), through
mosquitto and mosquitto_sub:
- pymodbus's RTU server, three units on one bus: every type and byte order
  of test_modbus.py's VALUES decodes exactly, at 9600 and 115200 baud (the
  bus paced at that rate by the proxy), each device from its own unit;
- libmodbus's own unit-test server in RTU mode: the values it serves, its
  exception, its reply from the wrong unit, its short reply, and its reply
  0.5 s late (a timeout that must not shift later answers);
- faults injected by the proxy into one unit's responses (a flipped bit, a
  truncated frame, another unit id, garbage before the frame): exactly that
  read is bad, with the right error, and the next read is good; the other
  units are not touched;
- a silent device next to two live ones: the live ones keep 95 % of their
  rate, measured from seq and ts at the subscriber;
- fair order: a device of 20 requests per cycle polled back to back does not
  starve one polled every 100 ms;
- delay_after_connect and delay_between_requests, seen at the proxy; rs485
  on a pty (no RS-485 mode) logged once, and the bus runs without it;
- hot-unplug: the pty disappears and comes back under the same name; the
  adapter reads again without a gateway restart, and is bad while it is gone;
  ten more replugs leave it with as many descriptors as before;
- three units over one TCP connection to a converter that takes one
  connection at a time, MBAP and RTU-over-TCP framing;
- a port that refuses its settings (parity even on a pty) is named in the
  log with the setting.

A silent device is backed off (its readings say "no response" between
tries); a port that is gone gives "port unavailable"."""

import json
import os
import signal
import time

import sbrtu
import sbtest
from sbtest import check
from test_commands import publish, wait_result
from test_modbus import VALUES

from modbus_image import UNIT_REGISTER  # noqa: E402  (tests/peers, via sbrtu)
import libmodbus_unit_test as ut  # noqa: E402

GID = "rtu"

# The adapter's error strings, all in one place so that a change of wording
# is one edit here.
ERRORS = {
    "crc": "CRC error",
    "truncated": "truncated frame",
    "garbage": "garbage on the line",
    "timeout": "timeout",
    "wrong_unit": "reply from the wrong unit",
    "busy": "server busy",  # Modbus exception 6, named as modbus_tcp names it
    "illegal_address": "illegal data address",  # exception 2
    "port_gone": "port unavailable",
    "settings": "port settings refused",
    "backed_off": "no response",  # a silent device's ticks while it waits
}

# A dead device on a serial bus holds the line for its whole timeout at every
# try. With 100 ms it costs the live devices one 100 ms interval per try (at
# most once a second, backoff_max), which a bus scheduler can absorb without
# dropping their ticks; the other devices keep the adapter's 300 ms.
SILENT_TIMEOUT = "100ms"

HEADER = f"""\
gateway:
  id: {GID}
mqtt:
  uri: tcp://127.0.0.1:{{broker}}
adapters:
"""


# Configuration ---------------------------------------------------------------

def device_yaml(name, unit, points, **keys):
    """One entry of `devices:`; points are (name, "point keys") pairs."""
    lines = [f"      - name: {name}", f"        unit_id: {unit}"]
    lines += [f"        {k}: {v}" for k, v in keys.items()]
    lines.append("        points:")
    lines += [f"          - {{name: {n}, {k}}}" for n, k in points]
    return "\n".join(lines) + "\n"


def rtu_adapter(name, port, devices, baud=9600, parity="none", timeout="300ms",
                interval="100ms", **keys):
    keys = {"baud": baud, "parity": parity, "data_bits": 8, "stop_bits": 1,
            "timeout": timeout, "interval": interval, "backoff_min": "100ms",
            "backoff_max": "1s", **keys}
    lines = [f"  - name: {name}", "    type: modbus_rtu", f"    port: {port}"]
    lines += [f"    {k}: {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n    devices:\n" + "".join(devices)


def tcp_adapter(name, port, framing, devices, timeout="300ms", interval="100ms"):
    lines = [f"  - name: {name}", "    type: modbus_tcp", "    host: 127.0.0.1",
             f"    port: {port}", f"    framing: {framing}", f"    timeout: {timeout}",
             f"    interval: {interval}", "    backoff_min: 100ms", "    backoff_max: 1s"]
    return "\n".join(lines) + "\n    devices:\n" + "".join(devices)


VALUE_POINTS = [(n, k) for n, k, _ in VALUES] + [("unit_id", f"address: {UNIT_REGISTER}")]
U16 = [("u16", "address: 0")]  # 4660 on every unit of the image


# Readings ----------------------------------------------------------------------

def readings(sub, adapter):
    """Every reading of `adapter` so far, in arrival order, each checked: the
    topic is sensorbridge/{gateway}/{adapter}/{device}/{point} and names
    the payload's sensor "{device}/{point}"; the keys are today's. Lines are
    parsed once (wait predicates call this at every line that arrives)."""
    cache = sub.__dict__.setdefault("rtu_parsed", {})  # adapter -> [lines seen, readings]
    seen, out = cache.setdefault(adapter, [0, []])
    lines = sub.readings()
    prefix = f"sensorbridge/{GID}/{adapter}/"
    for topic, payload in lines[seen:]:
        if not topic.startswith(prefix) or topic.endswith(("/set", "/set/result")):
            continue
        r = json.loads(payload)
        check(topic == prefix + r["sensor"] and r["sensor"].count("/") == 1,
              f"topic {topic} for {payload}")
        keys = ["sensor", "adapter", "seq", "ts", "value"] + (["unit"] if "unit" in r else [])
        keys += ["quality"] + (["error"] if r["quality"] == "bad" else [])
        check(list(r) == keys and r["adapter"] == adapter, f"payload keys {payload}")
        check(r["quality"] in ("good", "bad") and (r["quality"] == "good") == ("error" not in r),
              f"quality {payload}")
        out.append(r)
    cache[adapter][0] = len(lines)
    return list(out)


def by_sensor(rs):
    """{sensor: [readings in seq order, duplicates (re-sent) removed]}."""
    out = {}
    for r in rs:
        out.setdefault(r["sensor"], {})[r["seq"]] = r
    return {s: [d[k] for k in sorted(d)] for s, d in out.items()}


def latest(sub, adapter):
    return {s: rs[-1] for s, rs in by_sensor(readings(sub, adapter)).items()}


def wait_sensors(sub, adapter, sensors, timeout):
    ok = sub.wait_for(lambda _: set(latest(sub, adapter)) >= set(sensors), timeout)
    check(ok, f"no reading within {timeout} s for "
              f"{sorted(set(sensors) - set(latest(sub, adapter)))}")
    return latest(sub, adapter)


def check_values(got, device, unit):
    """Every VALUES point of `device` good with its exact value and type."""
    for name, _, want in VALUES:
        r = got[f"{device}/{name}"]
        check(r["quality"] == "good", f"{device}/{name}: {r}")
        check(r["value"] == want and type(r["value"]) == type(want),
              f"{device}/{name}: got {r['value']!r}, want {want!r}")
    check(got[f"{device}/unit_id"]["value"] == unit,
          f"{device} answered by unit {got[f'{device}/unit_id']['value']}, not {unit}")
    check(got[f"{device}/temperature"]["unit"] == "celsius"
          and got[f"{device}/pressure"]["unit"] == "bar", f"{device}: units")


def stop_gateway(gw):
    gw.proc.send_signal(signal.SIGTERM)
    check(gw.wait_exit(10) == 0, "gateway exit status")


def wait_log_all(gw, parts, timeout):
    """Waits for one log line holding every string of parts; returns it."""
    def found():
        return [l for l in gw.log if all(p in l for p in parts)]
    with gw.cond:
        gw.cond.wait_for(found, timeout)
        lines = found()
    check(lines, f"no log line with all of {parts} within {timeout} s; last lines: "
                 f"{gw.log[-10:]}")
    return lines[0]


# a. pymodbus RTU server, three units -------------------------------------------

def pymodbus_values():
    for baud in (9600, 115200):
        with sbtest.Stack() as st:
            broker = st.broker()
            sub = st.subscriber(broker)
            bus = sbrtu.bus(st, baud=baud)  # the proxy paces the bus at `baud`
            sbrtu.rtu_server(st, bus.device_port, units=(1, 2, 3), baud=baud)
            devices = [device_yaml(f"m{u}", u, VALUE_POINTS) for u in (1, 2, 3)]
            gw = st.gateway(HEADER.format(broker=broker) +
                            rtu_adapter("bus", bus.gateway_port, devices, baud=baud,
                                        interval="1s"))
            sensors = [f"m{u}/{n}" for u in (1, 2, 3) for n, _ in VALUE_POINTS]
            got = wait_sensors(sub, "bus", sensors, 20)
            for u in (1, 2, 3):
                check_values(got, f"m{u}", u)
            bad = [r for r in readings(sub, "bus") if r["quality"] != "good"]
            check(not bad, f"{baud} baud: bad readings {bad[:3]}")
            check("online" in sub.status(), f"adapter status {sub.status()}")
            n = bus.proxy.counts()
            print(f"{baud} baud: {len(readings(sub, 'bus'))} readings, proxy {n}")
            stop_gateway(gw)
            sub.wait_for(lambda l: (f"sensorbridge/{GID}/bus/status", "offline") in l, 5)
            check((f"sensorbridge/{GID}/bus/status", "offline") in sub.lines, "offline at stop")


# b. libmodbus's unit-test server -------------------------------------------------

def unit_test_server():
    """Three runs of the gateway on one server, each its own adapter name:
    values and exceptions; malformed replies; a late reply. Points that
    would make one request are kept apart (the adapter merges neighbours),
    since the server's special behaviours go by a request's start address
    and quantity."""
    if not ut.available():
        print("SKIP part unit_test_server: no gcc, pkg-config or libmodbus-dev examples")
        return
    u = ut.SERVER_ID
    di = [(f"di{a}", f"table: discrete, address: {a}") for a in sorted(ut.DISCRETE)]
    canary = ("ir", f"table: input, address: {ut.INPUT_REGISTER}")
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        bus = sbrtu.bus(st, baud=115200)
        sbrtu.unit_test_server(st, bus.device_port)

        def run(adapter, points, seconds=None):
            gw = st.gateway(HEADER.format(broker=broker) + rtu_adapter(
                adapter, bus.gateway_port, [device_yaml("ut", u, points)], baud=115200))
            got = wait_sensors(sub, adapter, [f"ut/{n}" for n, _ in points], 10)
            if seconds:
                time.sleep(seconds)
                got = latest(sub, adapter)
            stop_gateway(gw)
            return got

        # Values and exceptions.
        got = run("ut_values", di + [canary, ("hr", f"address: {ut.HOLDING_ADDRESS}"),
                                     ("coil", f"table: coil, address: {ut.COIL_ADDRESS}"),
                                     ("busy", f"address: {ut.ADDRESS_BUSY}"),
                                     ("outside", "address: 0")])
        for a, want in ut.DISCRETE.items():
            r = got[f"ut/di{a}"]
            check(r["quality"] == "good" and r["value"] is want, f"di{a}: {r}, want {want}")
        check(got["ut/ir"]["value"] == ut.INPUT_VALUE == 10, f"ir: {got['ut/ir']}")
        check(got["ut/hr"]["quality"] == "good" and got["ut/hr"]["value"] == 0, f"{got['ut/hr']}")
        check(got["ut/coil"]["quality"] == "good" and got["ut/coil"]["value"] is False,
              f"{got['ut/coil']}")
        for name, err in (("busy", "busy"), ("outside", "illegal_address")):
            r = got[f"ut/{name}"]
            check(r["quality"] == "bad" and r["error"] == ERRORS[err] and r["value"] is None,
                  f"{name}: {r}")

        # A reply from unit 18 and a reply one register short; the next
        # request (the canary) is read well all along.
        got = run("ut_malformed", [canary, ("wrong_unit", f"address: {ut.ADDRESS_WRONG_UNIT}"),
                                   ("short", f"address: {ut.HOLDING_ADDRESS}, type: int32")],
                  seconds=2.0)
        r = got["ut/wrong_unit"]
        check(r["quality"] == "bad" and r["error"] == ERRORS["wrong_unit"], f"wrong_unit: {r}")
        r = got["ut/short"]
        check(r["quality"] == "bad" and r["value"] is None, f"short reply taken: {r}")
        print(f"a reply one register short: {r['error']!r}")
        canaries = [r for r in readings(sub, "ut_malformed") if r["sensor"] == "ut/ir"]
        check(len(canaries) >= 3 and all(r["quality"] == "good" and r["value"] == 10
                                         for r in canaries), f"canary: {canaries}")

        # The answer to 370 comes 0.5 s late, after the 300 ms timeout, while
        # the next request waits: never taken for another request's answer.
        # (An adapter that took it would publish 0 for ir, whose answer then
        # arrives for hr: 10.)
        got = run("ut_late", [canary, ("hr", f"address: {ut.HOLDING_ADDRESS}"),
                              ("late", f"address: {ut.ADDRESS_SLEEP}")], seconds=5.0)
        rs = by_sensor(readings(sub, "ut_late"))
        check(all(r["quality"] == "bad" and r["error"] == ERRORS["timeout"]
                  for r in rs["ut/late"]), f"late: {rs['ut/late']}")
        first = rs["ut/late"][0]["ts"]
        for name, want in (("ut/ir", 10), ("ut/hr", 0)):
            good = [r for r in rs[name] if r["quality"] == "good"]
            check(all(r["value"] == want for r in good), f"{name}: a late reply taken: {good}")
            after = [r for r in good if r["ts"] > first]
            check(len(after) >= 3, f"{name}: {len(after)} good readings after the first timeout")
            print(f"{name}: {len(rs[name]) - len(good)} of {len(rs[name])} bad next to the "
                  f"late device: {sorted({r.get('error') for r in rs[name] if 'error' in r})}")


# c. faults on the wire -----------------------------------------------------------

def one_fault(sub, proxy, inject, errors, may_decode=False):
    """Injects a fault into the next response of unit 2 (device d2); checks
    that exactly the read it hit is bad with an error of `errors` and that
    the reads after it are good (with may_decode, that no read was bad at
    all is fine too). Returns the bad reading or None."""
    def d2():
        return by_sensor(readings(sub, "bus")).get("d2/u16", [])

    before = d2()[-1]["seq"]
    fault = inject()
    check(fault.done.wait(5), f"{fault} never applied")

    def settled(_):
        rs = [r for r in d2() if r["seq"] > before]
        if any(r["quality"] == "good" and r["value"] != 4660 for r in rs):
            return True  # taken as good: fail now
        bad = [r for r in rs if r["quality"] == "bad"]
        if bad:
            return len([r for r in rs if r["seq"] > bad[-1]["seq"]]) >= 3
        return may_decode and len([r for r in rs if r["ts"] >= fault.at * 1000]) >= 3

    ok = sub.wait_for(settled, 5)
    rs = [r for r in d2() if r["seq"] > before]
    brief = [(r["seq"], r.get("error", r["value"])) for r in rs][:12]
    wrong = [r for r in rs if r["quality"] == "good" and r["value"] != 4660]
    check(not wrong, f"{fault.kind}: a corrupted response taken as good: {wrong[:1]}")
    check(ok, f"{fault.kind}: no bad reading then 3 good ones, (seq, value/error): {brief}")
    bad = [r for r in rs if r["quality"] == "bad"]
    check(len(bad) <= 1, f"{fault.kind}: {len(bad)} bad readings for one fault: {brief}")
    if bad:
        check(bad[0]["error"] in errors and bad[0]["value"] is None,
              f"{fault.kind}: error {bad[0]['error']!r}, want one of {errors}")
    print(f"{fault.kind}: sent {fault.sent.hex(' ')} for {fault.frame.hex(' ')} -> "
          f"{bad[0]['error'] if bad else 'decoded'}")
    return bad[0] if bad else None


def faults():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        bus = sbrtu.bus(st, baud=19200)
        sbrtu.rtu_server(st, bus.device_port, units=(1, 2, 3), baud=19200)
        p = bus.proxy
        devices = [device_yaml(f"d{u}", u, U16) for u in (1, 2, 3)]
        gw = st.gateway(HEADER.format(broker=broker) +
                        rtu_adapter("bus", bus.gateway_port, devices, baud=19200))
        wait_sensors(sub, "bus", ["d1/u16", "d2/u16", "d3/u16"], 10)
        one_fault(sub, p, lambda: p.flip_bit(unit=2), [ERRORS["crc"]])
        one_fault(sub, p, lambda: p.truncate(unit=2), [ERRORS["truncated"]])
        one_fault(sub, p, lambda: p.truncate(unit=2, keep=6), [ERRORS["truncated"]])
        one_fault(sub, p, lambda: p.rewrite_unit(9, unit=2), [ERRORS["wrong_unit"]])
        one_fault(sub, p, lambda: p.rewrite_unit(3, unit=2), [ERRORS["wrong_unit"]])
        one_fault(sub, p, lambda: p.garbage(unit=2), [ERRORS["garbage"]], may_decode=True)
        # With a silent interval (3.5 characters at 19200 baud: 1.8 ms) between
        # the noise and the frame, the frame is whole on its own.
        one_fault(sub, p, lambda: p.garbage(unit=2, gap=0.01), [ERRORS["garbage"]],
                  may_decode=True)
        rs = by_sensor(readings(sub, "bus"))
        for d in ("d1/u16", "d3/u16"):
            check(all(r["quality"] == "good" and r["value"] == 4660 for r in rs[d]),
                  f"{d} was hit by faults for unit 2: {[r for r in rs[d] if 'error' in r]}")
        check(p.counts()["pending"] == 0, f"proxy {p.counts()}")
        stop_gateway(gw)


def rate(rs):
    """Readings per second from the first to the last of rs (seq order), by
    seq and ts; also checks that no seq is missing between them."""
    check(len(rs) >= 2, f"{len(rs)} readings in the window")
    span = (rs[-1]["ts"] - rs[0]["ts"]) / 1000
    n = rs[-1]["seq"] - rs[0]["seq"]
    check(len(rs) == n + 1, f"{rs[0]['sensor']}: {n + 1 - len(rs)} readings lost")
    return n / span, len(rs), span


def silent_device():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        bus = sbrtu.bus(st, baud=19200)
        sbrtu.rtu_server(st, bus.device_port, units=(1, 2, 3), baud=19200)
        bus.proxy.silence(3)
        devices = [device_yaml("a", 1, U16), device_yaml("b", 2, U16),
                   device_yaml("silent", 3, [("u16", "address: 0, writable: true")],
                               timeout=SILENT_TIMEOUT)]
        gw = st.gateway(HEADER.format(broker=broker) +
                        rtu_adapter("bus", bus.gateway_port, devices, baud=19200))
        wait_sensors(sub, "bus", ["a/u16", "b/u16", "silent/u16"], 10)
        polled = bus.proxy.counts()["requests"].get(3, 0)
        start = time.time() * 1000
        time.sleep(5.5)
        end = time.time() * 1000 - 300  # readings still on their way are not counted
        tried = bus.proxy.counts()["requests"].get(3, 0) - polled
        # A command for the backed-off device is refused, not sent to wait
        # out its timeout (one sent while a try is on the wire times out).
        topic = f"sensorbridge/{GID}/bus/silent/u16/set"
        answers = []
        for i in range(3):
            publish(broker, topic, json.dumps({"value": i, "id": f"s{i}"}))
            answers.append(wait_result(sub, topic + "/result", f"s{i}"))
        print(f"commands to the silent device: {answers}")
        check(all(not r["ok"] and r["error"] in (ERRORS["backed_off"], ERRORS["timeout"])
                  for r in answers), f"commands to a silent device: {answers}")
        check(any(r["error"] == ERRORS["backed_off"] for r in answers),
              f"no command refused while the device was backed off: {answers}")
        stop_gateway(gw)
        rs = by_sensor(readings(sub, "bus"))
        for name in ("a/u16", "b/u16"):
            window = [r for r in rs[name] if start <= r["ts"] <= end]
            check(all(r["quality"] == "good" and r["value"] == 4660 for r in window),
                  f"{name}: a bad or wrong reading next to the silent device")
            hz, n, span = rate(window)
            print(f"{name}: {n} readings in {span:.2f} s = {hz:.2f} Hz")
            check(hz >= 0.95 * 10, f"{name} sampled at {hz:.2f} Hz next to a silent device, "
                                   f"configured 10 Hz")
        silent = [r for r in rs["silent/u16"] if start <= r["ts"] <= end]
        errors = {r.get("error") for r in silent}
        check(silent and all(r["quality"] == "bad" for r in silent)
              and errors == {ERRORS["timeout"], ERRORS["backed_off"]},
              f"silent device readings: {silent[:5]}")
        timeouts = sum(r["error"] == ERRORS["timeout"] for r in silent)
        print(f"silent device: {len(silent)} readings, {timeouts} timeouts, polled {tried} "
              "times in 5.5 s")
        # Backed off from 100 ms, doubling to 1 s (jittered down to half): at
        # least every second, and far fewer tries than its 55 ticks.
        check(3 <= tried <= 15, f"the silent device was polled {tried} times in 5.5 s "
                                "(interval 100ms, backoff 100ms to 1s)")
        # Each try is one timeout reading; a try in the window's last 300 ms
        # may not have timed out yet.
        check(timeouts <= tried <= timeouts + 1, f"{timeouts} timeout readings for {tried} tries")


def fair_order():
    """A device with 20 requests per cycle, polled back to back, beside one
    polled every 100 ms: the devices take turns one request at a time, so
    the second waits at most one request of the first (about 11 ms at
    19200 baud) and keeps its rate; a device holding the line for its whole
    cycle (about 220 ms) would make it skip every other tick."""
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        bus = sbrtu.bus(st, baud=19200)
        sbrtu.rtu_server(st, bus.device_port, units=(1, 2), baud=19200)
        many = [(f"r{a}", f"address: {a}") for a in range(0, 40, 2)]  # 20 requests
        devices = [device_yaml("busy", 1, many, interval="1ms"), device_yaml("light", 2, U16)]
        gw = st.gateway(HEADER.format(broker=broker) +
                        rtu_adapter("bus", bus.gateway_port, devices, baud=19200))
        wait_sensors(sub, "bus", ["busy/r0", "light/u16"], 10)
        start = time.time() * 1000
        time.sleep(4)
        end = time.time() * 1000 - 300
        stop_gateway(gw)
        rs = by_sensor(readings(sub, "bus"))
        light = [r for r in rs["light/u16"] if start <= r["ts"] <= end]
        check(all(r["quality"] == "good" for r in light), "light: a bad reading")
        hz, n, span = rate(light)
        busy = [r for r in rs["busy/r38"] if start <= r["ts"] <= end]
        print(f"light: {n} readings in {span:.2f} s = {hz:.2f} Hz; busy: {len(busy)} cycles")
        check(hz >= 0.95 * 10, f"light sampled at {hz:.2f} Hz beside a busy device, "
                               "configured 10 Hz")
        check(len(busy) >= 8, f"the busy device got {len(busy)} cycles in 3.7 s")


def delays_and_rs485():
    """delay_after_connect holds the first request after the port opens;
    delay_between_requests adds to the silence before every request (seen
    at the proxy as the time between two requests); rs485 on a port whose
    driver has no RS-485 mode (a pty) is logged once and the bus runs."""
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        bus = sbrtu.bus(st, baud=115200)
        sbrtu.rtu_server(st, bus.device_port, units=(1, 2), baud=115200)
        devices = [device_yaml("d1", 1, U16, interval="1ms"),
                   device_yaml("d2", 2, U16, interval="1ms")]
        t0 = time.monotonic()
        gw = st.gateway(HEADER.format(broker=broker) +
                        rtu_adapter("bus", bus.gateway_port, devices, baud=115200,
                                    delay_after_connect="400ms",
                                    delay_between_requests="40ms", rs485="true"))
        wait_log_all(gw, [bus.gateway_port, "refuses RS-485 mode"], 5)
        wait_sensors(sub, "bus", ["d1/u16", "d2/u16"], 10)
        time.sleep(2)
        at = bus.proxy.requests_at()
        first = at[0][0] - t0
        gaps = [b[0] - a[0] for a, b in zip(at, at[1:])]
        print(f"first request {first * 1000:.0f} ms after start; {len(at)} requests, "
              f"gaps {min(gaps) * 1000:.1f} to {max(gaps) * 1000:.1f} ms")
        check(first >= 0.4, f"first request {first * 1000:.0f} ms after start, "
                            "delay_after_connect is 400ms")
        # 40 ms plus the 1.75 ms silence, less the proxy's timing slack.
        check(min(gaps) >= 0.040, f"requests {min(gaps) * 1000:.1f} ms apart, "
                                  "delay_between_requests is 40ms")
        check({u for _, u in at} == {1, 2}, f"units polled: {sorted({u for _, u in at})}")
        warned = [l for l in gw.log if "refuses RS-485 mode" in l]
        check(len(warned) == 1, f"RS-485 refusal logged {len(warned)} times: {warned}")
        rs = readings(sub, "bus")
        check(rs and all(r["quality"] == "good" for r in rs), "a bad reading")
        stop_gateway(gw)


# d. hot-unplug ---------------------------------------------------------------------

def hot_unplug():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        bus = sbrtu.bus(st)  # one pty pair: the server's side goes too
        server = sbrtu.rtu_server(st, bus.device_port, units=(1,))
        gw = st.gateway(HEADER.format(broker=broker) +
                        rtu_adapter("bus", bus.gateway_port, [device_yaml("d1", 1, U16)]))
        check(sub.wait_for(lambda _: latest(sub, "bus").get("d1/u16", {}).get("quality")
                           == "good", 10), "no first good reading")
        unplugged = time.time() * 1000
        bus.unplug()
        check(server.wait(5) == 1, "the server did not exit with its pty")

        def gone(_):
            return [r for r in readings(sub, "bus") if r["ts"] > unplugged
                    and r.get("error") == ERRORS["port_gone"]]
        check(sub.wait_for(gone, 5), "no reading says the port is unavailable: "
              f"{[r for r in readings(sub, 'bus') if r['ts'] > unplugged]}")
        print(f"while unplugged: {gone(None)[0]['error']!r}")
        time.sleep(1.5)  # let the reopen back-off reach its 1 s cap
        replugged = time.time() * 1000
        bus.replug()
        sbrtu.rtu_server(st, bus.device_port, units=(1,))
        t0 = time.monotonic()
        check(sub.wait_for(lambda _: any(r["quality"] == "good" and r["ts"] > replugged
                                         for r in readings(sub, "bus")), 5),
              "no good reading after the pty came back")
        waited = time.monotonic() - t0
        print(f"reading again {waited:.2f} s after the pty came back")
        # backoff_max 1 s + one interval 0.1 s + delivery and startup slack.
        check(waited <= 2.0, f"read again after {waited:.2f} s, the back-off cap is 1 s")
        check(gw.proc.poll() is None, "the gateway stopped")
        between = [r for r in readings(sub, "bus") if unplugged < r["ts"] < replugged]
        check(between and all(r["quality"] == "bad" for r in between),
              f"readings while unplugged: {[r for r in between if r['quality'] == 'good']}")
        # Ten more times, quickly: the gateway holds no more descriptors after
        # than before (a reopened port closes the old one).
        fds = len(os.listdir(f"/proc/{gw.proc.pid}/fd"))
        for _ in range(10):
            bus.unplug()
            time.sleep(0.3)
            bus.replug()
            sbrtu.rtu_server(st, bus.device_port, units=(1,))
            mark = time.time() * 1000
            check(sub.wait_for(lambda _: any(r["quality"] == "good" and r["ts"] > mark
                                             for r in readings(sub, "bus")), 5),
                  "no good reading after a replug")
        after = len(os.listdir(f"/proc/{gw.proc.pid}/fd"))
        check(after == fds, f"{fds} descriptors before ten replugs, {after} after")
        stop_gateway(gw)


# e. several units over one TCP connection -----------------------------------------

def tcp_units():
    for framing, server_framing in (("mbap", "mbap"), ("rtu_over_tcp", "rtu")):
        with sbtest.Stack() as st:
            broker = st.broker()
            sub = st.subscriber(broker)
            conv = sbrtu.Converter(st, server_framing)
            devices = [device_yaml(f"u{u}", u, VALUE_POINTS) for u in (1, 2, 3)]
            gw = st.gateway(HEADER.format(broker=broker) +
                            tcp_adapter("conv", conv.port, framing, devices))
            sensors = [f"u{u}/{n}" for u in (1, 2, 3) for n, _ in VALUE_POINTS]
            got = wait_sensors(sub, "conv", sensors, 10)
            for u in (1, 2, 3):
                check_values(got, f"u{u}", u)
            time.sleep(1.0)  # a few more cycles on the one connection
            bad = [r for r in readings(sub, "conv") if r["quality"] != "good"]
            check(not bad, f"{framing}: bad readings {bad[:3]}")
            stop_gateway(gw)
            accepts, refusals = conv.events("accept"), conv.events("refuse")
            print(f"{framing}: {len(readings(sub, 'conv'))} readings over "
                  f"{len(accepts)} connection(s), {len(refusals)} refused")
            check(len(accepts) == 1 and not refusals,
                  f"{framing}: the converter saw {conv.events()}, expected one connection")


# f. settings the port refuses ---------------------------------------------------

def parity_refused():
    """A pty refuses parity (tcsetattr: EINVAL): the log says which port and
    which setting."""
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        bus = sbrtu.bus(st)
        gw = st.gateway(HEADER.format(broker=broker) +
                        rtu_adapter("bus", bus.gateway_port, [device_yaml("d1", 1, U16)],
                                    parity="even"))
        line = wait_log_all(gw, [bus.gateway_port, "the port refuses parity even"], 5)
        print(f"logged: {line}")
        check(sub.wait_for(lambda _: latest(sub, "bus").get("d1/u16", {}).get("error")
                           == ERRORS["settings"], 5),
              f"readings while the port refuses its settings: {readings(sub, 'bus')[:3]}")
        stop_gateway(gw)


def main():
    check(sbrtu.have_socat(), "socat is missing (scripts/deps installs it)")
    pymodbus_values()
    unit_test_server()
    faults()
    silent_device()
    fair_order()
    delays_and_rs485()
    hot_unplug()
    parity_refused()
    tcp_units()


if __name__ == "__main__":
    sbtest.run(main)
