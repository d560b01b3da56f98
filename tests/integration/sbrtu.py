"""Modbus RTU peers for the integration tests, started under an sbtest.Stack
so that they are stopped whatever happens: a pty bus (tests/peers/rtu_bus.py,
with or without its fault proxy), the pymodbus RTU server, libmodbus's
unit-test server built for the pty, the single-connection converter, and a
raw RTU master that checks replies byte for byte.

Standard library plus what the peers need (socat, python3-pymodbus, gcc and
libmodbus-dev for the unit-test server)."""

import os
import select
import shutil
import subprocess
import sys
import termios
import time
import tty

import sbtest
from sbtest import check

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers")
sys.path.insert(0, PEERS)

import libmodbus_unit_test  # noqa: E402
import rtu_bus  # noqa: E402
from rtu_bus import GARBAGE, crc_ok, with_crc  # noqa: E402,F401

PYTHON = "/usr/bin/python3"  # Debian's, with python3-pymodbus and python3-serial


def have_socat():
    return shutil.which("socat") is not None or os.path.exists(rtu_bus.SOCAT)


def bus(st, **kwargs):
    """A started rtu_bus.Bus in the stack's directory, closed with the stack."""
    name = kwargs.pop("name", "rtu")
    b = rtu_bus.Bus(dir=st.dir, name=name, **kwargs)
    b.start()
    st.closers.append(b.close)
    return b


def _started(st, proc):
    """Registers proc with the stack, stopped among the closers: before a bus
    made earlier goes, so a server does not report its pty lost at exit."""
    st.procs.append(proc)
    st.closers.append(lambda: sbtest.stop_process(proc))


def _ready(proc, prefix, what):
    line = proc.stdout.readline()
    check(line.startswith(prefix), f"{what} did not start: {line!r} (exit {proc.poll()})")
    return line.split(None, 1)[1].strip()


def rtu_server(st, device, units=(1, 2, 3), image="values", baud=9600, extra=()):
    """pymodbus_server.py on the serial pty `device`, serving `units`;
    returns the process once it has the port open."""
    proc = subprocess.Popen(
        [PYTHON, os.path.join(PEERS, "pymodbus_server.py"), "--serial", device,
         "--baud", str(baud), "--units", ",".join(map(str, units)), "--image", image, *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    _started(st, proc)
    _ready(proc, "READY ", "pymodbus RTU server")
    return proc


def unit_test_server(st, device):
    """libmodbus's unit-test-server, built for `device` and run in RTU mode
    (unit 17); its debug output goes to a file in the stack's directory."""
    binary = libmodbus_unit_test.build(device, st.path("unit-test-server"))
    with open(st.path("unit-test-server.log"), "a") as log:
        proc = subprocess.Popen([binary, "rtu"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    _started(st, proc)
    check(libmodbus_unit_test.opened(proc.pid, device),
          f"unit-test-server did not open {device} (exit {proc.poll()})")
    return proc


class Converter:
    """converter_server.py: .proc, .port, .log (its event file)."""

    def __init__(self, st, framing, units=(1, 2, 3)):
        self.log = st.path(f"converter-{framing}-{len(st.procs)}.log")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(PEERS, "converter_server.py"), "--framing", framing,
             "--units", ",".join(map(str, units)), "--log", self.log],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        st.procs.append(self.proc)
        self.port = int(_ready(self.proc, "PORT ", "converter_server"))

    def events(self, kind=None):
        """The log's lines, split; only `kind` (accept, refuse, close) if given."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            lines = [l.split() for l in f if l.strip()]
        return [l for l in lines if kind is None or l[0] == kind]


class RawMaster:
    """The gateway's end of a bus opened by hand (raw, 8N1): sends one request
    frame and returns every byte that came back, so a test sees exactly what
    a fault did to a response."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        tty.setraw(self.fd)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def transact(self, request, timeout=1.0, quiet=0.15):
        """Writes request + CRC; returns (bytes received, seconds from the
        write to the last byte). Collects until `quiet` s pass without a byte
        after the first, or `timeout` s without any."""
        termios.tcflush(self.fd, termios.TCIFLUSH)
        t0 = time.monotonic()
        os.write(self.fd, with_crc(request))
        got, last = b"", t0
        while True:
            wait = (last + quiet if got else t0 + timeout) - time.monotonic()
            if wait <= 0 or not select.select([self.fd], [], [], wait)[0]:
                return got, last - t0
            data = os.read(self.fd, 4096)
            check(data, "the bus went away")
            got, last = got + data, time.monotonic()


def read_request(unit, address, count=1, fc=3):
    return bytes([unit, fc, address >> 8, address & 0xFF, count >> 8, count & 0xFF])


def sensorbridge_knows(kind):
    """False if the gateway under test rejects adapter type `kind` as unknown
    (the adapter has not landed in this build)."""
    with sbtest.Stack() as st:
        cfg = st.path("probe.yaml")
        with open(cfg, "w") as f:
            f.write("gateway:\n  id: probe\nmqtt:\n  uri: tcp://127.0.0.1:1\nadapters:\n"
                    f"  - name: probe\n    type: {kind}\n")
        r = subprocess.run([sbtest.SB_BIN, "--check-config", cfg], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return f"unknown type '{kind}'" not in r.stdout
