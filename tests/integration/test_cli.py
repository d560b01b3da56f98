#!/usr/bin/python3
"""The command line: --help, --version, wrong usage, a missing or broken
configuration file, and --check-config's one-line summary."""

import subprocess

import sbtest
from sbtest import check


def sb(*args):
    p = subprocess.run([sbtest.SB_BIN, *args], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def main():
    rc, out, _ = sb("--help")
    check(rc == 0 and out.startswith("Usage: sensorbridge [OPTION]..."), "--help")
    for opt in ("--config FILE", "--check-config", "--log-level LEVEL", "--version", "--test",
                "--adapter NAME", "--seconds N", "--json"):
        check(opt in out, f"--help does not mention {opt}")

    rc, out, _ = sb("--version")
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 2 and lines[0].startswith("sensorbridge ") and
          lines[1].startswith("Paho MQTT C ") and "ssl://" in lines[1], f"--version {out!r}")

    rc, _, err = sb("--frobnicate")
    check(rc == 2 and "Try 'sensorbridge --help'" in err, f"bad option: {rc} {err!r}")

    rc, _, err = sb("--json")
    check(rc == 2 and err.startswith("sensorbridge: --adapter, --seconds and --json go with "
                                     "--test\n"), f"--json alone: {rc} {err!r}")
    for bad in ("0", "1.5", "-3", "3601", "x"):
        rc, _, err = sb("--test", "--seconds", bad)
        check(rc == 2 and err == "sensorbridge: --seconds takes a whole number of seconds "
                                 f"from 1 to 3600, not '{bad}'\n", f"--seconds {bad}: {rc} {err!r}")

    rc, _, err = sb("--log-level", "loud", "--check-config")
    check(rc == 2 and "unknown log level 'loud'" in err, f"bad level: {rc} {err!r}")

    rc, _, err = sb("-c", "/nonexistent/sb.yaml")
    check(rc == 1 and err.strip() ==
          "/nonexistent/sb.yaml:1:1: cannot read config file: No such file or directory",
          f"missing config: {rc} {err!r}")

    rc, out, err = sb("--check-config", "config/examples/demo.yaml")
    check(rc == 0, f"demo.yaml: {err}")
    check(out == "config/examples/demo.yaml: OK: gateway 'demo', broker tcp://127.0.0.1:1883, "
                 "2 adapters: boiler-room (simulated), greenhouse (simulated)\n", f"summary {out!r}")

    with sbtest.Stack() as st:
        bad = st.path("bad.yaml")
        with open(bad, "w") as f:
            f.write("adapters:\n  - name: sim\n    type: simulated\n    sensors: 4\n"
                    "    intervall: 1s\n")
        rc, out, err = sb("--check-config", "-c", bad)
        check(rc == 1 and out == "", f"unknown adapter key: {rc}")
        check(err == f"{bad}:5:5: unknown key 'intervall' in adapter 'sim'\n", f"{err!r}")
        with open(bad, "w") as f:
            f.write("adapters:\n  - name: x\n    type: plc\n")
        rc, _, err = sb("--check-config", "-c", bad)
        check(rc == 1 and err == f"{bad}:3:11: adapter 'x' has unknown type 'plc' "
                                 "(known: simulated, modbus_tcp, modbus_rtu, raw_tcp)\n", f"{err!r}")


if __name__ == "__main__":
    sbtest.run(main)
