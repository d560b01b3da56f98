#!/usr/bin/python3
"""Broker outages lose nothing accepted (QoS 1, at-least-once):
1. 20 simulated sensors at 10 ms, outbox capacity 100,000, the broker stopped
   for OUTAGE seconds (default 30) and restarted: every sensor's seq arrives
   complete and in order; duplicates are at most the re-sent count reported.
2. The same with outbox capacity 1,000 and a disk spool: still complete, and
   the spool is empty again afterwards."""

import os
import time

import sbfaults
import sbtest
from sbtest import check

OUTAGE = float(os.environ.get("SB_OUTAGE_SECONDS", "30"))

CONFIG = """\
gateway:
  id: outage
  shutdown_timeout: 30s
  stats_interval: 0s
mqtt:
  uri: tcp://127.0.0.1:{port}
  qos: 1
  reconnect_min: 100ms
  reconnect_max: 1s
outbox:
  capacity: {capacity}
  max_bytes: 64MiB
{spool}adapters:
  - name: sim
    type: simulated
    sensors: 20
    interval: 10ms
"""


def outage(capacity, spool_dir=None):
    with sbtest.Stack() as st:
        broker = sbfaults.Broker(st)
        broker.start()
        sub = sbfaults.Subscriber(st, broker.port)
        spool = ""
        if spool_dir:
            spool = f"  spool:\n    dir: {spool_dir}\n    max_bytes: 256MiB\n"
        gw = st.gateway(CONFIG.format(port=broker.port, capacity=capacity, spool=spool))
        gw.wait_log("mqtt: connected", 10)
        time.sleep(2)
        broker.stop()
        time.sleep(OUTAGE)
        broker.start()
        gw.wait_log("reconnecting to", 5)
        time.sleep(5)
        sbfaults.term(gw, 120)
        c = sbfaults.summary_counts(gw.summary())
        print(f"summary: {gw.summary()}")
        check(c["dropped"] == 0 and c["delivered"] == c["produced"], gw.summary())
        check(c["produced"] > OUTAGE * 1500, f"only {c['produced']} readings produced")
        sbfaults.wait_complete(sub, c["produced"])
        unique, dups = sbfaults.check_complete(
            sbfaults.readings_by_sensor(sub.readings()), c["produced"])
        print(f"{unique} readings, {dups} duplicates, {c['re-sent']} re-sent")
        broker.stop()  # its log complete
        sbfaults.check_duplicates(broker, c, dups)
        if spool_dir:
            check(c["spooled"] == 0, "records left in the spool")
            left = [f for f in os.listdir(spool_dir) if f.startswith("seg-")]
            check(len(left) <= 1, f"spool segments left: {left}")


def main():
    outage(100000)
    with sbtest.Stack() as st:
        outage(1000, st.path("spool"))


if __name__ == "__main__":
    sbtest.run(main)
