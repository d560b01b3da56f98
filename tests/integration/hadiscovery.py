"""A checker of Home Assistant MQTT discovery messages, encoding the rules of
Home Assistant's MQTT integration documentation (discovery topic, required
keys per component, the id character set, availability, device and origin
shapes, device and state classes with their units) for the components
sensorbridge publishes: sensor, binary_sensor, number and switch.

check_config(topic, payload, prefix) returns the parsed config or raises
sbtest.TestFailure naming the rule; check_all(configs) adds the rules that
span configs (unique_id unique, one device name per identifier)."""

import json
import re

from sbtest import TestFailure

ID = re.compile(r"^[a-zA-Z0-9_-]+$")

REQUIRED = {
    "sensor": ["state_topic"],
    "binary_sensor": ["state_topic"],
    "number": ["command_topic"],
    "switch": ["command_topic"],
}

COMMON = {"name", "unique_id", "object_id", "default_entity_id", "state_topic",
          "value_template", "availability", "availability_mode", "availability_topic",
          "device", "origin", "device_class", "expire_after", "qos", "icon",
          "enabled_by_default", "entity_category", "json_attributes_topic", "platform"}
ALLOWED = {
    "sensor": COMMON | {"unit_of_measurement", "state_class", "force_update",
                        "suggested_display_precision", "last_reset_value_template"},
    "binary_sensor": COMMON | {"payload_on", "payload_off", "off_delay", "force_update"},
    "number": COMMON | {"command_topic", "command_template", "min", "max", "step", "mode",
                        "unit_of_measurement", "retain", "optimistic", "payload_reset"},
    "switch": COMMON | {"command_topic", "command_template", "payload_on", "payload_off",
                        "state_on", "state_off", "retain", "optimistic"},
}
# Not in number/switch/binary_sensor: these classes and expiry are sensor-like only.
NOT_FOR = {"number": {"expire_after"}, "switch": {"expire_after"}}

STATE_CLASSES = {"measurement", "total", "total_increasing", "measurement_angle"}
# A subset of sensor device classes with the units Home Assistant accepts.
SENSOR_CLASSES = {
    "temperature": {"°C", "°F", "K"},
    "humidity": {"%"},
    "moisture": {"%"},
    "power": {"W", "kW", "MW", "mW", "GW", "TW", "BTU/h"},
    "energy": {"Wh", "kWh", "MWh", "mWh", "GWh", "TWh", "MJ", "GJ", "kJ", "J", "cal", "kcal",
               "Mcal", "Gcal"},
    "voltage": {"V", "mV", "µV", "kV", "MV"},
    "current": {"A", "mA"},
    "pressure": {"Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi", "mmH2O",
                 "inH2O"},
}
BINARY_CLASSES = {"battery", "cold", "connectivity", "door", "gas", "heat", "light", "lock",
                  "moisture", "motion", "occupancy", "opening", "plug", "power", "presence",
                  "problem", "running", "safety", "smoke", "sound", "tamper", "update",
                  "vibration", "window", "garage_door", "battery_charging", "carbon_monoxide",
                  "moving"}
SWITCH_CLASSES = {"outlet", "switch"}
NUMBER_CLASSES = SENSOR_CLASSES


def fail(topic, what):
    raise TestFailure(f"discovery {topic}: {what}")


def _topic_ok(t):
    return isinstance(t, str) and t and not any(c in t for c in "+#\0")


def check_config(topic, payload, prefix):
    levels = topic.split("/")
    if levels[0] != prefix or levels[-1] != "config" or len(levels) not in (4, 5):
        fail(topic, f"not <{prefix}>/<component>/[<node_id>/]<object_id>/config")
    component = levels[1]
    if component not in REQUIRED:
        fail(topic, f"component {component!r} is not one of {sorted(REQUIRED)}")
    for level in levels[2:-1]:
        if not ID.match(level):
            fail(topic, f"node_id/object_id {level!r} has characters outside [a-zA-Z0-9_-]")
    try:
        c = json.loads(payload)
    except ValueError:
        fail(topic, f"payload is not JSON: {payload!r}")
    if not isinstance(c, dict):
        fail(topic, "payload is not a JSON object")
    for k in REQUIRED[component]:
        if not _topic_ok(c.get(k)):
            fail(topic, f"required key {k!r} missing or not a topic")
    unknown = set(c) - ALLOWED[component] | (set(c) & NOT_FOR.get(component, set()))
    if unknown:
        fail(topic, f"keys {sorted(unknown)} are not options of {component}")
    if "state_topic" in c and not _topic_ok(c["state_topic"]):
        fail(topic, "state_topic is not a topic")
    if not isinstance(c.get("unique_id"), str) or not ID.match(c["unique_id"]):
        fail(topic, f"unique_id {c.get('unique_id')!r} missing or outside [a-zA-Z0-9_-]")
    if "object_id" in c and not ID.match(str(c["object_id"])):
        fail(topic, f"object_id {c['object_id']!r} outside [a-zA-Z0-9_-]")
    if "value_template" in c and not (isinstance(c["value_template"], str)
                                      and "{{" in c["value_template"]):
        fail(topic, "value_template is not a template")
    _check_availability(topic, c)
    _check_device(topic, c)
    _check_classes(topic, component, c)
    origin = c.get("origin")
    if origin is not None and not (isinstance(origin, dict) and isinstance(origin.get("name"), str)
                                   and origin["name"]):
        fail(topic, "origin needs a name")
    if "expire_after" in c and not (isinstance(c["expire_after"], int) and c["expire_after"] > 0):
        fail(topic, f"expire_after {c['expire_after']!r} is not a positive integer")
    if component in ("binary_sensor", "switch"):
        for k in ("payload_on", "payload_off"):
            if k in c and not isinstance(c[k], str):
                fail(topic, f"{k} is not a string")
    if component == "number":
        for k in ("min", "max", "step"):
            if k in c and not isinstance(c[k], (int, float)):
                fail(topic, f"{k} is not a number")
        if c.get("min", 1) > c.get("max", 100) or c.get("step", 1) < 0.001:
            fail(topic, "number needs min <= max and step >= 0.001")
        if c.get("mode", "auto") not in ("auto", "box", "slider"):
            fail(topic, f"number mode {c['mode']!r}")
    return component, c


