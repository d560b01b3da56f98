#!/usr/bin/python3
"""The gateway's connection to the broker has TCP_NODELAY (gateway/nodelay.c):
Paho opens that socket itself and has no option for it. The test takes a
copy of the gateway's socket with pidfd_getfd(2) and reads the option."""

import ctypes
import os
import socket

import sbtest
from sbtest import check

SYS_PIDFD_GETFD = 438  # the same number on every architecture

CONFIG = """\
gateway:
  id: nodelay
mqtt:
  uri: tcp://127.0.0.1:{port}
adapters:
  - name: sim
    type: simulated
    sensors: 1
    interval: 100ms
"""


def broker_sockets(pid, port):
    """TCP_NODELAY of each of the process's sockets connected to port."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    found = []
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
            except FileNotFoundError:
                continue
            local = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
            check(local >= 0, f"pidfd_getfd: {os.strerror(ctypes.get_errno())}")
            s = socket.socket(fileno=local)
            try:
                if s.family in (socket.AF_INET, socket.AF_INET6) and s.type == socket.SOCK_STREAM:
                    try:
                        if s.getpeername()[1] == port:
                            found.append(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                    except OSError:
                        pass  # not connected (a listening socket)
            finally:
                s.close()  # the copy; the gateway's own stays open
    finally:
        os.close(pidfd)
    return found


def main():
    with sbtest.Stack() as st:
        port = st.broker()
        gw = st.gateway(CONFIG.format(port=port))
        gw.wait_log("mqtt: connected to", 10)
        found = broker_sockets(gw.proc.pid, port)
        check(found == [1], f"TCP_NODELAY of the gateway's broker connections: {found}")


if __name__ == "__main__":
    sbtest.run(main)
