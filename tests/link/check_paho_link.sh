#!/bin/sh
# How the executable links Paho (gateway/paho.h, gateway/paho_lean.c):
#
#   check_paho_link.sh NM EXECUTABLE LEAN
#
# NM is the target's nm (a cross build's included), LEAN 1 for a lean build.
#  - Always: the executable exports no Paho symbol, and none of the shim's.
#    An exported one could bind the TLS library loaded at run time
#    (libpaho-mqtt3as.so.1, with its own heap tracking) to the static Paho
#    or to the shim, mixing two heaps.
#  - Lean build: Paho is in the executable (MQTTAsync_create is defined) and
#    neither of the archive's StackTrace.c.o and Heap.c.o is: none of the
#    symbols only they define is there (StackTrace_get, Heap_get_info, ...).
set -u
nm=$1
exe=$2
lean=$3
status=0

exported=$("$nm" -D --defined-only "$exe" | grep -c -E 'MQTT|Heap_|StackTrace|mymalloc|myfree|myrealloc')
if [ "$exported" -ne 0 ]; then
    echo "FAIL: $exe exports $exported Paho or shim symbols:"
    "$nm" -D --defined-only "$exe" | grep -E 'MQTT|Heap_|StackTrace|mymalloc|myfree|myrealloc'
    status=1
else
    echo "ok: $exe exports no Paho or shim symbol"
fi

if [ "$lean" = 1 ]; then
    syms=$("$nm" "$exe") || exit 1
    if ! echo "$syms" | grep -q -E ' [tT] MQTTAsync_create$'; then
        echo "FAIL: lean build, but MQTTAsync_create is not in $exe (not stripped?)"
        status=1
    fi
    tracking=$(echo "$syms" | grep -E ' (StackTrace_get|StackTrace_printStack|setStack|Heap_get_info|Heap_findItem|Heap_unlink|HeapDump|HeapDumpString)$')
    if [ -n "$tracking" ]; then
        echo "FAIL: Paho's StackTrace.c.o or Heap.c.o is linked into $exe:"
        echo "$tracking"
        status=1
    else
        echo "ok: Paho is linked without StackTrace.c.o and Heap.c.o"
    fi
fi
exit $status
