import json
import uuid
from datetime import UTC, datetime, timedelta

from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase

from odoo.addons.queue_job.job import Job

from ..services.error_classes import REASON_CLASSES
from ..services.errors import BusinessError, PrerequisiteMissing
from ..services.handler_registry import registry

WIDGET_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["widget", "qty"],
    "additionalProperties": False,
    "properties": {
        "widget": {"type": "string", "minLength": 1},
        "qty": {"type": "number", "exclusiveMinimum": 0},
        "behaviour": {
            "enum": [
                "ok",
                "business",
                "technical",
                "prerequisite",
                "conflict",
                "out_of_range",
                "odoo_refuses",
                "lot_on_hold",
                "sor",
                "locked",
            ]
        },
    },
}

# What the test handler did, per event id: proves "applied exactly once".
APPLIED = []


@registry.handler("test.widget.made", major=1)
def handle_widget_made(env, event):
    behaviour = event.payload.get("behaviour", "ok")
    if behaviour == "business":
        raise BusinessError(
            "widget_unknown",
            f"Widget '{event.payload['widget']}' is unknown",
            suggested_action="Create the widget, then retry.",
            key_fields={"widget": event.payload["widget"]},
        )
    if behaviour == "technical":
        raise ConnectionError("the widget database is down")
    if behaviour == "prerequisite":
        raise PrerequisiteMissing(f"Order for widget {event.payload['widget']} has not arrived")
    if behaviour == "odoo_refuses":
        # a side effect first: the refusal must roll it back with the rest of the event
        event.system_id.description = "half-applied"
        raise UserError(env._("Widget '%s' is archived", event.payload["widget"]))
    if behaviour == "lot_on_hold":
        error = UserError(env._("Lot %s is on hold", event.payload["widget"]))
        error.reason_code = "lot_on_hold"
        raise error
    if behaviour == "locked":
        raise BusinessError(
            "order_locked",
            f"Order {event.payload['widget']} is locked by another user",
            error_class="intermittent",
        )
    if behaviour == "sor":
        env["mfg.integration.record.kind"]._check_inbound_update(
            "bom", event.system_id, f"BoM {event.payload['widget']}"
        )
    if behaviour == "out_of_range":
        env.cr.execute("SELECT %s::int4", [2**40])
    if behaviour == "conflict":
        # a row another transaction may hold (the test locks it): NOWAIT fails at once then
        env.cr.execute("SELECT id FROM res_country WHERE code = 'BE' FOR NO KEY UPDATE NOWAIT")
    APPLIED.append(event.event_uid)
    # a real side effect in the same transaction: the system's note
    event.system_id.description = f"{event.system_id.description or ''}{event.payload['widget']};"
    return event.system_id


# Events are stamped relative to the clock, never with a fixed date: at the test run's start,
# one instant for all (so events built a second apart keep the order the test gives them).
RUN_STARTED = datetime.now(UTC).replace(microsecond=0)


def assert_business_error(case, event, reason_code, reason_classes):
    """``event`` failed with a business exception of ``reason_code`` whose error class is the
    one registered for it (``reason_classes``: the table of the addon that raises it)."""
    case.assertEqual(event.state, "failed", event.error)
    exception = event.exception_id
    case.assertEqual((exception.reason_code, exception.category), (reason_code, "business"))
    classes = {**REASON_CLASSES, **reason_classes}
    case.assertIn(reason_code, classes, "register its error class (services/error_classes.py)")
    case.assertEqual(exception.error_class, classes[reason_code])


