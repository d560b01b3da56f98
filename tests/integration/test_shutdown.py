#!/usr/bin/python3
"""Stopping by signal. With a broker: SIGTERM stops the adapters, delivers what
is queued, publishes the retained "offline" status and exits 0 with every
produced reading delivered. Without a broker: SIGTERM waits shutdown_timeout,
counts what could not be delivered as dropped for "shutdown", and exits 0."""

import re
import signal
import time

import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: term
  shutdown_timeout: {timeout}
mqtt:
  uri: tcp://127.0.0.1:{port}
  reconnect_min: 100ms
  reconnect_max: 200ms
adapters:
  - name: sim
    type: simulated
    sensors: 3
    interval: 10ms
"""


def counts(summary):
    keys = ["produced", "delivered", "dropped", "queued", "in flight"]
    return {k: int(re.search(k + r" (\d+)", summary).group(1)) for k in keys}


def with_broker():
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        gw = st.gateway(CONFIG.format(port=port, timeout="5s"))
        gw.wait_log("mqtt: connected", 10)
        time.sleep(0.5)
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status after SIGTERM")
        c = counts(gw.summary())
        check(c["produced"] > 50, f"only {c['produced']} readings in 0.5 s")
        check(c["delivered"] == c["produced"] and c["dropped"] == 0, gw.summary())
        sub.wait_for(lambda lines: len(lines) >= c["produced"] + 2, 5)
        check(len(sub.readings()) == c["produced"],
              f"subscriber got {len(sub.readings())} of {c['produced']}")
        check(sub.status() == ["online", "offline"], f"status {sub.status()}")


def without_broker():
    with sbtest.Stack() as st:
        port = sbtest.free_port()
        gw = st.gateway(CONFIG.format(port=port, timeout="1s"))
        gw.wait_log("cannot connect to", 10)
        time.sleep(0.3)
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status after SIGTERM")
        waited = time.monotonic() - t0
        check(0.9 <= waited <= 5, f"stopped after {waited:.2f} s, shutdown_timeout is 1s")
        gw.wait_log("shutdown timeout: ", 1)
        c = counts(gw.summary())
        check(c["produced"] > 0 and c["delivered"] == 0, gw.summary())
        check(f"dropped {c['produced']} (shutdown {c['produced']})" in gw.summary(),
              gw.summary())


def main():
    with_broker()
    without_broker()


if __name__ == "__main__":
    sbtest.run(main)
