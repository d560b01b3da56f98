#!/bin/bash
# Runs `sensorbridge --check-config` on every configuration fixture:
# - each tests/config/bad/NAME.yaml must exit 1 and print exactly the one line
#   in NAME.expected on stderr (FILE:LINE:COLUMN: message);
# - each good fixture and each shipped example must exit 0 and print one
#   "FILE: OK: ..." line on stdout.
set -u
bin=${1:?usage: run_fixtures.sh path/to/sensorbridge}
fail=0
n=0

for yaml in tests/config/bad/*.yaml; do
    n=$((n + 1))
    expected=$(cat "${yaml%.yaml}.expected")
    actual=$("$bin" --check-config "$yaml" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -ne 1 ] || [ "$actual" != "$expected" ]; then
        echo "FAIL $yaml (exit $rc)"
        echo "  expected: $expected"
        echo "  actual:   $actual"
        fail=$((fail + 1))
    fi
done

missing=tests/config/bad/does-not-exist.yaml
n=$((n + 1))
actual=$("$bin" --check-config "$missing" 2>&1 >/dev/null)
rc=$?
expected="$missing:1:1: cannot read config file: No such file or directory"
if [ "$rc" -ne 1 ] || [ "$actual" != "$expected" ]; then
    echo "FAIL missing file (exit $rc): $actual"
    fail=$((fail + 1))
fi

for yaml in tests/config/good/*.yaml config/examples/*.yaml config/sensorbridge.yaml; do
    n=$((n + 1))
    out=$("$bin" --check-config "$yaml" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] || [[ "$out" != "$yaml: OK: "* ]]; then
        echo "FAIL $yaml (exit $rc): $out"
        fail=$((fail + 1))
    fi
done

echo "$((n - fail)) of $n configuration fixtures passed"
[ "$fail" -eq 0 ]
