#!/usr/bin/python3
"""The gateway against a broker that misbehaves on purpose
(tests/peers/mqtt_script.py), for the faults mosquitto cannot produce on
demand. Every case runs the real sensorbridge binary with simulated sensors
that stop after `count` readings, so the gateway exits by itself once
everything is confirmed (or is stopped with SIGTERM), and checks the exact
exit summary and status, conservation (produced = delivered + dropped +
queued + in flight) and what the broker received:

refuse_v311, refuse_v5   every CONNACK refusal code in turn: each logged in
                         words, retried with backoff; then all delivered
never_ack, never_ack_2nd_signal
                         QoS 1 never acknowledged: at most max_inflight on the
                         wire; SIGTERM (and a second one) stops within
                         shutdown_timeout (plus the 2 s allowed for "offline"
                         and DISCONNECT), every reading counted as dropped
out_of_order_q1, out_of_order_q2_v5
                         acknowledgements in reverse order: all delivered once
bogus_acks_q1, bogus_acks_q2_v5
                         acks twice and acks for ids never sent: no double count
close_mid_window         the broker closes with messages unacknowledged: they
                         are re-sent first, in order; duplicates only of those
slow_read_q1, slow_read_q0_v5
                         the broker stops reading until the gateway's send
                         buffer is full: nothing lost, nothing dropped
keepalive_stall          the broker goes silent past the keepalive: detected,
                         reconnected, all delivered
rejected_q1_v5, rejected_q2_v5
                         MQTT 5 reason code 0x87 for some readings: exactly
                         those dropped as "rejected", the rest delivered
stuck_restarts           ten connections dropped while the broker was not
                         reading: Paho's own heap holds nothing at exit
slow_broker_pacing       a broker slower than the sensors: they pause at a half
                         full outbox instead of overflowing it; none dropped

Run one or a few cases with their names as arguments. All cases run, and the
test fails at the end naming each case that failed."""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))

import sbfaults  # noqa: E402
import sbtest  # noqa: E402
from mqtt_script import PINGREQ, ProtocolError, ScriptedBroker  # noqa: E402
from sbtest import TestFailure, check  # noqa: E402

ASAN = os.environ.get("SB_SANITIZE") == "ON"
SLACK = 2.0 if ASAN else 0.6  # seconds of scheduling slack on every time bound
# After the shutdown deadline the gateway publishes "offline" and disconnects
# (sensorbridge(8), SIGNALS), allowing that DISCONNECT_TIMEOUT_MS (gateway_int.h);
# a broker that acknowledges nothing makes it use all of it.
DISCONNECT_BUDGET = 2.0
GID = "script"

CONFIG = """\
gateway:
  id: {gid}
  shutdown_timeout: {shutdown}
  stats_interval: 0s
mqtt:
  uri: tcp://127.0.0.1:{port}
  version: "{version}"
  qos: {qos}
  max_inflight: {inflight}
  keepalive: {keepalive}
  reconnect_min: {rmin}
  reconnect_max: {rmax}
adapters:
  - name: sim
    type: simulated
    sensors: {sensors}
    interval: {interval}
    count: {count}
"""

DEFAULTS = dict(gid=GID, shutdown="5s", version="3.1.1", qos=1, inflight=16,
                keepalive="10s", rmin="100ms", rmax="200ms", sensors=4, interval="2ms",
                count=25)


FAILURES = []  # of the case running: every failed expect(), reported together


def expect(cond, what):
    """A soft check: the case goes on, and fails at its end with every
    expectation that did not hold, so one run shows all that is wrong."""
    if not cond:
        FAILURES.append(what)
        say(f"    expected: {what}")
    return bool(cond)


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def start(st, broker, **cfg):
    """The gateway against `broker`; returns (gateway, config dict)."""
    c = dict(DEFAULTS, port=broker.port, **cfg)
    c["version"] = "5" if broker.version == 5 else "3.1.1"
    return st.gateway(CONFIG.format(**c)), c


def n_sensors(c):
    return c["sensors"] if isinstance(c["sensors"], int) else len(c["sensors"])


def produced(c):
    return n_sensors(c) * c["count"]


def sensor_names(c):
    if isinstance(c["sensors"], int):
        return [f"TEMP_{i:02d}" for i in range(c["sensors"])]
    return list(c["sensors"])


