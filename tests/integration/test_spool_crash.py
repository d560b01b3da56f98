#!/usr/bin/python3
"""The disk spool across a crash and across damage:
3. Crash: sync always, the broker down, the gateway killed with SIGKILL
   mid-production; then the gateway (with another adapter name) and the
   broker restarted: every reading the first run had accepted (its last
   "spool: N records" line) is delivered, complete and in order per sensor,
   none twice.
4. Corruption: a spool whose last segment ends with a bit-flipped record and
   a truncated one is replayed up to the damage, and start-up reports how
   many records were discarded."""

import glob
import os
import re
import signal
import time

import sbfaults
import sbtest
from sbtest import check

CONFIG = """\
gateway:
  id: crash
  log_level: debug
  shutdown_timeout: 20s
  stats_interval: 0s
mqtt:
  uri: tcp://127.0.0.1:{port}
  reconnect_min: 100ms
  reconnect_max: 300ms
outbox:
  capacity: 1000
  spool:
    dir: {dir}
    sync: {sync}
adapters:
  - name: {adapter}
    type: simulated
    sensors: 5
    interval: 10ms
    {count}
"""


def accepted(gw):
    """The highest record count the gateway reported as safely spooled."""
    counts = [int(m.group(1)) for l in gw.log
              if (m := re.search(r"spool: (\d+) records appended", l))]
    return max(counts, default=0)


def crash():
    with sbtest.Stack() as st:
        spool = st.path("spool")
        broker = sbfaults.Broker(st)
        gw = st.gateway(CONFIG.format(port=broker.port, dir=spool, sync="always",
                                      adapter="before", count=""))
        gw.wait_log("cannot connect to", 10)
        time.sleep(1.5)
        gw.proc.send_signal(signal.SIGKILL)
        gw.wait_exit(10)
        known = accepted(gw)
        check(known > 100, f"only {known} records reported as accepted")

        broker.start()
        sub = sbfaults.Subscriber(st, broker.port)
        gw2 = st.gateway(CONFIG.format(port=broker.port, dir=spool, sync="always",
                                       adapter="after", count="count: 10"))
        gw2.wait_log("records from an earlier run", 10)
        check(gw2.wait_exit(60) == 0, "second run did not finish")
        c = sbfaults.summary_counts(gw2.summary())
        sub.wait_for(lambda lines: len(sbfaults.readings_by_sensor(lines, "before")) == 5 and
                     sum(map(len, sbfaults.readings_by_sensor(lines, "before").values())) >=
                     c["recovered"], 20)
        before = sbfaults.readings_by_sensor(sub.readings(), "before")
        unique, dups = sbfaults.check_complete(before, c["recovered"])
        print(f"accepted before the kill (logged): {known}; recovered {c['recovered']}; "
              f"delivered {unique}, duplicates {dups}")
        check(unique >= known, f"{unique} delivered but {known} were accepted")
        check(dups == 0, f"{dups} readings delivered twice")
        sbfaults.check_complete(sbfaults.readings_by_sensor(sub.readings(), "after"), 50)


def corruption():
    with sbtest.Stack() as st:
        spool = st.path("spool")
        broker = sbfaults.Broker(st)
        gw = st.gateway(CONFIG.format(port=broker.port, dir=spool, sync="always",
                                      adapter="before", count="count: 40"))
        gw.wait_log("adapter 'before': done", 20)
        gw.proc.send_signal(signal.SIGKILL)
        gw.wait_exit(10)
        segs = sorted(glob.glob(os.path.join(spool, "seg-*.log")))
        check(segs, "no spool segment written")
        last = segs[-1]
        size = os.path.getsize(last)
        with open(last, "r+b") as f:
            f.truncate(size - 7)          # the last record loses its tail
            f.seek(size - 7 - 200)        # a bit flip inside the record before it
            b = f.read(1)
            f.seek(size - 7 - 200)
            f.write(bytes([b[0] ^ 0x10]))

        broker.start()
        sub = sbfaults.Subscriber(st, broker.port)
        gw2 = st.gateway(CONFIG.format(port=broker.port, dir=spool, sync="interval",
                                       adapter="after", count="count: 1"))
        gw2.wait_log("records from an earlier run", 10)
        line = next(l for l in gw2.log if "records from an earlier run" in l)
        m = re.search(r"(\d+) records from an earlier run.*; (\d+) damaged records discarded",
                      line)
        check(m is not None, f"start-up line: {line}")
        recovered, damaged = int(m.group(1)), int(m.group(2))
        # Records are about 170 bytes: the flip lands in the payload of the
        # next-to-last record, the cut in the last one.
        check(damaged == 2, f"{damaged} damaged records reported, 2 were damaged")
        check(recovered == 198, f"recovered {recovered} of the 198 intact records")
        check(gw2.wait_exit(30) == 0, "second run did not finish")
        sub.wait_for(lambda lines: sum(map(len, sbfaults.readings_by_sensor(
            lines, "before").values())) >= recovered, 20)
        before = sbfaults.readings_by_sensor(sub.readings(), "before")
        unique, _ = sbfaults.check_complete(before, recovered)
        print(f"replayed {unique} of 200 records, {damaged} reported damaged")


def main():
    crash()
    corruption()


if __name__ == "__main__":
    sbtest.run(main)
