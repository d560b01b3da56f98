#!/usr/bin/python3
"""The Modbus RTU test peers checked on their own, without the gateway, so a
broken peer shows up as itself and not as a gateway failure in
test_modbus_rtu.py:
- the pymodbus RTU server answers units 1, 2 and 3 with the image of
  modbus_server.c (pymodbus's own client reads it) and ignores unit 4;
- the proxy paces at the baud rate: a 9600-baud exchange takes its wire time;
- every fault does exactly what it says to the response bytes, only to the
  unit it names, and the next response is intact; pymodbus's client sees
  the flipped bit as an error and reads well again after it;
- unplug and replug, with and without the proxy, under the same path;
- libmodbus's unit-test server serves what libmodbus_unit_test.py says;
- the converter takes one connection at a time and serves every unit on it,
  with MBAP and with RTU framing."""

import logging
import os
import socket
import sys
import time

import sbrtu
import sbtest
from sbrtu import GARBAGE, RawMaster, crc_ok, read_request, with_crc
from sbtest import check

logging.getLogger().setLevel(logging.CRITICAL)  # pymodbus logs at import time
from pymodbus.client import ModbusSerialClient, ModbusTcpClient  # noqa: E402
from pymodbus.framer.rtu_framer import ModbusRtuFramer  # noqa: E402
from pymodbus.framer.socket_framer import ModbusSocketFramer  # noqa: E402

import libmodbus_unit_test as ut  # noqa: E402  (sbrtu put tests/peers on sys.path)


def good(unit, value=0x1234):
    """The response of `unit` to read_request(unit, 0)."""
    return with_crc(bytes([unit, 3, 2, value >> 8, value & 0xFF]))


def values(client, unit):
    """What a client reads of the image (modbus_server.c's) from `unit`."""
    return (client.read_holding_registers(0, 22, slave=unit).registers,
            client.read_holding_registers(1000, 1, slave=unit).registers,
            client.read_input_registers(0, 12, slave=unit).registers,
            client.read_coils(0, 8, slave=unit).bits,
            client.read_discrete_inputs(0, 8, slave=unit).bits)


def check_values(client, unit):
    hr, unit_reg, ir, co, di = values(client, unit)
    check(hr == [0x1234, 0xFB2E, 0xF8A4, 0x32EB, 0x32EB, 0xF8A4, 0xA4F8, 0xEB32, 0xEB32, 0xA4F8,
                 0xB2D0, 0x5E00, 0x42F6, 0xE979, 0xE979, 0x42F6, 0xF642, 0x79E9, 0x79E9, 0xF642,
                 0x002A, 0xFFFF], f"unit {unit}: holding 0..21 {[hex(r) for r in hr]}")
    check(unit_reg == [unit], f"unit {unit}: register 1000 is {unit_reg}")
    check(ir == [0x4321, 0, 0, 0, 0, 0, 0, 0x03F5, 0xC222, 0, 1, 0x86A0],
          f"unit {unit}: input 0..11 {ir}")
    check(co == [True, False, True, True, False, False, True, False], f"unit {unit}: coils {co}")
    check(di == [False, True, True, False, True, False, False, True], f"unit {unit}: di {di}")


# pymodbus 3.0.0's clients take a timeout below 1 s as no wait at all (the
# first read returns nothing at once): they get whole seconds here.


def pymodbus_server_units():
    with sbtest.Stack() as st:
        bus = sbrtu.bus(st)
        sbrtu.rtu_server(st, bus.device_port, units=(1, 2, 3))
        c = ModbusSerialClient(bus.gateway_port, framer=ModbusRtuFramer, baudrate=9600, timeout=1)
        check(c.connect(), "pymodbus client cannot open the bus")
        try:
            for unit in (1, 2, 3):
                check_values(c, unit)
            check(c.read_holding_registers(0, 1, slave=4).isError(), "unit 4 answered")
            check_values(c, 2)  # the bus is fine after a request nobody answered
        finally:
            c.close()


