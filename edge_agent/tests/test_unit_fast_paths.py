"""The hot-path rewrites give the same answers as the plain code they replaced, and the
shard configuration is checked (filters covering topics, no overlap between shards)."""

from __future__ import annotations

import contextlib
import copy
import json
import select
import socket
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_unit_config import GOOD

from mfg_edge import codec
from mfg_edge.codec import dumps_compact, format_timestamp, loads, utc_day
from mfg_edge.config import ConfigError, parse_config
from mfg_edge.event import EVENT_NAMESPACE, event_id
from mfg_edge.sources.mqtt_client import CLIENT_ATTRIBUTES, CLIENT_METHODS, BufferedSocket
from mfg_edge.sources.mqtt_shards import shard_client_id
from mfg_edge.topics import assign_shards, filter_covers, filters_overlap, topic_matches

LEVEL = st.sampled_from(["a", "b", "+"])
FILTER = st.lists(LEVEL, min_size=1, max_size=4).flatmap(
    lambda levels: st.sampled_from(["/".join(levels), "/".join([*levels, "#"])])
)
TOPIC = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=5).map("/".join)


@given(st.binary(max_size=64), st.text(max_size=20))
def test_event_id_equals_uuid5(payload, discriminator):
    import hashlib

    name = "|".join(("s", "t.x.y", "o", hashlib.sha256(payload).hexdigest(), discriminator))
    assert event_id("s", "t.x.y", "o", payload, discriminator) == str(
        uuid.uuid5(EVENT_NAMESPACE, name)
    )


@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_format_timestamp_and_utc_day_match_datetime(epoch):
    codec._SECONDS_TEXT.clear()
    rounded = round(epoch * 1000) / 1000
    expected = datetime.fromtimestamp(round(epoch * 1000) // 1000, tz=UTC)
    assert format_timestamp(epoch) == expected.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{round(epoch * 1000) % 1000:03d}Z"
    )
    assert format_timestamp(epoch) == format_timestamp(rounded)  # cached second, same text
    assert utc_day(epoch) == datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d")


@pytest.mark.parametrize(
    "value",
    [
        {"a": "é ü", "n": 25, "f": 2.5, "big": 2**70, "nested": [1, None, True]},
        {"x": float("1e16")},
        "plain",
    ],
)
def test_json_helpers_round_trip_like_the_json_module(value):
    text = dumps_compact(value)
    assert json.loads(text) == value
    assert loads(text.encode()) == value


def test_loads_keeps_the_json_module_behaviour_for_what_orjson_refuses():
    assert loads(b'{"v": NaN}')["v"] != loads(b'{"v": NaN}')["v"]  # NaN, as json.loads gives
    assert loads('{"v": 1}'.encode("utf-16")) == {"v": 1}
    with pytest.raises(ValueError):
        loads(b"{not json")


@given(FILTER, FILTER, st.lists(TOPIC, min_size=1, max_size=30))
def test_filter_relations_agree_with_topic_matching(outer, inner, topics):
    for topic in topics:
        if topic_matches(inner, topic) and filter_covers(outer, inner):
            assert topic_matches(outer, topic)
        if topic_matches(inner, topic) and topic_matches(outer, topic):
            assert filters_overlap(outer, inner)


def test_filter_relations_examples():
    assert filter_covers("plant1/line1/#", "plant1/line1/mes/completed")
    assert not filter_covers("plant1/line1/#", "plant1/+/mes/completed")
    assert filter_covers("a/#", "a")
    assert not filter_covers("a/+", "a/#")
    assert filters_overlap("plant1/+/mes/completed", "plant1/line1/#")
    assert not filters_overlap("plant1/line2/#", "plant1/line1/#")


