from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tests.common import new_test_user
from odoo.tools import mute_logger
from odoo.tools.convert import convert_file

from ..reconciliations.snapshots import latest_snapshot, naive_utc
from ..services import reconciliation
from ..services.reconciliation import Row
from .common import IntegrationCase, JobQueue, utc_stamp

# What the test kind returns on its next run: the external snapshot of a test.
FIXED_ROWS = []


@reconciliation.registry.kind("test_fixed_rows", "Test: fixed rows")
def compare_fixed_rows(rule, start, end):
    if FIXED_ROWS == ["boom"]:
        raise RuntimeError("the external system did not answer")
    return list(FIXED_ROWS)


# post_install: test users need every installed module's defaults
@tagged("post_install", "-at_install")
class TestReconciliation(IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Rule = cls.env["mfg.integration.reconciliation.rule"]
        cls.Exception = cls.env["mfg.integration.exception"]
        cls.manager = new_test_user(
            cls.env, "recon_manager", groups="mfg_integration_base.group_mfg_integration_manager"
        )
        cls.planner = new_test_user(
            cls.env, "recon_planner", groups="mfg_integration_base.group_mfg_integration_user"
        )
        cls.summary = cls.env.ref("mfg_integration_base.contract_integration_sent_summary_1_0")
        cls.system.allowed_contract_ids = [(4, cls.summary.id)]

    def setUp(self):
        super().setUp()
        FIXED_ROWS.clear()

    def _rule(self, **values):
        return self.Rule.create(
            dict(
                {"name": "Test rule", "kind": "test_fixed_rows", "system_id": self.system.id},
                **values,
            )
        )

    def _lines(self, run):
        return {line.key: line for line in run.line_ids}

    def _open_exceptions(self, rule):
        return self.Exception.search(
            [("reconciliation_rule_id", "=", rule.id), ("state", "in", ("open", "in_progress"))]
        )

    # -- the framework -----------------------------------------------------------------

    def test_a_snapshot_kind_reads_the_newest_usable_snapshot_of_its_window(self):
        rule = self._rule()
        envelopes = [self.envelope(widget=f"S-{n}") for n in range(3)]
        for envelope, seconds_ago in zip(envelopes, (300, 200, 100), strict=True):
            envelope["time"] = utc_stamp(seconds_ago)
        older, newer, newest = self._receive(*envelopes)
        self.assertEqual(set((older + newer + newest).mapped("state")), {"done"})
        newest.shadow = True  # a shadow run changed nothing in Odoo: not a snapshot to compare
        now = naive_utc(utc_stamp())
        found = latest_snapshot(
            rule, "test.widget.made", "widget snapshot", now - timedelta(hours=1), now
        )
        self.assertEqual(found, newer)
        with self.assertRaises(UserError) as refused:
            latest_snapshot(
                rule,
                "test.widget.made",
                "widget snapshot",
                now - timedelta(days=2),
                older.occurred_at,
            )
        self.assertIn(
            "Test MES sent no widget snapshot (test.widget.made) between", str(refused.exception)
        )

    def test_run_classifies_lines_with_tolerances(self):
        rule = self._rule(tolerance_absolute=0.5, tolerance_percent=5.0)
        FIXED_ROWS.extend(
            [
                Row("A", 10.0, 10.0),
                Row("B", 10.0, 10.4),  # within the absolute tolerance
                Row("C", 10.0, 12.0, label="Widget C"),  # 2 > max(0.5, 5% of 12)
                Row("D", None, 5.0),
                Row("E", 3.0, None),
                Row("F", 100.0, 104.0),  # 4 <= 5% of 104
                Row("G", None, 0.0),  # nothing material missing
            ]
        )
        run = rule.with_user(self.manager).action_run_now()
        run = self.env["mfg.integration.reconciliation.run"].browse(run["res_id"])
        lines = self._lines(run)
        self.assertEqual(
            {key: line.status for key, line in lines.items()},
            {
                "A": "matched",
                "B": "matched",
                "C": "mismatch",
                "D": "missing_in_odoo",
                "E": "missing_external",
                "F": "matched",
                "G": "matched",
            },
        )
        self.assertAlmostEqual(lines["C"].difference, -2.0)
        self.assertAlmostEqual(lines["D"].difference, -5.0)
        self.assertAlmostEqual(lines["E"].difference, 3.0)
        self.assertEqual(lines["C"].label, "Widget C")
        self.assertEqual(
            (
                run.state,
                run.trigger,
                run.triggered_by_id,
                run.line_count,
                run.matched_count,
                run.mismatch_count,
                run.missing_in_odoo_count,
                run.missing_external_count,
                run.difference_count,
            ),
            ("done", "manual", self.manager, 7, 4, 1, 1, 1, 3),
        )
        self.assertAlmostEqual(run.match_rate, 100.0 * 4 / 7, places=2)
        self.assertEqual(rule.last_run_id, run)
        self.assertGreaterEqual(run.duration_s, 0.0)

    def test_exact_rows_ignore_the_tolerances(self):
        rule = self._rule(tolerance_absolute=5.0, tolerance_percent=50.0)
        FIXED_ROWS.extend(
            [
                Row("qty", 10.0, 11.0),
                Row("state", 2.0, 3.0, exact=True),
                Row("same", 2.0, 2.0, exact=True),
            ]
        )
        run = rule._run(trigger="manual")
        self.assertEqual(
            {key: line.status for key, line in self._lines(run).items()},
            {"qty": "matched", "state": "mismatch", "same": "matched"},
        )
        self.assertEqual(self._open_exceptions(rule).mapped("subject"), ["state"])

    def test_exceptions_open_once_and_heal_on_rerun(self):
        rule = self._rule()
        FIXED_ROWS.extend([Row("A", 1.0, 1.0), Row("C", 10.0, 12.0), Row("D", None, 5.0)])
        first = rule._run(trigger="manual")
        exceptions = self._open_exceptions(rule)
        self.assertEqual(len(exceptions), 2)
        self.assertEqual(first.exceptions_opened, 2)
        lines = self._lines(first)
        self.assertEqual(lines["C"].exception_id.reason_code, "reconciliation_mismatch")
        self.assertIn("Odoo 10, Test MES 12", lines["C"].exception_id.name)
        self.assertEqual(lines["D"].exception_id.reason_code, "reconciliation_missing_in_odoo")
        self.assertFalse(lines["A"].exception_id)
        self.assertEqual(set(exceptions.mapped("system_id")), {self.system})

        second = rule._run(trigger="manual")
        self.assertEqual(self._open_exceptions(rule), exceptions, "a re-run opens no duplicate")
        self.assertEqual(second.exceptions_opened, 0)
        self.assertEqual(self._lines(second)["C"].exception_id, lines["C"].exception_id)

        FIXED_ROWS[:] = [Row("A", 1.0, 1.0), Row("C", 12.0, 12.0), Row("D", None, 5.0)]
        third = rule._run(trigger="manual")
        healed = lines["C"].exception_id
        self.assertEqual(healed.state, "resolved")
        self.assertIn(third.display_name, healed.resolution)
        self.assertTrue(any(third.display_name in m.body for m in healed.message_ids))
        self.assertEqual(lines["D"].exception_id.state, "open")
        self.assertEqual(self._open_exceptions(rule), lines["D"].exception_id)
        self.assertEqual(third.exceptions_healed, 1)
        self.assertEqual(rule.open_exception_count, 1)
        self.assertEqual(rule.run_count, 3)

    def test_key_that_breaks_again_gets_a_new_exception(self):
        rule = self._rule()
        FIXED_ROWS.append(Row("C", 10.0, 12.0))
        first = self._lines(rule._run(trigger="manual"))["C"].exception_id
        FIXED_ROWS[:] = [Row("C", 12.0, 12.0)]
        rule._run(trigger="manual")
        FIXED_ROWS[:] = [Row("C", 11.0, 12.0)]
        again = self._lines(rule._run(trigger="manual"))["C"].exception_id
        self.assertEqual(first.state, "resolved")
        self.assertNotEqual(again, first)
        self.assertEqual(again.state, "open")

    def test_cron_runs_due_rules_only_and_survives_a_failing_one(self):
        self.Rule.search([]).action_archive()  # rules of demo data are not this test's
        with freeze_time("2026-11-25 10:00:00"):
            due = self._rule(name="Due", next_run_at=datetime(2026, 11, 25, 9, 0))
            later = self._rule(name="Later", next_run_at=datetime(2026, 11, 25, 11, 0))
            FIXED_ROWS.append("boom")
            failing = self._rule(name="Failing", next_run_at=datetime(2026, 11, 25, 8, 0))
            with mute_logger(
                "odoo.addons.mfg_integration_base.models.mfg_integration_reconciliation_rule"
            ):
                ran = self.Rule._cron_run_due()
        # the failing rule ran first (oldest due time); the cron went on with the other
        self.assertEqual(ran, 2)
        self.assertEqual(failing.run_ids.state, "failed")
        self.assertIn("did not answer", failing.run_ids.error)
        self.assertEqual(due.run_ids.state, "failed")  # same fixed rows: "boom"
        self.assertFalse(later.run_ids)
        self.assertEqual(due.next_run_at, datetime(2026, 11, 26, 9, 0), "same time of day")
        self.assertEqual(later.next_run_at, datetime(2026, 11, 25, 11, 0))
        self.assertEqual(due.run_ids.trigger, "schedule")
        FIXED_ROWS[:] = [Row("A", 1.0, 1.0)]
        with freeze_time("2026-11-25 11:30:00"):
            self.assertEqual(self.Rule._cron_run_due(), 1)
        self.assertEqual(later.run_ids.state, "done")
        self.assertEqual(later.run_ids.match_rate, 100.0)
        self.assertEqual(later.next_run_at, datetime(2026, 11, 26, 11, 0))
        # a rule whose runs were missed for days is not replayed: next is the next slot
        later.next_run_at = datetime(2026, 11, 20, 11, 0)
        with freeze_time("2026-11-25 11:30:00"):
            later._run(trigger="schedule")
            self.assertEqual(later.next_run_at, datetime(2026, 11, 26, 11, 0))
            # "Run now" leaves the schedule alone
            later.with_user(self.manager).action_run_now()
        self.assertEqual(later.next_run_at, datetime(2026, 11, 26, 11, 0))

    def test_users_read_rules_managers_configure_and_run(self):
        rule = self._rule()
        self.assertEqual(rule.with_user(self.planner).name, "Test rule")
        with self.assertRaises(AccessError):
            rule.with_user(self.planner).write({"tolerance_absolute": 5})
        with self.assertRaisesRegex(UserError, "Only an Integration Manager"):
            rule.with_user(self.planner).action_run_now()
        rule.with_user(self.manager).write({"tolerance_absolute": 5})
        self.env.flush_all()
        self.env.cr.precommit.run()  # chatter tracking is written at commit
        self.assertIn(
            "Tolerance Absolute",
            rule.message_ids[0].tracking_value_ids.field_id.mapped("field_description"),
        )

    def test_kinds_come_from_the_registry(self):
        kinds = dict(self.Rule._fields["kind"]._description_selection(self.env))
        self.assertIn("event_completeness", kinds)
        self.assertIn("shadow_vs_legacy", kinds)
        self.assertEqual(kinds["test_fixed_rows"], "Test: fixed rows")

    def test_classify_and_registry(self):
        classify = reconciliation.classify
        self.assertEqual(classify(10.0, 10.5, tolerance_absolute=0.5), ("matched", -0.5))
        self.assertEqual(classify(10.0, 10.6, tolerance_absolute=0.5)[0], "mismatch")
        # the percentage is of the external value, the reference
        self.assertEqual(classify(95.0, 100.0, tolerance_percent=5.0)[0], "matched")
        self.assertEqual(classify(100.0, 95.0, tolerance_percent=5.0)[0], "mismatch")
        self.assertEqual(classify(0.1 + 0.2, 0.3)[0], "matched")
        self.assertEqual(classify(None, 0.4, tolerance_absolute=0.5)[0], "matched")
        with self.assertRaises(ValueError):
            classify(None, None)

        kinds = reconciliation.ReconciliationRegistry()
        kinds.register("stock", "Stock", compare_fixed_rows, module="addon_a")
        with self.assertRaisesRegex(ValueError, "already registered by addon_a"):
            kinds.register("stock", "Stock", compare_fixed_rows, module="addon_b")
        self.assertEqual(kinds.selection({"addon_a"}), [("stock", "Stock")])
        self.assertEqual(kinds.selection({"other"}), [])
        self.assertIsNone(kinds.get("stock", {"other"}))

    # -- event completeness ------------------------------------------------------------

    def _widget_at(self, when, **values):
        envelope = self.envelope(**values)
        envelope["time"] = when
        return envelope

    def test_completeness_compares_reported_with_received_per_day(self):
        with freeze_time("2026-11-25 10:00:00"):
            queue = JobQueue(self.env)
            results = self.Event.sudo()._ingest(
                self.system,
                [
                    # 20th: 3 sent, 3 received
                    self._widget_at("2026-11-20T08:00:00Z", widget="A"),
                    self._widget_at("2026-11-20T09:00:00Z", widget="B"),
                    self._widget_at("2026-11-20T23:59:59Z", widget="C"),
                    # 21st: 3 sent; one was refused by the API (lost for Odoo)
                    self._widget_at("2026-11-21T08:00:00Z", widget="D"),
                    self._widget_at("2026-11-21T09:00:00Z", widget="E"),
                    self._widget_at("2026-11-21T10:00:00Z", widget="F", qty=-1),
                    # 23rd: received, never reported
                    self._widget_at("2026-11-23T10:00:00Z", widget="G"),
                    # today: not finished, not compared
                    self._widget_at("2026-11-25T09:00:00Z", widget="H"),
                    self.sent_summary("2026-11-20", {"test.widget.made": 3}),
                    self.sent_summary("2026-11-21", {"test.widget.made": 3}),
                    # 22nd: reported, nothing received; 24th: 0 reported, 0 received
                    self.sent_summary("2026-11-22", {"test.widget.made": 2}),
                    self.sent_summary("2026-11-24", {"test.widget.made": 0}),
                ],
            )
            self.assertEqual([r["status"] for r in results].count("rejected"), 1)
            queue.perform_all(immediate_only=True)
            self.assertEqual(
                self.env["mfg.integration.sent.count"].search_count(
                    [("system_id", "=", self.system.id)]
                ),
                4,
            )
            rule = self._rule(name="Completeness", kind="event_completeness", window_days=7)
            run = rule._run(trigger="manual")
        self.assertEqual(run.state, "done", run.error)
        lines = {line.label: line for line in run.line_ids}
        self.assertEqual(
            {label: (line.status, line.odoo_value, line.external_value, line.difference)
             for label, line in lines.items()},
            {
                "test.widget.made on 2026-11-20": ("matched", 3.0, 3.0, 0.0),
                "test.widget.made on 2026-11-21": ("mismatch", 2.0, 3.0, -1.0),
                "test.widget.made on 2026-11-22": ("missing_in_odoo", 0.0, 2.0, -2.0),
                "test.widget.made on 2026-11-23": ("missing_external", 1.0, 0.0, 1.0),
                "test.widget.made on 2026-11-24": ("matched", 0.0, 0.0, 0.0),
            },
        )  # fmt: skip
        self.assertEqual(
            (run.window_start, run.window_end),
            (datetime(2026, 11, 18, 10, 0), datetime(2026, 11, 25, 10, 0)),
        )
        self.assertEqual(
            lines["test.widget.made on 2026-11-21"].key, "test_mes/test.widget.made/2026-11-21"
        )
        self.assertEqual(len(self._open_exceptions(rule)), 3)

        # the late report of the 23rd arrives: the next run heals that day
        with freeze_time("2026-11-25 12:00:00"):
            queue = JobQueue(self.env)
            self.Event.sudo()._ingest(
                self.system, [self.sent_summary("2026-11-23", {"test.widget.made": 1})]
            )
            queue.perform_all(immediate_only=True)
            rerun = rule._run(trigger="manual")
        healed = lines["test.widget.made on 2026-11-23"].exception_id
        self.assertEqual(healed.state, "resolved")
        self.assertIn(rerun.display_name, healed.resolution)
        self.assertEqual(len(self._open_exceptions(rule)), 2)

    def test_completeness_scope_by_contract(self):
        with freeze_time("2026-11-25 10:00:00"):
            queue = JobQueue(self.env)
            self.Event.sudo()._ingest(
                self.system,
                [
                    self._widget_at("2026-11-20T08:00:00Z"),
                    self.sent_summary("2026-11-20", {"test.widget.made": 1, "other.thing.done": 4}),
                ],
            )
            queue.perform_all(immediate_only=True)
            everything = self._rule(kind="event_completeness")._run(trigger="manual")
            scoped = self._rule(
                kind="event_completeness", contract_ids=[(6, 0, self.contract.ids)]
            )._run(trigger="manual")
        self.assertEqual(
            sorted(everything.line_ids.mapped("label")),
            ["other.thing.done on 2026-11-20", "test.widget.made on 2026-11-20"],
        )
        self.assertEqual(scoped.line_ids.mapped("label"), ["test.widget.made on 2026-11-20"])
        self.assertEqual(scoped.match_rate, 100.0)

    def test_demo_rule_watches_the_demo_gateway(self):
        # the test database has no demo data: load the demo files as an install would
        for filename in ("mfg_integration_demo.xml", "mfg_integration_reconciliation_demo.xml"):
            convert_file(self.env, "mfg_integration_base", f"demo/{filename}", {}, mode="init")
        rule = self.env.ref("mfg_integration_base.demo_rule_plant1_gateway_completeness")
        gateway = self.env.ref("mfg_integration_base.demo_system_plant1_gateway")
        self.assertEqual((rule.kind, rule.system_id), ("event_completeness", gateway))
        with freeze_time("2026-11-25 10:00:00"):
            queue = JobQueue(self.env)
            self.Event.sudo()._ingest(gateway, [self.sent_summary("2026-11-24", {"a.b.c": 2})])
            queue.perform_all(immediate_only=True)
            run = rule._run(trigger="manual")
        self.assertEqual(run.state, "done", run.error)
        self.assertEqual(
            [(line.label, line.status) for line in run.line_ids],
            [("a.b.c on 2026-11-24", "missing_in_odoo")],
        )

    def test_finished_days(self):
        from ..reconciliations.event_completeness import finished_days

        self.assertEqual(
            finished_days(datetime(2026, 11, 18, 10, 0), datetime(2026, 11, 25, 10, 0)),
            (datetime(2026, 11, 19).date(), datetime(2026, 11, 25).date()),
        )
        self.assertEqual(
            finished_days(datetime(2026, 11, 18), datetime(2026, 11, 18, 5) + timedelta(hours=1)),
            (datetime(2026, 11, 18).date(), datetime(2026, 11, 18).date()),
        )
