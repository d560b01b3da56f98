#!/usr/bin/python3
"""Per-device messages (payload: per_device) through a real mosquitto:

- against the libmodbus peer, one adapter publishes per point and another,
  with the same points on the same device, per device: every device message
  holds every point, the bad ones (an exception, a NaN) listed in quality and
  errors with the same error as the per-point reading, and the same values;
  seq counts the messages from 1; the units are in a retained .../meta;
- a Modbus link with a devices list publishes one message per device on
  .../{adapter}/{device}, with the points under their own names;
- simulated sensors that play a sequence give exactly one message per cycle
  with the cycle's values, and the counters add up with the folded readings
  as suppressed."""

import json
import re
import signal
import time

import sbtest
from sbtest import check

GID = "pdt"
POINTS = """\
      - {name: temperature, address: 100, type: float32, unit: celsius}
      - {name: broken, address: 102, type: float32, unit: celsius}
      - {name: counter, address: 10, type: uint32}
      - {name: text, address: 60, type: string, length: 6}
      - {name: refused, address: 500, unit: bar}
      - {name: pump, table: coil, address: 3}
"""
NAMES = {"temperature", "broken", "counter", "text", "refused", "pump"}
SEQ = [3.5, 4.25, -1, 8]
MSG_KEYS = ["adapter", "seq", "ts", "values", "quality", "errors"]


def config(broker, mport):
    indent = lambda text, n: "".join(" " * n + l + "\n" for l in text.splitlines())
    return f"""\
gateway:
  id: {GID}
mqtt:
  uri: tcp://127.0.0.1:{broker}
  qos: 1
adapters:
  - name: pp
    type: modbus_tcp
    host: 127.0.0.1
    port: {mport}
    interval: 300ms
    points:
{POINTS}  - name: pd
    type: modbus_tcp
    host: 127.0.0.1
    port: {mport}
    interval: 300ms
    publish: {{payload: per_device}}
    points:
{POINTS}  - name: bus
    type: modbus_tcp
    host: 127.0.0.1
    port: {mport}
    interval: 300ms
    publish: {{payload: per_device}}
    devices:
      - name: meter1
        unit_id: 1
        points:
{indent(POINTS, 4)}      - name: meter2
        unit_id: 2
        points:
          - {{name: temperature, address: 100, type: float32, unit: celsius}}
  - name: sim
    type: simulated
    sensors: [a, b, c]
    interval: 100ms
    count: {len(SEQ)}
    sequence: [{", ".join(map(str, SEQ))}]
    publish: {{payload: per_device, device_topic: "devices/{{gateway}}/{{adapter}}"}}
"""


def main():
    with sbtest.Stack() as st:
        port = st.broker()
        _, mport = st.modbus_server("--exception", "500:2")
        sub = st.subscriber(port, topic="#")
        gw = st.gateway(config(port, mport))

        def enough(lines):
            n = lambda t: sum(1 for x, _ in lines if x == t)
            return (n(f"sensorbridge/{GID}/pd") >= 5 and n(f"sensorbridge/{GID}/bus/meter2") >= 5
                    and n(f"devices/{GID}/sim") >= len(SEQ))
        check(sub.wait_for(enough, 20), "too few device messages")
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "gateway exit status")
        lines = list(sub.lines)

        # The per-point adapter's readings: the reference values and errors.
        ref = {}
        for t, p in lines:
            if t.startswith(f"sensorbridge/{GID}/pp/") and not t.endswith("/status"):
                r = json.loads(p)
                ref.setdefault(r["sensor"], set()).add(
                    (json.dumps(r["value"]), r.get("error")))
        check(set(ref) == NAMES, f"per-point readings of {sorted(ref)}")
        for name, seen in ref.items():
            check(len(seen) == 1, f"{name} changed between reads: {seen}")
        ref = {n: next(iter(s)) for n, s in ref.items()}
        bad = {n for n, (_, e) in ref.items() if e}
        check(bad == {"broken", "refused"}, f"bad points {bad}")

        def check_device(topic, names, device=None):
            msgs = [json.loads(p) for t, p in lines if t == topic]
            check(msgs, f"no message on {topic}")
            for i, m in enumerate(msgs, 1):
                keys = MSG_KEYS[:1] + (["device"] if device else []) + MSG_KEYS[1:]
                check(list(m) == keys, f"keys {list(m)} on {topic}")
                check(m["seq"] == i, f"seq {m['seq']}, expected {i} on {topic}")
                check(device is None or m["device"] == device, f"device of {m}")
                check(set(m["values"]) == names, f"values of {m}")
                for n in names:
                    value, error = ref[n]
                    check(json.dumps(m["values"][n]) == (value if not error else "null"),
                          f"{topic} {n}: {m['values'][n]!r}, per point {value}")
                check(m["quality"] == {n: "bad" for n in names & bad}, f"quality {m['quality']}")
                check(m["errors"] == {n: ref[n][1] for n in names & bad}, f"errors {m['errors']}")
            for a, b in zip(msgs, msgs[1:]):
                check(200 <= b["ts"] - a["ts"] <= 600, f"cycles {a['ts']} -> {b['ts']} on {topic}")
            return msgs

        check_device(f"sensorbridge/{GID}/pd", NAMES)
        check_device(f"sensorbridge/{GID}/bus/meter1", NAMES, "meter1")
        check_device(f"sensorbridge/{GID}/bus/meter2", {"temperature"}, "meter2")
        check(not any(t.startswith(f"sensorbridge/{GID}/pd/") and not t.endswith(("/status",
                                                                                    "/meta"))
                      for t, _ in lines), "the per-device adapter also published per point")
        meta = sbtest.retained(port, f"sensorbridge/{GID}/pd/meta")
        check(meta is not None and json.loads(meta) == {
            "adapter": "pd", "units": {"temperature": "celsius", "broken": "celsius",
                                       "refused": "bar"}}, f"meta {meta}")

        # Simulated: one message per cycle, the cycle's value at every sensor.
        sim = [json.loads(p) for t, p in lines if t == f"devices/{GID}/sim"]
        check([m["seq"] for m in sim] == list(range(1, len(SEQ) + 1)), f"sim messages {sim}")
        for m, v in zip(sim, SEQ):
            check(m["values"] == {"a": v, "b": v, "c": v} and m["quality"] == {}
                  and m["errors"] == {}, f"sim message {m}, expected {v} at every sensor")

        nums = {k: int(v) for k, v in re.findall(
            r"(produced|delivered|dropped|queued|in flight|suppressed) (\d+)", gw.summary())}
        check(nums["produced"] == nums["delivered"] + nums["dropped"] + nums["queued"]
              + nums["in flight"] + nums["suppressed"], f"conservation: {gw.summary()}")
        # Every reading in a device message was counted as suppressed (those of
        # a cycle cut short by the stop were too, unpublished).
        folded = sum(len(json.loads(p)["values"]) for t, p in lines
                     if t in (f"sensorbridge/{GID}/pd", f"sensorbridge/{GID}/bus/meter1",
                              f"sensorbridge/{GID}/bus/meter2", f"devices/{GID}/sim"))
        check(folded <= nums["suppressed"] < folded + 2 * len(NAMES) + 1,
              f"{folded} readings in device messages: {gw.summary()}")

if __name__ == "__main__":
    sbtest.run(main)