def is_status(p):
    return p.topic == f"sensorbridge/{GID}/status"


def key(p):
    """(sensor, seq) of a reading's PUBLISH, its topic and fields checked."""
    r = json.loads(p.payload)
    check(p.topic == f"sensorbridge/{GID}/sim/{r['sensor']}", f"topic {p.topic} for {r}")
    check(isinstance(r["seq"], int) and r["seq"] >= 1, f"seq in {r}")
    return (r["sensor"], r["seq"])


def readings(pubs):
    return [p for p in pubs if p.topic.startswith(f"sensorbridge/{GID}/sim/")]


def keys(pubs):
    return [key(p) for p in readings(pubs)]


def connected(conn, c, keepalive_s):
    """Reads the CONNECT and checks what the gateway asked for."""
    con = conn.expect_connect(10 * (3 if ASAN else 1))
    expect(con.client_id == f"sensorbridge-{GID}", f"client id {con.client_id!r}")
    expect(con.clean, "not a clean session")
    expect(con.keepalive == keepalive_s, f"keepalive {con.keepalive}, configured {keepalive_s}")
    expect(con.will and con.will["topic"] == f"sensorbridge/{GID}/status" and
           con.will["payload"] == b"offline" and con.will["retain"] and con.will["qos"] == 1,
           f"last will {con.will}")
    return con


def no_sanitizer_reports(gw):
    bad = [l for l in gw.log if "AddressSanitizer" in l or "LeakSanitizer" in l
           or "runtime error:" in l]
    expect(not bad, "sanitizer report:\n" + "\n".join(bad[:10]))


def finished(gw, expected_summary, timeout=10):
    """Exit status 0, the exact summary, conservation; returns the counts."""
    rc = gw.wait_exit(timeout * (3 if ASAN else 1))
    no_sanitizer_reports(gw)
    expect(rc == 0, f"exit status {rc}")
    summary = gw.summary()
    n = sbfaults.summary_counts(summary)
    expect(n["produced"] == n["delivered"] + n["dropped"] + n["queued"] + n["in flight"],
           f"not conserved: {summary}")
    expect(expected_summary is None or summary == expected_summary, f"summary\n  got      {summary!r}\n  expected "
                                       f"{expected_summary!r}")
    return n


def serve_to_end(conn, gw, **kw):
    """Answers everything until the gateway has closed the connection (after
    a DISCONNECT, or by exiting); reads what was still on its way, so every
    byte the gateway got into the network is recorded."""
    kw.setdefault("timeout", 20 * (3 if ASAN else 1))
    how = conn.serve(**kw)
    if how == "disconnect":
        conn.expect_closed(5)
    return how


def check_status(conn, first=True, last=False):
    pubs = conn.publishes
    if first:
        expect(pubs and is_status(pubs[0]) and pubs[0].payload == b"online" and pubs[0].retain,
               f"connection {conn.index} did not start with the retained 'online' status: "
               f"{pubs[:1]}")
    if last:
        expect(pubs and is_status(pubs[-1]) and pubs[-1].payload == b"offline" and pubs[-1].retain,
               f"connection {conn.index} did not end with the retained 'offline' status: "
               f"{pubs[-1:]}")


def check_complete(broker, c, dups_allowed=()):
    """Every sensor's seq 1..count arrived, first arrivals in order, and on
    each connection each sensor's seqs increase; a reading arrived twice only
    if it is in dups_allowed; never more than max_inflight QoS 1/2 publishes
    unanswered at once. Returns the duplicates."""
    firsts, dups = {}, []
    for s in sensor_names(c):
        firsts[s] = []
    for conn in broker.conns:
        expect(conn.peak_unanswered <= c["inflight"],
               f"connection {conn.index}: {conn.peak_unanswered} publishes unanswered at once, "
               f"max_inflight {c['inflight']}")
        last, backwards = {}, []
        for k in keys(conn.publishes):
            check(k[0] in firsts, f"unknown sensor {k}")
            if k[1] <= last.get(k[0], 0):
                backwards.append(f"{k} after seq {last[k[0]]}")
            last[k[0]] = k[1]
        expect(not backwards, f"connection {conn.index} out of order: {backwards[:5]}")
    for k in keys(broker.publishes):
        if k[1] in firsts[k[0]]:
            dups.append(k)
        else:
            firsts[k[0]].append(k[1])
    for s, seqs in firsts.items():
        expect(seqs == list(range(1, c["count"] + 1)),
               f"{s}: first arrivals {seqs[:5]}...{seqs[-5:]} ({len(seqs)}), expected "
               f"1..{c['count']} in order")
    extra = [k for k in dups if k not in set(dups_allowed)]
    expect(not extra, f"{len(dups)} duplicates, {len(extra)} not allowed: {extra[:10]}")
    expect(len(dups) == len(set(dups)), f"a reading arrived three times: {dups}")
    return dups


