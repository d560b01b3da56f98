#!/usr/bin/python3
"""Commands to line devices (raw_tcp `command` and `writable`), through
mosquitto, published with mosquitto_pub; the devices are Python sockets in
this test that record every byte the gateway writes to them:

client    a device the gateway connects to: a number, an integer beyond
          2^53, true and a string arrive as exactly the expected lines, and
          each result is ok with its id; a string with a newline and a value
          too long for a line are refused with their messages and send
          nothing; a sensor that is not writable has no command topic, so
          its command gets no result and sends nothing
server    two devices connect and push different sensors: each sensor's
          command goes to the device that pushed it (and to a third one
          once that one pushes the sensor instead); a sensor nobody pushed
          yet, and the sensor of a device that went away, are refused as
          not connected
stalled   a polled device that stops reading: a command waits behind the
          request the socket did not take (no result yet), a second one is
          refused as busy, and when the device reads again the line arrives
          whole between whole requests and the result is ok
config    writable without command, an unknown placeholder, command without
          writable, a bad and a repeated sensor name: exact FILE:LINE:COLUMN
          messages from --check-config"""

import json
import signal
import socket
import subprocess
import threading
import time

import sbtest
from sbtest import check
from test_commands import results, wait_result

GID = "rawcmd"
HEADER = f"""\
gateway:
  id: {GID}
mqtt:
  uri: tcp://127.0.0.1:{{broker}}
adapters:
"""


def publish(broker, topic, payload):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker), "-q", "1",
                    "-t", topic, "-m", payload], check=True, timeout=20)


def cmd_topic(adapter, sensor):
    return f"sensorbridge/{GID}/{adapter}/{sensor}/set"


def command(sub, broker, adapter, sensor, payload):
    """Publishes one command and returns its result (payload has an id)."""
    publish(broker, cmd_topic(adapter, sensor), payload)
    return wait_result(sub, cmd_topic(adapter, sensor) + "/result", json.loads(payload)["id"])


def readings_of(sub, adapter, sensor):
    topic = f"sensorbridge/{GID}/{adapter}/{sensor}"
    return [json.loads(p) for t, p in sub.lines if t == topic]


class Recorder:
    """What one device socket has received; waits for lines to arrive."""

    def __init__(self):
        self.data = b""
        self.cond = threading.Condition()

    def add(self, chunk):
        with self.cond:
            self.data += chunk
            self.cond.notify_all()

    def lines(self):
        with self.cond:
            return self.data.split(b"\n")[:-1]

    def wait_lines(self, n, timeout=5):
        with self.cond:
            return self.cond.wait_for(lambda: self.data.count(b"\n") >= n, timeout)


def client():
    rec = Recorder()
    connected = threading.Event()

    def device(conn):  # pushes a reading every 100 ms, records what it gets
        connected.set()
        conn.settimeout(0.1)
        while True:
            try:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                rec.add(chunk)
            except socket.timeout:
                conn.sendall(b'{"sensor":"valve","value":1}\n')

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def accept():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=device, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    with sbtest.Stack() as st:
        st.closers.append(srv.close)
        broker = st.broker()
        sub = st.subscriber(broker)
        gw = st.gateway(HEADER.format(broker=broker) + f"""\
  - name: dev
    type: raw_tcp
    host: 127.0.0.1
    port: {srv.getsockname()[1]}
    command: "SET {{sensor}} {{value}}\\n"
    writable: [valve, mode, label]
""")
        gw.wait_log("mqtt: subscribed to 3 command topics", 10)
        check(connected.wait(10), "the gateway did not connect to the device")
        check(sub.wait_for(lambda _: readings_of(sub, "dev", "valve"), 10), "no reading")
        cases = [  # sensor, payload, the line the device must get
            ("valve", '{"value": 21.5, "id": "n"}', b"SET valve 21.5"),
            ("valve", '{"value": 18446744073709551615, "id": "big"}',
             b"SET valve 18446744073709551615"),
            ("mode", '{"value": true, "id": 7}', b"SET mode true"),
            ("label", '{"value": "hello world", "id": "s"}', b"SET label hello world"),
        ]
        for k, (sensor, payload, line) in enumerate(cases):
            r = command(sub, broker, "dev", sensor, payload)
            want = json.loads(payload)["id"]
            check(r == {"id": want, "ok": True}, f"{payload}: result {r}")
            check(rec.wait_lines(k + 1), f"{payload}: no line at the device")
            check(rec.lines()[k] == line, f"{payload}: device got {rec.lines()[k]!r}")
        refusals = [
            ("label", '{"value": "two\\nlines", "id": "nl"}', "string has a control character"),
            ("label", json.dumps({"value": "x" * 1100, "id": "long"}), "command too long"),
            ("valve", '{"value": null, "id": "null"}', "\"value\" must be a number, true, "
                                                       "false or a string"),
        ]
        for sensor, payload, err in refusals:
            r = command(sub, broker, "dev", sensor, payload)
            check(r == {"id": json.loads(payload)["id"], "ok": False, "error": err},
                  f"{payload[:40]}: result {r}")
        publish(broker, cmd_topic("dev", "other"), '{"value": 1, "id": "other"}')
        time.sleep(1.0)
        check(not results(sub, cmd_topic("dev", "other") + "/result"),
              "a sensor that is not writable was answered")
        check(rec.lines() == [line for _, _, line in cases],
              f"the device got more than the commands: {rec.lines()}")
        check(rec.data.endswith(b"\n"), f"a partial line at the device: {rec.data[-40:]!r}")
        stop(gw)


