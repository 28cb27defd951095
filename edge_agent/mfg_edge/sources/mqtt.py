"""MQTT source: QoS 1, persistent session, manual acknowledgement after the durable commit.

The broker keeps a message until we PUBACK it; we PUBACK only after the event is in the store
(fsync'd), so a crash at any point loses nothing: unacked messages are redelivered on reconnect
and their deterministic ids make the redelivery a local duplicate.
"""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..backoff import Backoff
from ..codec import loads
from ..event import RawDeadLetter
from .base import Source, message_to_events
from .mqtt_client import make_client

_logger = logging.getLogger(__name__)


def default_client_id(settings: dict, agent_source: str) -> str:
    # A stable client id is what makes the session persistent across restarts.
    return settings.get("client_id") or ("mfg-edge-" + agent_source.replace("/", "-"))[:23]


class MqttSource(Source):
    kind = "mqtt"

    def __init__(
        self, settings: dict, rules, ingestor, clock, metrics, agent_source: str, password=None
    ):
        super().__init__(ingestor, clock, metrics, agent_source)
        self.settings = settings
        self.rules = rules
        client_id = default_client_id(settings, agent_source)
        self.client = make_client(
            settings.get("buffered_io", True),
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if settings.get("username"):
            self.client.username_pw_set(settings["username"], password)
        if settings.get("tls"):
            self.client.tls_set(ca_certs=settings.get("ca_bundle"))
        self.backoff = Backoff(0.5, float(settings.get("backoff_max_s", 30)))
        self._generation = 0
        self._lock = threading.Lock()
        self.connected = False
        self.session_present: bool | None = None
        self._stopping = False
        self.on_state = None  # called after a connect or disconnect (a shard reports it)
        # Acks of one group commit, sent together by flush_acks() (one write, in order).
        self._ack_batch: list[int] = []
        self._ack_batch_generation = 0
        self._ack_many = getattr(self.client, "ack_many", None)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_message = self._on_message
        self._set_next_delay()
        metrics.set("mfg_edge_source_connected", lambda: 1 if self.connected else 0, source="mqtt")

    def _set_next_delay(self) -> None:
        # paho waits min_delay before the next attempt; setting min == max to a fresh full-jitter
        # draw each time turns its plain doubling into full-jitter exponential backoff.
        delay = max(0.05, self.backoff.next_delay())
        self.client.reconnect_delay_set(delay, delay)

    def start(self) -> None:
        # The ingestor (or a shard's forwarder) calls this after each commit's acks.
        self.ingestor.after_acks.append(self.flush_acks)
        self.client.connect_async(
            self.settings["host"],
            int(self.settings.get("port", 1883)),
            int(self.settings.get("keepalive_s", 30)),
        )
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        if self.flush_acks in self.ingestor.after_acks:
            self.ingestor.after_acks.remove(self.flush_acks)
        self.client.disconnect()
        self.client.loop_stop()
        self.connected = False

    # ------------------------------------------------------------------------ callbacks
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            _logger.error("MQTT broker refused the connection: %s", reason_code)
            self._set_next_delay()
            return
        with self._lock:
            self._generation += 1
        self.connected = True
        self.session_present = bool(flags.session_present)
        self.backoff.reset()
        self._set_next_delay()
        if self.session_present:
            _logger.info("MQTT connected, session present: unacknowledged messages will be resent")
        else:
            _logger.warning(
                "MQTT connected WITHOUT a stored session (first start, or the broker lost it): "
                "messages published while we were away and not queued are not recoverable"
            )
        topics = self.rules.mqtt_topics()
        if topics:
            client.subscribe([(topic, 1) for topic in topics])
            _logger.info("MQTT subscribed (QoS 1) to %s", ", ".join(topics))
        if self.on_state:
            self.on_state()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self._stopping:
            _logger.info("MQTT disconnected (%s)", reason_code)
        elif self.connected:
            _logger.warning("MQTT disconnected (%s); reconnecting with backoff", reason_code)
        self.connected = False
        self._set_next_delay()
        if self.on_state:
            self.on_state()

    def _on_connect_fail(self, client, userdata):
        self.connected = False
        self._set_next_delay()

    def _ack(self, mid: int, qos: int, generation: int) -> None:
        # An ack from before a reconnect would name a packet id of the old connection: skip it,
        # the broker redelivers that message and it is answered as a local duplicate.
        if generation == self._generation and self.connected:
            if qos == 1 and self._ack_many is not None:
                if self._ack_batch_generation != generation:
                    self._ack_batch = []  # ids of a previous connection: never sent
                    self._ack_batch_generation = generation
                self._ack_batch.append(mid)
            else:
                self.flush_acks()  # keep the order: what is batched leaves first
                self.client.ack(mid, qos)

    def flush_acks(self) -> None:
        """Send the batched PUBACKs (called by the one thread that calls the acks, after a
        commit's acks: the committer, or a shard's ack reader)."""
        if self._ack_batch:
            mids, self._ack_batch = self._ack_batch, []
            if self._ack_batch_generation == self._generation and self.connected:
                self._ack_many(mids)

    def _on_message(self, client, userdata, message):
        arrived = time.monotonic()
        received, quality = self.clock.quality()
        events, dead = [], []
        topic = message.topic
        try:
            payload = loads(message.payload)
        except (ValueError, UnicodeDecodeError) as exc:
            payload = None
            dead.append(
                RawDeadLetter(
                    "mqtt",
                    topic,
                    message.payload,
                    "invalid_json",
                    f"payload is not JSON: {exc}",
                    received,
                    {"topic": topic},
                )
            )
        if payload is not None:
            events, dead = message_to_events(
                self.rules.match_topic(topic),
                kind="mqtt",
                agent_source=self.agent_source,
                context={"payload": payload, "topic": topic, "topic_segments": topic.split("/")},
                origin=topic,
                payload=message.payload,
                received_time=received,
                clock_quality=quality,
                dead_context={"topic": topic},
                no_rule_reason=f"no rule matches topic {topic}",
            )
        ack = None
        if message.qos > 0:
            mid, qos, generation = message.mid, message.qos, self._generation
            ack = lambda: self._ack(mid, qos, generation)  # noqa: E731 - a closure is the clearest here
        self.submit(events, dead, ack, arrived)
