"""paho-mqtt's Client with buffered socket I/O: same protocol code, far fewer system calls.

paho reads every packet with three `recv` calls (1 byte of command, 1 byte of length, then the
rest) after a `select`, and writes every PUBACK with its own `send`. At thousands of messages a
second those calls are about a third of the agent's CPU (profiled with py-spy). This module
keeps paho doing all the MQTT work — packet parsing, session, keepalive, reconnects, the v2
callbacks, `manual_ack` and `client.ack()` — and only changes how bytes move:

* reads: the socket is wrapped so that one `recv(64 KiB)` fills a buffer and paho's small reads
  are served from it. The wrapper has `pending()`, the hook paho already uses for TLS sockets,
  so paho does not wait in `select` while whole packets are buffered, and `loop_read` handles
  every buffered packet in one pass instead of one packet per `select`.
* writes: packets paho writes in one `_packet_write` pass (the PUBACKs of a group commit) are
  joined into one `send`, in the order paho wrote them, so acknowledgements still leave in arrival
  order. Bytes the kernel does not take at once stay buffered and `want_write()` says so, so
  paho's loop selects for writability and flushes them next.

It depends on paho internals (`_create_socket`, `_packet_write`, `_sock`), checked at import:
`buffered_io_supported()` is False on a paho without them and the plain client is used.
"""

from __future__ import annotations

import logging
import socket

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

_logger = logging.getLogger(__name__)

READ_SIZE = 65536
# How many buffered packets one loop_read handles before paho's loop runs its housekeeping
# (keepalive, queued writes) again.
MAX_PACKETS_PER_READ = 256


def buffered_io_supported() -> bool:
    return all(
        callable(getattr(mqtt.Client, name, None))
        for name in ("_create_socket", "_packet_write", "loop_read", "want_write")
    )


class BufferedSocket:
    """A socket (plain or TLS) with a read buffer and write coalescing; paho sees a socket."""

    __slots__ = ("_has_inner_pending", "_in", "_out", "_pos", "sock")

    def __init__(self, sock):
        self.sock = sock
        self._in = b""
        self._pos = 0
        self._out = bytearray()
        self._has_inner_pending = hasattr(sock, "pending")

    # reads ------------------------------------------------------------------------------
    def recv(self, size: int) -> bytes:
        start = self._pos
        buffered = len(self._in) - start
        if buffered <= 0:
            data = self.sock.recv(READ_SIZE)  # BlockingIOError / SSLWantRead go to paho
            if len(data) <= size:
                return data  # includes b"": the peer closed
            self._in = data
            start = 0
        end = start + size
        self._pos = end
        return self._in[start:end]

    def pending(self) -> int:
        buffered = len(self._in) - self._pos
        if buffered > 0:
            return buffered
        return self.sock.pending() if self._has_inner_pending else 0

    # writes -----------------------------------------------------------------------------
    def send(self, data) -> int:
        self._out += data
        return len(data)

    def has_output(self) -> bool:
        return bool(self._out)

    def flush(self) -> None:
        """Write what is buffered; raises BlockingIOError (data kept) when the kernel is full."""
        while self._out:
            sent = self.sock.send(self._out)
            del self._out[:sent]

    def close(self) -> None:
        # paho closes right after writing DISCONNECT: give it (and any PUBACK) a moment to leave.
        if self._out:
            try:
                self.sock.settimeout(1.0)
                self.sock.sendall(self._out)
            except OSError:
                pass
            self._out.clear()
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def __getattr__(self, name):
        return getattr(self.sock, name)


class BufferedClient(mqtt.Client):
    """paho Client whose socket is a BufferedSocket (see the module docstring).

    `after_read`, when set, is called after each pass of loop_read (every buffered packet
    handled): an MQTT shard process forwards what those packets became in one write."""

    after_read = None

    def _create_socket(self):
        sock = super()._create_socket()
        if isinstance(sock, socket.socket):  # TCP or TLS; websockets keep paho's own wrapper
            return BufferedSocket(sock)
        return sock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        handled = 1
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and handled < MAX_PACKETS_PER_READ:
            sock = self._sock
            if not isinstance(sock, BufferedSocket) or sock.pending() <= 0:
                break
            rc = super().loop_read(max_packets)
            handled += 1
        if self.after_read is not None:
            self.after_read()
        return rc

    def _packet_write(self) -> MQTTErrorCode:
        rc = super()._packet_write()
        sock = self._sock
        if isinstance(sock, BufferedSocket):
            try:
                sock.flush()
            except BlockingIOError:
                pass  # kept; want_write() is True, so paho selects for writability
            except OSError as exc:
                _logger.warning("MQTT socket write failed: %s", exc)
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
        return rc

    def want_write(self) -> bool:
        if super().want_write():
            return True
        sock = self._sock
        return isinstance(sock, BufferedSocket) and sock.has_output()
