#!/usr/bin/python3
"""A Modbus RTU bus without hardware: pseudo-terminal pairs made by socat,
and an optional fault proxy between the gateway and the devices.

Without the proxy one socat joins two ptys: the gateway opens one symlink
(`gateway_port`), the RTU server the other (`device_port`). With it there
are two pairs, gateway <-> proxy and proxy <-> server, and a thread of the
calling process forwards bytes both ways:

- at a given baud rate (`baud=`): every character takes
  (1 start + data bits + parity bit + stop bits) / baud seconds on the wire,
  so a 9600-baud bus is as slow as a real one;
- with faults on demand in the server -> gateway direction, on the next
  response (optionally the next one of a given unit): one bit flipped, the
  frame truncated, its unit id rewritten (CRC recomputed), garbage bytes
  before it, or the response dropped; and every response of a unit dropped
  (a silent device) until told otherwise.

Responses are recognised by parsing RTU frames (unit, function, byte count,
CRC-16/MODBUS); a function the parser does not know is forwarded untouched.
Requests are forwarded as they come and only counted.

`unplug()` removes the gateway's pty (socat is stopped, the symlink goes) and
`replug()` makes a new one under the same name: with the proxy the device
side stays and the server keeps running; without it the server's pty goes
too and the caller restarts the server.

    from rtu_bus import Bus
    with Bus(baud=9600) as bus:             # a proxy, paced at 9600 8N1
        ... gateway on bus.gateway_port, server on bus.device_port ...
        f = bus.proxy.flip_bit(unit=2)      # the next response of unit 2
        f.done.wait(5)

NOTE: a pty refuses parity even/odd and 7 data bits (tcsetattr EINVAL);
peers on ptys use 8N1 (or 8N2). Pacing still counts the bits given.

Standard library and socat only (Debian's /usr/bin/python3). As a program,
see `rtu_bus.py --help`: it prints the two paths and takes fault commands on
stdin or a FIFO.
"""

import argparse
import collections
import errno
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty

SOCAT = shutil.which("socat") or "/usr/bin/socat"
# socat gets SIGTERM if the thread that started it dies, even by SIGKILL, so
# a killed test leaves no socat behind (util-linux; plain socat without it).
SETPRIV = shutil.which("setpriv")
GARBAGE = b"\xaa\x55\xf0\x0f"  # no unit id a test uses, no valid frame start
FLUSH_AFTER = 0.05  # s: a partial response older than this goes out as it is


def crc16(data):
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); on the wire the
    low byte comes first: frame + crc16(frame).to_bytes(2, "little")."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(data):
    return bytes(data) + crc16(data).to_bytes(2, "little")


def crc_ok(frame):
    return len(frame) >= 4 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


def response_length(buf):
    """Length of the RTU response frame at the start of buf: None if more
    bytes are needed to tell, -1 for a function this parser does not know."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc & 0x80:
        return 5  # unit, fc | 0x80, exception code, CRC
    if fc in (1, 2, 3, 4, 0x0C, 0x11, 0x14, 0x15, 0x17):
        return 5 + buf[2] if len(buf) >= 3 else None  # unit, fc, byte count, data, CRC
    if fc in (5, 6, 8, 15, 16):
        return 8
    if fc == 7:
        return 5
    if fc == 0x16:
        return 10
    return -1


def request_length(buf):
    """Length of the RTU request frame at the start of buf (as response_length)."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc in (1, 2, 3, 4, 5, 6, 8):
        return 8
    if fc in (15, 16):
        return 9 + buf[6] if len(buf) >= 7 else None
    if fc == 0x17:
        return 13 + buf[10] if len(buf) >= 11 else None
    if fc in (7, 0x0B, 0x0C, 0x11):
        return 4
    if fc == 0x16:
        return 10
    return -1


def char_time(baud, data_bits=8, parity="N", stop_bits=1):
    """Seconds one character takes on the wire."""
    return (1 + data_bits + (0 if parity.upper() == "N" else 1) + stop_bits) / baud


