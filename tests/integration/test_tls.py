#!/usr/bin/python3
"""MQTT over TLS, against a real mosquitto whose only listener is TLS and
requires a client certificate. A throw-away PKI is made with the openssl
command line: a CA, a server certificate for 127.0.0.1 (subjectAltName
IP:127.0.0.1, DNS:localhost) and a client certificate signed by it, and an
unrelated second CA.

(a) the right CA and client certificate, verify: true: 4 simulated sensors x 5
    readings arrive exactly once (each sensor's seq 1..5), the status goes
    online then offline (retained), the broker saw the client certificate
    (use_identity_as_username) and the gateway exits 0 by itself. Run with
    ssl:// and MQTT 3.1.1, and with mqtts:// and MQTT 5.
(b) the unrelated CA as ca_file: nothing is delivered for 3 s; the gateway
    logs OpenSSL's "certificate verify failed" on "mqtt: TLS:" lines and
    "mqtt: cannot connect to ssl://...: TCP/TLS connect failure; retrying in
    X s" with the documented backoff, keeps running, and on SIGTERM exits 0
    after shutdown_timeout (1 s), the 20 readings dropped for "shutdown".
(c) no client certificate: the broker refuses the handshake ("peer did not
    return a certificate"); nothing is delivered, the gateway logs "cannot
    connect" lines and keeps retrying, and exits 0 on SIGTERM."""

import re
import signal
import sys
import time

import sbtest
from sbtest import check

GATEWAY_ID = "tls"
RECONNECT_MIN, RECONNECT_MAX = 0.1, 0.5  # seconds, as in CONFIG

CONFIG = """\
gateway:
  id: tls
  shutdown_timeout: 1s
mqtt:
  uri: {scheme}://127.0.0.1:{port}
  version: {version}
  qos: 1
  reconnect_min: 100ms
  reconnect_max: 500ms
  tls:
{tls}
adapters:
  - name: sim
    type: simulated
    sensors: 4
    interval: 50ms
    count: 5
"""

SENSORS = ["TEMP_00", "TEMP_01", "TEMP_02", "TEMP_03"]


def config(port, scheme="ssl", version="3.1.1", **tls):
    tls.setdefault("verify", "true")
    lines = "".join(f"    {k}: {v}\n" for k, v in tls.items())
    return CONFIG.format(scheme=scheme, port=port, version=version, tls=lines.rstrip("\n"))


def good_certificates(scheme, version):
    with sbtest.Stack() as st:
        pki = st.pki()
        port = st.tls_broker(pki, use_identity_as_username=True, log=True)
        sub = st.subscriber(port, tls=pki.client())
        gw = st.gateway(config(port, scheme, version, ca_file=pki.ca_cert,
                               cert_file=pki.client_cert, key_file=pki.client_key))
        rc = gw.wait_exit(20)
        check(rc == 0, f"gateway exit status {rc}")
        # The gateway exits only after every PUBACK; give mosquitto_sub a moment.
        sub.wait_for(lambda lines: len([l for l in lines if "/status" not in l[0]]) >= 20
                     and sub.status()[-1:] == ["offline"], 5)
        readings = sub.readings()
        by_sensor = sbtest.parse_readings(readings, GATEWAY_ID, "sim")
        check(len(readings) == 20, f"expected 20 readings, got {len(readings)}")
        check(sorted(by_sensor) == SENSORS, f"sensors {sorted(by_sensor)}")
        for sensor, seqs in by_sensor.items():
            check(seqs == [1, 2, 3, 4, 5], f"{sensor} seqs {seqs}")
        check(sub.status() == ["online", "offline"], f"status messages {sub.status()}")
        check(gw.summary() == "produced 20, delivered 20, dropped 0, queued 0, in flight 0",
              f"summary: {gw.summary()}")
        uri = f"{scheme}://127.0.0.1:{port}"
        check(gw.messages(r"mqtt: connected") == [f"mqtt: connected to {uri} as "
                                                  f"sensorbridge-{GATEWAY_ID}"],
              f"log: {gw.messages(r'mqtt: connected')}")
        check(not gw.messages(r"mqtt: (TLS|cannot connect)"),
              f"log: {gw.messages(r'mqtt: (TLS|cannot connect)')}")

        # The broker's side: one TLS connection that presented the client
        # certificate (its CN became the user name), at the configured protocol
        # version (mosquitto logs 3.1.1 as p2), with retained status messages.
        log = st.broker_logs[port]
        log.wait_for(rf"^Client sensorbridge-{GATEWAY_ID} disconnected\.$", 5)
        p = "p5" if version == 5 else "p2"
        connected = log.matching(rf"^New client connected from 127\.0\.0\.1:\d+ as "
                                 rf"sensorbridge-{GATEWAY_ID} \(")
        check(len(connected) == 1 and f"({p}, c1, k30, u'sbtest-client')." in connected[0],
              f"broker saw: {connected}")
        status = log.matching(rf"^Received PUBLISH from sensorbridge-{GATEWAY_ID} "
                              rf"\(d0, q1, r1, m\d+, 'sensorbridge/{GATEWAY_ID}/status'")
        check(len(status) == 2, f"retained status publishes: {status}")
        check(sbtest.retained(port, f"sensorbridge/{GATEWAY_ID}/status", tls=pki.client())
              == "offline", "retained status is not 'offline'")


