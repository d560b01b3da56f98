#!/usr/bin/python3
"""Report by exception through a real mosquitto: simulated sensors that play
fixed sequences publish exactly the samples the documented rules select
(absolute and percent deadbands, on_change for bools and strings, a change of
quality), each with its own seq and ts; a constant signal publishes a
heartbeat every max_interval (within one interval); the settings of the
gateway, the adapter and the point override each other, narrowest first; and
produced = delivered + dropped + queued + in flight + suppressed, in the exit
summary and in every stats message."""

import json

import sbtest
from sbtest import check

INTERVAL = 50  # ms
HB_INTERVAL, HB_MAX, HB_COUNT = 100, 500, 26

SEQUENCES = {
    "issue": [20, 20.1, 20.2, 21, 21, 21],
    "abs": [20, 20.1, 20.2, 20.5, 21, 21, 20.4, 19.9, 30, 29.6],
    "pct": [100, 101, 102, 103, 105.1, 103, 50, 50, 51.5, 49],
    "bools": [True, True, False, False, True, True, True],
    "strings": ["idle", "idle", "run", "run", "idle", "stop"],
    "quality": [20, 21, None, None, 22, 23, None, 23],
    "plain": [1, 1, 1, 2],
}

# Per adapter: its publish mapping (YAML flow), and the rule the test applies.
SETTINGS = {
    "issue": ("{deadband: 0.5}", {"deadband": 0.5}),
    "abs": ("{deadband: 0.5}", {"deadband": 0.5}),
    "pct": ("{deadband: 2%}", {"deadband": 2, "percent": True}),
    "bools": ("{on_change: true}", {"on_change": True}),
    "strings": ("{on_change: true}", {"on_change": True}),
    "quality": ("{deadband: 100}", {"deadband": 100}),
}


