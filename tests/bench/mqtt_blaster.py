"""A load generator that is never the bottleneck: pre-encoded QoS 1 PUBLISH packets on a raw socket.

paho's publisher spends ~100 us of Python per message, as much as the agent under test; on a
2-core machine that halves what the benchmark can show. This one encodes every packet before the
clock starts, writes them in large `sendall` chunks and reads the PUBACKs in a second thread, so
it costs a few microseconds per message. It speaks just enough MQTT 3.1.1: CONNECT (clean
session), PUBLISH QoS 1, PUBACK, DISCONNECT. At most `window` messages are unacknowledged (packet
ids 1..65535 are reused only after their PUBACK), and `rate` paces the stream (0 = as fast as the
broker takes it).

    blast(port, [(topic, payload), ...], rate=0) -> seconds until the last PUBACK
"""

from __future__ import annotations

import socket
import struct
import threading
import time

CONNECT, CONNACK, PUBLISH, PUBACK, DISCONNECT = 0x10, 0x20, 0x30, 0x40, 0xE0


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    # protocol name MQTT, level 4 (3.1.1), flags: clean session
    body = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive) + _string(client_id)
    return bytes([CONNECT]) + _remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, mid: int) -> bytes:
    body = _string(topic) + struct.pack("!H", mid) + payload
    return bytes([PUBLISH | 0x02]) + _remaining_length(len(body)) + body


class _AckReader(threading.Thread):
    """Counts PUBACKs (each is 4 bytes: 0x40 0x02 mid)."""

    def __init__(self, sock: socket.socket):
        super().__init__(daemon=True)
        self.sock = sock
        self.acked = 0
        self.cond = threading.Condition()
        self.error: Exception | None = None

    def run(self) -> None:
        buffer = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                buffer += data
                complete = len(buffer) // 4
                for index in range(complete):
                    if buffer[index * 4] != PUBACK:
                        raise ValueError(f"unexpected packet 0x{buffer[index * 4]:02x}")
                buffer = buffer[complete * 4 :]
                with self.cond:
                    self.acked += complete
                    self.cond.notify_all()
        except OSError:
            return
        except Exception as exc:  # surfaced by blast()
            self.error = exc
            with self.cond:
                self.cond.notify_all()


def blast(
    port: int,
    messages: list[tuple[str, bytes]],
    *,
    rate: float = 0.0,
    window: int = 2000,
    chunk: int = 100,
    client_id: str = "bench-blaster",
    host: str = "127.0.0.1",
    timeout: float = 600.0,
) -> float:
    """Publish every message once with QoS 1; returns the seconds until the last PUBACK."""
    window = min(window, 60000)
    packets = [
        publish_packet(topic, payload, (n % 65535) + 1)
        for n, (topic, payload) in enumerate(messages)
    ]
    sock = socket.create_connection((host, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id))
    connack = b""
    while len(connack) < 4:
        data = sock.recv(4 - len(connack))
        if not data:
            raise ConnectionError("broker closed the connection before CONNACK")
        connack += data
    if connack[0] != CONNACK or connack[3] != 0:
        raise ConnectionError(f"broker refused the connection: {connack!r}")
    sock.settimeout(None)
    reader = _AckReader(sock)
    reader.start()
    start = time.monotonic()
    deadline = start + timeout
    sent = 0
    total = len(packets)
    while sent < total:
        with reader.cond:
            while sent - reader.acked >= window and reader.error is None:
                if not reader.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"blaster: {sent - reader.acked} PUBACKs missing")
            if reader.error:
                raise reader.error
            room = window - (sent - reader.acked)
        count = min(chunk, room, total - sent)
        if rate:
            ahead = (sent + count) / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        sock.sendall(b"".join(packets[sent : sent + count]))
        sent += count
    with reader.cond:
        while reader.acked < total and reader.error is None:
            if not reader.cond.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"blaster: {total - reader.acked} PUBACKs missing")
    elapsed = time.monotonic() - start
    if reader.error:
        raise reader.error
    sock.sendall(bytes([DISCONNECT, 0]))
    sock.close()
    return elapsed
