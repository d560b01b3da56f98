#!/usr/bin/python3
"""Windows through a real mosquitto: a simulated sensor plays a fixed
sequence (with a run of failed reads) and publishes one summary per
wall-clock aligned window. Each summary names the last sample it holds (seq),
so the test knows exactly which samples each window folded and checks min,
max, mean (Welford's running mean, as computed here), last and count against
its own reference; ts is the window start, a multiple of the length; windows
follow each other without gaps; a window without a good sample is published
with quality bad; each summary arrives when its window ends; a point's own
window overrides the adapter's; and the counters add up with the samples as
suppressed."""

import json
import math
import random
import time

import sbtest
from sbtest import check

INTERVAL = 50  # ms
LENGTH = 500  # ms, the adapter's window
POINT_LENGTH = 1000  # ms, sensor b's own window

rng = random.Random(13)
VALUES = ([round(rng.uniform(-5, 40), 2) for _ in range(30)] + [None] * 22
          + [round(1e6 + rng.uniform(0, 1), 3) for _ in range(20)])

CONFIG = """\
gateway:
  id: pbw
mqtt:
  uri: tcp://127.0.0.1:{port}
  qos: 1
adapters:
  - name: sim
    type: simulated
    sensors: [a, b]
    interval: {interval}ms
    count: {count}
    unit: kPa
    sequence: [{values}]
    publish:
      window: {{length: {length}ms, functions: [mean, min, max, count, last]}}
      points:
        - {{name: b, window: {{length: {point_length}ms}}}}
"""

A_KEYS = ["sensor", "adapter", "seq", "ts", "value", "window", "mean", "min", "max", "count",
          "last", "unit", "quality"]
B_KEYS = ["sensor", "adapter", "seq", "ts", "value", "window", "min", "max", "mean", "last",
          "count", "unit", "quality"]


def welford(xs):
    mean = 0.0
    for n, x in enumerate(xs, 1):
        mean = x if n == 1 else mean + (x - mean) / n
    return mean


def check_sensor(summaries, arrivals, length, keys, flushed_last):
    prev_seq = 0
    for i, (s, arrived) in enumerate(zip(summaries, arrivals)):
        bad = s["quality"] == "bad"
        check(list(s.keys()) == keys + (["error"] if bad else []), f"keys of {s}")
        check(s["window"] == length and s["ts"] % length == 0, f"window not aligned: {s}")
        if i:
            check(s["ts"] == summaries[i - 1]["ts"] + length, f"windows not contiguous: {s}")
        folded = VALUES[prev_seq:s["seq"]]
        good = [v for v in folded if v is not None]
        check(s["count"] == len(good), f"count {s['count']}, samples {folded}")
        if i and i < len(summaries) - 1:
            check(abs(len(folded) - length // INTERVAL) <= 2,
                  f"{len(folded)} samples in a {length} ms window: {s}")
        if good:
            check(s["min"] == min(good) and s["max"] == max(good) and s["last"] == good[-1],
                  f"min/max/last of {good}: {s}")
            check(s["mean"] == welford(good) and s["value"] == s["mean"],
                  f"mean {s['mean']} != {welford(good)} for {good}")
            check(abs(s["mean"] - math.fsum(good) / len(good)) <= 1e-9 * max(map(abs, good)),
                  f"mean {s['mean']} far from the exact mean of {good}")
            check(not bad and s["unit"] == "kPa", f"quality/unit of {s}")
        else:
            check(bad and s["error"] == "simulated failure" and s["value"] is None
                  and s["min"] is None and s["mean"] is None, f"empty window: {s}")
        # Closed by the clock when the window ends (the last one when the sensor is done).
        end = (s["ts"] + length) / 1000
        if not (flushed_last and i == len(summaries) - 1):
            check(end - 0.05 <= arrived <= end + 1.0, f"arrived {arrived - end:+.3f} s after "
                                                      f"the end of window {s}")
        prev_seq = s["seq"]
    check(prev_seq == len(VALUES), f"the last window ends with seq {prev_seq}")


def main():
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        arrivals = {}
        seen = 0

        def stamp(lines):
            nonlocal seen
            for t, p in lines[seen:]:
                arrivals.setdefault(p, time.time())
            seen = len(lines)
            return sub.status()[-1:] == ["offline"]

        gw = st.gateway(CONFIG.format(port=port, interval=INTERVAL, count=len(VALUES),
                                      length=LENGTH, point_length=POINT_LENGTH,
                                      values=", ".join("null" if v is None else str(v)
                                                       for v in VALUES)))
        check(sub.wait_for(stamp, 30), "the gateway did not finish")
        check(gw.wait_exit(10) == 0, "gateway exit status")
        by_sensor = {}
        for t, p in sub.readings():
            r = json.loads(p)
            check(t == f"sensorbridge/pbw/sim/{r['sensor']}", f"topic {t}")
            by_sensor.setdefault(r["sensor"], []).append((r, arrivals[p]))
        for sensor, length, keys in (("a", LENGTH, A_KEYS), ("b", POINT_LENGTH, B_KEYS)):
            rs = by_sensor.get(sensor, [])
            check(len(rs) >= len(VALUES) * INTERVAL // length, f"{sensor}: {len(rs)} windows")
            check_sensor([r for r, _ in rs], [a for _, a in rs], length, keys, True)
        check(any(r["quality"] == "bad" for r, _ in by_sensor["a"]), "no empty window seen")
        produced = 2 * len(VALUES) + len(sub.readings())
        want = (f"produced {produced}, delivered {len(sub.readings())}, dropped 0, queued 0, "
                f"in flight 0, suppressed {2 * len(VALUES)}")
        check(gw.summary() == want, f"summary {gw.summary()}, expected {want}")


if __name__ == "__main__":
    sbtest.run(main)