def pacing():
    """8 + 49 characters of 10 bits at 9600 baud: 59.4 ms on the wire."""
    with sbtest.Stack() as st:
        bus = sbrtu.bus(st, baud=9600)
        sbrtu.rtu_server(st, bus.device_port, units=(1,))
        with RawMaster(bus.gateway_port) as m:
            times = []
            for _ in range(3):
                got, took = m.transact(read_request(1, 0, 22))
                check(len(got) == 49 and crc_ok(got), f"22 registers: {got.hex(' ')}")
                times.append(took)
        wire = 57 * 10 / 9600
        print(f"9600 baud, 57 characters: {[round(t * 1000, 1) for t in times]} ms, "
              f"wire time {wire * 1000:.1f} ms")
        check(min(times) >= wire - 0.001, f"faster than the wire: {min(times):.4f} s")
        check(min(times) < wire + 0.2, f"far slower than the wire: {min(times):.4f} s")


def faults():
    with sbtest.Stack() as st:
        bus = sbrtu.bus(st, baud=19200)
        sbrtu.rtu_server(st, bus.device_port, units=(1, 2, 3), baud=19200)
        p = bus.proxy
        with RawMaster(bus.gateway_port) as m:
            def ask(unit):
                return m.transact(read_request(unit, 0), timeout=1)[0]

            def after(fault, unit=2):
                check(fault.done.is_set(), f"{fault} was not applied")
                check(ask(unit) == good(unit), f"after {fault.kind}: the next response")

            check(ask(2) == good(2), "plain response")
            f = p.flip_bit(unit=2)
            check(ask(1) == good(1) and not f.done.is_set(), "a fault for unit 2 hit unit 1")
            r = ask(2)
            diff = sum(bin(a ^ b).count("1") for a, b in zip(r, good(2)))
            check(len(r) == 7 and diff == 1 and not crc_ok(r), f"flipped: {r.hex(' ')}")
            check(f.frame == good(2) and f.sent == r, f"fault record {f}")
            after(f)

            f = p.truncate(unit=2)
            r = ask(2)
            check(r == good(2)[:3], f"truncated: {r.hex(' ')}")
            after(f)

            f = p.rewrite_unit(9, unit=2)
            r = ask(2)
            check(r == good(9) and crc_ok(r), f"unit rewritten: {r.hex(' ')}")
            after(f)

            f = p.garbage(unit=2)
            r = ask(2)
            check(r == GARBAGE + good(2), f"garbage first: {r.hex(' ')}")
            after(f)

            f = p.drop()  # any unit: the next response of all
            check(ask(3) == b"", "dropped response arrived")
            after(f, 3)

            p.silence(3)
            check(ask(3) == b"" and ask(3) == b"", "silenced unit answered")
            check(ask(1) == good(1) and ask(2) == good(2), "live units next to a silent one")
            p.unsilence(3)
            check(ask(3) == good(3), "unit 3 after unsilence")
            n = p.counts()
            check(n["dropped"] == {3: 3} and n["pending"] == 0 and n["applied"] == 5,
                  f"proxy counters {n}")
            check(n["requests"][3] == n["responses"][3] == 5, f"unit 3 counted: {n}")

        c = ModbusSerialClient(bus.gateway_port, framer=ModbusRtuFramer, baudrate=19200,
                               timeout=1, retries=0)
        check(c.connect(), "pymodbus client cannot open the bus")
        try:
            check(c.read_holding_registers(0, 1, slave=2).registers == [0x1234], "pymodbus read")
            f = p.flip_bit(unit=2)
            check(c.read_holding_registers(0, 1, slave=2).isError(),
                  "pymodbus took a response with a flipped bit")
            check(f.done.is_set(), "flip not applied")
            time.sleep(0.1)
            check(c.read_holding_registers(0, 1, slave=2).registers == [0x1234],
                  "pymodbus read after the flipped bit")
        finally:
            c.close()


def unplug():
    for proxy in (False, True):
        with sbtest.Stack() as st:
            bus = sbrtu.bus(st, proxy=proxy)
            server = sbrtu.rtu_server(st, bus.device_port, units=(1,))
            with RawMaster(bus.gateway_port) as m:
                check(m.transact(read_request(1, 0))[0] == good(1), "before unplug")
                target = os.path.realpath(bus.gateway_port)
                bus.unplug()
                check(not os.path.lexists(bus.gateway_port), "the symlink stayed")
                try:
                    os.write(m.fd, with_crc(read_request(1, 0)))
                    check(False, "writing to an unplugged pty worked")
                except OSError:
                    pass
            if proxy:
                check(server.poll() is None, "the server behind the proxy stopped")
            else:
                check(server.wait(5) == 1, "the server did not exit when its pty went")
            bus.replug()
            check(os.path.exists(bus.gateway_port), "no symlink after replug")
            print(f"proxy={proxy}: {target} -> {os.path.realpath(bus.gateway_port)}")
            if not proxy:
                sbrtu.rtu_server(st, bus.device_port, units=(1,))
            with RawMaster(bus.gateway_port) as m:
                check(m.transact(read_request(1, 0))[0] == good(1), "after replug")


