"""Helpers for sensorbridge's integration tests.

Every test starts its own peers on 127.0.0.1 with ephemeral ports: a real
mosquitto broker (max_queued_messages 0, so the broker never drops a message
on its own), mosquitto_sub as the subscriber, and the sensorbridge binary
under test. Everything started here is stopped when the `with` block ends,
whether the test passed or not. For TLS, Pki makes a throw-away CA and
certificates with the openssl command line, Stack.tls_broker starts mosquitto
with a TLS listener, and the subscriber takes the matching client options.

Standard library only, so it runs on Debian's /usr/bin/python3 with nothing
else installed.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
SB_BIN = os.environ.get("SB_BIN", "build/sensorbridge")
MODBUS_SERVER = os.environ.get("SB_MODBUS_SERVER", "build/tests/modbus_server")
MODBUS_SIM = os.environ.get("SB_MODBUS_SIM", "build/tests/modbus_sim")
READING_KEYS = ["sensor", "adapter", "seq", "ts", "value", "unit", "quality"]


class TestFailure(Exception):
    pass


def paho_lean():
    """True when SB_BIN links Paho without its heap tracking (the lean build,
    gateway/paho_lean.c): its --version's second line says so."""
    out = subprocess.run([SB_BIN, "--version"], capture_output=True, text=True,
                         timeout=20, stdin=subprocess.DEVNULL).stdout
    return "without stack tracing and heap tracking" in out


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TestFailure(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Stack:
    """Owns temp files and processes; stops them all on exit."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sbtest-")
        self.procs = []
        self.closers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for close in reversed(self.closers):
            try:
                close()
            except Exception as e:  # keep stopping the others
                print(f"cleanup: {e}", file=sys.stderr)
        for p in reversed(self.procs):
            stop_process(p)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def path(self, name):
        return os.path.join(self.dir, name)

    def broker(self, port=None, log=False):
        """Starts mosquitto on 127.0.0.1; returns its port. With log=True the
        broker logs everything (log_type all) into self.broker_logs[port], a
        BrokerLog."""
        port = port or free_port()
        return self._mosquitto(port, f"listener {port} 127.0.0.1\n", log)

    def pki(self):
        """A throw-away PKI (made once per Stack, removed at exit)."""
        if getattr(self, "_pki", None) is None:
            self._pki = Pki()
            self.closers.append(lambda: shutil.rmtree(self._pki.dir, ignore_errors=True))
        return self._pki

    def tls_broker(self, pki, port=None, require_certificate=True,
                   use_identity_as_username=False, log=False):
        """Starts mosquitto with one TLS listener on 127.0.0.1: the server
        certificate of pki, client certificates checked against pki's CA
        (required unless require_certificate is False); returns its port.
        log as for broker()."""
        port = port or free_port()
        return self._mosquitto(
            port,
            f"listener {port} 127.0.0.1\n"
            f"cafile {pki.ca_cert}\n"
            f"certfile {pki.server_cert}\n"
            f"keyfile {pki.server_key}\n"
            f"require_certificate {str(require_certificate).lower()}\n"
            f"use_identity_as_username {str(use_identity_as_username).lower()}\n",
            log)

    def _mosquitto(self, port, listener, log):
        conf = self.path(f"mosquitto-{port}.conf")
        with open(conf, "w") as f:
            f.write(listener +
                    "allow_anonymous true\n"
                    "max_queued_messages 0\n"
                    "max_inflight_messages 0\n"
                    "persistence false\n" +
                    ("log_dest stderr\nlog_type all\nlog_timestamp false\n" if log
                     else "log_dest none\n"))
        proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdin=subprocess.DEVNULL,
                                stderr=subprocess.PIPE if log else None,
                                text=True if log else None, bufsize=1 if log else -1)
        self.procs.append(proc)
        if log:
            self.broker_logs = getattr(self, "broker_logs", {})
            self.broker_logs[port] = BrokerLog(proc)
        wait_port(port)
        return port

    def subscriber(self, port, topic="sensorbridge/#", extra_args=(), tls=None):
        """mosquitto_sub on `port`. extra_args go to mosquitto_sub only (e.g.
        ["-V", "5"]); tls, a TlsClient, is used by mosquitto_sub and by the
        mosquitto_pub probes alike."""
        sub = Subscriber(port, topic, extra_args=extra_args, tls=tls)
        self.procs.append(sub.proc)
        self.closers.append(sub.close)
        sub.wait_ready()
        return sub

    def gateway(self, config_text, *args, valgrind=False, env=None):
        """Starts sensorbridge with config_text as its file; env, a dict,
        is added to the environment it runs in."""
        cfg = self.path("sensorbridge.yaml")
        with open(cfg, "w") as f:
            f.write(config_text)
        cmd = [SB_BIN, "-c", cfg, *args]
        if valgrind:
            self.valgrind_log = self.path("valgrind.log")
            cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                   "--track-fds=yes", f"--log-file={self.valgrind_log}", *cmd]
        gw = Gateway(cmd, env=dict(os.environ, **env) if env else None)
        self.procs.append(gw.proc)
        self.closers.append(gw.close)
        return gw

    def modbus_server(self, *args, port=0, binary=None):
        """Starts a Modbus TCP test peer; returns (process, port)."""
        proc = subprocess.Popen([binary or MODBUS_SERVER, "--port", str(port), *args],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        line = proc.stdout.readline()
        check(line.startswith("PORT "), f"Modbus peer did not report its port: {line!r}")
        return proc, int(line.split()[1])

    def gate(self, target_port):
        g = Gate(target_port)
        self.closers.append(g.close)
        return g


class Subscriber:
    """mosquitto_sub -v at QoS 1; collects (topic, payload) lines."""

    def __init__(self, port, topic, extra_args=(), tls=None):
        self.port = port
        self.lines = []
        self.cond = threading.Condition()
        self.tls_args = tls.args() if tls else []
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), *self.tls_args,
             "-q", "1", "-v", *extra_args, "-t", topic, "-t", "sbtest/probe"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            with self.cond:
                self.lines.append((topic, payload))
                self.cond.notify_all()

    def wait_ready(self, timeout=10.0):
        """Publishes probes until one comes back: the subscription is active."""
        deadline = time.monotonic() + timeout
        # getattr: sbfaults.Subscriber borrows this method with its own fields.
        tls_args = getattr(self, "tls_args", [])
        while time.monotonic() < deadline:
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port),
                            *tls_args, "-t", "sbtest/probe", "-m", "probe"],
                           check=True)
            with self.cond:
                if self.cond.wait_for(lambda: any(t == "sbtest/probe" for t, _ in self.lines),
                                      0.5):
                    self.lines = [(t, p) for t, p in self.lines if t != "sbtest/probe"]
                    return
        raise TestFailure("mosquitto_sub did not receive its probe")

    def wait_for(self, pred, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.lines), timeout)

    def readings(self):
        with self.cond:
            return [(t, p) for t, p in self.lines if not t.endswith("/status")]

    def status(self):
        with self.cond:
            return [p for t, p in self.lines if t.endswith("/status")]

    def close(self):
        stop_process(self.proc)


OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class Pki:
    """A CA, a server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1,
    DNS:localhost) and a client certificate both signed by it, and a second,
    unrelated CA; made with the openssl command line in a new temp dir (the
    caller removes `dir`). EC P-256 keys; certificates valid from now for a
    day (the CAs for two). Attributes are file paths: ca_cert, ca_key,
    server_cert, server_key, client_cert, client_key, other_ca_cert,
    other_ca_key.

    mosquitto started as root reads its files after switching to the
    `mosquitto` user, so the directory, the CA certificate and the server's
    certificate and key are world-readable (they protect nothing); the other
    keys stay private."""

    def __init__(self):
        check(os.access(OPENSSL, os.X_OK),
              "the openssl command line tool is missing (apt-get install openssl)")
        self.dir = tempfile.mkdtemp(prefix="sbtest-pki-")
        try:
            os.chmod(self.dir, 0o755)
            self.cnf = self._file("openssl.cnf")
            with open(self.cnf, "w") as f:
                f.write(_OPENSSL_CNF)
            self.ca_cert, self.ca_key = self._ca("ca", "sbtest CA")
            self.other_ca_cert, self.other_ca_key = self._ca("other-ca", "sbtest unrelated CA")
            self.server_cert, self.server_key = self._leaf("server", "127.0.0.1", "server")
            self.client_cert, self.client_key = self._leaf("client", "sbtest-client", "client")
            for f in (self.ca_cert, self.server_cert, self.server_key):
                os.chmod(f, 0o644)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _file(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        r = subprocess.run([OPENSSL, *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, "OPENSSL_CONF": self.cnf})
        check(r.returncode == 0, f"openssl {' '.join(args)} failed:\n{r.stdout}")

    def _key(self, name):
        key = self._file(name + ".key")
        self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", key)
        return key

    def _ca(self, name, cn):
        key, cert = self._key(name), self._file(name + ".crt")
        self._openssl("req", "-config", self.cnf, "-new", "-x509", "-key", key,
                      "-subj", f"/CN={cn}", "-days", "2", "-sha256",
                      "-extensions", "ca", "-out", cert)
        return cert, key

    def _leaf(self, name, cn, extensions):
        key, csr, cert = self._key(name), self._file(name + ".csr"), self._file(name + ".crt")
        self._openssl("req", "-config", self.cnf, "-new", "-key", key,
                      "-subj", f"/CN={cn}", "-out", csr)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                      "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                      "-days", "1", "-sha256", "-extfile", self.cnf,
                      "-extensions", extensions, "-out", cert)
        return cert, key

    def client(self, ca=None, cert=True):
        """TLS options for mosquitto_sub/mosquitto_pub: this PKI's CA (or `ca`),
        with the client certificate unless cert is False."""
        return TlsClient(ca or self.ca_cert,
                         self.client_cert if cert else None,
                         self.client_key if cert else None)


class TlsClient:
    """--cafile/--cert/--key for the mosquitto command line clients."""

    def __init__(self, cafile, cert=None, key=None):
        self.cafile, self.cert, self.key = cafile, cert, key

    def args(self):
        a = ["--cafile", self.cafile]
        if self.cert:
            a += ["--cert", self.cert, "--key", self.key]
        return a


class BrokerLog:
    """mosquitto's log (log_dest stderr), collected line by line."""

    def __init__(self, proc):
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def matching(self, pattern):
        """The lines that match the regular expression `pattern` (re.search)."""
        with self.cond:
            return [l for l in self.lines if re.search(pattern, l)]

    def wait_for(self, pattern, timeout, count=1):
        """Waits until `count` lines match `pattern`; returns them all."""
        with self.cond:
            self.cond.wait_for(lambda: len([l for l in self.lines if re.search(pattern, l)])
                               >= count, timeout)
        found = self.matching(pattern)
        check(len(found) >= count,
              f"mosquitto logged {len(found)} lines matching {pattern!r} within {timeout} s, "
              f"expected {count}")
        return found


