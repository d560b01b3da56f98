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
    m = re.search(r"FILE DESCRIPTORS: (\d+) open \((\d+) std\) at exit", text)
    check(m is not None, "valgrind printed no file descriptor summary")
    check(m.group(1) == m.group(2), f"file descriptors left open at exit: {m.group(0)}")
    check(not re.search(r"definitely lost: [1-9]", text), "memory definitely lost")
    check(not re.search(r"indirectly lost: [1-9]", text), "memory indirectly lost")


if __name__ == "__main__":
    if os.environ.get("SB_SANITIZE") == "ON":
        print("SKIP: valgrind cannot run a sanitizer build")
        sys.exit(77)
    sbtest.run(under_valgrind)