def test_assign_shards_puts_each_topic_in_one_shard_and_reports_problems():
    assigned, problems = assign_shards(
        [["plant1/line1/#"], ["plant1/line2/#"]],
        ["plant1/line1/mes/completed", "plant1/line2/mes/started"],
    )
    assert assigned == [["plant1/line1/mes/completed"], ["plant1/line2/mes/started"]]
    assert problems == []
    # A wildcard rule spans both lines: no shard covers it; it gets its own connection.
    assigned, problems = assign_shards(
        [["plant1/line1/#"], ["plant1/line2/#"]],
        ["plant1/+/mes/completed", "plant1/line2/mes/completed"],
    )
    assert assigned[-1] == ["plant1/+/mes/completed"]
    assert any("covered by no shard" in p for p in problems)
    assert any("overlap" in p for p in problems)
    assert len(shard_client_id("mfg-edge-plant1-gw-0001", 15)) <= 23


def test_config_refuses_shards_that_do_not_cover_the_rules():
    document = copy.deepcopy(GOOD)
    document["mqtt"]["shards"] = [{"topics": ["plant1/line1/#"]}]
    with pytest.raises(ConfigError) as error:
        parse_config(document)
    assert any(e.startswith("/mqtt/shards: ") and "no shard" in e for e in error.value.errors)
    document["mqtt"]["shards"] = [{"topics": ["plant1/#"]}]
    assert parse_config(document).mqtt["shards"] == [{"topics": ["plant1/#"]}]


def test_buffered_socket_serves_small_reads_from_one_recv_and_coalesces_writes():
    left, right = socket.socketpair()
    try:
        left.setblocking(False)
        wrapped = BufferedSocket(left)
        right.sendall(b"\x30\x05hello\x40\x02\x00\x01")
        assert wrapped.recv(1) == b"\x30"
        assert wrapped.pending() == 10  # the rest is buffered: paho must not wait in select
        assert wrapped.recv(1) == b"\x05"
        assert wrapped.recv(5) == b"hello"
        assert wrapped.recv(100) == b"\x40\x02\x00\x01"  # a short read, as sockets do
        assert wrapped.pending() == 0
        with pytest.raises(BlockingIOError):
            wrapped.recv(1)
        for mid in (1, 2, 3):
            assert wrapped.send(bytes([0x40, 2, 0, mid])) == 4
        right.setblocking(False)
        with pytest.raises(BlockingIOError):
            right.recv(100)  # nothing on the wire before the flush
        right.setblocking(True)
        assert wrapped.has_output()
        wrapped.flush()
        assert not wrapped.has_output()
        assert right.recv(100) == b"\x40\x02\x00\x01\x40\x02\x00\x02\x40\x02\x00\x03"
        right.sendall(b"x")
        assert wrapped.recv(1) == b"x"
        right.close()
        assert wrapped.recv(1) == b""  # the peer closed
    finally:
        left.close()


# ---------------------------------------------------------------------------- MQTT fast path
def _publish_packet(topic: bytes, payload: bytes, qos: int, mid: int, dup: bool, retain: bool):
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    body += payload
    length, remaining = len(body), bytearray()
    while True:
        digit, length = length % 128, length // 128
        remaining.append(digit | (0x80 if length else 0))
        if not length:
            break
    return bytes([0x30 | (0x08 if dup else 0) | (qos << 1) | retain]) + remaining + body


def _set_slots(message) -> list[str]:
    """The attributes a message has (paho's MQTTMessage uses __slots__): all of them, or the
    fast path forgot one that paho's constructor sets."""
    return [name for name in type(message).__slots__ if hasattr(message, name)]


def _connected_client(client_class, manual_ack: bool):
    """A paho client (ours or paho's own) "connected" to a socket pair: (client, our end of
    the pair for reading and writing, the broker's end)."""
    from paho.mqtt.client import _ConnectionState
    from paho.mqtt.enums import CallbackAPIVersion

    from mfg_edge.sources.mqtt_client import BufferedClient

    left, right = socket.socketpair()
    left.setblocking(False)
    client = client_class(CallbackAPIVersion.VERSION2, client_id="t", manual_ack=manual_ack)
    client._sock = BufferedSocket(left) if client_class is BufferedClient else left
    client._state = _ConnectionState.MQTT_CS_CONNECTED
    return client, left, right


