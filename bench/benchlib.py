"""Shared helpers of bench/throughput, bench/latency, bench/footprint,
bench/callgrind, bench/commands, bench/baseline/compare and bench/run-all.

The process handling, /proc readers, broker configuration, subscriber
counter and Markdown helpers are bench/fanin's own, imported from it (it is a
script without a .py suffix, loaded as a module; its main() does not run), so
every benchmark starts and stops processes the same way: each in its own
process group, stopped in a `finally` with SIGTERM then SIGKILL. What is
added here: a broker per run, waiting for a process with its rusage (CPU
time and peak RSS of a process that has exited), the machine's CPU used by
others during a run, section markers in BENCHMARKS.md, targets and verdicts.

Standard library only; runs with /usr/bin/python3 on Debian 12.
"""

import datetime
import importlib.machinery
import importlib.util
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)


def _load_fanin():
    path = os.path.join(BENCH, "fanin")
    loader = importlib.machinery.SourceFileLoader("sb_bench_fanin", path)
    spec = importlib.util.spec_from_loader("sb_bench_fanin", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


fanin = _load_fanin()
fanin.log = lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True)

# What bench/fanin already does, reused as it is.
Procs = fanin.Procs
BenchError = fanin.BenchError
free_port = fanin.free_port
wait_port = fanin.wait_port
cpu_ticks = fanin.cpu_ticks
thread_ticks = fanin.thread_ticks
status_kib = fanin.status_kib
mosquitto_conf = fanin.mosquitto_conf
parse_summary = fanin.parse_summary
machine = fanin.machine