def _check_availability(topic, c):
    if "availability" in c and "availability_topic" in c:
        fail(topic, "availability and availability_topic are mutually exclusive")
    av = c.get("availability")
    if av is None:
        return
    if not isinstance(av, list) or not av:
        fail(topic, "availability is not a non-empty list")
    for a in av:
        if not isinstance(a, dict) or not _topic_ok(a.get("topic")):
            fail(topic, f"availability entry {a!r} has no topic")
        if set(a) - {"topic", "payload_available", "payload_not_available", "value_template"}:
            fail(topic, f"availability entry {a!r} has unknown keys")
    if c.get("availability_mode", "latest") not in ("all", "any", "latest"):
        fail(topic, f"availability_mode {c['availability_mode']!r}")


def _check_device(topic, c):
    d = c.get("device")
    if d is None:
        return
    if "unique_id" not in c:
        fail(topic, "a device needs the entity's unique_id")
    if not isinstance(d, dict):
        fail(topic, "device is not an object")
    ids = d.get("identifiers")
    conns = d.get("connections")
    if not ((isinstance(ids, list) and ids and all(isinstance(i, str) and i for i in ids))
            or (isinstance(ids, str) and ids) or (isinstance(conns, list) and conns)):
        fail(topic, "device needs identifiers or connections")
    allowed = {"identifiers", "connections", "name", "manufacturer", "model", "model_id",
               "hw_version", "sw_version", "serial_number", "suggested_area", "via_device",
               "configuration_url"}
    if set(d) - allowed:
        fail(topic, f"device keys {sorted(set(d) - allowed)}")
    if "via_device" in d and not isinstance(d["via_device"], str):
        fail(topic, "via_device is not an identifier")


def _check_classes(topic, component, c):
    dc, sc, unit = c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement")
    if sc is not None:
        if component != "sensor" or sc not in STATE_CLASSES:
            fail(topic, f"state_class {sc!r} on a {component}")
    if dc is None:
        return
    classes = {"sensor": SENSOR_CLASSES, "number": NUMBER_CLASSES}.get(component)
    if component == "binary_sensor":
        if dc not in BINARY_CLASSES:
            fail(topic, f"device_class {dc!r} is not a binary_sensor class")
        return
    if component == "switch":
        if dc not in SWITCH_CLASSES:
            fail(topic, f"device_class {dc!r} is not a switch class")
        return
    if dc not in classes:
        fail(topic, f"device_class {dc!r} is not a {component} class this checker knows")
    if unit not in classes[dc]:
        fail(topic, f"unit {unit!r} is not a unit of device_class {dc}")
    if dc == "energy" and sc not in (None, "total", "total_increasing"):
        fail(topic, f"energy with state_class {sc!r}")


def check_all(configs, prefix):
    """configs: {topic: payload}; returns {topic: (component, config)}."""
    out, uids, devices = {}, {}, {}
    for topic, payload in configs.items():
        component, c = check_config(topic, payload, prefix)
        uid = c["unique_id"]
        if uid in uids:
            fail(topic, f"unique_id {uid} also used by {uids[uid]}")
        uids[uid] = topic
        d = c.get("device")
        if d:
            key = tuple(d["identifiers"])
            if devices.setdefault(key, d.get("name")) != d.get("name"):
                fail(topic, f"device {key} named differently in two configs")
        out[topic] = (component, c)
    return out


def render(template, payload):
    """What Home Assistant's template `{{ value_json.value }}` renders for a
    payload (Jinja prints Python values: True, 21.5, None)."""
    if template.replace(" ", "") != "{{value_json.value}}":
        raise TestFailure(f"value_template {template!r} is not one this checker renders")
    return str(json.loads(payload)["value"])
