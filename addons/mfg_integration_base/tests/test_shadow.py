from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tests.common import new_test_user

from ..services import shadow
from .common import APPLIED, IntegrationCase


# post_install: test users need every installed module's defaults
@tagged("post_install", "-at_install")
class TestShadow(IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        manager = "mfg_integration_base.group_mfg_integration_manager"
        cls.manager_a = new_test_user(cls.env, "shadow_manager_a", groups=manager)
        cls.manager_b = new_test_user(cls.env, "shadow_manager_b", groups=manager)
        cls.planner = new_test_user(
            cls.env, "shadow_planner", groups="mfg_integration_base.group_mfg_integration_user"
        )
        cls.legacy_user = new_test_user(cls.env, "legacy_interface", groups=manager)
        cls.summary = cls.env.ref("mfg_integration_base.contract_integration_sent_summary_1_0")
        cls.system.allowed_contract_ids = [(4, cls.summary.id)]
        cls.Count = cls.env["mfg.integration.sent.count"]
        cls.count_effect = cls._effect(
            cls.summary, "mfg.integration.sent.count", "event_type", "reported_count"
        )
        cls._effect(cls.contract, "mfg.integration.system", "code", "max_batch_events")

    @classmethod
    def _effect(cls, contract, model, key, quantity):
        fields_ = cls.env["ir.model.fields"]
        return cls.env["mfg.integration.contract.effect"].create(
            {
                "contract_id": contract.id,
                "model_id": cls.env["ir.model"]._get_id(model),
                "key_field_id": fields_._get(model, key).id,
                "quantity_field_id": fields_._get(model, quantity).id,
            }
        )

    def _shadow(self, contract):
        contract.with_context(mfg_shadow_switch=True).shadow_mode = True

    def _counts(self):
        return self.Count.search([("system_id", "=", self.system.id)])

    # -- processing in shadow ----------------------------------------------------------

    def test_live_run_creates_the_records(self):
        event = self._receive(self.sent_summary("2026-11-20", {"a.b.c": 5}))
        self.assertEqual((event.state, event.shadow), ("done", False))
        self.assertEqual(self._counts().mapped("reported_count"), [5])

    def test_shadow_run_changes_nothing_and_stores_what_it_would_have_done(self):
        self._shadow(self.summary)
        event = self._receive(self.sent_summary("2026-11-20", {"a.b.c": 5, "d.e.f": 7}))
        self.assertEqual((event.state, event.shadow), ("done", True))
        self.assertFalse(self._counts(), "a shadow run leaves no business record")
        self.assertFalse(event.result_model)
        effects = event.shadow_effects
        self.assertEqual(effects["record_count"], 2)
        self.assertFalse(effects["truncated"])
        self.assertEqual(
            sorted(
                (r["model"], r["operation"], r["values"]["event_type"],
                 r["values"]["reported_count"])
                for r in effects["records"]
            ),
            [
                ("mfg.integration.sent.count", "create", "a.b.c", 5),
                ("mfg.integration.sent.count", "create", "d.e.f", 7),
            ],
        )  # fmt: skip
        self.assertIn('"reported_count": 7', event.shadow_effects_pretty)

    def test_shadow_write_is_recorded_with_before_and_after(self):
        self._shadow(self.contract)
        self.system.description = "before;"
        event = self._receive(self.envelope(widget="W-7"))
        self.assertEqual((event.state, event.shadow), ("done", True))
        self.assertEqual(APPLIED, [event.event_uid], "the handler really ran")
        self.assertEqual(self.system.description, "before;", "its write was rolled back")
        (record,) = event.shadow_effects["records"]
        self.assertEqual(
            (record["model"], record["operation"], record["id"], record["fields"]),
            ("mfg.integration.system", "write", self.system.id, ["description"]),
        )
        self.assertEqual(record["before"], {"code": "test_mes", "max_batch_events": 500})
        self.assertEqual(
            event.shadow_effects["result"],
            {"model": "mfg.integration.system", "id": self.system.id, "name": "Test MES"},
        )

    def test_shadow_business_error_opens_the_exception_the_new_path_would_have(self):
        self._shadow(self.contract)
        event = self._receive(self.envelope(widget="X", behaviour="business"))
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_id.reason_code, "widget_unknown")
        self.assertFalse(event.shadow)

    def test_shadow_run_keeps_the_commit_callbacks_of_earlier_events(self):
        # without care, rolling back the shadow savepoint clears every pre-commit callback
        # of the transaction: the chatter tracking of events applied before in the same job
        self._shadow(self.summary)
        cr = self.env.cr

        def earlier_event_tracking():
            return None

        cr.precommit.add(earlier_event_tracking)
        cr.precommit.data["test.earlier"] = {1: "tracked"}
        self.Event.sudo()._ingest(self.system, [self.sent_summary("2026-11-21", {"a.b.c": 1})])
        event = self.Event.search([("event_uid", "=", "summary-2026-11-21-1")])
        event.sudo()._process_chunk()
        self.assertEqual((event.state, event.shadow), ("done", True))
        self.assertIn(earlier_event_tracking, cr.precommit._funcs)
        self.assertEqual(cr.precommit.data["test.earlier"], {1: "tracked"})

    def test_callbacks_registered_during_a_shadow_run_are_dropped(self):
        cr = self.env.cr
        cr.precommit.data["test.earlier"] = {1: "tracked"}

        def shadow_callback():
            return None

        with shadow.callbacks_kept(cr):
            cr.precommit.add(shadow_callback)
            cr.postcommit.add(shadow_callback)
            cr.precommit.data["test.earlier"][2] = "shadow"
            cr.precommit.data["test.shadow"] = {}
        self.assertNotIn(shadow_callback, cr.precommit._funcs)
        self.assertNotIn(shadow_callback, cr.postcommit._funcs)
        self.assertEqual(cr.precommit.data["test.earlier"], {1: "tracked"})
        self.assertNotIn("test.shadow", cr.precommit.data)

    # -- shadow vs legacy ----------------------------------------------------------------

    def test_shadow_vs_legacy_finds_the_quantity_difference(self):
        self._shadow(self.summary)
        self._receive(self.sent_summary("2026-11-20", {"a.b.c": 5, "d.e.f": 7, "x.y.z": 3}))
        self.assertFalse(self._counts())
        # what the legacy interface really booked in Odoo
        legacy = self.Count.with_user(self.legacy_user)
        for event_type, count in (("a.b.c", 5), ("d.e.f", 6), ("g.h.i", 2)):
            legacy.create(
                {
                    "system_id": self.system.id,
                    "day": "2026-11-20",
                    "event_type": event_type,
                    "reported_count": count,
                }
            )
        # a record someone else created is not the legacy interface's work
        self.Count.create(
            {"system_id": self.system.id, "day": "2026-11-19", "event_type": "a.b.c",
             "reported_count": 100}
        )  # fmt: skip
        rule = self.env["mfg.integration.reconciliation.rule"].create(
            {
                "name": "Sent counts: new path vs legacy",
                "kind": "shadow_vs_legacy",
                "system_id": self.system.id,
                "shadow_effect_id": self.count_effect.id,
                "legacy_user_id": self.legacy_user.id,
            }
        )
        run = rule._run(trigger="manual")
        self.assertEqual(run.state, "done", run.error)
        lines = {line.label: line for line in run.line_ids}
        self.assertEqual(
            {label: (line.status, line.odoo_value, line.external_value)
             for label, line in lines.items()},
            {
                "a.b.c": ("matched", 5.0, 5.0),
                "d.e.f": ("mismatch", 6.0, 7.0),
                "g.h.i": ("missing_external", 2.0, 0.0),
                "x.y.z": ("missing_in_odoo", 0.0, 3.0),
            },
        )  # fmt: skip
        self.assertEqual(lines["d.e.f"].key, "mfg.integration.sent.count/event_type/d.e.f")
        self.assertEqual(lines["d.e.f"].exception_id.reason_code, "reconciliation_mismatch")

    # -- switching, four eyes ------------------------------------------------------------

    def test_switch_to_live_and_back_needs_a_second_manager(self):
        contract = self.contract
        self._shadow(contract)
        with self.assertRaisesRegex(UserError, "Only an Integration Manager"):
            contract.with_user(self.planner).action_request_live()
        contract.with_user(self.manager_a).action_request_live()
        self.assertEqual(
            (contract.shadow_switch_request, contract.shadow_switch_requested_by_id),
            ("live", self.manager_a),
        )
        with self.assertRaisesRegex(UserError, "another Integration Manager"):
            contract.with_user(self.manager_a).action_approve_shadow_switch()
        with self.assertRaisesRegex(UserError, "Only an Integration Manager"):
            contract.with_user(self.planner).action_approve_shadow_switch()
        self.assertTrue(contract.shadow_mode)
        contract.with_user(self.manager_b).action_approve_shadow_switch()
        self.assertEqual((contract.shadow_mode, contract.shadow_switch_request), (False, False))
        self.assertIn("requested by shadow_manager_a", contract.message_ids[0].body)
        self.assertIn("approved by shadow_manager_b", contract.message_ids[0].body)

        # live now: events are applied for real
        event = self._receive(self.envelope(widget="L"))
        self.assertEqual((event.state, event.shadow), ("done", False))
        self.assertEqual(self.system.description, "L;")

        # fall back to shadow: same rule
        contract.with_user(self.manager_b).action_request_shadow()
        with self.assertRaisesRegex(UserError, "another Integration Manager"):
            contract.with_user(self.manager_b).action_approve_shadow_switch()
        contract.with_user(self.manager_a).action_approve_shadow_switch()
        self.assertTrue(contract.shadow_mode)
        self.assertIn("Fell back from live to shadow mode", contract.message_ids[0].body)

    def test_shadow_mode_cannot_be_written_around_the_approval(self):
        with self.assertRaisesRegex(UserError, "another Integration Manager approves"):
            self.contract.with_user(self.manager_a).write({"shadow_mode": True})
        with self.assertRaisesRegex(UserError, "another Integration Manager approves"):
            self.contract.with_user(self.manager_a).write(
                {
                    "shadow_switch_request": "live",
                    "shadow_switch_requested_by_id": self.manager_b.id,
                }
            )
        self.assertFalse(self.contract.shadow_mode)

    def test_a_whole_system_can_run_in_shadow_mode(self):
        self.system.with_user(self.manager_a).action_request_shadow()
        with self.assertRaisesRegex(UserError, "another Integration Manager"):
            self.system.with_user(self.manager_a).action_approve_shadow_switch()
        self.system.with_user(self.manager_b).action_approve_shadow_switch()
        self.assertTrue(self.system.shadow_mode)
        self.assertIn("Fell back from live to shadow mode", self.system.message_ids[0].body)
        self.assertFalse(self.summary.shadow_mode, "the contract itself stays live")
        event = self._receive(self.sent_summary("2026-11-20", {"a.b.c": 5}))
        self.assertEqual((event.state, event.shadow), ("done", True))
        self.assertFalse(self._counts())
        self.assertEqual(event.shadow_effects["records"][0]["values"]["reported_count"], 5)
        with self.assertRaisesRegex(UserError, "another Integration Manager approves"):
            self.system.with_user(self.manager_a).write({"shadow_mode": False})

    def test_withdrawn_request_cannot_be_approved(self):
        self._shadow(self.contract)
        self.contract.with_user(self.manager_a).action_request_live()
        self.contract.with_user(self.manager_a).action_cancel_shadow_switch()
        with self.assertRaisesRegex(UserError, "no pending switch"):
            self.contract.with_user(self.manager_b).action_approve_shadow_switch()
        self.assertTrue(self.contract.shadow_mode)
