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
* PUBLISH (MQTT 3.1.1, QoS 0/1), the one packet that comes by the thousand: when a whole packet
  is in the buffer it is decoded in one step (the same fields and checks as paho's
  `decode_publish`) into paho's own `MQTTMessage` and handed to `on_message` as paho does. Any
  other packet, a packet split across reads, MQTT 5 or a QoS 2 publish take paho's own path.
* `ack_many(mids)`: the PUBACKs of one group commit queued as ONE write in paho's output queue,
  in the order given, instead of one queued packet (and one loop wake-up) per message.

It depends on paho internals, every one listed below (`CLIENT_METHODS`, `CLIENT_ATTRIBUTES`,
`IN_PACKET_KEYS`, `MESSAGE_SLOTS`, `MODULE_NAMES`) and written against paho-mqtt 2.2.0 (the
package pins it). `make_client` checks them all when a source starts, on the client it built:
when any is missing or changed, it logs a warning naming them and returns paho's own Client.
"""

from __future__ import annotations

import logging
import socket
import struct
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket

_logger = logging.getLogger(__name__)

READ_SIZE = 65536
# How many buffered packets one loop_read handles before paho's loop runs its housekeeping
# (keepalive, queued writes) again.
MAX_PACKETS_PER_READ = 256
_PUBLISH = 0x30
_PUBACK = struct.Struct("!BBH")
_UINT16 = struct.Struct("!H")
_new_message = mqtt.MQTTMessage.__new__


# paho's private methods this module overrides or calls, and the public ones it overrides.
CLIENT_METHODS = (
    "_create_socket",
    "_handle_on_message",
    "_loop_rc_handle",
    "_packet_handle",
    "_packet_queue",
    "_packet_read",
    "_packet_write",
    "_send_puback",
    "loop_read",
    "message_callback_add",
    "want_write",
)
# Attributes of a paho Client instance this module reads or writes.
CLIENT_ATTRIBUTES = (
    "_in_callback_mutex",
    "_in_packet",
    "_last_bytes_received",
    "_manual_ack",
    "_on_message",
    "_protocol",
    "_sock",
    "_userdata",
    "suppress_exceptions",
)
# paho's reader state, which _packet_read fills and resets as paho does.
IN_PACKET_KEYS = frozenset(
    (
        "command",
        "have_remaining",
        "remaining_count",
        "remaining_mult",
        "remaining_length",
        "packet",
        "to_process",
        "pos",
    )
)
# What _fast_publish sets on a message built without MQTTMessage.__init__: all of its slots.
MESSAGE_SLOTS = frozenset(
    ("_topic", "dup", "info", "mid", "payload", "properties", "qos", "retain", "state", "timestamp")
)
MODULE_NAMES = ("MQTTMessage", "PUBACK", "mqtt_ms_invalid")


def missing_paho_members(client: mqtt.Client | None = None) -> list[str]:
    """The paho internals this module uses that this paho lacks or has changed (empty: the
    buffered client is safe). The instance attributes are checked on `client` when given."""
    missing = [f"paho.mqtt.client.{name}" for name in MODULE_NAMES if not hasattr(mqtt, name)]
    missing += [
        f"Client.{name}"
        for name in CLIENT_METHODS
        if not callable(getattr(mqtt.Client, name, None))
    ]
    slots = getattr(getattr(mqtt, "MQTTMessage", None), "__slots__", ())
    if frozenset((slots,) if isinstance(slots, str) else slots) != MESSAGE_SLOTS:
        missing.append(f"MQTTMessage.__slots__ (expected {sorted(MESSAGE_SLOTS)})")
    if client is not None:
        missing += [f"Client().{name}" for name in CLIENT_ATTRIBUTES if not hasattr(client, name)]
        in_packet = getattr(client, "_in_packet", None)
        if isinstance(in_packet, dict) and set(in_packet) != IN_PACKET_KEYS:
            missing.append(f"Client()._in_packet keys (expected {sorted(IN_PACKET_KEYS)})")
    return missing


def make_client(buffered: bool, *args, **kwargs) -> mqtt.Client:
    """A BufferedClient when asked for and every paho internal it uses is there, else paho's
    own Client (with a warning naming what is missing: the agent still works, only slower)."""
    if buffered:
        client = BufferedClient(*args, **kwargs)
        missing = missing_paho_members(client)
        if not missing:
            return client
        _logger.warning(
            "MQTT buffered I/O is off: this paho-mqtt %s lacks or changed %s (the agent is "
            "written against paho-mqtt 2.2.0); using paho's own socket I/O",
            getattr(mqtt, "__version__", None) or _paho_version(),
            ", ".join(missing),
        )
    return mqtt.Client(*args, **kwargs)


def _paho_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paho-mqtt")
    except PackageNotFoundError:
        return "(unknown version)"


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

    def next_frame(self):
        """A whole MQTT packet from the buffer as (first byte, body), reading once from the
        socket when nothing is buffered; None when the buffered bytes are not a whole packet
        (paho's own reader then takes them as they come). b"" when the peer closed.
        BlockingIOError (nothing to read) and OSError go to the caller."""
        data, start = self._in, self._pos
        if len(data) - start <= 0:
            data = self.sock.recv(READ_SIZE)
            if not data:
                return b""
            self._in, self._pos, start = data, 0, 0
        end_of_data = len(data)
        # Remaining length: 1 to 4 bytes of 7 bits, least significant first.
        position = start + 1
        length = 0
        shift = 0
        while True:
            if position >= end_of_data or shift > 21:
                return None  # split across reads, or malformed: paho's path decides
            byte = data[position]
            position += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        end = position + length
        if end > end_of_data:
            return None
        self._pos = end
        return data[start], data[position:end]

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
    _filtered_callbacks = False  # message_callback_add() used: paho's own dispatch

    def message_callback_add(self, sub, callback) -> None:
        self._filtered_callbacks = True
        super().message_callback_add(sub, callback)

    def _packet_read(self) -> MQTTErrorCode:
        sock = self._sock
        if (
            type(sock) is not BufferedSocket
            or self._in_packet["command"] != 0
            or self._protocol == MQTTProtocolVersion.MQTTv5
        ):
            return super()._packet_read()
        try:
            frame = sock.next_frame()
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as exc:
            _logger.warning("MQTT socket read failed: %s", exc)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if frame is None:
            return super()._packet_read()
        if not frame:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        command, body = frame
        self._last_bytes_received = now = time.monotonic()  # paho's keepalive reads this
        qos = (command & 0x06) >> 1
        if command & 0xF0 == _PUBLISH and qos < 2:
            return self._fast_publish(command, qos, body, now)
        # Anything else: exactly what paho's reader would have built, then paho handles it.
        self._in_packet.update(
            command=command,
            have_remaining=1,
            remaining_length=len(body),
            packet=bytearray(body),
            to_process=0,
            pos=0,
        )
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            _logger.warning("MQTT: malformed packet from the broker: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = {
            "command": 0,
            "have_remaining": 0,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": 0,
            "packet": bytearray(b""),
            "to_process": 0,
            "pos": 0,
        }
        return rc

    def _fast_publish(self, command: int, qos: int, body: bytes, now: float) -> MQTTErrorCode:
        """paho's _handle_publish for MQTT 3.1.1 QoS 0/1, with its checks (empty topic and a
        packet shorter than its headers are protocol errors, as MalformedPacket is in paho)."""
        size = len(body)
        if size < 2:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        topic_end = 2 + _UINT16.unpack_from(body)[0]
        payload_start = topic_end + 2 if qos else topic_end
        if topic_end == 2 or payload_start > size:
            _logger.warning("MQTT: malformed PUBLISH from the broker (topic or packet id)")
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        # paho's MQTTMessage with the attributes its __init__ sets, but without the
        # MQTTMessageInfo (and its threading.Condition) that only a message WE publish uses.
        message = _new_message(mqtt.MQTTMessage)
        message.timestamp = now
        message.state = mqtt.mqtt_ms_invalid
        message.dup = bool(command & 0x08)
        message.mid = _UINT16.unpack_from(body, topic_end)[0] if qos else 0
        message._topic = body[2:topic_end]
        message.payload = body[payload_start:]
        message.qos = qos
        message.retain = bool(command & 0x01)
        message.info = None
        message.properties = None
        if self._filtered_callbacks:
            self._handle_on_message(message)
        else:
            on_message = self._on_message
            if on_message is not None:
                with self._in_callback_mutex:
                    try:
                        on_message(self, self._userdata, message)
                    except Exception:
                        _logger.exception("on_message failed")
                        if not self.suppress_exceptions:
                            raise
        if qos == 1 and not self._manual_ack:
            return self._send_puback(message.mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids) -> None:
        """PUBACK each QoS 1 message id, in the order given, as one queued write."""
        if mids:
            self._packet_queue(
                mqtt.PUBACK, b"".join([_PUBACK.pack(0x40, 2, mid) for mid in mids]), 0, 0
            )

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
            if type(sock) is not BufferedSocket or sock.pending() <= 0:
                break
            # What paho's loop_read does for one packet, without its per-call set-up.
            rc = self._packet_read()
            if rc > 0:
                rc = self._loop_rc_handle(rc)
            elif rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                rc = MQTTErrorCode.MQTT_ERR_SUCCESS
                break
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