LOG_LINE = re.compile(r"^(?:sensorbridge\[\d+\]: (error|warn|info|debug): |<(\d)>)(.*)$")


def log_message(line):
    """A gateway log line without its "sensorbridge[PID]: LEVEL: " (or journal
    "<N>") prefix; None if it has neither."""
    m = LOG_LINE.match(line)
    return m.group(3) if m else None


class Gateway:
    """The sensorbridge process; stderr is collected line by line."""

    def __init__(self, cmd, env=None):
        self.log = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, bufsize=1, env=env)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stderr:
            sys.stderr.write("  | " + line)
            with self.cond:
                self.log.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_log(self, text, timeout):
        with self.cond:
            ok = self.cond.wait_for(lambda: any(text in l for l in self.log), timeout)
        check(ok, f"gateway did not log '{text}' within {timeout} s")

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"gateway still running after {timeout} s")
        self.thread.join(5)
        return rc

    def messages(self, pattern=None):
        """The log lines without their prefix (see log_message); only those
        matching the regular expression `pattern` (re.match) if given."""
        with self.cond:
            msgs = [log_message(l) for l in self.log]
        return [m for m in msgs if m is not None and (pattern is None or re.match(pattern, m))]

    def wait_messages(self, pattern, count, timeout):
        """Waits until `count` log lines match `pattern` (as for messages());
        returns them all."""
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages(pattern)) >= count, timeout)
        found = self.messages(pattern)
        check(len(found) >= count, f"gateway logged {len(found)} lines matching {pattern!r} "
                                   f"within {timeout} s, expected {count}: {found}")
        return found

    def summary(self):
        lines = [l for l in self.log if "summary: " in l]
        check(len(lines) == 1, f"expected one summary line, got {lines}")
        return lines[0].split("summary: ", 1)[1]

    def close(self):
        stop_process(self.proc, signal.SIGKILL)


