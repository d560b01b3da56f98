#!/usr/bin/python3
"""mqtt.version: 5 end to end through a real mosquitto, read by
mosquitto_sub -V 5: 4 simulated sensors x 5 readings at 50 ms, at QoS 1 and
at QoS 2 (the subscriber then subscribes at QoS 2 too). Each time: exactly 20
readings, each sensor's seq 1..5 without gap or duplicate, every payload valid
JSON with the documented fields, the status "online" then "offline", both
published retained ("offline" is what a new subscriber finds), and the gateway
exits 0 on its own. The broker's log shows that the gateway really spoke
MQTT 5 and published every reading at the configured QoS (with the full
PUBREC/PUBREL/PUBCOMP exchange at QoS 2)."""

import sbtest
from sbtest import check

GATEWAY_ID = "v5"
CLIENT = f"sensorbridge-{GATEWAY_ID}"

CONFIG = """\
gateway:
  id: v5
mqtt:
  uri: tcp://127.0.0.1:{port}
  version: 5
  qos: {qos}
adapters:
  - name: sim
    type: simulated
    sensors: 4
    interval: 50ms
    count: 5
"""


def pipeline(qos):
    with sbtest.Stack() as st:
        port = st.broker(log=True)
        sub_qos = max(qos, 1)
        sub = st.subscriber(port, extra_args=["-V", "5", "-q", str(sub_qos)])
        gw = st.gateway(CONFIG.format(port=port, qos=qos))
        rc = gw.wait_exit(20)
        check(rc == 0, f"gateway exit status {rc}")
        # The gateway exits only after every acknowledgement; give
        # mosquitto_sub a moment.
        sub.wait_for(lambda lines: len([l for l in lines if "/status" not in l[0]]) >= 20
                     and sub.status()[-1:] == ["offline"], 5)
        readings = sub.readings()
        by_sensor = sbtest.parse_readings(readings, GATEWAY_ID, "sim")
        check(len(readings) == 20, f"QoS {qos}: expected 20 readings, got {len(readings)}")
        check(sorted(by_sensor) == ["TEMP_00", "TEMP_01", "TEMP_02", "TEMP_03"],
              f"sensors {sorted(by_sensor)}")
        for sensor, seqs in by_sensor.items():
            check(seqs == [1, 2, 3, 4, 5], f"QoS {qos}: {sensor} seqs {seqs}")
        check(sub.status() == ["online", "offline"], f"status messages {sub.status()}")
        check(gw.summary() == "produced 20, delivered 20, dropped 0, queued 0, in flight 0",
              f"summary: {gw.summary()}")

        log = st.broker_logs[port]
        log.wait_for(rf"^Client {CLIENT} disconnected\.$", 5)  # the log is complete
        connected = log.matching(rf"^New client connected from 127\.0\.0\.1:\d+ as {CLIENT} ")
        check(len(connected) == 1 and connected[0].endswith(" (p5, c1, k30)."),
              f"the gateway did not connect once with MQTT 5: {connected}")
        check(len(log.matching(r"^New client connected from .* \(p5, ")) == 2,
              "mosquitto_sub did not connect with MQTT 5")
        check(log.matching(rf"^\tsensorbridge/# \(QoS {sub_qos}\)$"),
              f"mosquitto_sub did not subscribe at QoS {sub_qos}")
        status = log.matching(rf"^Received PUBLISH from {CLIENT} \(d0, q1, r1, m\d+, "
                              rf"'sensorbridge/{GATEWAY_ID}/status', \.\.\. \(\d+ bytes\)\)$")
        check(len(status) == 2, f"retained status publishes: {status}")
        published = log.matching(rf"^Received PUBLISH from {CLIENT} \(d\d, q\d, r\d, m\d+, "
                                 rf"'sensorbridge/{GATEWAY_ID}/sim/")
        check(len(published) == 20, f"{len(published)} readings published")
        for line in published:
            check(f"(d0, q{qos}, r0, " in line, f"not published once at QoS {qos}: {line}")
        if qos == 2:
            for packet in ("Sending PUBREC to", "Received PUBREL from", "Sending PUBCOMP to"):
                n = len(log.matching(rf"^{packet} {CLIENT} "))
                check(n == 20, f"{n} times '{packet} {CLIENT}', expected 20")
        else:
            n = len(log.matching(rf"^Sending PUBACK to {CLIENT} "))
            check(n == 22, f"{n} PUBACKs to the gateway, expected 20 readings + 2 status")
        check(sbtest.retained(port, f"sensorbridge/{GATEWAY_ID}/status",
                              extra_args=["-V", "5"]) == "offline",
              "retained status is not 'offline'")


def main():
    pipeline(1)
    pipeline(2)


if __name__ == "__main__":
    sbtest.run(main)
