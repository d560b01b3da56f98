#!/usr/bin/python3
"""50 sensors x 200 readings at 1 ms, QoS 1, outbox capacity 64, overflow
block: all 10,000 delivered, none dropped, per-sensor order kept."""

import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: scale
mqtt:
  uri: tcp://127.0.0.1:{port}
  qos: 1
outbox:
  capacity: 64
  overflow: block
adapters:
  - name: sim
    type: simulated
    sensors: 50
    interval: 1ms
    count: 200
"""


def scale():
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        gw = st.gateway(CONFIG.format(port=port))
        rc = gw.wait_exit(120)
        check(rc == 0, f"gateway exit status {rc}")
        sub.wait_for(lambda lines: len(lines) >= 10002, 10)
        readings = sub.readings()
        check(len(readings) == 10000, f"expected 10000 readings, got {len(readings)}")
        by_sensor = sbtest.parse_readings(readings, "scale", "sim")
        check(len(by_sensor) == 50, f"{len(by_sensor)} sensors")
        for sensor, seqs in by_sensor.items():
            check(seqs == list(range(1, 201)), f"{sensor}: seqs out of order or missing")
        check(gw.summary() ==
              "produced 10000, delivered 10000, dropped 0, queued 0, in flight 0",
              f"summary: {gw.summary()}")


if __name__ == "__main__":
    sbtest.run(scale)
