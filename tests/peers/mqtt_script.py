"""A scripted MQTT broker for sensorbridge's tests (MQTT 3.1.1 and MQTT 5).

A real broker cannot misbehave on demand: refuse a connection with a chosen
CONNACK code, never acknowledge, acknowledge out of order, twice or with a
packet id that was never sent, stop reading, or go silent past the keepalive.
This one does exactly what the test tells it, one packet at a time, as the
scripted brokers of mosquitto's own test suite do. It listens on 127.0.0.1 on
an ephemeral port (a real TCP socket), and the test drives it from Python:

    b = ScriptedBroker(version=5)           # or 4 (3.1.1); b.port to configure
    conn = b.accept(timeout=10)              # the gateway's TCP connection
    c = conn.expect_connect()                # a Packet: client_id, keepalive, will...
    conn.connack(0)                          # or any return / reason code
    p = conn.expect_publish()                # a Publish: topic, payload, qos, dup, pid
    conn.puback(p.pid, reason=0x87)          # MQTT 5 reason codes; PUBREC/PUBCOMP alike
    conn.serve(until=lambda: gw.proc.poll() is not None)   # the usual answers
    conn.close()

Reading is always on demand: between calls nothing reads the socket, so a
test that sleeps is a broker that reads slowly (its receive buffer fills, then
the sender's send buffer; `rcvbuf` keeps the first small), and a test that
neither reads nor answers is a broker that went silent past the keepalive.
serve() is the exception that reads continuously: it answers PINGREQ with
PINGRESP, PUBREL with PUBCOMP and, unless told otherwise, acknowledges every
PUBLISH (PUBACK for QoS 1, PUBREC for QoS 2).

Every PUBLISH received is recorded, on its connection (conn.publishes) and on
the broker (b.publishes), as a Publish with topic, payload, qos, dup, retain,
pid, properties (MQTT 5), the connection's index and `answer`: the reason code
of the PUBACK or PUBCOMP this broker sent for it (None while unanswered);
conn.peak_unanswered is the most QoS 1/2 publishes unanswered at once.

The parser keeps partial packets in a buffer until they are complete, so a
packet split across reads (or several in one read) is handled. Protocol
errors raise ProtocolError; a wait that runs out raises TimeoutError.
Standard library only, for Debian's /usr/bin/python3.
"""

import select
import socket
import struct
import time

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = range(8, 15)
NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
         7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
         12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

# MQTT 5 properties by id: how each value is encoded (MQTT 5.0 section 2.2.2.2).
PROPERTY_TYPES = {
    0x01: "byte", 0x02: "u32", 0x03: "str", 0x08: "str", 0x09: "bin", 0x0B: "varint",
    0x11: "u32", 0x12: "str", 0x13: "u16", 0x15: "str", 0x16: "bin", 0x17: "byte",
    0x18: "u32", 0x19: "byte", 0x1A: "str", 0x1C: "str", 0x1F: "str", 0x21: "u16",
    0x22: "u16", 0x23: "u16", 0x24: "byte", 0x25: "byte", 0x26: "pair", 0x27: "u32",
    0x28: "byte", 0x29: "byte", 0x2A: "byte",
}


class ProtocolError(Exception):
    pass


class Packet:
    """One control packet: `type`, `flags` and the fields its parser set."""

    def __init__(self, ptype, flags):
        self.type, self.flags = ptype, flags
        self.properties = {}

    def __repr__(self):
        fields = {k: v for k, v in vars(self).items() if k not in ("type", "flags")}
        return f"<{NAMES.get(self.type, self.type)} {fields}>"


class Publish(Packet):
    """A PUBLISH as received (see the module comment for the fields)."""


