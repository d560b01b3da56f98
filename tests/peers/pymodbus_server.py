#!/usr/bin/python3
"""A Modbus TCP or RTU server on pymodbus (python3-pymodbus): a second,
independent implementation beside the libmodbus peer.

TCP (the default): listens on 127.0.0.1, prints `PORT <n>` once listening.
RTU (--serial PATH): opens the serial port (in the tests a pty made by
tests/peers/rtu_bus.py) and prints `READY <path>` once it is open; if the
port goes away (the pty is removed) it exits with status 1.

--image zeros (the default): every table holds 65,536 zeros (holding
registers and coils are written by the write-back tests). --image values:
the register image of modbus_server.c (tests/peers/modbus_image.py), with
holding register 1000 set to the unit id. Without --units every unit id is
answered; with it only those, and on a serial bus a request for another
unit goes unanswered, as on a real bus. Stops on SIGTERM or SIGINT (status
0). Bad arguments: status 2; a port that cannot be opened: status 1.

usage: pymodbus_server.py [--port N] [--serial PATH [--baud N] [--parity N|E|O]
                          [--data-bits 7|8] [--stop-bits 1|2]]
                          [--units 1,2,3] [--image zeros|values]"""

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modbus_image  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slave(image, unit):
    if image == "values":
        hr, ir, co, di = modbus_image.tables(unit)
    else:
        hr = ir = co = di = [0] * modbus_image.TABLE_SIZE
    # pymodbus 3.0 addresses blocks from 1 when zero_mode is off: keep the
    # protocol's 0-based addresses. Every block gets its own list, since
    # writes change it.
    return ModbusSlaveContext(di=ModbusSequentialDataBlock(0, list(di)),
                              co=ModbusSequentialDataBlock(0, list(co)),
                              hr=ModbusSequentialDataBlock(0, list(hr)),
                              ir=ModbusSequentialDataBlock(0, list(ir)),
                              zero_mode=True)


def context(args):
    if args.units is None:
        return ModbusServerContext(slaves=slave(args.image, None), single=True)
    return ModbusServerContext(slaves={u: slave(args.image, u) for u in args.units},
                               single=False)


def stop_future(loop):
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(0))
    return stop


async def serve_tcp(args):
    port = args.port or free_port()
    loop = asyncio.get_running_loop()
    stop = stop_future(loop)
    task = asyncio.ensure_future(StartAsyncTcpServer(context(args),
                                                     address=("127.0.0.1", port)))
    for _ in range(200):  # until it accepts connections
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
        except OSError:
            await asyncio.sleep(0.05)
    print(f"PORT {port}", flush=True)
    await stop
    task.cancel()
    return 0


async def serve_serial(args):
    loop = asyncio.get_running_loop()
    stop = stop_future(loop)
    server = await StartAsyncSerialServer(
        context(args), framer=ModbusRtuFramer, port=args.serial, baudrate=args.baud,
        parity=args.parity, bytesize=args.data_bits, stopbits=args.stop_bits,
        defer_start=True)

    def lost():  # the pty went away: say so and exit, as a device would vanish
        if not stop.done():  # not our own shutdown()
            print(f"pymodbus_server: serial port {args.serial} lost", file=sys.stderr)
            stop.set_result(1)

    server.on_connection_lost = lost
    try:
        await server.start()
    except Exception as e:  # pylint: disable=broad-except
        print(f"pymodbus_server: cannot open {args.serial}: {e}", file=sys.stderr)
        return 1
    if server.transport is None:
        print(f"pymodbus_server: cannot open {args.serial}", file=sys.stderr)
        return 1
    print(f"READY {args.serial}", flush=True)
    rc = await stop
    await server.shutdown()
    return rc


def unit_list(text):
    try:
        units = sorted({int(u) for u in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of unit ids: {text!r}")
    if not units or units[0] < 0 or units[-1] > 255:
        raise argparse.ArgumentTypeError(f"unit ids are 0..255: {text!r}")
    return units


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--serial", metavar="PATH")
    ap.add_argument("--baud", type=int, default=9600)
    ap.add_argument("--parity", choices="NEO", default="N")
    ap.add_argument("--data-bits", type=int, choices=(7, 8), default=8)
    ap.add_argument("--stop-bits", type=int, choices=(1, 2), default=1)
    ap.add_argument("--units", type=unit_list)
    ap.add_argument("--image", choices=("zeros", "values"), default="zeros")
    args = ap.parse_args()
    # A client that connects and goes (as the readiness probe does), or a
    # serial port closed at exit, is logged as an error by pymodbus: not one
    # here. pymodbus.constants already called basicConfig() at import.
    logging.getLogger().setLevel(logging.CRITICAL)
    try:
        rc = asyncio.run(serve_serial(args) if args.serial else serve_tcp(args))
    except asyncio.CancelledError:
        rc = 0
    sys.exit(rc)


if __name__ == "__main__":
    main()
