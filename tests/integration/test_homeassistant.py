#!/usr/bin/python3
"""Home Assistant MQTT discovery through a real mosquitto, with simulated
sensors and a Modbus device (the libmodbus peer) that has writable points:

- every retained message under the prefix passes the checker of
  hadiscovery.py (Home Assistant's documented rules), unique_ids are unique
  across the gateway, and there is exactly one config per point, with the
  component, unit and classes the documentation promises, the adapter's
  device (via the gateway), both status topics as availability and
  expire_after = 3 x the interval;
- each state_topic receives readings whose value the value_template
  extracts, as the entity's states (on/off for binary sensors and switches);
- both availability topics hold a retained "online";
- "online" on <prefix>/status sends every config again ("offline" does not);
- a reload that drops a point deletes its config (an empty retained
  message) and leaves the others."""

import os
import signal
import subprocess
import time

import hadiscovery
import sbtest
from sbtest import check

PREFIX = "ha"
GID = "pi-01"


def config(broker, modbus, sim_sensors):
    return f"""\
gateway:
  id: {GID}
mqtt:
  uri: tcp://127.0.0.1:{broker}
homeassistant:
  enabled: true
  prefix: {PREFIX}
adapters:
  - name: climate
    type: simulated
    sensors: [{", ".join(sim_sensors)}]
    interval: 200ms
    unit: percent
    homeassistant:
      manufacturer: ACME
      model: Probe 2
      points:
        - {{name: soil, device_class: moisture}}
  - name: boiler
    type: simulated
    sensors: [supply.temp]
    interval: 300ms
    unit: celsius
  - name: door
    type: simulated
    sensors: [open]
    interval: 250ms
    sequence: [true, false]
  - name: plc
    type: modbus_tcp
    host: 127.0.0.1
    port: {modbus}
    interval: 2s
    points:
      - {{name: setpoint, address: 100, type: float32, unit: celsius, writable: true}}
      - {{name: pump, table: coil, address: 3, writable: true}}
      - {{name: mains, address: 0, unit: V}}
      - {{name: alarm, table: discrete, address: 1}}
  - name: hidden
    type: simulated
    sensors: [x]
    interval: 1s
    homeassistant: {{enabled: false}}
"""


def retained_under(port, prefix, wait=2):
    """Every retained message under prefix/#: {topic: payload}."""
    r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", f"{prefix}/#",
                        "--retained-only", "-v", "-W", str(wait)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                       timeout=wait + 10)
    out = {}
    for line in r.stdout.splitlines():
        topic, _, payload = line.partition(" ")
        out[topic] = payload
    return out


def expected_points(sim_sensors):
    # (adapter, sensor): (component, unit, device_class, state_class, expire_after)
    e = {("boiler", "supply.temp"): ("sensor", "°C", "temperature", "measurement", 1),
         ("door", "open"): ("binary_sensor", None, None, None, 1),
         ("plc", "setpoint"): ("number", "°C", "temperature", None, None),
         ("plc", "pump"): ("switch", None, None, None, None),
         ("plc", "mains"): ("sensor", "V", "voltage", "measurement", 6),
         ("plc", "alarm"): ("binary_sensor", None, None, None, 6)}
    for s in sim_sensors:
        if s == "soil":
            e[("climate", s)] = ("sensor", "%", "moisture", None, 1)
        elif "humid" in s:
            e[("climate", s)] = ("sensor", "%", "humidity", "measurement", 1)
        else:
            e[("climate", s)] = ("sensor", "%", None, None, 1)
    return e


def checker_self_test():
    """The checker refuses what Home Assistant refuses."""
    good = ('{"unique_id":"a","state_topic":"s/t","value_template":"{{ value_json.value }}",'
            '"device":{"identifiers":["d"]},"availability":[{"topic":"x"}],'
            '"availability_mode":"all"}')
    hadiscovery.check_config("ha/sensor/n/o/config", good, "ha")
    bad = [("ha/sensor/n/o/config", good.replace('"state_topic":"s/t",', "")),
           ("ha/sensor/n/o.x/config", good),
           ("ha/light/n/o/config", good),
           ("ha/sensor/n/o/config", good.replace('"identifiers":["d"]', '"name":"d"')),
           ("ha/sensor/n/o/config", good.replace('[{"topic":"x"}]', '"x"')),
           ("ha/sensor/n/o/config", good.replace('"unique_id":"a"', '"unique_id":"a b"')),
           ("ha/number/n/o/config", good),
           ("ha/sensor/n/o/config", good[:-1] + ',"device_class":"temperature",'
                                                 '"unit_of_measurement":"V"}')]
    for topic, payload in bad:
        try:
            hadiscovery.check_config(topic, payload, "ha")
        except sbtest.TestFailure:
            continue
        raise sbtest.TestFailure(f"the checker accepts {topic} {payload}")
    try:
        hadiscovery.check_all({"ha/sensor/n/a/config": good, "ha/sensor/n/b/config": good}, "ha")
    except sbtest.TestFailure:
        return
    raise sbtest.TestFailure("the checker accepts a unique_id used twice")