def ignore(conn, p):
    pass


# --- the cases ---------------------------------------------------------------

REFUSALS = {
    4: [(1, r"unacceptable protocol version"), (2, r"identifier rejected"),
        (3, r"server unavailable"), (4, r"bad user ?name or password"),
        (5, r"not authori[sz]ed")],
    5: [(0x80, r"unspecified error"), (0x84, r"unsupported protocol version"),
        (0x86, r"bad user ?name or password"), (0x87, r"not authori[sz]ed"),
        (0x88, r"server unavailable"), (0x8A, r"banned")],
}


def refuse(version):
    rmin, rmax = 0.2, 0.8
    with sbtest.Stack() as st, ScriptedBroker(version) as b:
        gw, c = start(st, b, rmin="200ms", rmax="800ms", interval="20ms", count=10, sensors=2)
        refused_at = []
        for code, _ in REFUSALS[version]:
            conn = b.accept(5 + SLACK)
            connected(conn, c, 10)
            conn.connack(code)
            conn.close()  # as a real broker does after a refusal
            refused_at.append(time.monotonic())
        conn = b.accept(5 + SLACK)
        connected(conn, c, 10)
        conn.connack(0)
        serve_to_end(conn, gw)
        finished(gw, "produced 20, delivered 20, dropped 0, queued 0, in flight 0")

        fails = gw.messages(rf"mqtt: cannot connect to tcp://127\.0\.0\.1:{b.port}: ")
        expect(len(fails) == len(REFUSALS[version]),
               f"{len(fails)} failed connects logged for {len(REFUSALS[version])} refusals: "
               f"{fails}")
        for (code, words), line in zip(REFUSALS[version], fails):
            why = line.split(": ", 2)[2]
            expect(re.search(words, why, re.I), f"refusal {code:#x} logged as {line!r}, without "
                                               f"the words /{words}/")
            if version == 5:
                expect(f"(reason code {code})" in why, f"no reason code {code} in {line!r}")
        # Backoff: each wait in [delay/2, delay], delay doubling up to reconnect_max.
        for k, line in enumerate(fails):
            delay = min(rmin * 2 ** k, rmax)
            wait = float(re.search(r"retrying in ([\d.]+) s$", line).group(1))
            gap = b.conns[k + 1].accepted_at - refused_at[k]
            expect(delay / 2 - 0.05 <= wait <= delay + 0.05,
                   f"attempt {k + 1}: retrying in {wait} s, expected {delay / 2}..{delay}")
            expect(wait - 0.08 <= gap <= wait + SLACK,
                   f"attempt {k + 1}: reconnected after {gap:.2f} s, logged {wait} s")
        expect(len(gw.messages(r"mqtt: connected to ")) == 1, "not connected exactly once")
        expect(all(not p for p in (x.publishes for x in b.conns[:-1])),
               "published on a refused connection")
        check_status(conn, last=True)
        check_complete(b, c)


