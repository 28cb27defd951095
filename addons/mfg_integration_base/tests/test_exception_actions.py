import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import IntegrationCase, JobQueue
from .planner_common import create_partner_contract, partner_envelope, receive


@tagged("post_install", "-at_install")
class TestExceptionActions(IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner_contract = create_partner_contract(cls.env)
        cls.system.allowed_contract_ids = [(4, cls.partner_contract.id)]
        cls.planner = new_test_user(
            cls.env,
            login="planner",
            groups="base.group_user,mfg_integration_base.group_mfg_integration_user",
        )
        cls.customer = cls.env["res.partner"].create({"name": "Acme Gears Ltd"})
        cls.Exception = cls.env["mfg.integration.exception"]

    def _fail(self, *codes):
        return receive(self.env, self.system, [partner_envelope(code) for code in codes])

    def _widget_failures(self, count, widget="X"):
        return receive(
            self.env,
            self.system,
            [
                self.envelope(widget=widget, behaviour="business", subject=f"S{i}")
                for i in range(count)
            ],
        )

    # -- grouping and filters ---------------------------------------------------------

    def test_identical_failures_share_a_problem_with_a_business_title(self):
        events = self._fail("ACME-7", "ACME-7", "BOLT-1")
        exceptions = events.mapped("exception_id")
        self.assertEqual(len(exceptions), 3)
        acme = exceptions.filtered(lambda x: x.external_code == "ACME-7")
        self.assertEqual(len(acme.problem_id), 1)
        self.assertNotEqual(acme.problem_id, (exceptions - acme).problem_id)
        self.assertEqual(acme[0].name, "Partner code 'ACME-7' from Test MES has no mapping")
        groups = self.Exception._read_group(
            [("id", "in", exceptions.ids)], ["problem_id"], ["__count"]
        )
        self.assertEqual(
            sorted((problem.name, count) for problem, count in groups),
            [
                ("Partner code 'ACME-7' from Test MES has no mapping", 2),
                ("Partner code 'BOLT-1' from Test MES has no mapping", 1),
            ],
        )

    def test_older_than_sla_filter(self):
        exceptions = self._fail("ACME-7", "BOLT-1").mapped("exception_id")
        late, on_time = exceptions
        late.deadline = fields.Datetime.now() - timedelta(minutes=1)
        on_time.deadline = fields.Datetime.now() + timedelta(hours=1)
        domain = [("id", "in", exceptions.ids)]
        self.assertEqual(self.Exception.search([*domain, ("is_late", "=", True)]), late)
        self.assertEqual(self.Exception.search([*domain, ("is_late", "=", False)]), on_time)
        late.action_retry()
        self.assertFalse(self.Exception.search([*domain, ("is_late", "=", True)]))

    def test_traceback_is_for_managers_only(self):
        exception = self._fail("ACME-7").exception_id
        exception.sudo().details = "Traceback (most recent call last): ..."
        as_planner = exception.with_user(self.planner)
        self.assertEqual(as_planner.name, exception.name)
        with self.assertRaises(AccessError):
            as_planner.read(["details"])

    # -- retry ----------------------------------------------------------------------------

    def test_bulk_retry_resolves_logs_and_queues_events_in_chunks(self):
        events = self._widget_failures(300)
        exceptions = events.mapped("exception_id")
        self.assertEqual(len(exceptions.problem_id), 1)
        queue = JobQueue(self.env)
        exceptions.with_user(self.planner).action_retry()
        self.assertEqual(set(exceptions.mapped("state")), {"resolved"})
        self.assertEqual(set(exceptions.mapped("resolved_by_id")), {self.planner})
        self.assertEqual(set(events.mapped("state")), {"queued"})
        self.assertEqual(len(queue.enqueued()), 2)  # 300 events in chunks of 250
        logged = self.env["mail.message"].search(
            [("model", "=", exceptions._name), ("res_id", "in", exceptions.ids),
             ("body", "ilike", "Retried by")]
        )  # fmt: skip
        self.assertEqual(len(logged), 300)

    def test_retry_from_the_problem_row_retries_only_its_open_exceptions(self):
        events = self._fail("ACME-7", "ACME-7", "BOLT-1")
        acme = events.mapped("exception_id").filtered(lambda x: x.external_code == "ACME-7")
        acme.problem_id.action_retry()
        self.assertEqual(set(acme.mapped("state")), {"resolved"})
        self.assertEqual(
            (events.mapped("exception_id") - acme).state, "open", "BOLT-1 was not retried"
        )

    # -- create mapping -------------------------------------------------------------------

    def test_create_mapping_retries_every_exception_waiting_on_the_code(self):
        events = self._fail("ACME-7", "ACME-7", "BOLT-1")
        exceptions = events.mapped("exception_id")
        acme = exceptions.filtered(lambda x: x.external_code == "ACME-7")
        action = acme[0].with_user(self.planner).action_create_mapping()
        self.assertEqual(action["res_model"], "mfg.integration.mapping.line")
        context = action["context"]
        self.assertEqual(context["default_external_code"], "ACME-7")
        mapping = self.env["mfg.integration.mapping"].browse(context["default_mapping_id"])
        self.assertEqual((mapping.system_id, mapping.kind), (self.system, "partner"))
        queue = JobQueue(self.env)
        Line = self.env["mfg.integration.mapping.line"].with_user(self.planner)
        Line.with_context(**context).create({"target_ref": f"res.partner,{self.customer.id}"})
        self.assertEqual(set(acme.mapped("state")), {"resolved"})
        self.assertEqual((exceptions - acme).state, "open")
        queue.perform_all(immediate_only=True)
        acme_events = events.filtered(lambda e: e.exception_id in acme)
        self.assertEqual(set(acme_events.mapped("state")), {"done"})
        self.assertEqual(acme_events[0].result_res_id, self.customer.id)
        self.assertEqual((events - acme_events).state, "failed")

    def test_map_codes_of_a_selection(self):
        exceptions = self._fail("ACME-7", "ACME-7", "BOLT-1").mapped("exception_id")
        acme = exceptions.filtered(lambda x: x.external_code == "ACME-7")
        one = acme.with_user(self.planner).action_map_codes()
        self.assertEqual(one["res_model"], "mfg.integration.mapping.line")
        self.assertEqual(one["context"]["default_external_code"], "ACME-7")
        several = exceptions.with_user(self.planner).action_map_codes()
        self.env.flush_all()
        codes = self.env[several["res_model"]].search(several["domain"])
        self.assertEqual(sorted(codes.mapped("external_code")), ["ACME-7", "BOLT-1"])
        self.assertEqual(sorted(codes.mapped("exception_count")), [1, 2])
        with self.assertRaises(UserError):
            self._widget_failures(1).exception_id.action_map_codes()

    def test_codes_without_mapping_list(self):
        self._fail("ACME-7", "ACME-7", "BOLT-1")
        self.env.flush_all()
        rows = self.env["mfg.integration.unmapped.code"].search(
            [("system_id", "=", self.system.id)]
        )
        self.assertEqual(
            [(row.kind, row.external_code, row.exception_count) for row in rows],
            [("partner", "ACME-7", 2), ("partner", "BOLT-1", 1)],
        )
        action = rows[0].action_create_mapping()
        self.assertEqual(action["context"]["default_external_code"], "ACME-7")

    def test_mapping_import_by_record_name(self):
        mapping = self.env["mfg.integration.mapping"].create(
            {"system_id": self.system.id, "kind": "partner"}
        )
        result = self.env["mfg.integration.mapping.line"].load(
            ["mapping_id", "external_code", "target_name"],
            [[mapping.name, "ACME-7", "Acme Gears Ltd"]],
        )
        self.assertFalse(result["messages"], result["messages"])
        line = self.env["mfg.integration.mapping.line"].browse(result["ids"])
        self.assertEqual(line.target_ref, self.customer)
        bad = self.env["mfg.integration.mapping.line"].load(
            ["mapping_id", "external_code", "target_name"],
            [[mapping.name, "NOPE-1", "No Such Partner"]],
        )
        self.assertFalse(bad["ids"])
        self.assertIn("No Such Partner", bad["messages"][0]["message"])

    # -- edit payload and retry ------------------------------------------------------------

    def _payload_wizard(self, exceptions, **values):
        return (
            self.env["mfg.integration.payload.wizard"]
            .with_user(self.planner)
            .with_context(active_model=exceptions._name, active_ids=exceptions.ids)
            .create(values)
        )

    def test_edit_payload_validates_keeps_original_and_logs_the_diff(self):
        event = self._widget_failures(1)
        exception = event.exception_id
        wizard = self._payload_wizard(exception)
        self.assertEqual(json.loads(wizard.payload), event.payload)
        wizard.payload = json.dumps({"widget": "X", "qty": -1, "behaviour": "ok"})
        self.assertFalse(wizard.check_ok)
        self.assertIn("/data/qty", wizard.check)
        with self.assertRaisesRegex(ValidationError, "at /data/qty"):
            wizard.action_apply()
        self.assertEqual(event.payload["behaviour"], "business", "nothing saved")
        wizard.payload = "{not json"
        with self.assertRaisesRegex(ValidationError, "not valid JSON"):
            wizard.action_apply()
        original = dict(event.payload)
        wizard.payload = json.dumps({"widget": "X", "qty": 1, "behaviour": "ok"})
        self.assertTrue(wizard.check_ok)
        queue = JobQueue(self.env)
        wizard.action_apply()
        self.assertEqual(event.original_payload, original)
        self.assertEqual(event.payload["behaviour"], "ok")
        self.assertEqual(exception.state, "resolved")
        body = event.message_ids[0].body
        self.assertIn("/behaviour", body)
        self.assertIn('"business" → "ok"', body)
        self.assertIn("/behaviour", exception.message_ids.mapped("body")[1])
        queue.perform_all(immediate_only=True)
        self.assertEqual(event.state, "done")

    def test_bulk_edit_sets_one_field_in_every_payload(self):
        events = self._widget_failures(3)
        exceptions = events.mapped("exception_id")
        wizard = self._payload_wizard(exceptions, pointer="/behaviour", value='"nonsense"')
        self.assertFalse(wizard.check_ok)
        with self.assertRaisesRegex(ValidationError, "at /data/behaviour"):
            wizard.action_apply()
        wizard.value = '"ok"'
        queue = JobQueue(self.env)
        wizard.action_apply()
        queue.perform_all(immediate_only=True)
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual({e.original_payload["behaviour"] for e in events}, {"business"})

    # -- discard and assign ----------------------------------------------------------------

    def test_bulk_discard_needs_a_reason(self):
        exceptions = self._fail("ACME-7", "BOLT-1").mapped("exception_id")
        Wizard = (
            self.env["mfg.integration.discard.wizard"]
            .with_user(self.planner)
            .with_context(active_model=exceptions._name, active_ids=exceptions.ids)
        )
        with self.assertRaises(UserError):
            Wizard.create({"reason": "  "}).action_discard()
        Wizard.create({"reason": "Test orders, never real"}).action_discard()
        self.assertEqual(set(exceptions.mapped("state")), {"discarded"})
        self.assertEqual(set(exceptions.mapped("event_id.state")), {"discarded"})

    def test_assign_gives_a_todo_due_by_the_sla_deadline(self):
        exceptions = self._fail("ACME-7", "BOLT-1").mapped("exception_id")
        self.env["mfg.integration.assign.wizard"].with_context(
            active_model=exceptions._name, active_ids=exceptions.ids
        ).create({"user_id": self.planner.id}).action_assign()
        self.assertEqual(set(exceptions.mapped("state")), {"in_progress"})
        for exception in exceptions:
            activity = exception.activity_ids
            self.assertEqual(len(activity), 1)
            self.assertEqual(activity.user_id, self.planner)
            self.assertEqual(
                activity.date_deadline,
                fields.Date.context_today(exception, exception.deadline),
            )
            # the deadline comes from the contract's SLA (3600 s)
            self.assertAlmostEqual(
                (exception.deadline - exception.create_date).total_seconds(), 3600, delta=60
            )
        exceptions.action_retry()
        self.assertFalse(exceptions.activity_ids, "resolving closes the to-do")
