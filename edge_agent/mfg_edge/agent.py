"""Wires sources -> ingest (group commit) -> store -> sender, plus metrics and rule refresh."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time

from . import __version__
from .clock import ClockWatch
from .config import Config, api_key, load_config
from .ingest import Ingestor
from .metrics import Metrics, MetricsServer
from .rules import RuleSet
from .rules_sync import resolve_rules
from .sender import Sender
from .store import Store

_logger = logging.getLogger(__name__)


def exit_now(why: str) -> None:
    """End the process without waiting for its threads; safe at any moment, as kill -9 is: the
    store commits durably and sources keep whatever was not acknowledged."""
    _logger.warning("%s: exiting now; unacknowledged messages stay at their source", why)
    for child in multiprocessing.active_children():  # MQTT shard processes
        child.kill()
    logging.shutdown()
    os._exit(0)


def open_store(config: Config, metrics=None) -> Store:
    store_settings = config.store
    return Store(
        config.store_path,
        max_events=store_settings["max_events"],
        max_bytes=store_settings["max_bytes"],
        telemetry_when_full=store_settings["telemetry_when_full"],
        synchronous="FULL",
        metrics=metrics,
    )


class Agent:
    def __init__(self, config: Config):
        self.config = config
        self.metrics = Metrics(process=True)
        self.clock = ClockWatch(**config.agent["clock"])
        self.store = open_store(config, self.metrics)
        if "delivered_retention_h" in config.store:
            _logger.warning(
                "store.delivered_retention_h is ignored since agent 0.2 (delivered ids are no"
                " longer kept: Odoo answers a redelivery 'duplicate'); remove it from the file"
            )
        self.api_key = api_key(config)
        self.started_at = time.time()
        odoo = config.odoo
        verify: bool | str = odoo.get("ca_bundle") or odoo["verify_tls"]
        if verify is False:
            _logger.warning(
                "TLS verification is OFF for %s: use only on a test bench",
                ", ".join(config.odoo_urls),
            )
        self.sender = Sender(
            store=self.store,
            url=config.odoo_urls,
            failback_s=odoo["failback_s"],
            api_key=self.api_key,
            source=config.source,
            metrics=self.metrics,
            clock=self.clock,
            batch_size=odoo["batch_size"],
            linger_ms=odoo["linger_ms"],
            timeout_s=odoo["timeout_s"],
            verify=verify,
            backoff_base_s=odoo["backoff_base_s"],
            backoff_max_s=odoo["backoff_max_s"],
            auth_retry_s=odoo["auth_retry_s"],
            retry_after_max_s=odoo["retry_after_max_s"],
            heartbeat_interval_s=config.agent["heartbeat_interval_s"],
            summary_check_interval_s=config.agent["summary_check_interval_s"],
            started_at=self.started_at,
        )
        self.ingestor = Ingestor(
            self.store,
            self.metrics,
            max_messages=config.store["commit_max_messages"],
            max_ms=config.store["commit_max_ms"],
            burst_messages=config.store["commit_burst_messages"],
            queue_limit=config.store["max_uncommitted_messages"],
            on_commit=self.sender.wake.set,
        )
        self.sources: list = []
        self.rule_specs: list[dict] = []
        self.rules_origin = "none"
        self._stop = threading.Event()
        self._stop_deadline: threading.Timer | None = None
        self._reload = threading.Event()
        self.metrics_server: MetricsServer | None = None
        self._register_gauges()

    def _register_gauges(self) -> None:
        self.metrics.set("mfg_edge_backlog_events", lambda: self.store.count)
        self.metrics.set(
            "mfg_edge_oldest_event_age_seconds", lambda: self.store.stats()["oldest_event_age_s"]
        )
        self.metrics.set("mfg_edge_dead_letters", lambda: self.store.stats()["dead_letters"])
        self.metrics.set("mfg_edge_store_bytes", self.store.file_bytes)
        self.metrics.set("mfg_edge_store_checkpoints", lambda: self.store.checkpoint_stats()[0])
        self.metrics.set(
            "mfg_edge_store_checkpoint_pause_seconds_max",
            lambda: self.store.checkpoint_stats()[1],
        )
        self.metrics.set("mfg_edge_clock_synchronised", lambda: int(self.clock.synchronised()))

    def health(self) -> dict:
        stats = self.store.stats()
        sources = {type(s).__name__: bool(getattr(s, "connected", True)) for s in self.sources}
        ok = self.sender.state not in ("auth_failed", "misconfigured")
        return {
            "ok": ok,
            "version": __version__,
            "sender_state": self.sender.state,
            "sources_connected": sources,
            "rules_origin": self.rules_origin,
            "backlog": stats["backlog"],
            "oldest_event_age_s": stats["oldest_event_age_s"],
            "dead_letters": stats["dead_letters"],
            "last_send_ok": stats["last_send_ok"],
        }

    # ------------------------------------------------------------------------ sources
    def _build_sources(self, specs: list[dict]) -> list:
        rules = RuleSet(specs)
        built = []
        if self.config.mqtt and rules.for_kind("mqtt"):
            from .sources.mqtt import MqttSource
            from .sources.mqtt_shards import ShardedMqttSource

            password_env = self.config.mqtt.get("password_env")
            kind = ShardedMqttSource if self.config.mqtt.get("shards") else MqttSource
            built.append(
                kind(
                    self.config.mqtt,
                    rules,
                    self.ingestor,
                    self.clock,
                    self.metrics,
                    self.config.source,
                    password=os.environ.get(password_env) if password_env else None,
                )
            )
        if self.config.opcua and rules.for_kind("opcua"):
            from .sources.opcua import OpcUaSource

            built.append(
                OpcUaSource(
                    self.config.opcua,
                    rules,
                    self.ingestor,
                    self.clock,
                    self.metrics,
                    self.config.source,
                )
            )
        if rules.for_kind("csv"):
            from .sources.csv_folder import CsvFolderSource

            built.append(
                CsvFolderSource(
                    self.config.csv,
                    rules,
                    self.ingestor,
                    self.clock,
                    self.metrics,
                    self.config.source,
                )
            )
        return built

    def apply_rules(self, specs: list[dict], origin: str) -> None:
        if specs == self.rule_specs and self.sources:
            self.rules_origin = origin
            return
        for source in self.sources:
            source.stop()
        self.rule_specs = specs
        self.rules_origin = origin
        self.sources = self._build_sources(specs)
        for source in self.sources:
            source.start()
        _logger.info(
            "%d rules active (from %s); sources: %s",
            len(specs),
            origin,
            ", ".join(type(s).__name__ for s in self.sources) or "none",
        )

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        metrics_settings = self.config.metrics
        if metrics_settings["enabled"]:
            self.metrics_server = MetricsServer(
                self.metrics, self.health, metrics_settings["host"], metrics_settings["port"]
            )
            self.metrics_server.start()
        self.ingestor.start()
        self.sender.start()
        specs, origin = resolve_rules(self.config, self.api_key)
        self.apply_rules(specs, origin)
        stats = self.store.stats()
        _logger.info(
            "mfg-edge %s started as %s: backlog %d, dead letters %d",
            __version__,
            self.config.source,
            stats["backlog"],
            stats["dead_letters"],
        )

    def stop(self) -> None:
        """Take nothing more, stop the sources, commit what arrived, let the sender finish."""
        self.ingestor.close_intake()  # sources waiting on a full queue return at once
        for source in self.sources:
            source.stop()
        self.ingestor.stop()
        self.sender.stop()
        if self.metrics_server:
            self.metrics_server.stop()
        self.store.close()

    def request_stop(self, *_args) -> None:
        """SIGTERM/SIGINT. The stop is bounded by agent.stop_timeout_s from this signal, whatever
        the agent waits for (a full store, a broker or OPC-UA server that does not answer, a POST
        to a hung Odoo): then the process exits at once, as it does on a second signal. That
        loses nothing: what was not stored was not acknowledged, so the broker redelivers it and
        a CSV file stays in its folder; what was stored is durable."""
        if self._stop.is_set():
            exit_now("a second stop signal")
        self._stop.set()
        limit = self.config.agent["stop_timeout_s"]
        self._stop_deadline = threading.Timer(
            limit, exit_now, (f"the stop took longer than {limit:g} s",)
        )
        self._stop_deadline.daemon = True
        self._stop_deadline.start()

    def request_reload(self, *_args) -> None:
        self._reload.set()

    def _reload_config(self) -> None:
        try:
            fresh = load_config(self.config.path) if self.config.path else self.config
            key = api_key(fresh)
        except Exception as exc:  # a bad edit must not kill a running agent
            _logger.error("reload refused, keeping the running configuration: %s", exc)
            return
        self.config = fresh
        self.api_key = key
        self.sender.reload(key)
        specs, origin = resolve_rules(fresh, key)
        self.apply_rules(specs, origin)

    def run_forever(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGHUP, self.request_reload)
        self.start()
        next_refresh = time.monotonic() + self.config.odoo["rules_refresh_s"]
        try:
            while not self._stop.wait(0.5):
                if self._reload.is_set():
                    self._reload.clear()
                    _logger.info("SIGHUP: reloading configuration")
                    self._reload_config()
                if self.config.odoo["pull_rules"] and time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + self.config.odoo["rules_refresh_s"]
                    specs, origin = resolve_rules(self.config, self.api_key)
                    self.apply_rules(specs, origin)
                requeued = self.store.requeue_requested()
                if requeued:
                    _logger.info("re-queued %d dead letters for replay", requeued)
                    self.sender.wake.set()
        finally:
            _logger.info("stopping")
            self.stop()
            if self._stop_deadline is not None:
                self._stop_deadline.cancel()  # stopped in time: no forced exit