class Reader:
    """Decodes the fields of one packet body; every read checks the length."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, n):
        if n > self.left():
            raise ProtocolError(f"packet too short: {n} bytes wanted, {self.left()} left")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def byte(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def varint(self):
        value = 0
        for i in range(4):
            b = self.byte()
            value |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                return value
        raise ProtocolError("variable byte integer longer than 4 bytes")

    def bin(self):
        return self.take(self.u16())

    def str(self):
        try:
            return self.bin().decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"string is not UTF-8: {e}")

    def pair(self):
        return (self.str(), self.str())

    def properties(self):
        """MQTT 5 properties: {id: value}; a user property (0x26) is a list."""
        end = self.varint()
        end += self.pos
        if end > len(self.data):
            raise ProtocolError("properties run past the packet")
        props = {}
        while self.pos < end:
            pid = self.varint()
            kind = PROPERTY_TYPES.get(pid)
            if kind is None:
                raise ProtocolError(f"unknown property 0x{pid:02x}")
            value = getattr(self, kind)()
            if pid == 0x26:
                props.setdefault(pid, []).append(value)
            elif pid in props:
                raise ProtocolError(f"property 0x{pid:02x} twice")
            else:
                props[pid] = value
        return props


def encode_varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


def encode_properties(props):
    out = bytearray()
    for pid, value in (props or {}).items():
        kind = PROPERTY_TYPES[pid]
        for v in (value if pid == 0x26 else [value]):
            out += encode_varint(pid)
            if kind == "byte":
                out.append(v)
            elif kind in ("u16", "u32"):
                out += struct.pack("!H" if kind == "u16" else "!I", v)
            elif kind == "varint":
                out += encode_varint(v)
            elif kind == "pair":
                out += encode_str(v[0]) + encode_str(v[1])
            else:
                out += encode_str(v)
    return encode_varint(len(out)) + bytes(out)


def parse(ptype, flags, body, version):
    """One packet's body, of a connection speaking `version` (4 or 5)."""
    r = Reader(body)
    p = (Publish if ptype == PUBLISH else Packet)(ptype, flags)
    if ptype == CONNECT:
        p.protocol, p.version = r.str(), r.byte()
        cflags, p.keepalive = r.byte(), r.u16()
        if p.version == 5:
            p.properties = r.properties()
        p.clean = bool(cflags & 0x02)
        p.client_id = r.str()
        p.will = None
        if cflags & 0x04:
            wprops = r.properties() if p.version == 5 else {}
            p.will = {"topic": r.str(), "payload": r.bin(), "qos": (cflags >> 3) & 3,
                      "retain": bool(cflags & 0x20), "properties": wprops}
        p.username = r.str() if cflags & 0x80 else None
        p.password = r.bin() if cflags & 0x40 else None
    elif ptype == PUBLISH:
        p.dup, p.qos, p.retain = bool(flags & 8), (flags >> 1) & 3, bool(flags & 1)
        if p.qos == 3:
            raise ProtocolError("PUBLISH with QoS 3")
        p.topic = r.str()
        p.pid = r.u16() if p.qos else None
        if version == 5:
            p.properties = r.properties()
        p.payload = r.take(r.left())
        p.answer = None
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.pid = r.u16()
        p.reason = r.byte() if r.left() else 0
        if r.left():
            p.properties = r.properties()
    elif ptype in (SUBSCRIBE, UNSUBSCRIBE):
        p.pid = r.u16()
        if version == 5:
            p.properties = r.properties()
        p.topics = []
        while r.left():
            p.topics.append((r.str(), r.byte()) if ptype == SUBSCRIBE else (r.str(), None))
    elif ptype == DISCONNECT:
        p.reason = r.byte() if r.left() else 0
        if r.left():
            p.properties = r.properties()
    elif ptype != PINGREQ:
        raise ProtocolError(f"a broker does not expect {NAMES.get(ptype, ptype)}")
    if ptype != PUBLISH and r.left():
        raise ProtocolError(f"{r.left()} bytes left over in {NAMES[ptype]}")
    return p


class ScriptedBroker:
    """The listening socket. version: 4 (MQTT 3.1.1) or 5, the protocol
    expect_connect() insists on. rcvbuf: the receive buffer of accepted
    connections (small, so a broker that stops reading soon stalls the
    sender); None keeps the system's default."""

    def __init__(self, version=4, rcvbuf=None):
        self.version = version
        self.publishes = []
        self.conns = []
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def accept(self, timeout=10.0):
        """The next connection; TimeoutError if none comes within timeout."""
        self.sock.settimeout(timeout)
        try:
            s, _ = self.sock.accept()
        except socket.timeout:
            raise TimeoutError(f"no connection to the scripted broker within {timeout} s")
        conn = Conn(self, s, len(self.conns))
        self.conns.append(conn)
        return conn

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