class Pusher:
    """A device that connects to the gateway's server, pushes lines and
    records what the gateway writes back."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.rec = Recorder()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                chunk = self.sock.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            self.rec.add(chunk)

    def push(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def close(self):
        try:  # wakes the reader; close() alone would wait for its recv()
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def server():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        port = sbtest.free_port()
        gw = st.gateway(HEADER.format(broker=broker) + f"""\
  - name: yard
    type: raw_tcp
    mode: server
    host: 127.0.0.1
    port: {port}
    format: kv
    command: "SET {{sensor}} {{value}}\\n"
    writable: [a, b, c]
""")
        gw.wait_log("mqtt: subscribed to 3 command topics", 10)
        gw.wait_log("listening on", 10)
        dev_a, dev_b = Pusher(port), Pusher(port)
        st.closers += [dev_a.close, dev_b.close]
        dev_a.push("a=1")
        dev_b.push("b=2")
        check(sub.wait_for(lambda _: readings_of(sub, "yard", "a") and
                           readings_of(sub, "yard", "b"), 10), "no readings of a and b")
        r = command(sub, broker, "yard", "a", '{"value": 10, "id": "ca"}')
        check(r == {"id": "ca", "ok": True}, f"a: {r}")
        r = command(sub, broker, "yard", "b", '{"value": 20, "id": "cb"}')
        check(r == {"id": "cb", "ok": True}, f"b: {r}")
        check(dev_a.rec.wait_lines(1) and dev_b.rec.wait_lines(1), "a device got no line")
        r = command(sub, broker, "yard", "c", '{"value": 30, "id": "cc"}')
        check(r == {"id": "cc", "ok": False, "error": "not connected"}, f"c, never pushed: {r}")
        # A third device now pushes b: b's commands go to it.
        dev_c = Pusher(port)
        st.closers.append(dev_c.close)
        dev_c.push("b=3")
        check(sub.wait_for(lambda _: len(readings_of(sub, "yard", "b")) >= 2, 10), "no b=3")
        r = command(sub, broker, "yard", "b", '{"value": 21, "id": "cb2"}')
        check(r == {"id": "cb2", "ok": True}, f"b from the third device: {r}")
        check(dev_c.rec.wait_lines(1), "the third device got no line")
        # The first device goes away: a's commands are refused.
        dev_a.close()
        time.sleep(0.5)  # the gateway reads the end of the connection
        r = command(sub, broker, "yard", "a", '{"value": 11, "id": "gone"}')
        check(r == {"id": "gone", "ok": False, "error": "not connected"},
              f"a after its device left: {r}")
        check(dev_a.rec.lines() == [b"SET a 10"], f"device a got {dev_a.rec.lines()}")
        check(dev_b.rec.lines() == [b"SET b 20"], f"device b got {dev_b.rec.lines()}")
        check(dev_c.rec.lines() == [b"SET b 21"], f"device c got {dev_c.rec.lines()}")
        stop(gw)


def stalled():
    body = b"REQ:" + b"0123456789abcdef" * 190
    release = threading.Event()
    received = []
    conns = []
    done = threading.Event()

    def lazy(conn):
        conns.append(conn)  # kept open after reading, until the end
        release.wait(20)
        conn.settimeout(0.2)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            received.append(chunk)
        done.set()

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # inherited by accept
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def accept():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        threading.Thread(target=lazy, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    with sbtest.Stack() as st:
        st.closers.append(srv.close)
        broker = st.broker()
        sub = st.subscriber(broker)
        gw = st.gateway(HEADER.format(broker=broker) + f"""\
  - name: slow
    type: raw_tcp
    host: 127.0.0.1
    port: {srv.getsockname()[1]}
    request: "{body.decode()}\\r\\n"
    interval: 1ms
    format: csv
    columns: [sensor, value]
    command: "SET {{sensor}} {{value}}\\r\\n"
    writable: [x]
