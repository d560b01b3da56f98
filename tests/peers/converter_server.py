#!/usr/bin/python3
"""A serial-to-TCP converter with several Modbus devices behind it: one TCP
connection at a time, several unit ids on it.

Listens on 127.0.0.1 and prints `PORT <n>` once listening. While a client is
connected, a second connection is accepted and closed at once (counted as
refused); a converter in front of a serial bus serves one master. Requests
on the connection are answered one after another, in order.

--framing mbap (default): Modbus TCP (MBAP header; the transaction id is
echoed). --framing rtu: RTU frames over TCP (unit, PDU, CRC-16), as
converters in "RTU over TCP" mode send and expect them.

Every unit of --units (default 1,2,3) serves the register image of
modbus_server.c (tests/peers/modbus_image.py) with holding register 1000
holding its unit id, through pymodbus's datastore and request classes.
A request for another unit: with mbap, exception 11 (gateway target device
failed to respond), as Modbus TCP gateways answer; with rtu, nothing, as on
the bus. An RTU frame with a bad CRC or a function it cannot frame is
dropped with whatever else was buffered.

--log FILE: one line per event, flushed at once: `accept <n> <peer>`,
`refuse <n> <peer>`, `close <n>`. At exit (SIGTERM/SIGINT, status 0) it
prints on stderr: `converter_server: <c> connections, <r> refused,
<q> requests, <e> bad frames`. Bad arguments: status 2.

usage: converter_server.py [--port N] [--framing mbap|rtu] [--units 1,2,3] [--log FILE]"""

import argparse
import asyncio
import logging
import os
import signal
import struct
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext
from pymodbus.factory import ServerDecoder

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modbus_image  # noqa: E402
from pymodbus_server import unit_list  # noqa: E402
from rtu_bus import crc_ok, request_length, with_crc  # noqa: E402

GATEWAY_TARGET_FAILED = 0x0B
ILLEGAL_FUNCTION = 0x01
SILENCE = 0.05  # s: an RTU frame that cannot be framed is dropped after this pause


class Converter:
    def __init__(self, units, framing, log):
        self.framing, self.log_file = framing, log
        self.decoder = ServerDecoder()
        self.units = {}
        for u in units:
            hr, ir, co, di = modbus_image.tables(u)
            self.units[u] = ModbusSlaveContext(
                di=ModbusSequentialDataBlock(0, di), co=ModbusSequentialDataBlock(0, co),
                hr=ModbusSequentialDataBlock(0, hr), ir=ModbusSequentialDataBlock(0, ir),
                zero_mode=True)
        self.active = False
        self.connections = self.refused = self.requests = self.bad_frames = 0

    def log(self, line):
        if self.log_file:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    def respond(self, unit, pdu):
        """The response PDU for a request PDU, or None for no answer."""
        self.requests += 1
        if unit not in self.units:
            if self.framing == "rtu":
                return None
            return bytes([pdu[0] | 0x80, GATEWAY_TARGET_FAILED])
        request = self.decoder.decode(pdu)
        if request is None:
            return bytes([pdu[0] | 0x80, ILLEGAL_FUNCTION])
        response = request.execute(self.units[unit])
        return bytes([response.function_code]) + response.encode()

    async def client(self, reader, writer):
        peer = "%s:%d" % writer.get_extra_info("peername")[:2]
        if self.active:
            self.refused += 1
            self.log(f"refuse {self.connections + self.refused} {peer}")
            writer.close()
            return
        self.active = True
        self.connections += 1
        n = self.connections
        self.log(f"accept {n} {peer}")
        try:
            serve = self.serve_mbap if self.framing == "mbap" else self.serve_rtu
            await serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.active = False
            self.log(f"close {n}")
            writer.close()

    async def serve_mbap(self, reader, writer):
        while True:
            tid, pid, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
            if pid != 0 or not 2 <= length <= 254:
                self.bad_frames += 1
                return  # a Modbus TCP server closes on a bad header
            resp = self.respond(unit, await reader.readexactly(length - 1))
            if resp is not None:
                writer.write(struct.pack(">HHHB", tid, 0, len(resp) + 1, unit) + resp)
                await writer.drain()

    async def serve_rtu(self, reader, writer):
        buf = bytearray()
        while True:
            n = request_length(buf)
            if n is None or (n > 0 and len(buf) < n):
                buf += await reader.readexactly(1) if n is None else \
                    await reader.readexactly(n - len(buf))
                continue
            if n < 0:  # no way to find its end: drop it and what follows at once
                self.bad_frames += 1
                await self.drain_silence(reader)
                buf.clear()
                continue
            frame, buf = bytes(buf[:n]), buf[n:]
            if not crc_ok(frame):
                self.bad_frames += 1
                await self.drain_silence(reader)
                buf.clear()
                continue
            resp = self.respond(frame[0], frame[1:-2])
            if resp is not None:
                writer.write(with_crc(bytes([frame[0]]) + resp))
                await writer.drain()

    @staticmethod
    async def drain_silence(reader):
        while True:
            try:
                data = await asyncio.wait_for(reader.read(4096), SILENCE)
            except asyncio.TimeoutError:
                return
            if not data:
                raise ConnectionError("closed")


async def serve(args):
    log = open(args.log, "a") if args.log else None
    conv = Converter(args.units, args.framing, log)
    server = await asyncio.start_server(conv.client, "127.0.0.1", args.port)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await stop
    server.close()
    await server.wait_closed()
    print(f"converter_server: {conv.connections} connections, {conv.refused} refused, "
          f"{conv.requests} requests, {conv.bad_frames} bad frames", file=sys.stderr)
    if log:
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--framing", choices=("mbap", "rtu"), default="mbap")
    ap.add_argument("--units", type=unit_list, default=[1, 2, 3])
    ap.add_argument("--log")
    args = ap.parse_args()
    logging.getLogger().setLevel(logging.CRITICAL)  # pymodbus configures logging at import
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