def utc_stamp(seconds_ago=0.0):
    """RFC 3339 UTC of the run's start minus ``seconds_ago``."""
    return (RUN_STARTED - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


class JobQueue:
    """Jobs created inside a test transaction, and a way to run them as the runner would.

    (queue_job's own trap_jobs helper does not import on every 18.0 source.)
    """

    def __init__(self, env):
        self.env = env
        env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM queue_job")
        self.start_id = env.cr.fetchone()[0]

    def enqueued(self, state="pending"):
        domain = [("id", ">", self.start_id)]
        if state:
            domain.append(("state", "=", state))
        return self.env["queue.job"].search(domain, order="id")

    def perform(self, record):
        job = Job.load(self.env, record.uuid)
        job.set_started()
        job.set_done(result=job.perform())
        job.store()
        return job

    def perform_all(self, rounds=10, immediate_only=False):
        """Run pending jobs, and the jobs they create, up to ``rounds`` generations.

        With ``immediate_only``, jobs planned for later (retries, delayed checks) wait.
        """
        for _round in range(rounds):
            pending = self.enqueued()
            if immediate_only:
                pending = pending.filtered(lambda job: not job.eta)
            if not pending:
                return
            for record in pending:
                self.perform(record)


def create_widget_contract(env, **values):
    """The test contract test.widget.made 1.0, active."""
    return env["mfg.integration.contract"].create(
        dict(
            {
                "name": "Widget made",
                "code": "test.widget.made",
                "version": "1.0",
                "schema": json.dumps(WIDGET_SCHEMA),
                "example": json.dumps({"widget": "W-1", "qty": 2}),
                "state": "active",
            },
            **values,
        )
    )


class IntegrationCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Contract = cls.env["mfg.integration.contract"]
        cls.Event = cls.env["mfg.integration.event"]
        cls.contract = create_widget_contract(
            cls.env, max_attempts=3, retry_base_seconds=1, retry_max_seconds=2
        )
        cls.heartbeat = cls.env.ref("mfg_integration_base.contract_edge_heartbeat_1_0")
        cls.system = cls.env["mfg.integration.system"].create(
            {
                "name": "Test MES",
                "code": "test_mes",
                "kind": "mes",
                "allowed_contract_ids": [(6, 0, [cls.contract.id, cls.heartbeat.id])],
            }
        )

    def setUp(self):
        super().setUp()
        APPLIED.clear()

    @staticmethod
    def envelope(widget="W-1", qty=1, subject="WO-1", event_id=None, sequence=None, **data):
        # Stamped relative to the clock: a test must pass on any day.
        body = {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": "plant1/line1",
            "type": "test.widget.made",
            "dataschema": "urn:mfg:contract:test.widget.made:1.0",
            "time": utc_stamp(),
            "subject": subject,
            "data": dict({"widget": widget, "qty": qty}, **data),
        }
        if sequence is not None:
            body["sequence"] = f"{sequence:012d}"
        return body

    def _receive(self, *envelopes):
        """Ingest ``envelopes`` as the API would, run the jobs now, return the stored events."""
        queue = JobQueue(self.env)
        self.Event.sudo()._ingest(self.system, list(envelopes))
        queue.perform_all(immediate_only=True)
        return self.Event.search(
            [("event_uid", "in", [e["id"] for e in envelopes]), ("state", "!=", "rejected")],
            order="id",
        )

    @staticmethod
    def sent_summary(day, counts, event_id=None):
        """An integration.sent.summary envelope: {contract code: events sent} on ``day``."""
        return {
            "specversion": "1.0",
            "id": event_id or f"summary-{day}-{len(counts)}",
            "source": "plant1/gw",
            "type": "integration.sent.summary",
            "time": f"{day}T23:59:00Z",
            "subject": f"summary/{day}",
            "data": {"day": day, "counts": [{"type": t, "count": n} for t, n in counts.items()]},
        }


# what Odoo sends when a widget ships: the widget schema, with a note instead of the
# test handler's behaviour switch
SHIPPED_SCHEMA = dict(
    WIDGET_SCHEMA,
    properties=dict(
        {k: v for k, v in WIDGET_SCHEMA["properties"].items() if k != "behaviour"},
        note={"type": "string"},
    ),
)


def create_outbound_widget_contract(env, **values):
    """The outbound test contract test.widget.shipped 1.0, active."""
    return env["mfg.integration.contract"].create(
        dict(
            {
                "name": "Widget shipped",
                "code": "test.widget.shipped",
                "version": "1.0",
                "direction": "outbound",
                "schema": json.dumps(SHIPPED_SCHEMA),
                "example": json.dumps({"widget": "W-1", "qty": 2}),
                "state": "active",
            },
            **values,
        )
    )
