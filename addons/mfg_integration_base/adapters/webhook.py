"""The webhook adapter: HTTP POST of CloudEvents, signed with Standard Webhooks headers.

One event is sent in structured mode (``application/cloudevents+json``), several as a
batch (``application/cloudevents-batch+json``, a JSON array) when their contract allows
it. ``webhook-id`` is the CloudEvents id of a single event (stable across retries and
replays, so a receiver dedups on it); for a batch it is derived from the ids it holds,
and the receiver dedups on each CloudEvents id inside.
"""

import hashlib
import json
import logging
import time

import requests
from requests.adapters import HTTPAdapter

from ..services import webhook_signature
from ..services.adapters import Adapter, registry
from ..services.delivery_policy import Outcome, classify_response

_logger = logging.getLogger(__name__)

USER_AGENT = "odoo-mfg-integration/18.0"
SINGLE_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"


def encode(envelopes):
    return json.dumps(envelopes, ensure_ascii=False, separators=(",", ":")).encode()


def batch_webhook_id(messages):
    digest = hashlib.sha256("\n".join(m.cloudevent_id for m in messages).encode()).hexdigest()
    return f"batch_{digest[:32]}"


@registry.adapter
class WebhookAdapter(Adapter):
    key = "webhook"

    def __init__(self, settings):
        super().__init__(settings)
        self.session = requests.Session()
        # keep-alive connections, one per delivery lane; retries are ours, not urllib3's
        pool = HTTPAdapter(
            pool_connections=1, pool_maxsize=max(1, settings.parallel), max_retries=0
        )
        self.session.mount("http://", pool)
        self.session.mount("https://", pool)
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self):
        self.session.close()

    def request(self, messages):
        """(body, headers) of the POST that delivers ``messages``."""
        if len(messages) == 1:
            body = encode(messages[0].envelope)
            webhook_id = messages[0].cloudevent_id
            content_type = SINGLE_CONTENT_TYPE
        else:
            body = encode([m.envelope for m in messages])
            webhook_id = batch_webhook_id(messages)
            content_type = BATCH_CONTENT_TYPE
        headers = {"Content-Type": content_type}
        if self.settings.secret:
            headers.update(webhook_signature.headers(self.settings.secret, webhook_id, body))
        else:
            headers["webhook-id"] = webhook_id
            headers["webhook-timestamp"] = str(int(time.time()))
        correlations = {m.correlation_id for m in messages if m.correlation_id}
        if len(correlations) == 1:
            headers["X-Correlation-ID"] = correlations.pop()
        return body, headers

    def deliver(self, batch):
        body, headers = self.request(batch)
        correlation = headers.get("X-Correlation-ID", "-")
        started = time.monotonic()
        try:
            response = self.session.post(
                self.settings.url,
                data=body,
                headers=headers,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                verify=self.settings.verify,
                allow_redirects=False,
            )
        except requests.Timeout as error:
            outcome = Outcome("technical", None, f"Timeout: {_reason(error)}")
        except requests.ConnectionError as error:
            outcome = Outcome("technical", None, f"Connection failed: {_reason(error)}")
        except requests.RequestException as error:
            outcome = Outcome("technical", None, f"{type(error).__name__}: {_reason(error)}")
        else:
            outcome = classify_response(response.status_code, response.headers, response.text)
        elapsed = time.monotonic() - started
        if outcome.status == "delivered":
            _logger.debug(
                "Delivered %s events to %s in %.3f s (webhook-id %s, correlation %s)",
                len(batch), self.settings.system_code, elapsed, headers["webhook-id"], correlation,
            )  # fmt: skip
        else:
            _logger.warning(
                "Delivery of %s events to %s failed after %.3f s (webhook-id %s, "
                "correlation %s): %s",
                len(batch), self.settings.system_code, elapsed, headers["webhook-id"],
                correlation, outcome.summary,
            )  # fmt: skip
        return [outcome] * len(batch)


def _reason(error):
    # the innermost cause says what happened (refused, reset, read timed out) without the
    # URL's query string or any header
    cause = error
    while getattr(cause, "__context__", None) is not None and cause.__context__ is not cause:
        cause = cause.__context__
    return type(cause).__name__ if cause is not error else type(error).__name__
