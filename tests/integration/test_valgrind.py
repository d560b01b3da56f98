#!/usr/bin/python3
"""The first integration test again, with the gateway under valgrind: no
memory errors, no definitely or indirectly lost memory, and no file
descriptor left open at exit other than stdin, stdout and stderr."""

import os
import re
import shutil
import sys

import sbtest
from sbtest import check
from test_pipeline import pipeline


def under_valgrind():
    check(shutil.which("valgrind"), "valgrind is not installed")
    text = pipeline(valgrind=True)
    sys.stderr.write(text)
    check("ERROR SUMMARY: 0 errors" in text, "valgrind reported errors")
    check(re.search(r"FILE DESCRIPTORS: \d+ open", text), "valgrind printed no fd summary")
    # Valgrind's own log file shows up as an fd inherited from the parent;
    # every other descriptor open at exit was opened by sensorbridge and leaked.
    leaked = re.findall(r"Open (?:file descriptor|AF_\w+ socket) (\d+): (.*)\n==\d+==    (?!<inherited)",
                        text)
    check(not leaked, f"file descriptors left open at exit: {leaked}")
    check(not re.search(r"definitely lost: [1-9]", text), "memory definitely lost")
    check(not re.search(r"indirectly lost: [1-9]", text), "memory indirectly lost")


if __name__ == "__main__":
    if os.environ.get("SB_SANITIZE") == "ON":
        print("SKIP: valgrind cannot run a sanitizer build")
        sys.exit(77)
    sbtest.run(under_valgrind)
