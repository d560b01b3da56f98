#!/usr/bin/python3
"""4 simulated sensors x 5 readings at 50 ms, QoS 1, through a real mosquitto:
exactly 20 messages, each sensor's seq 1..5 without gap or duplicate, every
payload valid JSON with the documented fields, and the gateway exits 0 on its
own (the sentinel), having logged no warning and no error."""

import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: itest
mqtt:
  uri: tcp://127.0.0.1:{port}
  qos: 1
adapters:
  - name: sim
    type: simulated
    sensors: 4
    interval: 50ms
    count: 5
"""


def pipeline(valgrind=False):
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        gw = st.gateway(CONFIG.format(port=port), valgrind=valgrind)
        rc = gw.wait_exit(120 if valgrind else 20)
        check(rc == 0, f"gateway exit status {rc}")
        # The gateway exits only after every PUBACK; give mosquitto_sub a moment.
        sub.wait_for(lambda lines: len([l for l in lines if "/status" not in l[0]]) >= 20
                     and sub.status()[-1:] == ["offline"], 5)
        by_sensor = sbtest.parse_readings(sub.readings(), "itest", "sim")
        check(len(sub.readings()) == 20, f"expected 20 readings, got {len(sub.readings())}")
        check(sorted(by_sensor) == ["TEMP_00", "TEMP_01", "TEMP_02", "TEMP_03"],
              f"sensors {sorted(by_sensor)}")
        for sensor, seqs in by_sensor.items():
            check(seqs == [1, 2, 3, 4, 5], f"{sensor} seqs {seqs}")
        check(sub.status() == ["online", "offline"], f"status messages {sub.status()}")
        check(gw.summary() == "produced 20, delivered 20, dropped 0, queued 0, in flight 0",
              f"summary: {gw.summary()}")
        # A run where nothing went wrong says nothing alarming: no warning
        # and no error, also none from Paho's heap at exit (paho_heap.c).
        # (A journal prefix <N> is alarming at N <= 4, warning and worse.)
        alarming = []
        for line in gw.log:
            m = sbtest.LOG_LINE.match(line)
            level, prio = (m.group(1), m.group(2)) if m else (None, None)
            if level in ("error", "warn") or (prio is not None and int(prio) <= 4):
                alarming.append(line)
        check(not alarming, f"warnings or errors in a clean run: {alarming}")
        if valgrind:
            with open(st.valgrind_log) as f:
                return f.read()
        return None


if __name__ == "__main__":
    sbtest.run(pipeline)
