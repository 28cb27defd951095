"""The SAP OData adapter: confirmations (ProdnOrdConf2) and goods movements
(A_MaterialDocumentHeader deep insert) posted exactly once.

Exactly once: before posting, each event is looked up in SAP by its idempotency key
(``ExternalSystemConfirmation`` / ``MaterialDocumentHeaderText``, see
services/sap_messages.py); what SAP already holds is answered delivered and not posted
again. The lookup runs on every attempt, not only after a timeout: a crash between the
post and the commit of its outcome leaves no trace in Odoo, only in SAP.

With ``batch_enabled`` consecutive events of one service go in one ``$batch``: the lookups
as GET parts of one request, the posts as one changeset per event of another. A ``$batch``
holds at most one event per subject (the next one goes in the next request), so a refused
event never has a later event of its subject applied after it. Outcomes follow the adapter
contract of the base (services/adapters.py): one per event, ``skipped`` for the later events
of a subject that failed and for everything after a technical failure.
"""

import logging
import threading
import time

from odoo.addons.mfg_integration_base.services.adapters import Adapter, registry
from odoo.addons.mfg_integration_base.services.delivery_policy import Outcome

from ..services import sap_messages
from ..services.error_classes import error_class_of
from ..services.odata.batch import ChangeSet, Operation
from ..services.odata.client import encode_query
from ..services.odata.errors import ODataError, SapBusinessError, SapTechnicalError

_logger = logging.getLogger(__name__)

SKIPPED_AFTER_FAILURE = Outcome("skipped", None, "an earlier event of its subject failed")
SKIPPED_AFTER_OUTAGE = Outcome("skipped", None, "SAP failed technically earlier in this round")


class Plan:
    """One event on its way: where it goes, its body and the key SAP knows it by."""

    __slots__ = ("body", "contract", "entity_set", "index", "lookup", "message", "service")

    def __init__(self, index, message):
        self.index = index
        self.message = message
        self.contract = message.envelope["type"]
        self.service = sap_messages.service_of(self.contract)
        uid = message.cloudevent_id
        self.entity_set, self.body = sap_messages.body_of(
            self.contract, uid, message.envelope["data"]
        )
        self.lookup = sap_messages.lookup_filter(self.contract, uid)

    @property
    def subject(self):
        return self.message.subject