def main():
    checker_self_test()
    sims = ["air_humidity", "soil", "lux"]
    with sbtest.Stack() as st:
        port = st.broker()
        _, mport = st.modbus_server()
        live = st.subscriber(port, topic=f"{PREFIX}/#")
        sub = st.subscriber(port)
        gw = st.gateway(config(port, mport, sims))
        want = expected_points(sims)
        check(live.wait_for(lambda ls: len(ls) >= len(want), 15), "the configs did not arrive")
        configs = retained_under(port, PREFIX)
        checked = hadiscovery.check_all(configs, PREFIX)
        check(len(checked) == len(want), f"{len(checked)} configs for {len(want)} points: "
                                          f"{sorted(checked)}")
        by_point = {}
        for topic, (component, c) in checked.items():
            adapter = c["device"]["name"]
            by_point[(adapter, c["name"])] = (topic, component, c)
        check(set(by_point) == set(want), f"points {sorted(by_point)}, expected {sorted(want)}")
        for key, (component, unit, dc, sc, expire) in want.items():
            topic, comp, c = by_point[key]
            adapter, sensor = key
            check(comp == component, f"{key}: component {comp}, expected {component}")
            check(c.get("unit_of_measurement") == unit and c.get("device_class") == dc
                  and c.get("state_class") == sc, f"{key}: unit/classes of {c}")
            check(c.get("expire_after") == expire, f"{key}: expire_after {c.get('expire_after')}")
            check(c["state_topic"] == f"sensorbridge/{GID}/{adapter}/{sensor}", f"{key}: {c}")
            check(c["availability"] == [{"topic": f"sensorbridge/{GID}/status"},
                                        {"topic": f"sensorbridge/{GID}/{adapter}/status"}]
                  and c["availability_mode"] == "all", f"{key}: availability {c}")
            d = c["device"]
            check(d["identifiers"] == [f"sensorbridge_{GID}_{adapter}"]
                  and d["via_device"] == f"sensorbridge_{GID}", f"{key}: device {d}")
            check(c["origin"]["name"] == "sensorbridge" and c["origin"]["sw_version"],
                  f"{key}: origin {c['origin']}")
            check(topic.startswith(f"{PREFIX}/{component}/{GID}/"), f"{key}: topic {topic}")
            if component in ("number", "switch"):
                check(c["command_topic"] == c["state_topic"] + "/set", f"{key}: {c}")
        check(by_point[("climate", "soil")][2]["device"]["manufacturer"] == "ACME"
              and by_point[("climate", "soil")][2]["device"]["model"] == "Probe 2", "device info")
        check(by_point[("boiler", "supply.temp")][2]["object_id"].startswith("boiler_supply_temp_"),
              "a name outside [a-zA-Z0-9_-] gets a hash suffix")

        # Availability: retained "online" on the gateway's and every adapter's status.
        for adapter in ("climate", "boiler", "door", "plc"):
            check(sbtest.retained(port, f"sensorbridge/{GID}/{adapter}/status") == "online",
                  f"{adapter}'s status is not a retained online")
        check(sbtest.retained(port, f"sensorbridge/{GID}/status") == "online", "gateway status")

        # States: the value_template extracts every point's value.
        def states_seen(lines):
            topics = {t for t, _ in lines}
            return all(c["state_topic"] in topics for _, _, c in by_point.values())
        check(sub.wait_for(states_seen, 10), "a state_topic received no reading")
        for key, (topic, component, c) in by_point.items():
            payloads = [p for t, p in sub.lines if t == c["state_topic"]]
            for p in payloads:
                state = hadiscovery.render(c["value_template"], p)
                if component == "binary_sensor":
                    check(state in (c["payload_on"], c["payload_off"]), f"{key}: state {state}")
                elif component == "switch":
                    check(state in (c["state_on"], c["state_off"]), f"{key}: state {state}")
                else:
                    check(float(state) == float(state), f"{key}: state {state} is not a number")
        door = {hadiscovery.render("{{ value_json.value }}", p)
                for t, p in sub.lines if t == f"sensorbridge/{GID}/door/open"}
        check(door == {"True", "False"}, f"door states {door}")

        # Home Assistant's birth message: every config again; "offline" does nothing.
        n0 = len(live.lines)
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t",
                        f"{PREFIX}/status", "-m", "offline"], check=True)
        time.sleep(1)
        check(len([t for t, _ in live.lines[n0:] if t.endswith("/config")]) == 0,
              "offline re-sent configs")
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t",
                        f"{PREFIX}/status", "-m", "online"], check=True)
        check(live.wait_for(lambda ls: len({t for t, _ in ls[n0:] if t.endswith("/config")})
                            == len(want), 10), "online did not send every config again")
        again = {t: p for t, p in live.lines[n0:] if t.endswith("/config")}
        check(again == configs, "the configs sent again differ")

        # A reload that drops a point deletes its config and keeps the others.
        dropped = by_point[("climate", "lux")][0]
        n1 = len(live.lines)
        with open(st.path("sensorbridge.yaml"), "w") as f:
            f.write(config(port, mport, ["air_humidity", "soil"]))
        gw.proc.send_signal(signal.SIGHUP)
        # mosquitto_sub -v prints an empty payload as "(null)"; the retained
        # store below shows that it was empty.
        check(live.wait_for(lambda ls: (dropped, "(null)") in ls[n1:], 10),
              f"no empty retained message on {dropped}")
        after = retained_under(port, PREFIX)
        check(dropped not in after, f"{dropped} still retained")
        check(set(after) == set(configs) - {dropped}, f"configs after the reload {sorted(after)}")
        hadiscovery.check_all(after, PREFIX)
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "gateway exit status")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sbtest.run(main)
