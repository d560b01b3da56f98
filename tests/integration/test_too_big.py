#!/usr/bin/python3
"""A reading whose message would be larger than the gateway makes one (4 KiB
of JSON): a raw TCP device sends a string value of 1,000 control
characters, which JSON escapes to 6,000 bytes. That reading is counted as
produced and as dropped for "too_big", the error is logged once, and the
readings around it are delivered: the exit summary adds up exactly."""

import json
import signal
import socket
import time

import sbfaults
import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: big
  stats_interval: 0s
mqtt:
  uri: tcp://127.0.0.1:{broker}
  qos: 1
adapters:
  - name: dev
    type: raw_tcp
    mode: server
    host: 127.0.0.1
    port: {port}
    format: json
    max_line: 65536
"""


def line(sensor, value):
    return (json.dumps({"sensor": sensor, "value": value}) + "\n").encode()


def main():
    with sbtest.Stack() as st:
        broker = st.broker()
        sub = st.subscriber(broker)
        port = sbtest.free_port()
        gw = st.gateway(CONFIG.format(broker=broker, port=port))
        gw.wait_log("mqtt: connected", 10)
        sbtest.wait_port(port)
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(line("before", 1) + line("huge", "\x01" * 1000) + line("after", 2))
            sub.wait_for(lambda lines: sum(t.endswith(("/before", "/after"))
                                           for t, _ in lines) >= 2, 10)
        gw.wait_messages(r"adapter 'dev': reading of sensor 'huge' does not fit in a message "
                         r"\(4096 bytes at most\); dropped and counted as too_big", 1, 5)
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(15) == 0, "exit status")
        c = sbfaults.summary_counts(gw.summary())
        check("dropped 1 (too_big 1)" in gw.summary(), gw.summary())
        check(c["produced"] == c["delivered"] + c["dropped"] + c["queued"] + c["in flight"],
              f"conservation: {gw.summary()}")
        got = [t.rsplit("/", 1)[1] for t, _ in sub.readings()]
        check(got == ["before", "after"], f"readings {got}")
        print(gw.summary())


if __name__ == "__main__":
    sbtest.run(main)
