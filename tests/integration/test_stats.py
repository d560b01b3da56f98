#!/usr/bin/python3
"""The stats message: every gateway.stats_interval a JSON document on
sensorbridge/{gateway}/stats with the documented keys, whose counters add up
and grow, and whose per-adapter figures match the readings seen."""

import json
import signal
import time

import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: st
  stats_interval: 300ms
mqtt:
  uri: tcp://127.0.0.1:{port}
adapters:
  - name: sim
    type: simulated
    sensors: 3
    interval: 20ms
"""

KEYS = ["produced", "recovered", "delivered", "resent", "dropped", "queued", "in_flight",
        "suppressed", "spool",
        "mqtt", "commands", "loop", "adapters"]
LOOP_KEYS = ["ms", "iterations", "io_events", "timers_fired", "wakeups", "timers"]


def main():
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        gw = st.gateway(CONFIG.format(port=port))
        check(sub.wait_for(lambda lines: sum(t == "sensorbridge/st/stats" for t, _ in lines) >= 4,
                           10), "fewer than 4 stats messages in 10 s")
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")
        stats = [json.loads(p) for t, p in sub.lines if t == "sensorbridge/st/stats"]
        for s in stats:
            check(list(s.keys()) == KEYS, f"keys {list(s.keys())}")
            dropped = sum(s["dropped"].values())
            check(s["produced"] == s["delivered"] + dropped + s["queued"] + s["in_flight"]
                  + s["suppressed"], f"counters do not add up: {s}")
            check(s["suppressed"] == 0, f"nothing is held back without a publish setting: {s}")
            check(s["spool"] is None and s["recovered"] == 0, "no spool configured")
            check(s["adapters"]["sim"]["reads_failed"] == 0, "simulated reads never fail")
            check(s["adapters"]["sim"]["reads_ok"] == s["produced"], f"reads_ok vs produced: {s}")
            check(s["mqtt"]["connects"] == 1, f"connects {s['mqtt']}")
            check(list(s["loop"].keys()) == LOOP_KEYS, f"loop keys {list(s['loop'].keys())}")
        # The loop's counters grow; 3 sensors at 20 ms fire at least 3 timers per 20 ms.
        for a, b in zip(stats, stats[1:]):
            la, lb = a["loop"], b["loop"]
            check(250 <= lb["ms"] - la["ms"] <= 1000, f"loop ms {la['ms']} -> {lb['ms']}")
            check(lb["iterations"] > la["iterations"], "loop iterations do not grow")
            check(lb["timers_fired"] - la["timers_fired"] >= 30, f"timers fired {la} -> {lb}")
            check(lb["wakeups"] >= la["wakeups"], "wake-ups go backwards")
        produced = [s["produced"] for s in stats]
        check(produced == sorted(produced) and produced[-1] > produced[0], f"produced {produced}")
        # 3 sensors at 20 ms: about 45 readings between two messages 300 ms apart.
        steps = [b - a for a, b in zip(produced, produced[1:])]
        check(all(30 <= d <= 60 for d in steps), f"readings between stats messages: {steps}")


if __name__ == "__main__":
    sbtest.run(main)