class Gate:
    """A TCP forwarder that refuses connections until opened: to the gateway it
    looks exactly like a broker that is not running yet. While `muted`, what
    the target sends is dropped: a peer that falls silent on a connection
    that stays up."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.sock = None
        self.conns = []
        self.closed = False
        self.muted = False

    def open(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, a is upstream),
                                 daemon=True).start()

    def _pipe(self, src, dst, from_target):
        try:
            while data := src.recv(65536):
                if not (from_target and self.muted):
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        if self.sock:
            self.sock.close()
        for c in self.conns:
            c.close()


def retained(port, topic, tls=None, extra_args=(), timeout=5):
    """The retained message on `topic` as a new subscriber sees it, or None
    if there is none (mosquitto_sub --retained-only -C 1 -W timeout)."""
    r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port),
                        *(tls.args() if tls else []), *extra_args, "-t", topic,
                        "--retained-only", "-C", "1", "-W", str(timeout)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                       timeout=timeout + 10)
    return r.stdout.rstrip("\n") if r.returncode == 0 else None


def parse_readings(lines, gateway_id, adapter):
    """Checks every reading's topic and JSON; returns {sensor: [seq, ...]}."""
    by_sensor = {}
    for topic, payload in lines:
        try:
            r = json.loads(payload)
        except ValueError:
            raise TestFailure(f"payload is not JSON: {payload!r}")
        check(list(r.keys()) == READING_KEYS, f"unexpected keys {list(r.keys())} in {payload}")
        check(topic == f"sensorbridge/{gateway_id}/{adapter}/{r['sensor']}",
              f"topic {topic} does not match {payload}")
        check(r["adapter"] == adapter, f"adapter field in {payload}")
        check(isinstance(r["seq"], int) and r["seq"] >= 1, f"seq in {payload}")
        check(isinstance(r["ts"], int) and abs(r["ts"] / 1000 - time.time()) < 600,
              f"ts is not a recent epoch-ms time in {payload}")
        check(isinstance(r["value"], (int, float)), f"value in {payload}")
        check(r["unit"] == "celsius" and r["quality"] == "good", f"unit/quality in {payload}")
        by_sensor.setdefault(r["sensor"], []).append(r["seq"])
    return by_sensor


def run(test):
    """Runs one test function; prints PASS/FAIL and exits with its status."""
    name = os.path.basename(sys.argv[0])
    try:
        test()
    except TestFailure as e:
        print(f"FAIL {name}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"PASS {name}")
    sys.exit(0)