class PtyPair:
    """One socat joining two new ptys, symlinked at paths a and b."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.proc = None
        self.log = os.path.join(os.path.dirname(a), f".socat-{os.path.basename(a)}.log")

    def start(self, timeout=10.0):
        for p in (self.a, self.b):  # left behind by a socat that was killed
            if os.path.lexists(p):
                os.unlink(p)
        with open(self.log, "w") as log:
            guard = [SETPRIV, "--pdeathsig", "TERM", "--"] if SETPRIV else []
            self.proc = subprocess.Popen(
                [*guard, SOCAT, "-d", "-d", f"pty,raw,echo=0,link={self.a}",
                 f"pty,raw,echo=0,link={self.b}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with open(self.log) as f:
                if "starting data transfer loop" in f.read():
                    return self
            time.sleep(0.01)
        self.stop()
        with open(self.log) as f:
            raise RuntimeError(f"socat did not make {self.a} and {self.b}: {f.read()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        for p in (self.a, self.b):  # socat removes them, unless it was killed
            if os.path.lexists(p):
                os.unlink(p)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None


class Fault:
    """A one-shot fault for the next response (of `unit`, or of any unit if
    None). Once applied: done is set, `frame` is the response as the server
    sent it, `sent` what went to the gateway instead, `at` the wall-clock
    time (time.time()) it was applied."""

    def __init__(self, kind, unit, **params):
        self.kind, self.unit, self.params = kind, unit, params
        self.done = threading.Event()
        self.frame = self.sent = self.at = None

    def __repr__(self):
        state = f"applied to {self.frame.hex(' ')}" if self.done.is_set() else "pending"
        return f"Fault({self.kind}, unit={self.unit}, {self.params}, {state})"

    def apply(self, frame):
        """[(bytes, gap before them in s)] to send instead of frame."""
        p, f = self.params, bytearray(frame)
        if self.kind == "flip":
            f[p["index"]] ^= 1 << p["bit"]
            out = [(bytes(f), 0.0)]
        elif self.kind == "truncate":
            keep = p["keep"] if p["keep"] is not None else max(1, len(f) // 2)
            out = [(bytes(f[:keep]), 0.0)]
        elif self.kind == "unit":
            f[0] = p["to"]
            out = [(with_crc(f[:-2]), 0.0)]
        elif self.kind == "garbage":
            out = [(p["data"], 0.0), (bytes(f), p["gap"])]
        elif self.kind == "drop":
            out = []
        else:
            raise ValueError(f"unknown fault {self.kind}")
        self.frame, self.sent, self.at = bytes(frame), b"".join(d for d, _ in out), time.time()
        self.done.set()
        return out


class _Line:
    """One direction of the wire: queued chunks written no faster than the
    baud rate allows. Chunk = [bytes, gap, pushed_at]; the first byte of a
    chunk starts when it was pushed, but not before the line has been idle
    for `gap` s. Byte k of a chunk that starts at s has left the wire (and is
    written to the pty) at s + (k + 1) * char. Proxy thread only."""

    def __init__(self, fd, char):
        self.fd, self.char = fd, char
        self.chunks = collections.deque()
        self.start = None  # wire time the head chunk starts
        self.sent = 0  # bytes of the head chunk written
        self.free_at = 0.0  # wire time the last byte written left the wire
        self.blocked = False  # the pty would not take more

    def push(self, data, gap, now):
        if data:
            self.chunks.append((bytes(data), gap, now))

    def _head_start(self):
        if self.start is None:
            _, gap, pushed = self.chunks[0]
            self.start = max(pushed, self.free_at + gap)
        return self.start

    def pump(self, now):
        self.blocked = False
        while self.chunks:
            data = self.chunks[0][0]
            s = self._head_start()
            if now < s:
                return
            due = len(data) if not self.char else min(len(data), int((now - s) / self.char))
            if due > self.sent:
                try:
                    self.sent += os.write(self.fd, data[self.sent:due])
                except BlockingIOError:
                    self.blocked = True
                    return
                if self.sent < due:
                    self.blocked = True
                    return
            if self.sent < len(data):
                return
            self.free_at = s + len(data) * self.char if self.char else now
            self.chunks.popleft()
            self.start, self.sent = None, 0

    def next_due(self):
        """Monotonic time the next byte is due, or None if nothing waits."""
        if not self.chunks or self.blocked:
            return None
        return self._head_start() + (self.sent + 1) * self.char


class FaultProxy:
    """Forwards bytes between two pty paths in a thread (see the module
    docstring). The fault methods may be called from any thread; counters:
    requests[unit], responses[unit] (as the server sent them), dropped[unit],
    bad_crc_from_device, applied (the Faults, in order)."""

    def __init__(self, gw_path, dev_path, char=0.0, flush_after=FLUSH_AFTER):
        self.gw_path, self.dev_path, self.char = gw_path, dev_path, char
        self.flush_after = flush_after
        self.lock = threading.Lock()
        self.pending = []
        self.silenced = set()
        self.requests = collections.Counter()
        self.request_times = []  # (time.monotonic() when complete, unit)
        self.responses = collections.Counter()
        self.dropped = collections.Counter()
        self.bad_crc_from_device = 0
        self.applied = []
        self.error = None
        self.thread = None

    # Fault API ---------------------------------------------------------
    def _add(self, fault):
        with self.lock:
            self.pending.append(fault)
        return fault

    def flip_bit(self, unit=None, index=-3, bit=0):
        """Flips `bit` of byte `index` of the next response (default: the last
        byte before the CRC, so the length stays and only the CRC fails)."""
        return self._add(Fault("flip", unit, index=index, bit=bit))

    def truncate(self, unit=None, keep=None):
        """Sends only the first `keep` bytes (default half) of the next response."""
        return self._add(Fault("truncate", unit, keep=keep))

    def rewrite_unit(self, to, unit=None):
        """Rewrites the unit id of the next response to `to`, with a valid CRC."""
        return self._add(Fault("unit", unit, to=to))

    def garbage(self, unit=None, data=GARBAGE, gap=0.0):
        """Sends `data` just before the next response; `gap` s of idle line
        between them (0: glued to it, no silent interval to resync on)."""
        return self._add(Fault("garbage", unit, data=bytes(data), gap=gap))

    def drop(self, unit=None):
        """Drops the next response: that one request times out."""
        return self._add(Fault("drop", unit))

    def silence(self, unit):
        """Drops every response of `unit` until unsilence(unit)."""
        with self.lock:
            self.silenced.add(unit)

    def unsilence(self, unit):
        with self.lock:
            self.silenced.discard(unit)

    def clear(self):
        """Forgets the faults not applied yet and the silenced units."""
        with self.lock:
            self.pending.clear()
            self.silenced.clear()

    # Thread ------------------------------------------------------------
    def start(self):
        self.gw = self.dev = None
        try:
            self.gw = self._open(self.gw_path)
            self.dev = self._open(self.dev_path)
        except OSError:
            self._close()
            raise
        self.wake_r, self.wake_w = os.pipe()
        self.stopping = False
        self.up = _Line(self.dev, self.char)  # gateway -> server
        self.down = _Line(self.gw, self.char)  # server -> gateway
        self.rx_up, self.rx_down = bytearray(), bytearray()
        self.rx_up_at = self.rx_down_at = 0.0
        self.thread = threading.Thread(target=self._run, name="rtu-proxy", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.thread is None:
            return
        self.stopping = True
        os.write(self.wake_w, b"x")
        self.thread.join(10)
        self.thread = None
        self._close()
        for fd in (self.wake_r, self.wake_w):
            os.close(fd)

    @staticmethod
    def _open(path):
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        tty.setraw(fd)
        return fd

    def _close(self):
        for fd in (self.gw, self.dev):
            if fd is not None:
                os.close(fd)
        self.gw = self.dev = None

    def _run(self):
        try:
            while not self.stopping:
                now = time.monotonic()
                dues = [t for t in (self.up.next_due(), self.down.next_due()) if t is not None]
                for buf, at in ((self.rx_up, self.rx_up_at), (self.rx_down, self.rx_down_at)):
                    if buf:
                        dues.append(at + self.flush_after)
                timeout = max(0.0, min(dues) - now) if dues else None
                wl = [line.fd for line in (self.up, self.down) if line.blocked]
                r, w, _ = select.select([self.gw, self.dev, self.wake_r], wl, [], timeout)
                now = time.monotonic()
                if self.gw in r:
                    self._from_gateway(self._read(self.gw, "gateway"), now)
                if self.dev in r:
                    self._from_device(self._read(self.dev, "device"), now)
                self._flush_partial(now)
                self.up.pump(now)
                self.down.pump(now)
        except Exception as e:  # pylint: disable=broad-except
            self.error = e
            print(f"rtu_bus: proxy stopped: {e}", file=sys.stderr)

    @staticmethod
    def _read(fd, side):
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EIO:
                data = b""
            else:
                raise
        if not data:
            raise OSError(errno.EIO, f"the {side} side's pty went away")
        return data

    def _from_gateway(self, data, now):
        self.up.push(data, 0.0, now)
        self.rx_up += data
        self.rx_up_at = now
        while self.rx_up:
            n = request_length(self.rx_up)
            if n is None or n > len(self.rx_up):
                break
            if n < 0:
                self.rx_up.clear()
                break
            with self.lock:
                self.requests[self.rx_up[0]] += 1
                self.request_times.append((now, self.rx_up[0]))
            del self.rx_up[:n]

    def _from_device(self, data, now):
        self.rx_down += data
        self.rx_down_at = now
        while self.rx_down:
            n = response_length(self.rx_down)
            if n is None or n > len(self.rx_down):
                break
            if n < 0:  # a function we cannot frame: pass it on untouched
                self.down.push(self.rx_down, 0.0, now)
                self.rx_down.clear()
                break
            frame = bytes(self.rx_down[:n])
            del self.rx_down[:n]
            for data_out, gap in self._response(frame):
                self.down.push(data_out, gap, now)

    def _flush_partial(self, now):
        if self.rx_up and now - self.rx_up_at >= self.flush_after:
            self.rx_up.clear()  # already forwarded; only the count is lost
        if self.rx_down and now - self.rx_down_at >= self.flush_after:
            self.down.push(self.rx_down, 0.0, now)
            self.rx_down.clear()

    def _response(self, frame):
        unit = frame[0]
        with self.lock:
            self.responses[unit] += 1
            if not crc_ok(frame):
                self.bad_crc_from_device += 1
            if unit in self.silenced:
                self.dropped[unit] += 1
                return []
            for i, f in enumerate(self.pending):
                if f.unit is None or f.unit == unit:
                    del self.pending[i]
                    self.applied.append(f)
                    if f.kind == "drop":
                        self.dropped[unit] += 1
                    return f.apply(frame)
        return [(frame, 0.0)]

    def requests_at(self):
        """[(time.monotonic(), unit)] of every request, when its last byte
        reached the proxy."""
        with self.lock:
            return list(self.request_times)

    def counts(self):
        """A snapshot of the counters, for logs and assertions."""
        with self.lock:
            return {"requests": dict(self.requests), "responses": dict(self.responses),
                    "dropped": dict(self.dropped), "bad_crc_from_device": self.bad_crc_from_device,
                    "applied": len(self.applied), "pending": len(self.pending)}


class Bus:
    """A pty bus in a directory (a new temp dir, removed at close, unless
    `dir` is given). The proxy is inserted when proxy=True or baud is given.
    The symlinks are {dir}/{name}-gw (gateway_port) and {dir}/{name}-dev
    (device_port). A context manager: everything it started is stopped at
    exit, whatever happened."""

    def __init__(self, proxy=False, baud=None, data_bits=8, parity="N", stop_bits=1,
                 dir=None, name="rtu"):
        self.own_dir = dir is None
        self.dir = tempfile.mkdtemp(prefix="sbrtu-") if dir is None else dir
        self.gateway_port = os.path.join(self.dir, f"{name}-gw")
        self.device_port = os.path.join(self.dir, f"{name}-dev")
        self.baud = baud
        self.char = char_time(baud, data_bits, parity, stop_bits) if baud else 0.0
        self.proxy = None
        if proxy or baud:
            a, b = (os.path.join(self.dir, f"{name}-proxy-{s}") for s in ("gw", "dev"))
            self.gw_pair = PtyPair(self.gateway_port, a)
            self.dev_pair = PtyPair(b, self.device_port)
            self.proxy = FaultProxy(a, b, self.char)
        else:
            self.gw_pair = self.dev_pair = PtyPair(self.gateway_port, self.device_port)

    def start(self):
        try:
            self.gw_pair.start()
            if self.proxy:
                self.dev_pair.start()
                self.proxy.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        if self.proxy:
            self.proxy.stop()
        for pair in (self.gw_pair, self.dev_pair):
            pair.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def unplug(self):
        """The gateway's pty disappears: its socat stops (the gateway's fd
        reads EOF/EIO) and the symlink goes."""
        if self.proxy:
            self.proxy.stop()
        self.gw_pair.stop()

    def replug(self):
        """A new pty under the same gateway_port name (and, without the
        proxy, device_port: restart the server on it)."""
        self.gw_pair.start()
        if self.proxy:
            self.proxy.start()


def _command(bus, line):
    """One control command (see main); returns the reply line."""
    words = line.split()
    if not words:
        return ""
    cmd, args = words[0], [int(w, 0) for w in words[1:]]
    p = bus.proxy
    if cmd in ("flip", "truncate", "unit", "garbage", "drop", "silence", "unsilence") and not p:
        return "error: no proxy (start with --proxy or --baud)"
    if cmd == "flip":
        return repr(p.flip_bit(*args[:1]))
    if cmd == "truncate":
        return repr(p.truncate(*args[:2]))
    if cmd == "unit":
        return repr(p.rewrite_unit(args[0], *args[1:2]))
    if cmd == "garbage":
        return repr(p.garbage(*args[:1]))
    if cmd == "drop":
        return repr(p.drop(*args[:1]))
    if cmd == "silence":
        p.silence(args[0])
        return f"unit {args[0]} silenced"
    if cmd == "unsilence":
        p.unsilence(args[0])
        return f"unit {args[0]} answers again"
    if cmd == "unplug":
        bus.unplug()
        return "unplugged"
    if cmd == "replug":
        bus.replug()
        return f"replugged {bus.gateway_port}"
    if cmd == "stats":
        return str(p.counts()) if p else "no proxy"
    return f"error: unknown command {cmd!r}"


def main():
    ap = argparse.ArgumentParser(
        description="A pty RTU bus (socat) with an optional fault proxy. Prints "
        "'GATEWAY <path>' and 'DEVICE <path>', then reads commands, one a line: "
        "flip [UNIT] | truncate [UNIT [KEEP]] | unit TO [UNIT] | garbage [UNIT] | "
        "drop [UNIT] | silence UNIT | unsilence UNIT | unplug | replug | stats | quit. "
        "Stops on quit, SIGINT or SIGTERM.")
    ap.add_argument("--dir", help="directory for the symlinks (default: a new temp dir)")
    ap.add_argument("--name", default="rtu")
    ap.add_argument("--proxy", action="store_true")
    ap.add_argument("--baud", type=int, help="pace the proxy at this rate (implies --proxy)")
    ap.add_argument("--data-bits", type=int, default=8)
    ap.add_argument("--parity", default="N", choices="NEO")
    ap.add_argument("--stop-bits", type=int, default=1)
    ap.add_argument("--control", help="read commands from this FIFO (made if missing) "
                    "instead of stdin")
    a = ap.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Bus(a.proxy, a.baud, a.data_bits, a.parity, a.stop_bits, a.dir, a.name) as bus:
        print(f"GATEWAY {bus.gateway_port}\nDEVICE {bus.device_port}", flush=True)

        def commands():
            while not stop.is_set():
                if a.control and not os.path.exists(a.control):
                    os.mkfifo(a.control)
                with open(a.control) if a.control else sys.stdin as src:
                    for line in src:
                        if line.strip() == "quit":
                            stop.set()
                            return
                        try:
                            print(_command(bus, line), flush=True)
                        except (ValueError, IndexError, OSError, RuntimeError) as e:
                            print(f"error: {e}", flush=True)
                if not a.control:
                    # stdin closed: run until a signal. This thread stays, as
                    # the socat a replug started here dies with it.
                    stop.wait()
                    return

        threading.Thread(target=commands, daemon=True).start()
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