def never_ack(second_signal):
    """QoS 1, nothing ever acknowledged; then SIGTERM (twice if second_signal)."""
    timeout = 1.0
    with sbtest.Stack() as st, ScriptedBroker(4) as b:
        gw, c = start(st, b, inflight=8, shutdown="1s", count=25, interval="5ms")
        conn = b.accept(5 + SLACK)
        connected(conn, c, 10)
        conn.connack(0)
        gw.wait_log("every adapter is done", 5 + SLACK)
        t_end = time.monotonic() + 1.0
        conn.serve(on_publish=ignore, until=lambda: time.monotonic() > t_end)
        window = [p for p in conn.publishes if p.qos]
        expect(1 <= len(readings(window)) and len(window) <= c["inflight"],
               f"{len(window)} publishes unacknowledged on the wire ({len(readings(window))} "
               f"readings), max_inflight {c['inflight']}")
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        if second_signal:
            time.sleep(0.2)
            gw.proc.send_signal(signal.SIGTERM)
        serve_to_end(conn, gw, on_publish=ignore)
        gw.wait_exit(5)
        took = time.monotonic() - t0
        limit = (0.2 if second_signal else timeout) + DISCONNECT_BUDGET + SLACK
        say(f"stopped {took:.2f} s after SIGTERM; {len(conn.publishes)} publishes received")
        finished(gw, "produced 100, delivered 0, dropped 100 (shutdown 100), queued 0, "
                     "in flight 0")
        expect(took <= limit, f"stopped {took:.2f} s after SIGTERM, limit {limit:.1f} s")
        if second_signal:
            expect(gw.messages("second SIGTERM: stopping now"), "second SIGTERM not logged")
        else:
            expect(took >= timeout - 0.1, f"stopped {took:.2f} s after SIGTERM, before the "
                                         f"{timeout} s shutdown_timeout")
        expect(gw.messages("shutdown timeout: 100 undelivered messages dropped$"),
               "no 'shutdown timeout: 100 undelivered messages dropped'")
        expect(len([p for p in conn.publishes if p.qos]) <= c["inflight"],
               f"{len(conn.publishes)} publishes sent without any acknowledgement, "
               f"max_inflight {c['inflight']}")
        expect(len(b.conns) == 1, f"{len(b.conns)} connections")
        check_no_repeats(conn)


def check_no_repeats(conn):
    """Without acknowledgements nothing may be sent twice."""
    ks = keys(conn.publishes)
    expect(len(ks) == len(set(ks)), f"sent twice: {ks}")


def out_of_order(version, qos):
    """Acknowledges each batch of up to 8 publishes in reverse order."""
    with sbtest.Stack() as st, ScriptedBroker(version) as b:
        gw, c = start(st, b, qos=qos)
        conn = b.accept(5 + SLACK)
        connected(conn, c, 10)
        conn.connack(0)
        pending, batches = [], []

        def flush(cn):
            if pending:
                batches.append(len(pending))
                for p in reversed(pending):
                    cn.ack(p)
                pending.clear()

        def collect(cn, p):
            pending.append(p)
            if len(pending) >= 8:
                flush(cn)

        serve_to_end(conn, gw, on_publish=collect, on_idle=flush)
        finished(gw, "produced 100, delivered 100, dropped 0, queued 0, in flight 0")
        expect(max(batches) > 1, f"never more than one publish to reorder: {batches}")
        say(f"acknowledged in {len(batches)} reversed batches, largest {max(batches)}")
        expect(len(b.conns) == 1, f"{len(b.conns)} connections")
        check_status(conn, last=True)
        check_complete(b, c)


def bogus_acks(version, qos):
    """Every acknowledgement twice, and one for an id never used after each."""
    bogus = iter(range(60000, 65000))
    with sbtest.Stack() as st, ScriptedBroker(version) as b:
        gw, c = start(st, b, qos=qos)
        conn = b.accept(5 + SLACK)
        connected(conn, c, 10)
        conn.connack(0)

        def twice(cn, p):
            if p.qos == 1:
                cn.puback(p.pid)
                cn.puback(p.pid)
                cn.puback(next(bogus))
            else:
                cn.pubrec(p.pid)

        def pubrel(cn, r):
            cn.pubcomp(r.pid)
            cn.pubcomp(r.pid)
            cn.pubcomp(next(bogus))

        serve_to_end(conn, gw, on_publish=twice, on_pubrel=pubrel)
        finished(gw, "produced 100, delivered 100, dropped 0, queued 0, in flight 0")
        expect(len(b.conns) == 1, f"{len(b.conns)} connections")
        check_status(conn, last=True)
        check_complete(b, c)


