#!/usr/bin/python3
"""The design sensorbridge replaces, for bench/baseline/compare: a Python
asyncio gateway.

One asyncio task per device, all gathered; an asyncio.Queue(maxsize=...)
between ingestion and one publisher task; paho-mqtt (Debian's
python3-paho-mqtt, its network thread started with loop_start()) publishes.
Modbus devices are read with pymodbus's AsyncModbusTcpClient (Debian's
python3-pymodbus). Readings have sensorbridge's topic
(sensorbridge/{gateway}/{adapter}/{sensor}) and JSON payload
({"sensor","adapter","seq","ts","value","unit","quality"}, compact).

  simulated sensors: --sim-sensors N --sim-interval-ms MS [--sim-count K]
      N tasks, each on an absolute schedule (start + phase + k * interval,
      phases spread evenly as sensorbridge spreads them), value
      round(random.gauss(mean, stddev), 2). With --sim-count every sensor
      stops after K readings and the gateway exits once every reading is
      confirmed, as sensorbridge does with `count:`.
  Modbus devices: --modbus-devices N --modbus-port P [--modbus-interval-ms MS]
      N tasks, each with its own AsyncModbusTcpClient (one TCP connection per
      device), reading holding register --modbus-address (and the
      --modbus-points - 1 after it, in one request, one reading each) once per interval
      on an absolute schedule with a random phase; a reading's ts is when its
      request was sent, its seq counts every read. Runs until SIGTERM/SIGINT.

Back-pressure is the queue's: a full queue makes the producers wait (put()),
like sensorbridge's `overflow: block`. The publisher keeps at most
--max-inflight messages outstanding (an asyncio.Semaphore released from
paho's on_publish callback: PUBACK for QoS 1, written for QoS 0), and
paho's own max_inflight_messages is set to the same number.

On exit it prints one JSON line on stdout: produced, delivered, elapsed,
CPU time. Runs with /usr/bin/python3 (Debian's python3, where the two
packages are installed).
"""

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import sys
import time

import paho.mqtt.client as mqtt
from pymodbus.client import AsyncModbusTcpClient


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker-host", default="127.0.0.1")
    p.add_argument("--broker-port", type=int, required=True)
    p.add_argument("--gateway-id", default="bench")
    p.add_argument("--qos", type=int, default=1)
    p.add_argument("--max-inflight", type=int, default=64)
    p.add_argument("--queue-size", type=int, default=10000)
    p.add_argument("--sim-sensors", type=int, default=0)
    p.add_argument("--sim-interval-ms", type=float, default=1000.0)
    p.add_argument("--sim-count", type=int, default=0, help="readings per sensor (0: forever)")
    p.add_argument("--modbus-devices", type=int, default=0)
    p.add_argument("--modbus-host", default="127.0.0.1")
    p.add_argument("--modbus-port", type=int, default=502)
    p.add_argument("--modbus-interval-ms", type=float, default=1000.0)
    p.add_argument("--modbus-timeout-s", type=float, default=2.0)
    p.add_argument("--modbus-address", type=int, default=1)
    p.add_argument("--modbus-points", type=int, default=1,
                   help="adjacent holding registers per device, one request, one reading each")
    return p.parse_args()


def now_ms():
    return time.time_ns() // 1_000_000


