#!/usr/bin/python3
"""Wake-ups of the loop at a modest rate: readings that come more often than
a second have their confirmations applied at the next reading's wake-up, not
woken for (docs/design.md, "Lazy confirmations"). Counted with the stats
message's `loop` section between consecutive stats messages, at QoS 0 and at
QoS 1: a reading costs one iteration of the loop (its timer), and no
confirmation wakes it (`wakeups` stays put)."""

import json
import signal

import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: wk
  stats_interval: 2s
mqtt:
  uri: tcp://127.0.0.1:{port}
  qos: {qos}
adapters:
  - name: sim
    type: simulated
    sensors: 1
    interval: 250ms
"""


def run(qos):
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        gw = st.gateway(CONFIG.format(port=port, qos=qos))
        check(sub.wait_for(lambda lines: sum(t == "sensorbridge/wk/stats" for t, _ in lines) >= 5,
                           20), f"QoS {qos}: fewer than 5 stats messages in 20 s")
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")
        stats = [json.loads(p) for t, p in sub.lines if t == "sensorbridge/wk/stats"]
        # The first interval holds the connection's set-up: compare the later ones.
        for a, b in zip(stats[1:], stats[2:]):
            readings = b["produced"] - a["produced"]
            la, lb = a["loop"], b["loop"]
            iterations = lb["iterations"] - la["iterations"]
            wakeups = lb["wakeups"] - la["wakeups"]
            timers = lb["timers_fired"] - la["timers_fired"]
            what = (f"QoS {qos}: {readings} readings, {iterations} iterations, {timers} timers, "
                    f"{wakeups} wake-ups in {lb['ms'] - la['ms']} ms")
            print(what)
            check(7 <= readings <= 9, f"a sensor at 250 ms over 2 s: {what}")
            # One timer per reading and one for the stats message; with
            # confirmations woken for, 2 or 3 iterations per reading.
            check(wakeups <= 1, f"confirmations woke the loop: {what}")
            check(timers <= readings + 2, f"a timer of its own for confirmations: {what}")
            check(iterations <= readings + 3, f"more than one iteration per reading: {what}")
            check(b["produced"] == b["delivered"] + sum(b["dropped"].values()) + b["queued"]
                  + b["in_flight"] + b["suppressed"], f"counters do not add up: {b}")


def main():
    run(0)
    run(1)


if __name__ == "__main__":
    sbtest.run(main)
