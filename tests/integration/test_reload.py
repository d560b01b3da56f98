#!/usr/bin/python3
"""Reload on SIGHUP: start with three adapters, then change one, add a
fourth and remove one. The unchanged adapter's seq continues without a gap,
the changed one restarts with its new settings, the new one appears, the
removed one stops. An invalid file keeps the running configuration and logs
the error with FILE:LINE:COLUMN. Changed MQTT settings reconnect without
losing a reading."""

import json
import signal
import time

import sbtest
from sbtest import check

HEAD = """\
gateway:
  id: reload
  stats_interval: 0s
mqtt:
  uri: tcp://127.0.0.1:{port}
  keepalive: {keepalive}
adapters:
"""


def sim(name, mean):
    return (f"  - name: {name}\n    type: simulated\n    sensors: 1\n    interval: 50ms\n"
            f"    mean: {mean}\n    stddev: 0.5\n")


def by_adapter(sub):
    out = {}
    for topic, payload in sub.readings():
        r = json.loads(payload)
        out.setdefault(topic.split("/")[2], []).append(r)
    return out


def main():
    with sbtest.Stack() as st:
        port = st.broker()
        sub = st.subscriber(port)
        cfg = HEAD.format(port=port, keepalive="30s")
        gw = st.gateway(cfg + sim("keep", 10) + sim("change", 20) + sim("remove", 30))
        path = gw.proc.args[2]
        gw.wait_log("mqtt: connected", 10)
        time.sleep(1)

        with open(path, "w") as f:
            f.write(cfg + sim("keep", 10) + sim("change", 200) + sim("add", 40))
        t_reload = time.time() * 1000
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_log("reload: 1 adapters kept running, 2 started, 2 stopped", 5)
        time.sleep(1)

        with open(path, "w") as f:
            f.write(cfg + "  - name: broken\n    type: simulated\n    interval: soon\n")
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_log("reload failed", 5)
        line = next(l for l in gw.log if "reload failed" in l)
        want = (f"reload failed, the running configuration stays: {path}:10:15: interval: "
                "expected a duration such as 250ms, 5s or 2m, got 'soon'")
        check(line.endswith(want), f"error line: {line}")
        time.sleep(0.5)

        with open(path, "w") as f:
            f.write(HEAD.format(port=port, keepalive="20s") + sim("keep", 10) +
                    sim("change", 200) + sim("add", 40))
        gw.proc.send_signal(signal.SIGHUP)
        gw.wait_log("reload: MQTT settings changed, reconnecting", 5)
        gw.wait_log("reload: reconnecting to", 5)
        time.sleep(1.5)
        gw.proc.send_signal(signal.SIGTERM)
        check(gw.wait_exit(10) == 0, "exit status")
        check(sum("mqtt: connected" in l for l in gw.log) == 2, "did not reconnect once")
        time.sleep(0.5)

        got = by_adapter(sub)
        keep = got["keep"]
        check([r["seq"] for r in keep] == list(range(1, len(keep) + 1)),
              "unchanged adapter: seq has a gap or a duplicate")
        gaps = [b["ts"] - a["ts"] for a, b in zip(keep, keep[1:])]
        check(max(gaps) < 500, f"unchanged adapter paused {max(gaps)} ms")
        check(len(keep) > 70, f"unchanged adapter: only {len(keep)} readings")
        old = [r for r in got["change"] if r["value"] < 100]
        new = [r for r in got["change"] if r["value"] > 100]
        check(old and new and new[0]["seq"] == 1, "changed adapter did not restart")
        check(max(r["ts"] for r in old) <= min(r["ts"] for r in new), "old and new interleave")
        check(min(r["ts"] for r in got["add"]) >= t_reload - 100, "added adapter before reload")
        check(max(r["ts"] for r in got["remove"]) <= t_reload + 500,
              "removed adapter kept publishing")
        print(f"keep: {len(keep)} readings, largest gap {max(gaps)} ms; "
              f"change: {len(old)} old + {len(new)} new; add: {len(got['add'])}")


if __name__ == "__main__":
    sbtest.run(main)
