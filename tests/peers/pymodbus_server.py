#!/usr/bin/python3
"""A Modbus TCP server on pymodbus (python3-pymodbus): a second,
independent implementation for the write-back tests, beside the libmodbus
peer. Every table holds 65,536 zeros (holding registers and coils are
written by the tests); every unit id is answered. Listens on 127.0.0.1,
prints `PORT <n>` once listening, stops on SIGTERM.

usage: pymodbus_server.py [--port N]"""

import argparse
import asyncio
import logging
import signal
import socket
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartAsyncTcpServer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve(port):
    # pymodbus 3.0 addresses blocks from 1 when zero_mode is off: keep the
    # protocol's 0-based addresses.
    store = ModbusSlaveContext(di=ModbusSequentialDataBlock(0, [0] * 65536),
                               co=ModbusSequentialDataBlock(0, [0] * 65536),
                               hr=ModbusSequentialDataBlock(0, [0] * 65536),
                               ir=ModbusSequentialDataBlock(0, [0] * 65536),
                               zero_mode=True)
    context = ModbusServerContext(slaves=store, single=True)
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(StartAsyncTcpServer(context, address=("127.0.0.1", port)))
    for _ in range(200):  # until it accepts connections
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
        except OSError:
            await asyncio.sleep(0.05)
    print(f"PORT {port}", flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    await stop
    task.cancel()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    # A client that connects and goes (as the readiness probe does) is logged
    # as an error by pymodbus: not one here.
    logging.basicConfig(level=logging.CRITICAL)
    try:
        asyncio.run(serve(args.port or free_port()))
    except asyncio.CancelledError:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
