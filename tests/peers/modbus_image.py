"""The register image of tests/peers/modbus_server.c, for the Python peers.

The libmodbus peer's tables (HOLDING, INPUT, COILS, DISCRETE in
modbus_server.c, decoded in tests/peers/README.md) are the one source of
truth for the values test_modbus.py and test_modbus_rtu.py assert. Rather
than keep a second copy that could drift, this module reads them out of the C
file and fails loudly if their shape ever changes.

UNIT_REGISTER: a holding register outside that image which the multi-unit
peers set to each unit's own id, so a test can tell which unit answered.
Standard library only.
"""

import os
import re

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "modbus_server.c")
TABLE_SIZE = 65536
UNIT_REGISTER = 1000  # holding register: the unit id (0 in modbus_server.c's image)


def _array(text, name):
    m = re.search(r"static const \w+ " + name + r"\[\] = \{(.*?)\};", text, re.S)
    if m is None:
        raise ValueError(f"{SOURCE}: no array {name}")
    return m.group(1)


def _registers(text, name):
    pairs = re.findall(r"\{\s*(\d+)\s*,\s*0x([0-9A-Fa-f]{1,4})\s*\}", _array(text, name))
    return {int(a): int(v, 16) for a, v in pairs}


def _bits(text, name):
    return [int(b) for b in re.findall(r"\d+", _array(text, name))]


def load():
    """{"holding": {addr: value}, "input": {...}, "coils": [0/1 from address 0],
    "discrete": [...]}: the sparse image of modbus_server.c."""
    with open(SOURCE) as f:
        text = f.read()
    img = {"holding": _registers(text, "HOLDING"), "input": _registers(text, "INPUT"),
           "coils": _bits(text, "COILS"), "discrete": _bits(text, "DISCRETE")}
    # A change of format in the C file must not silently empty the image.
    if (img["holding"].get(0) != 0x1234 or img["holding"].get(100) != 0x41AC
            or img["input"].get(7) != 0x03F5 or img["coils"][:4] != [1, 0, 1, 1]
            or len(img["discrete"]) != 8 or UNIT_REGISTER in img["holding"]):
        raise ValueError(f"{SOURCE}: the register image is not what modbus_image.py expects")
    return img


def tables(unit=None):
    """Full 65,536-entry lists (holding, input, coils, discrete) of the image;
    with `unit`, holding register UNIT_REGISTER holds it."""
    img = load()
    hr, ir = [0] * TABLE_SIZE, [0] * TABLE_SIZE
    for a, v in img["holding"].items():
        hr[a] = v
    for a, v in img["input"].items():
        ir[a] = v
    co = img["coils"] + [0] * (TABLE_SIZE - len(img["coils"]))
    di = img["discrete"] + [0] * (TABLE_SIZE - len(img["discrete"]))
    if unit is not None:
        hr[UNIT_REGISTER] = unit
    return hr, ir, co, di
