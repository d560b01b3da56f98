#!/usr/bin/python3
"""4 sensors x 250 readings produced while the broker is not running yet,
capacity 100, drop_oldest. The broker starts only after production ended:
exactly the newest 100 readings are delivered (each sensor's seq 226..250),
and the exit summary says 100 delivered, 900 dropped for overflow, with the
counters adding up."""

import re

import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: ovf
mqtt:
  uri: tcp://127.0.0.1:{port}
  qos: 1
  reconnect_min: 100ms
  reconnect_max: 500ms
outbox:
  capacity: 100
  overflow: drop_oldest
adapters:
  - name: sim
    type: simulated
    sensors: 4
    interval: 1ms
    count: 250
"""


def overflow():
    with sbtest.Stack() as st:
        broker_port = sbtest.free_port()
        gate = st.gate(broker_port)  # refuses connections: no broker yet
        gw = st.gateway(CONFIG.format(port=gate.port))
        gw.wait_log("adapter 'sim': done", 20)
        gw.wait_log("cannot connect to", 5)
        check(gw.proc.poll() is None, "gateway exited without a broker")

        st.broker(broker_port)
        sub = st.subscriber(broker_port)
        gate.open()  # from here on the gateway reaches the broker
        rc = gw.wait_exit(30)
        check(rc == 0, f"gateway exit status {rc}")
        sub.wait_for(lambda lines: len(lines) >= 101, 5)

        readings = sub.readings()
        check(len(readings) == 100, f"expected 100 readings, got {len(readings)}")
        by_sensor = sbtest.parse_readings(readings, "ovf", "sim")
        for sensor in ("TEMP_00", "TEMP_01", "TEMP_02", "TEMP_03"):
            check(by_sensor.get(sensor) == list(range(226, 251)),
                  f"{sensor}: got seqs {by_sensor.get(sensor)}")
        summary = gw.summary()
        check(summary == "produced 1000, delivered 100, dropped 900 (overflow 900), "
                         "queued 0, in flight 0", f"summary: {summary}")
        nums = [int(n) for n in re.findall(r"\d+", summary)]
        produced, delivered, dropped, overflow_n, queued, inflight = nums
        check(produced == delivered + dropped + queued + inflight, "conservation")


if __name__ == "__main__":
    sbtest.run(overflow)