def _drive(client_class, chunks: list[bytes], manual_ack: bool):
    """Feed the byte chunks to a client as if from a broker; what it delivered and wrote."""
    import paho.mqtt.client as mqtt

    client, left, right = _connected_client(client_class, manual_ack)
    right.settimeout(5)
    seen = []
    client.on_message = lambda _c, _u, m: seen.append(
        (m.topic, m.payload, m.qos, m.mid, m.dup, m.retain, m.properties, _set_slots(m))
    )
    try:
        for chunk in chunks:
            right.sendall(chunk)
            # Read until the socket is drained (paho reads a packet per call, ours many).
            while select.select([left], [], [], 0)[0] or (
                isinstance(client._sock, BufferedSocket) and client._sock.pending() > 0
            ):
                assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
        while client.want_write():
            client.loop_write()
        written = b""
        right.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            written = right.recv(1 << 20)
        return seen, written
    finally:
        left.close()
        right.close()


PACKET = st.one_of(
    st.tuples(
        st.text(min_size=1, max_size=30).map(str.encode),
        st.one_of(st.binary(max_size=300), st.just(b"x" * 20000)),  # 1-, 2- and 3-byte lengths
        st.sampled_from([0, 1, 1, 1, 2]),
        st.integers(1, 65535),
        st.booleans(),
        st.booleans(),
    ).map(lambda args: _publish_packet(*args)),
    st.just(b"\xd0\x00"),  # PINGRESP: paho's own path
)


@settings(deadline=None, max_examples=80)
@given(
    st.lists(PACKET, min_size=1, max_size=12),
    st.lists(st.integers(1, 400), min_size=1, max_size=8),
    st.booleans(),
)
def test_buffered_client_delivers_exactly_what_paho_delivers(packets, cuts, manual_ack):
    """Whole packets, packets split across reads at any byte, QoS 0/1/2, 1-3 byte lengths:
    the same messages (topic, payload, qos, mid, dup, retain) in the same order, and the same
    bytes written back (PUBACK when paho acks itself, PUBREC for QoS 2)."""
    import paho.mqtt.client as mqtt

    from mfg_edge.sources.mqtt_client import BufferedClient

    stream = b"".join(packets)
    chunks, position = [], 0
    smallest = len(stream) // 100  # at most ~100 reads: the point is where the cuts fall
    for cut in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        if position >= len(stream):
            break
        cut = max(cut, smallest)  # noqa: PLW2901
        chunks.append(stream[position : position + cut])
        position += cut
    if position < len(stream):
        chunks.append(stream[position:])
    assert _drive(BufferedClient, chunks, manual_ack) == _drive(mqtt.Client, chunks, manual_ack)


def test_ack_many_writes_the_pubacks_paho_writes_in_the_same_order():
    import paho.mqtt.client as mqtt

    from mfg_edge.sources.mqtt_client import BufferedClient

    mids = [7, 1, 65535, 300, 2]
    outputs = []
    for batched in (False, True):
        client, left, right = _connected_client(BufferedClient if batched else mqtt.Client, True)
        right.settimeout(5)
        if batched:
            client.ack_many(mids)
        else:
            for mid in mids:
                client.ack(mid, 1)
        while client.want_write():
            client.loop_write()
        outputs.append(right.recv(100))
        left.close()
        right.close()
    assert outputs[0] == outputs[1] == b"".join(bytes([0x40, 2, m >> 8, m & 255]) for m in mids)


def test_malformed_publish_is_a_protocol_error_not_a_message():
    import paho.mqtt.client as mqtt

    from mfg_edge.sources.mqtt_client import BufferedClient

    for client_class in (BufferedClient, mqtt.Client):
        client, left, right = _connected_client(client_class, True)
        seen = []
        client.on_message = lambda _c, _u, m, seen=seen: seen.append(m)
        right.sendall(b"\x32\x04\x00\x00\x00\x01")  # QoS 1 PUBLISH with an empty topic
        rc = mqtt.MQTT_ERR_SUCCESS
        for _ in range(4):
            rc = client._packet_read()
            if rc != mqtt.MQTT_ERR_AGAIN:
                break
        assert rc == mqtt.MQTT_ERR_PROTOCOL, client_class
        assert seen == []
        left.close()
        right.close()


