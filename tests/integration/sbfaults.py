"""Helpers for the delivery-under-faults tests: a broker that can be stopped
and started again on the same port and keeps its sessions (persistence on),
and a subscriber with a persistent session that reconnects by itself, so
nothing published while it was away is lost on the subscriber's side."""

import json
import os
import pwd
import re
import signal
import subprocess
import threading
import time

import sbtest
from sbtest import check


class Broker:
    """mosquitto with persistence. Run as root, mosquitto switches to the
    user `mosquitto`, which cannot write into the test's private directory:
    it would then save nothing at a stop, silently, and every session and
    queued message would be lost at each restart. So it is told to stay the
    user running the test, and stop() checks that the database was saved."""

    def __init__(self, st, port=None):
        self.st = st
        self.port = port or sbtest.free_port()
        self.dir = st.path(f"broker-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log = os.path.join(self.dir, "mosquitto.log")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\n"
                    f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
                    "allow_anonymous true\n"
                    "max_queued_messages 0\n"
                    "max_inflight_messages 0\n"
                    "persistence true\n"
                    f"persistence_location {self.dir}/\n"
                    f"log_dest file {self.log}\n"
                    "log_type all\n")
        self.proc = None
        st.closers.append(self.stop)

    def start(self):
        self.proc = subprocess.Popen([sbtest.MOSQUITTO, "-c", self.conf],
                                     stdin=subprocess.DEVNULL)
        sbtest.wait_port(self.port)

    def stop(self):
        """A clean stop: mosquitto saves its sessions for the restart."""
        if self.proc:
            db = os.path.join(self.dir, "mosquitto.db")
            before = os.stat(db).st_mtime_ns if os.path.exists(db) else None
            sbtest.stop_process(self.proc)
            self.proc = None
            check(os.path.exists(db) and os.stat(db).st_mtime_ns != before,
                  f"the test broker did not save its database {db} when stopped")

    READING = r"'sensorbridge/[^/']+/[^/']+/(?!status'|stats')[^/']+'"

    def count_log(self, pattern):
        """Lines of the broker's log (all its runs) matching pattern."""
        rx = re.compile(pattern)
        with open(self.log, errors="replace") as f:
            return sum(1 for line in f if rx.search(line))

    def received(self):
        """Readings the broker received from the gateway, repeats included."""
        return self.count_log(r"Received PUBLISH from sensorbridge-\S+ \(d\d, q\d, r\d, "
                              r"m\d+, " + self.READING)

    def redelivered(self):
        """Readings the broker sent to the test's subscriber again (DUP set):
        a restarted broker re-sends what was in flight to a persistent session
        when it stopped, so these may arrive twice without the gateway having
        sent them twice."""
        return self.count_log(r"Sending PUBLISH to sbtest-\S+ \(d1, q\d, r\d, m\d+, " +
                              self.READING)


def check_duplicates(broker, counts, dups):
    """Accounts for every duplicate the subscriber saw. The broker received
    `received - produced` readings twice from the gateway: at most the
    gateway's re-sent count (a re-sent message may not have reached the broker
    the first time), and each reaches the subscriber twice. On top of those the
    subscriber can only see the broker's own redeliveries."""
    from_gateway = broker.received() - counts["produced"]
    redelivered = broker.redelivered()
    print(f"duplicates: {dups} at the subscriber; {from_gateway} sent twice by the gateway "
          f"({counts['re-sent']} re-sent), {redelivered} redelivered by the broker")
    check(0 <= from_gateway <= counts["re-sent"],
          f"the broker received {from_gateway} readings twice, the gateway re-sent "
          f"{counts['re-sent']}")
    check(from_gateway <= dups <= from_gateway + redelivered,
          f"{dups} duplicates at the subscriber, {from_gateway} from the gateway and "
          f"{redelivered} broker redeliveries")


class Subscriber:
    """mosquitto_sub with a persistent session (-c, fixed id, QoS 1)."""

    def __init__(self, st, port, topic="sensorbridge/#"):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-v", "-c",
             "-i", f"sbtest-{os.getpid()}", "-t", topic, "-t", "sbtest/probe"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, bufsize=1)
        st.procs.append(self.proc)
        threading.Thread(target=self._read, daemon=True).start()
        self.port = port
        sbtest.Subscriber.wait_ready(self)

    _read = sbtest.Subscriber._read
    wait_for = sbtest.Subscriber.wait_for
    readings = sbtest.Subscriber.readings


def readings_by_sensor(lines, adapter=None):
    """{sensor: [seq in arrival order]} for one adapter (or all)."""
    out = {}
    for topic, payload in lines:
        parts = topic.split("/")
        if len(parts) != 4 or parts[3] in ("status", "stats"):
            continue
        if adapter and parts[2] != adapter:
            continue
        r = json.loads(payload)
        out.setdefault(r["sensor"], []).append(r["seq"])
    return out


def wait_complete(sub, produced, timeout=60.0):
    """Waits until the subscriber holds `produced` distinct readings (counting
    lines is not enough: duplicates and status messages are lines too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        by_sensor = readings_by_sensor(sub.readings())
        if sum(len(set(seqs)) for seqs in by_sensor.values()) >= produced:
            return
        time.sleep(0.5)


def check_complete(by_sensor, expect_total=None, ordered=True):
    """Every sensor's seq from 1 without gap and, when ordered, first arrivals
    in order. Returns (unique readings, duplicates)."""
    unique = dups = 0
    for sensor, seqs in by_sensor.items():
        seen = set()
        firsts = []
        for s in seqs:
            if s in seen:
                dups += 1
            else:
                seen.add(s)
                firsts.append(s)
        if not ordered:
            firsts.sort()
        bad = next((i for i, s in enumerate(firsts) if s != i + 1), None)
        check(bad is None, f"{sensor}: seqs not complete and in order: first arrivals "
                           f"{firsts[max(0, (bad or 0) - 3):(bad or 0) + 4]} around position "
                           f"{bad}; arrivals there {seqs[max(0, (bad or 0) - 3):(bad or 0) + 8]}")
        unique += len(firsts)
    if expect_total is not None:
        check(unique == expect_total, f"{unique} unique readings, expected {expect_total}")
    return unique, dups


def summary_counts(summary):
    """The numbers of the exit summary, by name."""
    out = {}
    for key in ("produced", "delivered", "dropped", "queued", "in flight", "re-sent", "spooled",
                "recovered"):
        m = re.search(key + r" (\d+)", summary)
        out[key] = int(m.group(1)) if m else 0
    return out


def latest_stats(sub, gateway_id, newer_than=0, timeout=10.0):
    """The gateway's most recent stats message (parsed) that arrived after
    `newer_than` lines of the subscriber's, waiting for one if needed.
    Returns (stats, line count) so the next call can ask for a newer one."""
    topic = f"sensorbridge/{gateway_id}/stats"
    deadline = time.monotonic() + timeout
    while True:
        lines = sub.readings()
        for t, payload in reversed(lines[newer_than:]):
            if t == topic:
                return json.loads(payload), len(lines)
        check(time.monotonic() < deadline, f"no stats message on {topic} in {timeout} s")
        time.sleep(0.2)


def proc_usage(pid):
    """(open fds, RSS KiB) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return len(os.listdir(f"/proc/{pid}/fd")), rss


def term(gw, timeout=60):
    gw.proc.send_signal(signal.SIGTERM)
    rc = gw.wait_exit(timeout)
    check(rc == 0, f"exit status {rc}")