@registry.adapter
class SapODataAdapter(Adapter):
    key = "sap_odata"

    def __init__(self, settings):
        super().__init__(settings)
        # idle clients (session, cookies, CSRF token) per service: a delivery lane (thread)
        # borrows one per service for a deliver() call, so lanes never share a CSRF token
        # and a connection stays open across rounds
        self._idle = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    def client(self, service):
        lease = self._local.lease
        if service not in lease:
            with self._lock:
                idle = self._idle.get(service)
                lease[service] = idle.pop() if idle else None
            if lease[service] is None:
                lease[service] = self.settings.client(service)
        return lease[service]

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, {}
        for clients in idle.values():
            for client in clients:
                client.session.close()

    def deliver(self, batch):
        self._local.lease = {}
        try:
            return self._deliver(batch)
        finally:
            lease, self._local.lease = self._local.lease, None
            with self._lock:
                for service, client in lease.items():
                    self._idle.setdefault(service, []).append(client)

    def _deliver(self, batch):
        outcomes = [None] * len(batch)
        plans = []
        for index, message in enumerate(batch):
            try:
                plans.append(Plan(index, message))
            except (KeyError, TypeError, ValueError) as error:
                outcomes[index] = Outcome(
                    "business",
                    None,
                    f"The event's data cannot become an SAP request: {error}",
                    error_class="value",
                )
        failed_subjects = {
            batch[i].subject for i, o in enumerate(outcomes) if o and batch[i].subject
        }
        started = time.monotonic()
        outage = None
        for run in _runs(plans):
            if outage:
                break
            if self.settings.batch_enabled and len(run) > 1:
                outage = self._deliver_batched(run, outcomes, failed_subjects)
            else:
                outage = self._deliver_singly(run, outcomes, failed_subjects)
        for index, outcome in enumerate(outcomes):
            if outcome is None:
                outcomes[index] = SKIPPED_AFTER_OUTAGE if outage else SKIPPED_AFTER_FAILURE
        delivered = sum(1 for o in outcomes if o.status == "delivered")
        log = _logger.debug if delivered == len(batch) else _logger.warning
        log(
            "SAP %s: %s of %s events delivered in %.3f s (correlation %s)%s",
            self.settings.system_code, delivered, len(batch), time.monotonic() - started,
            batch[0].correlation_id or "-", f": {outage.summary}" if outage else "",
        )  # fmt: skip
        return outcomes

    # one request per event

    def _deliver_singly(self, run, outcomes, failed_subjects):
        for plan in run:
            if plan.subject in failed_subjects:
                outcomes[plan.index] = SKIPPED_AFTER_FAILURE
                continue
            client = self.client(plan.service)
            try:
                entity_set, condition = plan.lookup
                found = client.get_json(entity_set, {"$filter": condition, "$top": "1"})
                existing = _results(found)
                if existing:
                    outcomes[plan.index] = _already_there(plan, existing[0])
                    continue
                created = client.create(plan.entity_set, plan.body)
            except ODataError as error:
                outcome = self._failure(plan, error)
                outcomes[plan.index] = outcome
                if plan.subject:
                    failed_subjects.add(plan.subject)
                if outcome.status == "technical":
                    return outcome
                continue
            outcomes[plan.index] = _created(plan, created.values)
        return None

    # $batch: lookups in one request, then one changeset per event

    def _deliver_batched(self, run, outcomes, failed_subjects):
        client = self.client(run[0].service)
        for planned in _waves(run):
            wave = [plan for plan in planned if plan.subject not in failed_subjects]
            for plan in run:
                if plan.subject in failed_subjects and outcomes[plan.index] is None:
                    outcomes[plan.index] = SKIPPED_AFTER_FAILURE
            if not wave:
                continue
            try:
                found = self._look_up(client, wave)
            except (ODataError, ValueError) as error:
                return self._fail_all(wave, error, outcomes, failed_subjects)
            to_post = []
            for plan in wave:
                if found.get(plan.index):
                    outcomes[plan.index] = _already_there(plan, found[plan.index])
                else:
                    to_post.append(plan)
            if not to_post:
                continue
            changesets = [
                ChangeSet((Operation("POST", plan.entity_set, plan.body, content_id="1"),))
                for plan in to_post
            ]
            try:
                results = client.batch(changesets)
            except (ODataError, ValueError) as error:
                return self._fail_all(to_post, error, outcomes, failed_subjects)
            outage = None
            for plan, result in zip(to_post, results, strict=True):
                if result.ok:
                    document = result.parts[0].json() or {}
                    outcomes[plan.index] = _created(plan, document.get("d") or {})
                    continue
                outcome = self._failure(plan, result.error)
                outcomes[plan.index] = outcome
                if plan.subject:
                    failed_subjects.add(plan.subject)
                if outcome.status == "technical":
                    outage = outcome
            if outage:
                return outage
        return None

    def _look_up(self, client, wave):
        """{plan index: the entity SAP holds for it} of the wave's events, in one $batch."""
        reads = []
        for plan in wave:
            entity_set, condition = plan.lookup
            query = encode_query({"$filter": condition, "$top": "1", "$format": "json"})
            reads.append(Operation("GET", f"{entity_set}?{query}", content_id=str(plan.index)))
        results = client.batch(reads)
        found = {}
        for plan, result in zip(wave, results, strict=True):
            if not result.ok:
                raise result.error
            rows = _results(result.json() or {})
            if rows:
                found[plan.index] = rows[0]
        return found

    def _fail_all(self, plans, error, outcomes, failed_subjects):
        outage = None
        for plan in plans:
            outcome = self._failure(plan, error)
            outcomes[plan.index] = outcome
            if plan.subject:
                failed_subjects.add(plan.subject)
            if outcome.status == "technical":
                outage = outcome
        return outage

    def _failure(self, plan, error):
        if not isinstance(error, ODataError):
            # an answer that is not a $batch answer (a proxy's page): retried, as a 5xx is
            return Outcome(
                "technical",
                None,
                f"SAP's $batch answer could not be read: {error}",
                error_class="parse",
            )
        if isinstance(error, SapBusinessError):
            what = (
                "confirmation"
                if plan.service == sap_messages.CONFIRMATION_SERVICE
                else ("goods movement")
            )
            # an order locked by a user is retried before a person sees it (intermittent)
            return Outcome(
                "business",
                error.status,
                f"SAP refused the {what}: {sap_messages.plain_sap_error(error)}",
                error_class=error_class_of(error),
            )
        retry_after = getattr(error, "retry_after", None)
        if getattr(error, "maybe_applied", False):
            # a write SAP may still be finishing: look it up only after it surely ended
            retry_after = max(retry_after or 0.0, float(self.settings.read_timeout))
        summary = f"{type(error).__name__}: {error}"
        if isinstance(error, SapTechnicalError) and error.sap.message:
            summary = f"{summary} [SAP {error.sap.code}]"
        return Outcome(
            "technical", error.status, summary, retry_after, error_class=error_class_of(error)
        )


def _runs(plans):
    """Consecutive plans of one service (a $batch goes to one service)."""
    runs = []
    for plan in plans:
        if runs and runs[-1][0].service == plan.service:
            runs[-1].append(plan)
        else:
            runs.append([plan])
    return runs


def _waves(run):
    """The run cut so that a wave holds at most one event per subject, in order: wave n
    holds the n-th event of each subject (events without a subject go in the first)."""
    waves = []
    seen = {}
    for plan in run:
        position = 0
        if plan.subject is not None:
            position = seen.get(plan.subject, 0)
            seen[plan.subject] = position + 1
        while len(waves) <= position:
            waves.append([])
        waves[position].append(plan)
    return waves


def _results(document):
    data = document.get("d", document) if isinstance(document, dict) else {}
    if isinstance(data, dict):
        return data.get("results", [])
    return data or []


def _already_there(plan, values):
    key = sap_messages.created_key(plan.contract, values)
    return Outcome("delivered", 200, f"SAP already held it ({key}): not posted again")


def _created(plan, values):
    return Outcome(
        "delivered", 201, f"SAP created {sap_messages.created_key(plan.contract, values)}"
    )