def resent_after(b, c, gw, n, first, second):
    """The checks after a broken connection `first` and a good `second`.
    Unanswered readings of `first` must come first on `second`, in order;
    acknowledged ones never again. n: the summary counts."""
    lost = gw.messages(rf"mqtt: connection to tcp://127\.0\.0\.1:{b.port} lost: ")
    expect(len(lost) == 1, f"connection losses logged: {lost}")
    unacked = keys(first.unanswered())
    acked = set(keys(p for p in first.publishes if p.answer is not None))
    again = keys(second.publishes)
    say(f"{len(unacked)} readings unacknowledged at the break, re-sent {n['re-sent']}, "
        f"{len(keys(first.publishes))} + {len(again)} readings on the two connections")
    expect(len(unacked) <= n["re-sent"] <= c["inflight"],
           f"re-sent {n['re-sent']}: {len(unacked)} were unacknowledged, max_inflight "
           f"{c['inflight']}")
    expect(again[:len(unacked)] == unacked,
           f"the new connection began with {again[:len(unacked)]}, expected the "
           f"unacknowledged {unacked}")
    expect(not acked & set(again), f"acknowledged readings sent again: "
                                  f"{sorted(acked & set(again))[:10]}")
    dups = check_complete(b, c, dups_allowed=unacked)
    expect(len(dups) == len(unacked), f"{len(dups)} duplicates, {len(unacked)} unacknowledged")
    check_status(second, last=True)


def close_mid_window():
    with sbtest.Stack() as st, ScriptedBroker(4) as b:
        gw, c = start(st, b, count=50)
        first = b.accept(5 + SLACK)
        connected(first, c, 10)
        first.connack(0)

        def ack_first_30(cn, p):
            if len(readings(cn.publishes)) <= 30 or is_status(p):
                cn.ack(p)

        first.serve(on_publish=ack_first_30,
                    until=lambda: len(readings(first.unanswered())) >= 10)
        first.close()
        second = b.accept(5 + SLACK)
        connected(second, c, 10)
        second.connack(0)
        serve_to_end(second, gw)
        n = finished(gw, gw_summary_resent(gw, produced(c)))
        resent_after(b, c, gw, n, first, second)


def gw_summary_resent(gw, total):
    """The exact summary of a run that delivered everything with some
    messages re-sent; the re-sent count is checked by resent_after()."""
    gw.wait_exit(10 * (3 if ASAN else 1))
    m = re.search(r", re-sent (\d+)$", gw.summary())
    resent = m.group(1) if m else "?"
    return (f"produced {total}, delivered {total}, dropped 0, queued 0, in flight 0, "
            f"re-sent {resent}")