def unit_test_server():
    if not ut.available():
        print("SKIP part: no gcc, pkg-config or libmodbus-dev examples")
        return
    with sbtest.Stack() as st:
        bus = sbrtu.bus(st, proxy=True)
        sbrtu.unit_test_server(st, bus.device_port)
        with RawMaster(bus.gateway_port) as m:
            def ask(req):
                return m.transact(req, timeout=0.3)[0]

            u = ut.SERVER_ID
            r = ask(read_request(u, ut.DI_ADDRESS, ut.DI_COUNT, fc=2))
            check(r == with_crc(bytes([u, 2, 3, 0xAC, 0xDB, 0x35])), f"DI: {r.hex(' ')}")
            check(ask(read_request(u, ut.INPUT_REGISTER, 1, fc=4)) ==
                  with_crc(bytes([u, 4, 2, 0, 10])), "input register")
            check(ask(read_request(u, ut.INPUT_REGISTER + 1, 1, fc=4)) ==
                  with_crc(bytes([u, 0x84, 2])), "input register out of range")
            check(ask(read_request(u, ut.HOLDING_ADDRESS, 1)) == with_crc(bytes([u, 3, 2, 0, 0])),
                  "holding register")
            check(ask(read_request(u, 0, 1)) == with_crc(bytes([u, 0x83, 2])), "holding 0")
            check(ask(read_request(u, ut.ADDRESS_BUSY, 1)) == with_crc(bytes([u, 0x83, 6])),
                  "busy")
            check(ask(read_request(u, ut.ADDRESS_WRONG_UNIT, 1)) ==
                  with_crc(bytes([ut.INVALID_SERVER_ID, 3, 2, 0, 0])), "wrong unit")
            check(ask(read_request(u, ut.HOLDING_ADDRESS, ut.QUANTITY_SHORT)) ==
                  with_crc(bytes([u, 3, 2, 0, 0])), "short reply")
            got, took = m.transact(read_request(u, ut.ADDRESS_SLEEP, 1))
            check(got == with_crc(bytes([u, 3, 2, 0, 0])) and took >= 0.5, f"late: {took:.3f} s")
            check(ask(read_request(u, ut.COIL_ADDRESS, 8, fc=1)) == with_crc(bytes([u, 1, 1, 0])),
                  "coils")


def converter():
    for framing, framer in (("mbap", ModbusSocketFramer), ("rtu", ModbusRtuFramer)):
        with sbtest.Stack() as st:
            conv = sbrtu.Converter(st, framing)
            c = ModbusTcpClient("127.0.0.1", port=conv.port, framer=framer, timeout=1,
                                retries=0)
            check(c.connect(), "cannot connect to the converter")
            try:
                for unit in (1, 2, 3):
                    check_values(c, unit)
                with socket.create_connection(("127.0.0.1", conv.port), timeout=2) as s2:
                    check(s2.recv(16) == b"", "a second connection was served")
                check_values(c, 2)  # the first connection is still served
                if framing == "mbap":
                    r = c.read_holding_registers(0, 1, slave=9)
                    check(r.isError() and r.exception_code == 0x0B, f"unit 9 over mbap: {r}")
            finally:
                c.close()
            sbtest.stop_process(conv.proc)
            check([e[0] for e in conv.events()] == ["accept", "refuse", "close"],
                  f"converter events {conv.events()}")


def main():
    if not sbrtu.have_socat():
        print("SKIP: socat is missing (scripts/deps installs it)")
        sys.exit(77)
    pymodbus_server_units()
    pacing()
    faults()
    unplug()
    unit_test_server()
    converter()


if __name__ == "__main__":
    sbtest.run(main)
