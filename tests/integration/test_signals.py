#!/usr/bin/python3
"""Signals in every state of the publisher. Each case runs the gateway
against a real mosquitto that is frozen (SIGSTOP) where the case needs a
broker that is connected but answers nothing: the TCP connection stays up,
no PUBACK comes, so Paho's window and the publisher's hand-off ring are
full when the signal arrives. Every case ends with a clean exit (status 0;
under AddressSanitizer any use after free or leak fails it) and an exit
summary whose numbers add up exactly:
produced = delivered + dropped + queued + in flight.

- SIGTERM with a full ring and a shutdown deadline that expires;
- two SIGTERMs in a row (the second skips the wait);
- SIGHUP that changes the MQTT settings, then SIGTERM within 2 s (the
  reload's stop of the publisher is still waiting for the broker);
- 20 SIGHUPs that change the MQTT settings within 2 s, then the broker
  thaws: the gateway reconnects with the last settings and delivers all;
- a reload to mqtts:// when the TLS library cannot be loaded: the reload
  fails, the log says why, the old configuration keeps publishing;
- a reload whose password_file cannot be read: the reload fails, the old
  configuration keeps publishing, nothing leaks.
"""

import os
import signal
import subprocess
import time

import sbfaults
import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: sig
  shutdown_timeout: {timeout}
mqtt:
  uri: {uri}
  qos: 1
  keepalive: {keepalive}s
  max_inflight: 16
  reconnect_min: 50ms
  reconnect_max: 200ms
{extra}adapters:
  - name: sim
    type: simulated
    sensors: 4
    interval: 5ms