def send_queue(local_port, remote_port):
    """Bytes the kernel holds unsent (or unacknowledged) on the TCP socket
    local_port -> remote_port of 127.0.0.1 (/proc/net/tcp tx_queue)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if (int(fields[1].split(":")[1], 16) == local_port and
                    int(fields[2].split(":")[1], 16) == remote_port):
                return int(fields[4].split(":")[0], 16)
    return None


def slow_read(version, qos):
    """Stops reading for 3 s with 1000 readings of ~450 bytes to send."""
    names = [f"S{i}_" + "x" * 150 for i in range(10)]
    with sbtest.Stack() as st, ScriptedBroker(version, rcvbuf=4096) as b:
        gw, c = start(st, b, qos=qos, inflight=1000, sensors="[" + ", ".join(names) + "]",
                      count=100, interval="2ms")
        c["sensors"] = names
        conn = b.accept(5 + SLACK)
        connected(conn, c, 10)
        conn.connack(0)
        conn.serve(until=lambda: len(readings(conn.publishes)) >= 50)
        time.sleep(3)
        stuck = send_queue(conn.sock.getpeername()[1], b.port)
        say(f"after 3 s without reading: {stuck} bytes in the gateway's send queue, "
            f"{len(readings(conn.publishes))} readings read")
        if qos == 0:
            # Written is confirmed at QoS 0: the socket fills.
            expect(stuck and stuck > 16384, f"the gateway's send queue held {stuck} bytes: "
                                           f"the test did not fill it")
        else:
            # At QoS 1 the publisher lets Paho hold at most 16 KiB of
            # unacknowledged publishes (gateway/pubring.c), so that Paho never
            # holds one it could not write: the socket never fills.
            expect(stuck is not None and stuck <= 16384 + 512,
                   f"the gateway's send queue held {stuck} bytes, expected 16 KiB at most")
        serve_to_end(conn, gw)
        finished(gw, "produced 1000, delivered 1000, dropped 0, queued 0, in flight 0")
        expect(len(b.conns) == 1, f"{len(b.conns)} connections")
        check_status(conn, last=True)
        check_complete(b, c)


def keepalive_stall():
    keepalive = 1
    with sbtest.Stack() as st, ScriptedBroker(4) as b:
        gw, c = start(st, b, keepalive=f"{keepalive}s", inflight=8, sensors=2, count=100,
                      interval="10ms")
        first = b.accept(5 + SLACK)
        connected(first, c, keepalive)
        first.connack(0)
        first.serve(until=lambda: len(readings(first.publishes)) >= 20)
        silent = time.monotonic()  # from here on: nothing read, nothing answered
        second = b.accept(3 * keepalive + 1 + SLACK)
        detected = second.accepted_at - silent
        later = first.expect_closed(5)  # what the gateway sent meanwhile
        pings = [p for p in later if p.type == PINGREQ]
        say(f"new connection {detected:.2f} s after the broker went silent; "
            f"{len(pings)} PINGREQ unanswered")
        connected(second, c, keepalive)
        second.connack(0)
        serve_to_end(second, gw)
        n = finished(gw, gw_summary_resent(gw, produced(c)))
        # Paho sends PINGREQ once nothing was received for a keepalive and
        # gives up one keepalive later without PINGRESP; it looks once a
        # second, so each step may come up to 1 s late. Then the reconnect
        # delay (reconnect_max at most).
        limit = 2 * keepalive + 2 * 1.0 + 0.2 + SLACK
        expect(detected <= limit, f"silence detected after {detected:.2f} s, keepalive "
                                  f"{keepalive} s, limit {limit:.1f} s")
        resent_after(b, c, gw, n, first, second)


def rejected(qos):
    """MQTT 5: every reading with seq % 5 == 0 refused with 0x87."""
    with sbtest.Stack() as st, ScriptedBroker(5) as b:
        gw, c = start(st, b, qos=qos)
        conn = b.accept(5 + SLACK)
        connected(conn, c, 10)
        conn.connack(0)

        def refuse_some(cn, p):
            cn.ack(p, 0 if is_status(p) or key(p)[1] % 5 else 0x87)

        serve_to_end(conn, gw, on_publish=refuse_some)
        finished(gw, "produced 100, delivered 80, dropped 20 (rejected 20), queued 0, "
                     "in flight 0")
        refusals = gw.messages(r"mqtt: the broker refused a message: ")
        expect(len(refusals) == 20, f"{len(refusals)} refusals logged, expected 20")
        expect(all(re.search(r"not authori[sz]ed \(reason code 135\)", l, re.I)
                  for l in refusals), f"refusals logged as {refusals[:2]}")
        expect(len(b.conns) == 1, f"{len(b.conns)} connections")
        check_status(conn, last=True)
        check_complete(b, c)


def stuck_restarts():
    """Ten times: the broker stops reading (a small receive buffer) with a
    window of large readings on their way, then drops the connection. What
    Paho held at each loss must not stay behind in Paho: its own heap, which
    it scans at exit (MQTT_C_CLIENT_TRACE), holds nothing then, and the
    client is renewed only when Paho still held unwritten publishes."""
    names = [f"S{i}_" + "x" * 150 for i in range(10)]
    trace = None
    with sbtest.Stack() as st, ScriptedBroker(4, rcvbuf=4096) as b:
        trace = st.path("paho-trace.log")
        c = dict(DEFAULTS, port=b.port, inflight=1000, sensors="[" + ", ".join(names) + "]",
                 count=60, interval="2ms", rmin="50ms", rmax="100ms")
        gw = st.gateway(CONFIG.format(**c), env={"MQTT_C_CLIENT_TRACE": trace,
                                                  "MQTT_C_CLIENT_TRACE_LEVEL": "ERROR"})
        c["sensors"] = names
        for _ in range(10):
            conn = b.accept(5 + SLACK)
            connected(conn, c, 10)
            conn.connack(0)
            conn.serve(until=lambda: len(readings(conn.publishes)) >= 10)
            time.sleep(0.3)  # not reading: the gateway's window piles up
            conn.close()
        conn = b.accept(5 + SLACK)
        connected(conn, c, 10)
        conn.connack(0)
        serve_to_end(conn, gw)
        n = finished(gw, None)
        expect(n["delivered"] == produced(c) and n["dropped"] == 0, gw.summary())
        if sbtest.paho_lean():
            # No heap tracking to scan: LeakSanitizer checks Paho's
            # allocations at exit in the sanitizer build.
            say(f"{gw.summary()}; Paho linked without heap tracking: its heap at exit is "
                f"LeakSanitizer's to check (SB_SANITIZE={os.environ.get('SB_SANITIZE')})")
            return
        with open(trace, errors="replace") as f:
            scan = [l.strip() for l in f if "Heap scan" in l or "Heap element" in l]
        say(f"{gw.summary()}; Paho's heap at exit: {scan[0] if scan else 'empty'}")
        expect(not scan, f"Paho's heap at exit holds {len(scan) - 2} leftovers: {scan[:4]}")


def slow_broker_pacing():
    """A broker that acknowledges one publish every 2 ms (under 500 a second)
    while 10 sensors produce 2,000 readings a second into an outbox of 1,000
    (drop_oldest; what they produce before the connection is up fits): once
    the outbox is half full the sensors pause instead of producing readings
    to drop, and resume as it drains. All 2,000 readings are delivered, none
    dropped (without pacing, a quarter of them were)."""
    with sbtest.Stack() as st, ScriptedBroker(4) as b:
        c = dict(DEFAULTS, port=b.port, inflight=16, sensors=10, count=200, interval="5ms")
        gw = st.gateway(CONFIG.format(**c) + "outbox:\n  capacity: 1000\n")
        conn = b.accept(5 + SLACK)
        connected(conn, c, 10)
        conn.connack(0)

        def slow_ack(cn, p):
            time.sleep(0.002)
            cn.ack(p)

        serve_to_end(conn, gw, on_publish=slow_ack, timeout=60)
        finished(gw, "produced 2000, delivered 2000, dropped 0, queued 0, in flight 0", 60)
        gw.wait_messages(r"the broker takes fewer messages than the devices produce: devices "
                         r"skip their cycles while the outbox is over half full", 1, 1)
        check_complete(b, c)


CASES = [
    ("refuse_v311", lambda: refuse(4)),
    ("refuse_v5", lambda: refuse(5)),
    ("never_ack", lambda: never_ack(False)),
    ("never_ack_2nd_signal", lambda: never_ack(True)),
    ("out_of_order_q1", lambda: out_of_order(4, 1)),
    ("out_of_order_q2_v5", lambda: out_of_order(5, 2)),
    ("bogus_acks_q1", lambda: bogus_acks(4, 1)),
    ("bogus_acks_q2_v5", lambda: bogus_acks(5, 2)),
    ("close_mid_window", close_mid_window),
    ("slow_read_q1", lambda: slow_read(4, 1)),
    ("slow_read_q0_v5", lambda: slow_read(5, 0)),
    ("keepalive_stall", keepalive_stall),
    ("rejected_q1_v5", lambda: rejected(1)),
    ("rejected_q2_v5", lambda: rejected(2)),
    ("stuck_restarts", stuck_restarts),
    ("slow_broker_pacing", slow_broker_pacing),
]


def main():
    names = [n for n, _ in CASES]
    wanted = sys.argv[1:] or names
    unknown = [w for w in wanted if w not in names]
    check(not unknown, f"unknown cases {unknown}; the cases are {names}")
    failed = []
    for name, case in CASES:
        if name not in wanted:
            continue
        say(f"--- {name}")
        t0 = time.monotonic()
        FAILURES.clear()
        try:
            case()
        except (TestFailure, TimeoutError, ProtocolError, OSError, ValueError) as e:
            FAILURES.append(f"stopped by {type(e).__name__}: {e}")
        took = time.monotonic() - t0
        if FAILURES:
            failed.append(name)
            say(f"--- {name}: FAIL ({took:.1f} s)\n    " + "\n    ".join(FAILURES))
        else:
            say(f"--- {name}: PASS ({took:.1f} s)")
    check(not failed, f"{len(failed)} of {len(wanted)} cases failed: {', '.join(failed)}")


if __name__ == "__main__":
    sbtest.run(main)