""")
        gw.wait_log("mqtt: subscribed to 1 command topic", 10)
        gw.wait_log("connected to 127.0.0.1", 10)
        time.sleep(1.0)  # the socket's buffers fill with requests
        publish(broker, cmd_topic("slow", "x"), '{"value": 1, "id": "c1"}')
        r = command(sub, broker, "slow", "x", '{"value": 2, "id": "c2"}')
        check(r == {"id": "c2", "ok": False, "error": "busy"}, f"second command: {r}")
        check(not [r for r in results(sub, cmd_topic("slow", "x") + "/result")
                   if r["id"] == "c1"], "c1 answered before the device read it")
        release.set()
        r = wait_result(sub, cmd_topic("slow", "x") + "/result", "c1", 10)
        check(r == {"id": "c1", "ok": True}, f"c1: {r}")
        check(done.wait(15), "the device did not finish reading")
        parts = b"".join(received).split(b"\r\n")
        whole, tail = parts[:-1], parts[-1]
        check(whole.count(b"SET x 1") == 1, f"{whole.count(b'SET x 1')} command lines")
        bad = [p[:40] for p in whole if p not in (body, b"SET x 1")]
        check(not bad, f"{len(bad)} of {len(whole)} lines cut or mixed, first {bad[:1]}")
        check(b"SET x 2" not in b"".join(received), "the busy command was sent")
        check(body.startswith(tail), f"a trailing fragment that starts no request: {tail[:40]!r}")
        # The device reads no more: once the socket is full again, a command
        # waits, and is answered when the gateway stops (under
        # AddressSanitizer, leaks fail the exit).
        deadline = time.monotonic() + 15
        k = 3
        while True:
            publish(broker, cmd_topic("slow", "x"), f'{{"value": {k}, "id": "c{k}"}}')
            time.sleep(0.5)
            if not [r for r in results(sub, cmd_topic("slow", "x") + "/result")
                    if r["id"] == f"c{k}"]:
                break
            check(time.monotonic() < deadline, "the socket never filled up again")
            k += 1
        stop(gw)
        check(any(f'command slow/x = {k} (id "c{k}"): refused: the adapter stopped' in line
                  for line in gw.log), "the waiting command was not answered at stop")


def stop(gw):
    gw.proc.send_signal(signal.SIGTERM)
    rc = gw.wait_exit(15)
    check(rc == 0, f"exit status {rc}")


def config_errors():
    base = ("adapters:\n  - name: dev\n    type: raw_tcp\n    host: 127.0.0.1\n"
            "    port: 9\n")
    cases = [
        ("    writable: [a]\n", "6:15: writable needs command, the line that writes a sensor"),
        ('    command: "SET {sensor} {id}\\n"\n    writable: [a]\n',
         "6:14: command: unknown placeholder '{id}' (known: {sensor}, {value})"),
        ('    command: "SET {sensor} {value}\\n"\n',
         "6:14: command needs writable, the sensors that take commands"),
        ('    command: "SET {sensor} {value}\\n"\n    writable: [a, "b/c"]\n',
         "7:19: writable sensor 'b/c': "),
        ('    command: "SET {sensor} {value}\\n"\n    writable:\n      - a\n      - a\n',
         "9:9: writable sensor 'a' is listed twice"),
        ('    command: "SET {sensor} {value}\\n"\n    writable: []\n',
         "7:15: writable must list the sensors that take commands"),
    ]
    with sbtest.Stack() as st:
        path = st.path("bad.yaml")
        for keys, want in cases:
            with open(path, "w") as f:
                f.write(base + keys)
            p = subprocess.run([sbtest.SB_BIN, "--check-config", "-c", path],
                               capture_output=True, text=True, timeout=20)
            check(p.returncode == 1 and p.stderr.startswith(f"{path}:{want}"),
                  f"{keys!r}: exit {p.returncode}, {p.stderr!r}; want {want!r}")
        with open(path, "w") as f:  # a JSON template: braces that are text
            f.write(base + """    command: '{"set":"{sensor}","v":{value}}'\n"""
                    "    writable: [a, b]\n")
        p = subprocess.run([sbtest.SB_BIN, "--check-config", "-c", path],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode == 0, f"a JSON template: {p.stderr!r}")


def main():
    config_errors()
    client()
    server()
    stalled()


if __name__ == "__main__":
    sbtest.run(main)