# ------------------------------------------------ paho internals checked, fallback to paho's path
def test_the_pinned_paho_has_every_internal_the_buffered_client_uses():
    from paho.mqtt.enums import CallbackAPIVersion

    from mfg_edge.sources.mqtt_client import BufferedClient, make_client, missing_paho_members

    assert missing_paho_members() == []
    client = make_client(True, CallbackAPIVersion.VERSION2, client_id="t", manual_ack=True)
    assert type(client) is BufferedClient
    assert missing_paho_members(client) == []


@pytest.mark.parametrize("name", CLIENT_METHODS)
def test_each_paho_method_the_fast_path_uses_is_checked(monkeypatch, name):
    import paho.mqtt.client as mqtt

    from mfg_edge.sources.mqtt_client import missing_paho_members

    monkeypatch.delattr(mqtt.Client, name)
    assert missing_paho_members() == [f"Client.{name}"]


@pytest.mark.parametrize("name", CLIENT_ATTRIBUTES)
# The mutilated clients' paho __del__ may miss what was removed: not what is tested here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_each_client_attribute_the_fast_path_uses_is_checked(monkeypatch, name):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from mfg_edge.sources.mqtt_client import BufferedClient, make_client, missing_paho_members

    original_init = mqtt.Client.__init__

    def init_without(self, *args, **kwargs):  # a paho whose Client no longer sets `name`
        original_init(self, *args, **kwargs)
        object.__delattr__(self, name)

    monkeypatch.setattr(mqtt.Client, "__init__", init_without)
    client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="t")
    assert missing_paho_members(client) == [f"Client().{name}"]
    assert type(make_client(True, CallbackAPIVersion.VERSION2, client_id="t")) is mqtt.Client


def test_a_changed_message_or_reader_state_is_detected(monkeypatch):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from mfg_edge.sources.mqtt_client import BufferedClient, missing_paho_members

    # A paho whose MQTTMessage gained a field the fast path would leave unset.
    monkeypatch.setattr(mqtt.MQTTMessage, "__slots__", (*mqtt.MQTTMessage.__slots__, "expiry"))
    assert [m.split(" ")[0] for m in missing_paho_members()] == ["MQTTMessage.__slots__"]
    monkeypatch.undo()
    client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="t")
    client._in_packet["header"] = 0  # a paho whose reader keeps one more piece of state
    assert [m.split(" ")[0] for m in missing_paho_members(client)] == ["Client()._in_packet"]


def test_a_paho_without_one_internal_falls_back_to_its_own_path_and_still_receives(
    monkeypatch, caplog
):
    import paho.mqtt.client as mqtt

    from mfg_edge.clock import ClockWatch
    from mfg_edge.metrics import Metrics
    from mfg_edge.rules import RuleSet
    from mfg_edge.sources.mqtt import MqttSource

    # paho's own reader only calls _loop_rc_handle on an error: it still receives without it.
    monkeypatch.delattr(mqtt.Client, "_loop_rc_handle")
    with caplog.at_level("WARNING", logger="mfg_edge.sources.mqtt_client"):
        source = MqttSource(
            {"host": "127.0.0.1", "buffered_io": True},
            RuleSet([]),
            None,
            ClockWatch(),
            Metrics(),
            "plant1/gw-t",
        )
    assert type(source.client) is mqtt.Client
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "Client._loop_rc_handle" in warnings[0]
    seen, written = _drive(
        type(source.client),
        [_publish_packet(b"plant1/line1/mes/completed", b'{"qty": 1}', 1, 7, False, False)],
        manual_ack=True,
    )
    assert [(topic, payload, qos, mid) for topic, payload, qos, mid, *_ in seen] == [
        ("plant1/line1/mes/completed", b'{"qty": 1}', 1, 7)
    ]
    assert written == b""  # manual_ack: nothing acknowledged before the commit