class Conn:
    """One client connection; see the module comment."""

    def __init__(self, broker, sock, index):
        self.broker, self.sock, self.index = broker, sock, index
        self.version = broker.version
        self.buf = bytearray()
        self.eof = False
        self.publishes = []
        self.peak_unanswered = 0  # most QoS 1/2 publishes unanswered at once
        self._unanswered = 0
        self.accepted_at = time.monotonic()
        self.connect = None

    # --- reading -------------------------------------------------------------

    def _split(self):
        """A complete packet from the buffer, or None if it holds less."""
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            n += (b & 0x7F) * mult
            mult, i = mult * 128, i + 1
            if not b & 0x80:
                break
            if i > 4:
                raise ProtocolError("remaining length longer than 4 bytes")
        if len(self.buf) < i + n:
            return None
        head, body = self.buf[0], bytes(self.buf[i:i + n])
        del self.buf[:i + n]
        return head >> 4, head & 0x0F, body

    def read_packet(self, timeout=10.0):
        """The next packet; None once the peer has closed the connection;
        TimeoutError if nothing complete arrives within timeout."""
        deadline = time.monotonic() + timeout
        while (split := self._split()) is None:
            if self.eof:
                if self.buf:
                    raise ProtocolError(f"connection closed inside a packet "
                                        f"({len(self.buf)} bytes)")
                return None
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([self.sock], [], [], wait)[0]:
                raise TimeoutError(f"connection {self.index}: no packet within {timeout} s")
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            self.buf += data
            self.eof = not data
        p = parse(*split, self.version)
        if p.type == CONNECT:
            self.version = p.version
        if p.type == PUBLISH:
            p.conn, p.at = self.index, time.monotonic()
            self.publishes.append(p)
            if p.qos:
                self._unanswered += 1
                self.peak_unanswered = max(self.peak_unanswered, self._unanswered)
            self.broker.publishes.append(p)
        return p

    def expect(self, ptype, timeout=10.0):
        """The next packet, which must be of type ptype."""
        p = self.read_packet(timeout)
        if p is None or p.type != ptype:
            raise ProtocolError(f"expected {NAMES[ptype]}, got {p!r}")
        return p

    def expect_connect(self, timeout=10.0):
        p = self.expect(CONNECT, timeout)
        if p.protocol != "MQTT" or p.version != self.broker.version:
            raise ProtocolError(f"CONNECT for {p.protocol} level {p.version}, "
                                f"expected MQTT level {self.broker.version}")
        self.connect = p
        return p

    def expect_publish(self, timeout=10.0):
        return self.expect(PUBLISH, timeout)

    def expect_closed(self, timeout=10.0):
        """Reads (and records) whatever comes until the peer closes; the
        packets read, or TimeoutError."""
        deadline = time.monotonic() + timeout
        got = []
        while (p := self.read_packet(max(deadline - time.monotonic(), 0.001))) is not None:
            got.append(p)
        return got

    def unanswered(self):
        """QoS 1/2 publishes of this connection not yet acknowledged, in
        the order they came."""
        return [p for p in self.publishes if p.qos and p.answer is None]

    # --- writing -------------------------------------------------------------

    def send(self, ptype, flags=0, body=b""):
        """Writes one packet; False if the peer has already gone (a broker
        answering a client that hung up is not an error of the test)."""
        try:
            self.sock.sendall(bytes([ptype << 4 | flags]) + encode_varint(len(body)) + body)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def connack(self, code=0, session_present=False, properties=None):
        body = bytes([1 if session_present else 0, code])
        if self.version == 5:
            body += encode_properties(properties)
        self.send(CONNACK, 0, body)

    def _ack(self, ptype, pid, reason, properties):
        body = struct.pack("!H", pid)
        if self.version == 5 and (reason or properties):
            body += bytes([reason]) + (encode_properties(properties) if properties else b"")
        elif reason:
            raise ValueError("reason codes are MQTT 5 only")
        self.send(ptype, 2 if ptype == PUBREL else 0, body)
        # Record the answer on the oldest unanswered publish with this id.
        final = ptype == PUBACK or ptype == PUBCOMP or (ptype == PUBREC and reason >= 0x80)
        for p in self.publishes:
            if final and p.pid == pid and p.answer is None:
                p.answer = reason
                self._unanswered -= 1
                break

    def puback(self, pid, reason=0, properties=None):
        self._ack(PUBACK, pid, reason, properties)

    def pubrec(self, pid, reason=0, properties=None):
        self._ack(PUBREC, pid, reason, properties)

    def pubcomp(self, pid, reason=0, properties=None):
        self._ack(PUBCOMP, pid, reason, properties)

    def pingresp(self):
        self.send(PINGRESP)

    def suback(self, pid, codes):
        body = struct.pack("!H", pid)
        if self.version == 5:
            body += encode_properties(None)
        self.send(SUBACK, 0, body + bytes(codes))

    def ack(self, p, reason=0):
        """The usual answer to a publish: PUBACK (QoS 1) or PUBREC (QoS 2)."""
        if p.qos == 1:
            self.puback(p.pid, reason)
        elif p.qos == 2:
            self.pubrec(p.pid, reason)

    def serve(self, until=None, on_publish=None, timeout=10.0, idle=0.05, on_idle=None,
              on_pubrel=None):
        """Reads and answers packets: PINGREQ and SUBSCRIBE get their usual
        answers; each PUBLISH goes to on_publish(conn, p) (default: conn.ack(p)),
        each PUBREL to on_pubrel(conn, p) (default: PUBCOMP). on_idle(conn)
        runs whenever nothing arrived for `idle` seconds. Returns "until" once
        until() is true, "disconnect" after a DISCONNECT, "closed" when the
        peer closed; TimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        while not (until and until()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"connection {self.index}: still serving after {timeout} s")
            try:
                p = self.read_packet(idle)
            except TimeoutError:
                if on_idle:
                    on_idle(self)
                continue
            if p is None:
                return "closed"
            if p.type == PUBLISH:
                (on_publish or Conn.ack)(self, p)
            elif p.type == PUBREL:
                (on_pubrel or (lambda c, r: c.pubcomp(r.pid)))(self, p)
            elif p.type == PINGREQ:
                self.pingresp()
            elif p.type == SUBSCRIBE:
                self.suback(p.pid, [min(q & 3, 2) for _, q in p.topics])
            elif p.type == DISCONNECT:
                return "disconnect"
        return "until"

    def close(self):
        if self.sock.fileno() >= 0:
            self.sock.close()