def retry_waits(gw, port, reasons):
    """Checks every "cannot connect" line (reason one of `reasons`) and the
    backoff they announce; returns how many there are."""
    lines = gw.messages(r"mqtt: cannot connect")
    pattern = re.compile(rf"mqtt: cannot connect to ssl://127\.0\.0\.1:{port}: "
                         rf"({'|'.join(map(re.escape, reasons))}); retrying in (\d+\.\d) s")
    backoff = RECONNECT_MIN
    for i, line in enumerate(lines):
        m = pattern.fullmatch(line)
        check(m, f"unexpected line {line!r}")
        # A random wait in [backoff/2, backoff], printed to 0.1 s; the backoff
        # doubles from reconnect_min up to reconnect_max.
        wait = float(m.group(2))
        check(backoff / 2 - 0.051 <= wait <= backoff + 0.051,
              f"failure {i + 1} announces a {wait} s wait, backoff {backoff} s: {lines}")
        backoff = min(backoff * 2, RECONNECT_MAX)
    return len(lines)


def refused(gw, sub, quiet_s, attempts):
    """Nothing reaches the subscriber for quiet_s, nor until the gateway has
    failed `attempts` times (Paho takes about a second for each TLS retry);
    the gateway never connects and is still running."""
    check(not sub.wait_for(lambda lines: lines, quiet_s),
          f"the subscriber received {sub.lines}")
    gw.wait_messages(r"mqtt: cannot connect to ", attempts, 15)
    check(sub.lines == [], f"the subscriber received {sub.lines}")
    check(gw.proc.poll() is None, f"gateway exited with status {gw.proc.poll()}")
    check(not gw.messages(r"mqtt: connected"), "the gateway connected")


def stop_refused(gw, sub):
    """SIGTERM: exit 0 after shutdown_timeout, the 20 readings dropped."""
    t0 = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    rc = gw.wait_exit(10)
    waited = time.monotonic() - t0
    print(f"gateway stopped {waited:.2f} s after SIGTERM", file=sys.stderr)
    check(rc == 0, f"exit status {rc} after SIGTERM")
    check(0.9 <= waited <= 3.0, f"stopped {waited:.2f} s after SIGTERM, shutdown_timeout is 1s")
    check(gw.messages(r"shutdown timeout: ") ==
          ["shutdown timeout: 20 undelivered messages dropped"],
          f"log: {gw.messages(r'shutdown timeout: ')}")
    check(gw.summary() == "produced 20, delivered 0, dropped 20 (shutdown 20), queued 0, "
                          "in flight 0", f"summary: {gw.summary()}")
    check(sub.lines == [], f"the subscriber received {sub.lines}")


def wrong_ca():
    with sbtest.Stack() as st:
        pki = st.pki()
        port = st.tls_broker(pki, log=True)
        sub = st.subscriber(port, tls=pki.client())
        gw = st.gateway(config(port, ca_file=pki.other_ca_cert,
                               cert_file=pki.client_cert, key_file=pki.client_key))
        refused(gw, sub, 3.0, 3)  # the first attempt and two retries

        tls = gw.messages(r"mqtt: TLS: ")
        check(tls, "no 'mqtt: TLS:' line")
        for line in tls:
            check("certificate verify failed" in line, f"unexpected TLS error {line!r}")
        retry_waits(gw, port, ["TCP/TLS connect failure"])
        # The gateway, not the broker, ended each handshake.
        st.broker_logs[port].wait_for(r"^OpenSSL Error\[0\]: .*:tlsv1 alert unknown ca$", 1)
        stop_refused(gw, sub)


def no_client_certificate():
    with sbtest.Stack() as st:
        pki = st.pki()
        port = st.tls_broker(pki, log=True)
        sub = st.subscriber(port, tls=pki.client())
        gw = st.gateway(config(port, ca_file=pki.ca_cert))
        refused(gw, sub, 2.0, 2)

        # With TLS 1.3 the client's handshake is over before the broker
        # checks the (missing) certificate: Paho reports the broker's alert
        # either during the handshake or while waiting for CONNACK.
        retry_waits(gw, port, ["TCP/TLS connect failure", "TCP connect completion failure"])
        for line in gw.messages(r"mqtt: TLS: "):
            check("certificate required" in line, f"unexpected TLS error {line!r}")
        st.broker_logs[port].wait_for(
            r"^OpenSSL Error\[0\]: .*:peer did not return a certificate$", 1)
        stop_refused(gw, sub)


def main():
    good_certificates("ssl", "3.1.1")
    good_certificates("mqtts", 5)
    wrong_ca()
    no_client_certificate()


if __name__ == "__main__":
    sbtest.run(main)