class Gateway:
    def __init__(self, args, loop):
        self.args = args
        self.loop = loop
        self.queue = asyncio.Queue(maxsize=args.queue_size)
        self.window = asyncio.Semaphore(args.max_inflight)
        self.produced = 0
        self.delivered = 0
        self.all_delivered = asyncio.Event()
        self.producing_done = False
        self.connected = asyncio.Event()
        self.client = mqtt.Client(client_id=f"asyncio-baseline-{os.getpid()}",
                                  clean_session=True)
        self.client.max_inflight_messages_set(args.max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish

    # paho's network thread -> the event loop
    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            self.loop.call_soon_threadsafe(self.connected.set)

    def _on_publish(self, client, userdata, mid):
        try:
            self.loop.call_soon_threadsafe(self._confirmed)
        except RuntimeError:  # the loop is closed: shutting down
            pass

    def _confirmed(self):
        self.delivered += 1
        self.window.release()
        if self.producing_done and self.delivered == self.produced:
            self.all_delivered.set()

    def topic(self, adapter, sensor):
        return f"sensorbridge/{self.args.gateway_id}/{adapter}/{sensor}"

    async def emit(self, topic, reading):
        payload = json.dumps(reading, separators=(",", ":"))
        self.produced += 1
        await self.queue.put((topic, payload))

    async def publisher(self):
        while True:
            topic, payload = await self.queue.get()
            await self.window.acquire()
            self.client.publish(topic, payload, qos=self.args.qos)

    async def sim_sensor(self, i, start):
        a = self.args
        name = f"TEMP_{i:02d}"
        topic = self.topic("sim", name)
        interval = a.sim_interval_ms / 1000.0
        due = start + interval * (i + 1) / a.sim_sensors
        seq = 0
        while not a.sim_count or seq < a.sim_count:
            delay = due - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            seq += 1
            await self.emit(topic, {"sensor": name, "adapter": "sim", "seq": seq,
                                    "ts": now_ms(),
                                    "value": round(random.gauss(50.0, 10.0), 2),
                                    "unit": "celsius", "quality": "good"})
            due += interval
            if due + interval < self.loop.time():  # fell behind: restart from now
                due = self.loop.time()

    async def modbus_device(self, i):
        a = self.args
        name = f"dev{i:05d}"
        points = ["value"] if a.modbus_points == 1 else [f"p{k:02d}" for k in
                                                          range(1, a.modbus_points + 1)]
        topics = [self.topic(name, p) for p in points]
        interval = a.modbus_interval_ms / 1000.0
        client = AsyncModbusTcpClient(a.modbus_host, port=a.modbus_port,
                                      timeout=a.modbus_timeout_s)
        await client.connect()
        due = self.loop.time() + random.random() * interval
        seq = 0
        while True:
            delay = due - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            ts = now_ms()
            seq += 1
            try:
                rr = await client.read_holding_registers(a.modbus_address, len(points),
                                                         slave=1)
                if rr.isError():
                    values, error = [None] * len(points), str(rr)
                else:
                    values, error = rr.registers, None
            except Exception as e:  # timeout, connection lost: a bad reading
                values, error = [None] * len(points), type(e).__name__
            for point, topic, value in zip(points, topics, values):
                reading = {"sensor": point, "adapter": name, "seq": seq, "ts": ts,
                           "value": value, "quality": "bad" if error else "good"}
                if error:
                    reading["error"] = error
                await self.emit(topic, reading)
            due += interval
            if due < self.loop.time():  # cycle overran: next one now
                due = self.loop.time()

    async def run(self):
        a = self.args
        self.client.connect_async(a.broker_host, a.broker_port, keepalive=30)
        self.client.loop_start()
        try:
            await asyncio.wait_for(self.connected.wait(), 10)
            pub = asyncio.create_task(self.publisher())
            start = self.loop.time()
            tasks = [self.sim_sensor(i, start) for i in range(a.sim_sensors)]
            tasks += [self.modbus_device(i + 1) for i in range(a.modbus_devices)]
            t0 = time.monotonic()
            await asyncio.gather(*tasks)
            # Every finite device is done: deliver what is queued, wait for
            # every confirmation.
            self.producing_done = True
            if self.delivered < self.produced:
                await self.all_delivered.wait()
            elapsed = time.monotonic() - t0
            pub.cancel()
            return elapsed
        finally:
            self.client.disconnect()
            self.client.loop_stop()


def main():
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    gw = Gateway(args, loop)
    main_task = loop.create_task(gw.run())
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    elapsed = None
    try:
        elapsed = loop.run_until_complete(main_task)
    except asyncio.CancelledError:
        pass
    finally:
        rest = asyncio.all_tasks(loop)
        for t in rest:
            t.cancel()
        if rest:
            loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
        t = os.times()
        print(json.dumps({"produced": gw.produced, "delivered": gw.delivered,
                          "elapsed_s": elapsed, "cpu_s": round(t.user + t.system, 3)}),
              flush=True)
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