"""


def config(port, timeout="1s", keepalive=30, uri=None, extra=""):
    return CONFIG.format(port=port, timeout=timeout, keepalive=keepalive,
                         uri=uri or f"tcp://127.0.0.1:{port}", extra=extra)


class Frozen:
    """A mosquitto that can be frozen and thawed; thawed again at the end so
    that the stack can stop it."""

    def __init__(self, st):
        self.port = st.broker()
        self.proc = st.procs[-1]
        st.closers.insert(0, self.thaw)

    def freeze(self):
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)


def conserved(gw):
    c = sbfaults.summary_counts(gw.summary())
    check(c["produced"] == c["delivered"] + c["dropped"] + c["queued"] + c["in flight"],
          f"conservation: {gw.summary()}")
    return c


def frozen_with_full_ring(st, **kw):
    """A gateway whose broker froze while it was publishing."""
    broker = Frozen(st)
    gw = st.gateway(config(broker.port, **kw))
    gw.wait_log("mqtt: connected", 10)
    time.sleep(0.3)
    broker.freeze()
    time.sleep(0.5)  # 4 sensors at 5 ms: hundreds queued behind 16 + 16 in flight
    return broker, gw


def term_deadline():
    with sbtest.Stack() as st:
        _, gw = frozen_with_full_ring(st, timeout="1s")
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(15) == 0, "exit status after SIGTERM")
        took = time.monotonic() - t0
        gw.wait_messages(r"shutdown timeout: \d+ undelivered messages dropped", 1, 1)
        c = conserved(gw)
        check(c["in flight"] == 0, f"in flight after the deadline: {gw.summary()}")
        check(c["dropped"] > 0, f"nothing dropped with a frozen broker: {gw.summary()}")
        # 1 s deadline, then at most 2 s for the offline status and disconnect.
        check(took < 4.5, f"stopping took {took:.1f} s")
        print(f"SIGTERM, deadline expired: {gw.summary()} in {took:.1f} s")


def term_twice():
    with sbtest.Stack() as st:
        _, gw = frozen_with_full_ring(st, timeout="30s")
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(15) == 0, "exit status after two SIGTERMs")
        took = time.monotonic() - t0
        gw.wait_messages(r"second SIGTERM: stopping now", 1, 1)
        c = conserved(gw)
        check(c["in flight"] == 0, f"in flight: {gw.summary()}")
        check(took < 4, f"two SIGTERMs took {took:.1f} s to stop")
        print(f"two SIGTERMs: {gw.summary()} in {took:.1f} s")


def write_config(gw_cfg_path, text):
    with open(gw_cfg_path + ".new", "w") as f:
        f.write(text)
    os.replace(gw_cfg_path + ".new", gw_cfg_path)


def hup_then_term():
    with sbtest.Stack() as st:
        broker, gw = frozen_with_full_ring(st, timeout="1s")
        write_config(st.path("sensorbridge.yaml"), config(broker.port, keepalive=31))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_log("reload: MQTT settings changed, reconnecting", 5)
        time.sleep(0.5)  # the old publisher waits up to 2 s for its offline status
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(15) == 0, "exit status after SIGHUP then SIGTERM")
        conserved(gw)
        print(f"SIGHUP then SIGTERM: {gw.summary()}")


def many_hups():
    with sbtest.Stack() as st:
        broker, gw = frozen_with_full_ring(st, timeout="10s")
        path = st.path("sensorbridge.yaml")
        for i in range(20):
            write_config(path, config(broker.port, timeout="10s", keepalive=40 + i))
            gw.proc.send_signal(signal.SIGHUP)
            time.sleep(0.09)
        gw.wait_messages(r"reload: MQTT settings changed", 20, 10)
        broker.thaw()
        gw.wait_log("reload: reconnecting to", 10)
        time.sleep(1)
        check(gw.proc.poll() is None, "the gateway stopped after 20 reloads")
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(20) == 0, "exit status after 20 reloads")
        c = conserved(gw)
        check(c["dropped"] == 0 and c["delivered"] == c["produced"], gw.summary())
        print(f"20 SIGHUPs within 2 s: {gw.summary()}")


def fake_tls_library(st):
    """A directory with a libpaho-mqtt3as.so.1 that is no Paho: loading the
    TLS library fails there as it does where it is not installed."""
    d = st.path("fakelib")
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "empty.c")
    with open(src, "w") as f:
        f.write("int sb_not_paho;\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", os.path.join(d, "libpaho-mqtt3as.so.1"),
                    src], check=True)
    return d


def keeps_publishing(gw, sub, what):
    n = len(sub.readings())
    time.sleep(1)
    check(gw.proc.poll() is None, f"the gateway stopped after {what}")
    check(len(sub.readings()) > n + 100, f"readings stopped after {what}")


def reload_tls_missing():
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        lib = fake_tls_library(st)
        gw = st.gateway(config(port), env={"LD_LIBRARY_PATH": lib})
        gw.wait_log("mqtt: connected", 10)
        write_config(st.path("sensorbridge.yaml"),
                     config(port, uri=f"mqtts://127.0.0.1:{port}"))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_messages(r"mqtt: .*libpaho-mqtt3as\.so\.1", 1, 5)
        gw.wait_messages(r"reload failed, the running configuration stays: cannot use the new "
                         r"MQTT settings \(mqtts://127\.0\.0\.1:\d+\): ", 1, 5)
        keeps_publishing(gw, sub, "a reload to mqtts:// without the TLS library")
        sbfaults.term(gw, 15)
        c = conserved(gw)
        check(c["dropped"] == 0 and c["delivered"] == c["produced"], gw.summary())


def reload_password_unreadable():
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        gw = st.gateway(config(port))
        gw.wait_log("mqtt: connected", 10)
        missing = st.path("no-such-password")
        write_config(st.path("sensorbridge.yaml"),
                     config(port, extra=f"  password_file: {missing}\n").replace(
                         "  reconnect_min", "  username: someone\n  reconnect_min"))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_messages(r"cannot read mqtt\.password_file " + missing, 1, 5)
        gw.wait_messages(r"reload failed, the running configuration stays", 1, 5)
        keeps_publishing(gw, sub, "a reload with an unreadable password_file")
        sbfaults.term(gw, 15)
        c = conserved(gw)
        check(c["dropped"] == 0 and c["delivered"] == c["produced"], gw.summary())


def main():
    for case in (term_deadline, term_twice, hup_then_term, many_hups, reload_tls_missing,
                 reload_password_unreadable):
        print(f"-- {case.__name__}")
        case()


if __name__ == "__main__":
    sbtest.run(main)
