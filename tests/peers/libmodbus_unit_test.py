#!/usr/bin/python3
"""libmodbus's own unit-test server, built for an RTU pty.

Debian's libmodbus-dev ships the server that libmodbus's unit tests run
against (/usr/share/doc/libmodbus-dev/examples/unit-test-server.c and
unit-test.h). Its RTU mode opens a device path compiled in
("/dev/ttyUSB0", 115200, 'N', 8, 1) and answers unit 17 only. build()
copies both files to a directory, puts the pty's path in place of
/dev/ttyUSB0 and compiles it with gcc and pkg-config's flags for libmodbus;
the caller runs `<binary> rtu` (it debug-prints every frame on stdout, with
stdio buffering) and stops it with SIGTERM. It has no ready line: opened()
waits until the process holds the pty open.

What it serves, from unit-test.h (check_header() fails if a new libmodbus
changes it); addresses are 0-based protocol addresses:

- unit SERVER_ID = 17; other units get no answer (INVALID_SERVER_ID 18);
- discrete inputs 0x1C4 (452) .. 473: the bits of bytes AC DB 35, least
  significant first (DISCRETE below); any other address: exception 2;
- input register 0x108 (264): 0x000A = 10; any other: exception 2;
- holding registers 0x160 (352) .. 0x17F (383): 0 (only written by
  libmodbus's client tests); coils 0x130 (304) .. 0x154 (340): 0;
- special holding reads (function 3), by start address or quantity:
  0x170 (368): exception 6 (server busy); 0x171 (369): a reply from unit
  18 (`12 03 02 00 00` + CRC); 0x172 (370): the answer 0.5 s late; any
  read of quantity 2 (UT_REGISTERS_NB_SPECIAL): answered with one register
  only (byte count 2), a malformed reply for a two-register value.

usage: libmodbus_unit_test.py DEVICE [--out DIR]: builds, prints the binary's
path, and with --run runs it in RTU mode (exec).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

EXAMPLES = "/usr/share/doc/libmodbus-dev/examples"
DEVICE_CALL = 'modbus_new_rtu("/dev/ttyUSB0", 115200, \'N\', 8, 1)'

SERVER_ID = 17
INVALID_SERVER_ID = 18
DI_ADDRESS, DI_BYTES, DI_COUNT = 0x1C4, (0xAC, 0xDB, 0x35), 0x16
DISCRETE = {DI_ADDRESS + i: bool(DI_BYTES[i // 8] >> (i % 8) & 1) for i in range(DI_COUNT)}
INPUT_REGISTER, INPUT_VALUE = 0x108, 0x000A
HOLDING_ADDRESS, HOLDING_COUNT = 0x160, 0x20
COIL_ADDRESS, COIL_COUNT = 0x130, 0x25
ADDRESS_BUSY = 0x170  # exception 6
ADDRESS_WRONG_UNIT = 0x171  # reply from unit 18
ADDRESS_SLEEP = 0x172  # reply 0.5 s late
QUANTITY_SHORT = 2  # answered with one register

# The constants above as unit-test.h spells them.
HEADER = {
    "SERVER_ID": "17", "INVALID_SERVER_ID": "18",
    "UT_BITS_ADDRESS": "0x130", "UT_BITS_NB": "0x25",
    "UT_INPUT_BITS_ADDRESS": "0x1C4", "UT_INPUT_BITS_NB": "0x16",
    "UT_INPUT_BITS_TAB": "0xAC, 0xDB, 0x35",
    "UT_REGISTERS_ADDRESS": "0x160", "UT_REGISTERS_NB_MAX": "0x20",
    "UT_REGISTERS_ADDRESS_SPECIAL": "0x170",
    "UT_REGISTERS_ADDRESS_INVALID_TID_OR_SLAVE": "0x171",
    "UT_REGISTERS_ADDRESS_SLEEP_500_MS": "0x172", "UT_REGISTERS_NB_SPECIAL": "0x2",
    "UT_INPUT_REGISTERS_ADDRESS": "0x108", "UT_INPUT_REGISTERS_NB": "0x1",
    "UT_INPUT_REGISTERS_TAB": "0x000A",
}


def _read(name):
    path = os.path.join(EXAMPLES, name)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        import gzip
        with gzip.open(path + ".gz", "rt") as f:
            return f.read()
    with open(path) as f:
        return f.read()


def available():
    return (shutil.which("gcc") is not None and shutil.which("pkg-config") is not None
            and any(os.path.exists(os.path.join(EXAMPLES, "unit-test-server.c" + z))
                    for z in ("", ".gz")))


def check_header(text=None):
    """Raises ValueError unless unit-test.h defines what this module expects."""
    text = text if text is not None else _read("unit-test.h")
    for name, want in HEADER.items():
        m = (re.search(r"#define\s+" + name + r"\s+(\S+)", text) or
             re.search(r"\b" + name + r"(?:\[\])?\s*=\s*\{?\s*([^;}]+?)\s*\}?;", text))
        if m is None or m.group(1).strip() != want:
            raise ValueError(f"unit-test.h: {name} is {m and m.group(1)!r}, expected {want!r}")


def build(device, out_dir, baud=115200):
    """Compiles the server for `device` into out_dir; returns the binary."""
    server, header = _read("unit-test-server.c"), _read("unit-test.h")
    check_header(header)
    if server.count(DEVICE_CALL) != 1:
        raise ValueError(f"unit-test-server.c has no single {DEVICE_CALL}")
    literal = '"' + device.replace("\\", "\\\\").replace('"', '\\"') + '"'
    server = server.replace(DEVICE_CALL, f"modbus_new_rtu({literal}, {int(baud)}, 'N', 8, 1)")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "unit-test-server.c"), "w") as f:
        f.write(server)
    with open(os.path.join(out_dir, "unit-test.h"), "w") as f:
        f.write(header)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmodbus"],
                           stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    binary = os.path.join(out_dir, "unit-test-server")
    r = subprocess.run(["gcc", "-O1", "-w", "-o", binary,
                        os.path.join(out_dir, "unit-test-server.c"), *flags],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"building unit-test-server failed:\n{r.stdout}")
    return binary


def opened(pid, device, timeout=10.0):
    """Waits until process pid holds `device` (or what its symlink names)
    open; False if it exited or the time ran out."""
    target = os.path.realpath(device)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return True
                except OSError:
                    pass
        except OSError:
            return False  # gone
        time.sleep(0.02)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("device")
    ap.add_argument("--out", default=".")
    ap.add_argument("--run", action="store_true", help="exec the server in RTU mode")
    a = ap.parse_args()
    binary = build(a.device, a.out)
    print(binary, flush=True)
    if a.run:
        os.execv(binary, [binary, "rtu"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