def yaml_value(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def config(port):
    text = f"""\
gateway:
  id: pbe
  stats_interval: 100ms
mqtt:
  uri: tcp://127.0.0.1:{port}
  qos: 1
publish:
  on_change: true
adapters:
"""
    for name, seq in SEQUENCES.items():
        text += f"""\
  - name: {name}
    type: simulated
    sensors: [s]
    interval: {INTERVAL}ms
    count: {len(seq)}
    unit: u
    sequence: [{", ".join(yaml_value(v) for v in seq)}]
"""
        if name in SETTINGS:
            text += f"    publish: {SETTINGS[name][0]}\n"
        elif name == "plain":
            # The gateway's on_change, overridden for one point of two.
            text = text.replace(f"sensors: [s]\n    interval: {INTERVAL}ms\n    count: 4",
                                f"sensors: [s, t]\n    interval: {INTERVAL}ms\n    count: 4")
            text += "    publish: {points: [{name: t, on_change: false}]}\n"
    text += f"""\
  - name: hb
    type: simulated
    sensors: [s]
    interval: {HB_INTERVAL}ms
    count: {HB_COUNT}
    sequence: [7]
    publish: {{deadband: 1, max_interval: {HB_MAX}ms}}
"""
    return text


def expected(seq, deadband=None, percent=False, on_change=False):
    """The seqs the documented rules publish: the first sample; a change of
    quality; a bad sample with another error; a number that moved from the
    last published one by the deadband or more (a percentage of the last
    published value with percent); any other value that changed (on_change
    or a deadband on a non-number)."""
    published, last, last_bad = [], None, None
    for i, v in enumerate(seq, 1):
        bad = v is None
        if last_bad is None or bad != last_bad:
            pub = True
        elif bad:
            pub = False
        elif deadband is not None and not isinstance(v, (bool, str)):
            band = deadband / 100 * abs(last) if percent else deadband
            pub = v != last and abs(v - last) >= band - 1e-9 * max(abs(v), abs(last))
        else:
            pub = v != last
        if pub:
            published.append(i)
            last, last_bad = v, bad
    return published


def main():
    check(expected(SEQUENCES["issue"], deadband=0.5) == [1, 4], "the reference model itself")
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        gw = st.gateway(config(port))
        check(gw.wait_exit(30) == 0, "gateway exit status")
        sub.wait_for(lambda lines: sub.status()[-1:] == ["offline"], 5)
        readings = [(t, json.loads(p)) for t, p in sub.readings() if not t.endswith("/stats")]
        stats = [json.loads(p) for t, p in sub.lines if t == "sensorbridge/pbe/stats"]

        by_adapter = {}
        for topic, r in readings:
            check(topic == f"sensorbridge/pbe/{r['adapter']}/{r['sensor']}", f"topic {topic}")
            by_adapter.setdefault((r["adapter"], r["sensor"]), []).append(r)

        for name, seq in SEQUENCES.items():
            if name == "plain":
                continue
            rule = SETTINGS[name][1]
            got = [r["seq"] for r in by_adapter.get((name, "s"), [])]
            want = expected(seq, **rule)
            check(got == want, f"{name}: published seqs {got}, expected {want}")
            for r in by_adapter[(name, "s")]:
                v = seq[r["seq"] - 1]
                if v is None:
                    check(r["value"] is None and r["quality"] == "bad"
                          and r["error"] == "simulated failure", f"{name}: {r}")
                else:
                    check(r["value"] == v and type(r["value"]) is type(v)
                          and r["quality"] == "good", f"{name}: value of {r}, expected {v!r}")
            # Each published sample carries its own ts: INTERVAL apart per seq step.
            rs = by_adapter[(name, "s")]
            for a, b in zip(rs, rs[1:]):
                steps = b["seq"] - a["seq"]
                check(steps * INTERVAL - INTERVAL <= b["ts"] - a["ts"] <= steps * INTERVAL
                      + INTERVAL, f"{name}: ts {a['ts']} -> {b['ts']} over {steps} samples")

        # The gateway's on_change applies to s; the point's own setting to t.
        got_s = [r["seq"] for r in by_adapter[("plain", "s")]]
        got_t = [r["seq"] for r in by_adapter[("plain", "t")]]
        check(got_s == [1, 4], f"plain/s (gateway on_change) published {got_s}")
        check(got_t == [1, 2, 3, 4], f"plain/t (point on_change: false) published {got_t}")

        # The heartbeat: a constant value, published every max_interval.
        hb = by_adapter[("hb", "s")]
        check(hb[0]["seq"] == 1, f"heartbeat starts with the first sample: {hb[0]}")
        check(len(hb) >= (HB_COUNT - 1) * HB_INTERVAL // (HB_MAX + HB_INTERVAL),
              f"too few heartbeats: {[r['seq'] for r in hb]}")
        for a, b in zip(hb, hb[1:]):
            dt = b["ts"] - a["ts"]
            check(HB_MAX - HB_INTERVAL <= dt <= HB_MAX + HB_INTERVAL,
                  f"heartbeat {dt} ms after the previous one (max_interval {HB_MAX} ms)")
            check(b["value"] == 7, f"heartbeat value {b}")

        produced = sum(len(s) for s in SEQUENCES.values()) + 4 + HB_COUNT  # plain has 2 sensors
        delivered = len(readings)
        check(delivered == sum(len(v) for v in by_adapter.values()), "readings counted twice")
        want = (f"produced {produced}, delivered {delivered}, dropped 0, queued 0, in flight 0, "
                f"suppressed {produced - delivered}")
        check(gw.summary() == want, f"summary: {gw.summary()}, expected {want}")
        check(stats, "no stats message")
        for s in stats:
            dropped = sum(s["dropped"].values())
            check(s["produced"] == s["delivered"] + dropped + s["queued"] + s["in_flight"]
                  + s["suppressed"], f"counters do not add up: {s}")
        check(stats[-1]["suppressed"] > 0, f"suppressed never counted: {stats[-1]}")


if __name__ == "__main__":
    sbtest.run(main)