def cpu_ns(pid):
    """CPU time of every thread of a process now running, in nanoseconds
    (the first field of each thread's /proc/PID/task/TID/schedstat). Finer
    than cpu_ticks()' 10 ms ticks, which a process using a fraction of a
    per cent of a core crosses only a few times in a window; a thread that
    exits is dropped from the sum, so compare it only across a window in
    which the process keeps its threads."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def build_info(gateway):
    """bench/fanin's line: it names the Paho the gateway uses, as its -V says
    ("Paho MQTT C 1.3.12 (...), static, without stack tracing and heap
    tracking for tcp://, ..." or "Paho MQTT C loaded at run time (...)").
    A gateway from before -V said so loads Paho at run time."""
    text = fanin.build_info(gateway)
    if "paho" not in text.lower():
        text += ", Paho loaded at run time (libpaho-mqtt3a.so.1 for tcp://)"
    return text
table = fanin.table
fmt = fanin.fmt
Counter = fanin.Counter
device_stats = fanin.device_stats
CLK_TCK = fanin.CLK_TCK
MOSQUITTO = fanin.MOSQUITTO

SYSTEM_PYTHON = "/usr/bin/python3"
GATEWAY_ID = "bench"
MIB = 1024 * 1024


def logger(name):
    def log(msg):
        print(f"{name}: {msg}", file=sys.stderr, flush=True)
    return log


def install_signal_handlers():
    """Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt, so every
    `finally` runs and stops what was started."""
    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def run_main(name, main):
    """Runs main() with bench/fanin's exit conventions."""
    log = logger(name)
    try:
        main()
    except KeyboardInterrupt as e:
        log(f"interrupted{f' ({e})' if str(e) else ''}; everything started was stopped")
        sys.exit(130)
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(1)


# --- binaries and tools ---------------------------------------------------------

BUILD_HINT = ("cd {root} && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "
              "&& cmake --build build -j2")
APT_HINT = ("apt-get install mosquitto mosquitto-clients libmosquitto-dev valgrind "
            "python3-paho-mqtt python3-pymodbus")


def binaries(build_dir, names):
    """Paths of build products by short name; BenchError names what is missing."""
    known = {
        "gateway": "sensorbridge",
        "sim": "tests/modbus_sim",
        "count_sub": "bench/count_sub",
        "ceiling_pub": "bench/ceiling_pub",
        "ceiling_mosq": "bench/ceiling_mosq",
        "ceiling_pub_fast": "bench/ceiling_pub_fast",
        "gateway_paho3a": "bench/sensorbridge_paho3a",
        "gateway_lean": "bench/sensorbridge_lean",
        "gateway_noinit": "bench/sensorbridge_noinit",
        "gateway_pahostatic": "bench/sensorbridge_pahostatic",
        "gateway_pahofast": "bench/sensorbridge_pahofast",
        "nodelay_preload": "bench/libnodelay_preload.so",
        "rtu_libmodbus": "bench/rtu_libmodbus",
        "poll_floor": "bench/poll_floor",
    }
    out, missing = {}, []
    for n in names:
        p = os.path.join(build_dir, known[n])
        if not os.access(p, os.X_OK if not p.endswith(".so") else os.R_OK):
            missing.append(p)
        out[n] = p
    if missing:
        raise BenchError(f"missing: {', '.join(missing)}; build first: "
                         + BUILD_HINT.format(root=ROOT)
                         + " (bench programs need libmosquitto-dev: " + APT_HINT + ")")
    return out


def copy_binaries(bins, tmp_root):
    """Every run uses copies, so a rebuild of build/ meanwhile changes nothing."""
    out = {}
    for k, p in bins.items():
        d = os.path.join(tmp_root, "bin", os.path.basename(os.path.dirname(p)))
        os.makedirs(d, exist_ok=True)
        dst = os.path.join(d, os.path.basename(p))
        shutil.copy2(p, dst)
        out[k] = dst
    return out


def need_tools(*tools):
    missing = [t for t in tools if not shutil.which(t) and not os.access(t, os.X_OK)]
    if missing:
        raise BenchError(f"not installed: {', '.join(missing)} ({APT_HINT})")


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- processes --------------------------------------------------------------------


def start_broker(procs, tmp, name="mosquitto", extra=None):
    """A private mosquitto on 127.0.0.1 and a free port (max_queued_messages 0,
    max_inflight_messages 0, no persistence, and any `extra` lines); returns
    (proc, port)."""
    port = free_port()
    conf = os.path.join(tmp, f"{name}.conf")
    mosquitto_conf(conf, port)
    if extra:
        with open(conf, "a") as f:
            f.write("".join(l + "\n" for l in extra))
    proc = procs.start(name, [MOSQUITTO, "-c", conf])
    wait_port(port)
    return proc, port


def start_sim(procs, sim_bin, latency_ms, extra=()):
    """tests/modbus_sim on an ephemeral port (and `extra` options); returns
    (proc, port)."""
    sim = procs.start("modbus_sim", [sim_bin, "--port", "0", "--latency-ms", str(latency_ms),
                                     *extra],
                      stdout=subprocess.PIPE, text=True)
    line = sim.stdout.readline()
    if not line.startswith("PORT "):
        raise BenchError(f"modbus_sim did not report its port: {line!r} "
                         f"{procs.stderr_text('modbus_sim')}")
    return sim, int(line.split()[1])


def start_count_sub(procs, bin_path, port, topic, expect=0, qos=0, idle_ms=0, max_s=0,
                    latency=False, skip_ms=0, name="count_sub"):
    """bench/count_sub, once it has its subscription (it prints READY)."""
    cmd = [bin_path, "--port", str(port), "--topic", topic, "--qos", str(qos)]
    if expect:
        cmd += ["--expect", str(expect)]
    if idle_ms:
        cmd += ["--idle-ms", str(int(idle_ms))]
    if max_s:
        cmd += ["--max-s", str(max_s)]
    if latency:
        cmd += ["--latency", "--skip-ms", str(int(skip_ms))]
    sub = procs.start(name, cmd, stdout=subprocess.PIPE, text=True)
    line = sub.stdout.readline()
    if line.strip() != "READY":
        raise BenchError(f"count_sub did not subscribe: {line!r} {procs.stderr_text(name)}")
    return sub


def count_sub_result(procs, sub, timeout, name="count_sub"):
    """Waits for count_sub's JSON line (it stops by itself) and returns it."""
    try:
        out, _ = sub.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        procs.stop(sub)
        raise BenchError(f"count_sub did not finish within {timeout:.0f} s")
    lines = [l for l in (out or "").splitlines() if l.startswith("{")]
    if not lines:
        raise BenchError(f"count_sub printed no result: {procs.stderr_text(name)[-500:]}")
    return json.loads(lines[-1])


def wait_rusage(proc, timeout, poll=None, poll_every=0.1):
    """Waits for a child with wait4(), so its CPU time and peak RSS are known
    after it exited. poll(), if given, runs every poll_every seconds while it
    runs (e.g. to sample its threads). Returns (exit code, rusage) or raises
    BenchError on timeout (the caller's Procs stops it)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, ru
        if time.monotonic() > deadline:
            raise BenchError(f"{proc.bench_name} (pid {proc.pid}) did not finish within "
                             f"{timeout:.0f} s")
        if poll:
            poll()
        time.sleep(poll_every)


def rusage_dict(ru):
    return {"cpu_s": round(ru.ru_utime + ru.ru_stime, 4), "user_s": round(ru.ru_utime, 4),
            "sys_s": round(ru.ru_stime, 4),
            "vol_cs": ru.ru_nvcsw, "invol_cs": ru.ru_nivcsw}


class ThreadSampler:
    """CPU ticks per thread name of a running process, sampled until it exits
    (the last sample is at most one poll interval old)."""

    def __init__(self, pid):
        self.pid = pid
        self.last = {}

    def __call__(self):
        out = {}
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    text = f.read()
                name = text[text.index("(") + 1:text.rindex(")")]
                if tid == str(self.pid):
                    name = "main thread"  # sensorbridge's event loop
                fields = text.rsplit(")", 1)[1].split()
                out[tid] = (name, int(fields[11]) + int(fields[12]))
            except (OSError, ValueError):
                pass
        if out:
            for tid, v in out.items():
                self.last[tid] = v

    def by_name(self):
        agg = {}
        for name, ticks in self.last.values():
            agg[name] = agg.get(name, 0) + ticks / CLK_TCK
        return {k: round(v, 3) for k, v in sorted(agg.items())}


class MachineCpu:
    """CPU time used on the whole machine between start() and stop(), from
    /proc/stat, so a run can say how much CPU processes it did not start
    used meanwhile (another build or test run shares the machine)."""

    @staticmethod
    def _busy():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / CLK_TCK

    def start(self):
        self.t0, self.b0 = time.monotonic(), self._busy()

    def stop(self):
        self.t1, self.b1 = time.monotonic(), self._busy()
        return self

    @property
    def busy_s(self):
        return self.b1 - self.b0

    @property
    def elapsed(self):
        return self.t1 - self.t0

    def others_pct(self, ours_s):
        """% of one core used by everything but `ours_s` CPU-seconds."""
        if self.elapsed <= 0:
            return None
        return round(max(0.0, self.busy_s - ours_s) * 100.0 / self.elapsed, 1)


# --- configuration ------------------------------------------------------------------


def sim_config(broker_port, qos, sensors, interval, count=None, max_inflight=64,
               capacity=10000, overflow="block", log_level="info", stats=False):
    """sensorbridge with one simulated adapter `sim` of `sensors` sensors."""
    adapter = f"{{name: sim, type: simulated, sensors: {sensors}, interval: {interval}"
    if count:
        adapter += f", count: {count}"
    adapter += "}"
    return "\n".join([
        f"gateway: {{id: {GATEWAY_ID}, shutdown_timeout: 5s, log_level: {log_level}"
        + ("" if stats else ", stats_interval: 0s") + "}",
        f'mqtt: {{uri: "tcp://127.0.0.1:{broker_port}", qos: {qos}, '
        f"max_inflight: {max_inflight}}}",
        f"outbox: {{capacity: {capacity}, max_bytes: 64MiB, overflow: {overflow}}}",
        f"adapters: [{adapter}]",
    ]) + "\n"


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# --- results ------------------------------------------------------------------------


def emit_json(bench, row):
    print("JSON " + json.dumps({"bench": bench, **row}, sort_keys=True), flush=True)


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def verdict(value, target, higher_is_better=True, unit=""):
    """'met' or 'missed by X' (X in the value's unit and in %)."""
    if value is None:
        return "not measured"
    ok = value >= target if higher_is_better else value <= target
    if ok:
        return "**met**"
    gap = (target - value) if higher_is_better else (value - target)
    pct = gap * 100.0 / target if target else 0
    return f"**missed** by {gap:.3g}{unit} ({pct:.0f} %)"


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine_line(m):
    return (f"{m['nproc']} CPUs (`nproc`), {m['cpu']}, {m['mem_gib']} GiB, Linux {m['kernel']}; "
            f"load average at start {m['loadavg']}")


def header(title, command, date, m, gateway_build=None):
    out = [f"## {title}", "", f"Command: `{command}`  ", f"Date: {date}  ",
           f"Machine: {machine_line(m)}" + ("  " if gateway_build else "")]
    if gateway_build:
        out.append(f"Gateway: {gateway_build}")
    out.append("")
    return out


def command_line(name, argv):
    return name + ("" if not argv else " " + " ".join(argv))


def insert_section(text, block, after=None):
    """text with block added after the section `after` (its end marker), or
    at the end when there is no such section."""
    end = f"<!-- {after}:end -->" if after else None
    e = text.find(end) if end else -1
    if e < 0:
        return text.rstrip("\n") + "\n\n" + block + "\n"
    e += len(end)
    return text[:e] + "\n\n" + block + text[e:]


def write_section(name, section, log=None, after=None):
    """Rewrites the part of BENCHMARKS.md between <!-- name:begin --> and
    <!-- name:end -->; a missing section is created with its markers right
    after the section `after` if there is one, else at the end."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    path = os.path.join(ROOT, "BENCHMARKS.md")
    block = f"{begin}\n{section.rstrip()}\n{end}"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    b, e = text.find(begin), text.find(end)
    if b >= 0 and e > b:
        text = text[:b] + block + text[e + len(end):]
    else:
        text = insert_section(text, block, after)
    tmp = path + f".{name}-tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    if log:
        log(f"wrote the {name} section of {path}")


def tmp_root(prefix, parent=None):
    return tempfile.mkdtemp(prefix=f"sb-{prefix}-", dir=parent)


def smaps_breakdown(pid):
    """Resident KiB by mapping (library file name, [heap], [stack], anonymous,
    ...) and the Anon/File totals, from /proc/PID/smaps."""
    out, cur = {}, None
    totals = {"Rss": 0, "Anonymous": 0, "Pss": 0}
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split()
                if not head:
                    continue
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    path = head[5] if len(head) > 5 else "[anon]"
                    cur = os.path.basename(path) if path.startswith("/") else path
                    continue
                key = head[0].rstrip(":")
                if key in totals:
                    totals[key] += int(head[1])
                if key == "Rss" and cur is not None:
                    out[cur] = out.get(cur, 0) + int(head[1])
    except OSError:
        return None, None
    return dict(sorted(out.items(), key=lambda kv: -kv[1])), totals


# --- the throughput workload ---------------------------------------------------------

# Who publishes in a throughput run. Each publishes `messages` readings of the
# same topics and sizes (sensorbridge/bench/sim/TEMP_NN, ~113-byte JSON) at
# the same QoS with the same window of in-flight messages.
FLOOD_KINDS = {
    "sensorbridge": "sensorbridge (simulated sensors, outbox, Paho MQTTAsync)",
    "sensorbridge-pahofast": "sensorbridge linked with Paho minus stack tracing and heap "
                             "tracking (bench build, what-if)",
    "paho": "minimal Paho MQTTAsync publisher (ceiling_pub, callback mode)",
    "paho-thread": "minimal Paho MQTTAsync publisher (ceiling_pub, thread mode)",
    "paho-fast": "ceiling_pub (callback mode) linked with Paho minus stack tracing and heap "
                 "tracking (bench build, what-if ceiling for sensorbridge-pahofast)",
    "libmosquitto": "minimal libmosquitto publisher (ceiling_mosq, one thread)",
    "asyncio": "asyncio baseline (bench/baseline/asyncio_gateway.py, paho-mqtt)",
}


def flood_command(kind, bins, tmp, port, qos, messages, sensors, inflight, capacity):
    if kind in ("sensorbridge", "sensorbridge-pahofast"):
        count = messages // sensors
        cfg = write_file(os.path.join(tmp, "sensorbridge.yaml"),
                         sim_config(port, qos, sensors, "1ms", count=count,
                                    max_inflight=inflight, capacity=capacity))
        exe = bins["gateway"] if kind == "sensorbridge" else bins["gateway_pahofast"]
        return [exe, "-c", cfg]
    common = ["--port", str(port), "--messages", str(messages), "--qos", str(qos),
              "--inflight", str(inflight), "--sensors", str(sensors)]
    if kind == "paho":
        return [bins["ceiling_pub"], *common, "--mode", "callback"]
    if kind == "paho-thread":
        return [bins["ceiling_pub"], *common, "--mode", "thread"]
    if kind == "paho-fast":
        return [bins["ceiling_pub_fast"], *common, "--mode", "callback"]
    if kind == "libmosquitto":
        return [bins["ceiling_mosq"], *common]
    if kind == "asyncio":
        return [SYSTEM_PYTHON, os.path.join(BENCH, "baseline", "asyncio_gateway.py"),
                "--broker-port", str(port), "--qos", str(qos), "--max-inflight", str(inflight),
                "--queue-size", str(capacity), "--sim-sensors", str(sensors),
                "--sim-interval-ms", "1", "--sim-count", str(messages // sensors)]
    raise BenchError(f"unknown publisher {kind}")


SYSCALL_EVENTS = ["task-clock", "context-switches", "raw_syscalls:sys_enter",
                  "syscalls:sys_enter_futex", "syscalls:sys_enter_write",
                  "syscalls:sys_enter_writev", "syscalls:sys_enter_sendto",
                  "syscalls:sys_enter_sendmsg", "syscalls:sys_enter_read",
                  "syscalls:sys_enter_recvfrom", "syscalls:sys_enter_epoll_wait",
                  "syscalls:sys_enter_poll", "syscalls:sys_enter_select",
                  "syscalls:sys_enter_pselect6", "syscalls:sys_enter_ppoll"]


def parse_perf_stat(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) >= 3 and parts[0] and parts[0][0].isdigit():
                    name = parts[2]
                    if name.startswith("syscalls:sys_enter_"):
                        name = name[len("syscalls:sys_enter_"):]
                    elif name.startswith("raw_syscalls:"):
                        name = "raw_syscalls"
                    try:
                        out[name] = float(parts[0])
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def run_flood(kind, qos, bins, messages, sensors=200, inflight=64, capacity=10000,
              tmpdir=None, keep_tmp=False, log=None, syscalls=False):
    """One throughput run: private broker, count_sub (QoS 0 subscription, so
    the subscriber never acknowledges and stays cheap), then the publisher,
    which stops by itself after `messages` confirmed readings. Returns what
    was measured."""
    if messages % sensors:
        raise BenchError(f"readings ({messages}) must be a multiple of sensors ({sensors})")
    tmp = tempfile.mkdtemp(prefix=f"sb-flood-{kind}-q{qos}-", dir=tmpdir)
    procs = Procs(tmp)
    try:
        broker, port = start_broker(procs, tmp)
        limit = 60 + messages / 1000.0
        sub = start_count_sub(procs, bins["count_sub"], port, "sensorbridge/bench/#",
                              expect=messages, qos=0, idle_ms=15000, max_s=limit + 30)
        cmd = flood_command(kind, bins, tmp, port, qos, messages, sensors, inflight, capacity)
        perf_out = os.path.join(tmp, "perf-stat.csv")
        if syscalls:
            # perf as the parent: every thread counted; CPU then comes from
            # task-clock, not from wait4() (that would be perf's own).
            cmd = ["perf", "stat", "-x,", "-o", perf_out, "-e", ",".join(SYSCALL_EVENTS),
                   "--", *cmd]
        machine_cpu = MachineCpu()
        b0 = cpu_ticks(broker.pid)
        machine_cpu.start()
        t0 = time.monotonic()
        pub = procs.start(kind, cmd, stdout=subprocess.PIPE, text=True)
        sampler = ThreadSampler(pub.pid)
        rc, ru = wait_rusage(pub, limit, poll=sampler)
        t1 = time.monotonic()
        b1 = cpu_ticks(broker.pid)
        res_sub = count_sub_result(procs, sub, timeout=30)
        machine_cpu.stop()
        out = pub.stdout.read() if pub.stdout else ""
        err = procs.stderr_text(kind)
        if rc != 0:
            raise BenchError(f"{kind} exited with status {rc}: {err[-1500:]}")
        ru_d = rusage_dict(ru)
        res = {"kind": kind, "qos": qos, "messages": messages, "sensors": sensors,
               "inflight": inflight, "received": res_sub["readings"],
               "rate_per_s": res_sub["rate_per_s"], "span_s": res_sub["span_s"],
               "payload_bytes_mean": round(res_sub["bytes"] / max(1, res_sub["readings"]), 1),
               "publisher_wall_s": round(t1 - t0, 3), **ru_d,
               "cpu_us_per_msg": round(ru_d["cpu_s"] * 1e6 / messages, 2),
               "cs_per_msg": round((ru.ru_nvcsw + ru.ru_nivcsw) / messages, 2),
               "threads_cpu_s": sampler.by_name(),
               "broker_cpu_s": round((b1 - b0) / CLK_TCK, 3),
               "sub_cpu_s": res_sub["cpu_s"]}
        ours = ru_d["cpu_s"] + res["broker_cpu_s"] + res_sub["cpu_s"]
        res["others_cpu_pct"] = machine_cpu.others_pct(ours)
        span = res_sub["span_s"] or (t1 - t0)
        res["cpu_pct"] = round(100.0 * ru_d["cpu_s"] / max(t1 - t0, 1e-9), 1)
        res["broker_cpu_pct"] = round(100.0 * res["broker_cpu_s"] / max(span, 1e-9), 1)
        res["sub_cpu_pct"] = round(100.0 * res_sub["cpu_s"] / max(span, 1e-9), 1)
        if kind.startswith("sensorbridge"):
            res["summary"] = parse_summary(err)
        else:
            lines = [l for l in out.splitlines() if l.startswith("{")]
            res["publisher_report"] = json.loads(lines[-1]) if lines else None
        if syscalls:
            ps = parse_perf_stat(perf_out)
            res["syscalls_per_msg"] = {k: round(v / messages, 2) for k, v in ps.items()
                                       if k not in ("task-clock",) and v}
            if "task-clock" in ps:
                res["cpu_s"] = round(ps["task-clock"] / 1000.0, 4)
                res["cpu_us_per_msg"] = round(ps["task-clock"] * 1000.0 / messages, 2)
        if res["received"] != messages:
            res["note"] = f"subscriber received {res['received']} of {messages}"
        return res
    finally:
        procs.stop_all()
        if not keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
