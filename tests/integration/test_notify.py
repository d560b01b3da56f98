#!/usr/bin/python3
"""The service manager protocol, as systemd would see it: with NOTIFY_SOCKET
pointing at a datagram socket of this test and WATCHDOG_USEC set, the
gateway sends READY=1 once it runs, a STATUS= line, WATCHDOG=1 pings at
half the interval, and STOPPING=1 on SIGTERM, while it publishes to a real
mosquitto."""

import os
import signal
import socket
import subprocess
import time

import sbtest
from sbtest import check

CONFIG = """\
gateway: {{id: notify}}
mqtt: {{uri: "tcp://127.0.0.1:{port}"}}
adapters:
  - name: sim
    type: simulated
    sensors: 2
    interval: 100ms
"""


def main():
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        path = st.path("notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        st.closers.append(sock.close)
        cfg = st.path("sb.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(port=port))
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
        gw = subprocess.Popen([sbtest.SB_BIN, "-c", cfg], env=env, stdin=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        st.procs.append(gw)
        messages = []
        sock.settimeout(0.2)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                messages.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
        gw.send_signal(signal.SIGTERM)
        sock.settimeout(2)
        try:
            while True:
                messages.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        check(gw.wait(10) == 0, "exit status")
        print("\n".join(messages[:6]))
        check("READY=1" in messages, "no READY=1")
        check(any(m.startswith("STATUS=conn") and f"tcp://127.0.0.1:{port}; 1 adapter;" in m
                  for m in messages), "no STATUS= line naming the broker")
        pings = messages.count("WATCHDOG=1")
        check(8 <= pings <= 12, f"{pings} WATCHDOG=1 pings in 2 s at a 400 ms watchdog")
        check(messages[-1] == "STOPPING=1" or "STOPPING=1" in messages, "no STOPPING=1")
        check(messages.index("READY=1") < messages.index("STOPPING=1"), "order")
        check(sub.wait_for(lambda _: len(sub.readings()) >= 10, 5), "no readings published")


if __name__ == "__main__":
    sbtest.run(main)
