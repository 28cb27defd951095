import re

from odoo.tests import HttpCase, tagged

from ..services.metric_names import FAMILIES, metric_names
from .common import create_widget_contract


@tagged("post_install", "-at_install")
class TestMetrics(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contract = create_widget_contract(cls.env)
        cls.system = cls.env["mfg.integration.system"].create(
            {
                "name": "Metrics MES",
                "code": "metrics_mes",
                "allowed_contract_ids": [(6, 0, cls.contract.ids)],
            }
        )
        cls.token = cls.env["mfg.integration.metrics"]._new_token()

    def _scrape(self, token):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.url_open("/mfg/v1/metrics", headers=headers)

    def _events(self, count, start=0, **data):
        return [
            {
                "specversion": "1.0",
                "id": f"m-{start + i}",
                "source": "plant1/line1",
                "type": "test.widget.made",
                "subject": f"WO-{start + i}",
                "data": dict({"widget": "W", "qty": 1}, **data),
            }
            for i in range(count)
        ]

    def test_refused_without_the_metrics_token(self):
        self.assertEqual(self._scrape(None).status_code, 401)
        wrong = self._scrape("not-the-token")
        self.assertEqual(wrong.status_code, 401)
        self.assertEqual(wrong.json()["error"]["code"], "invalid_metrics_token")
        self.env["mfg.integration.metrics"]._revoke_token()
        self.assertEqual(self._scrape(self.token).status_code, 401)

    def test_prometheus_exposition(self):
        Event = self.env["mfg.integration.event"].sudo()
        Event._ingest(self.system, self._events(3))
        Event._ingest(self.system, self._events(1))  # a resend
        Event._ingest(self.system, [{"specversion": "1.0", "type": "nope"}])
        response = self._scrape(self.token)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        text = response.text
        labels = 'system="metrics_mes",contract="test.widget.made",version="1.0"'
        self.assertIn(f"mfg_integration_events_received_total{{{labels}}} 3\n", text)
        self.assertIn(f"mfg_integration_events_duplicates_total{{{labels}}} 1\n", text)
        self.assertIn(f"mfg_integration_events_done_total{{{labels}}} 0\n", text)
        self.assertIn(f"mfg_integration_backlog_events{{{labels}}} 3\n", text)
        self.assertIn('mfg_integration_events_rejected_total{system="metrics_mes"} 1\n', text)
        self.assertIn(
            'mfg_integration_circuit_state{system="metrics_mes",state="closed"} 1\n', text
        )
        self.assertIn('mfg_integration_circuit_state{system="metrics_mes",state="open"} 0\n', text)
        self.assertRegex(
            text, rf"mfg_integration_oldest_waiting_age_seconds\{{{re.escape(labels)}\}} [0-9.]+\n"
        )
        # every family is announced once, every sample line is well formed
        self.assertEqual(text.count("# TYPE mfg_integration_events_received_total counter"), 1)
        sample = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? (-?[0-9.e+]+|NaN)$')
        for line in text.splitlines():
            if not line.startswith("#"):
                self.assertRegex(line, sample)

    def test_every_family_is_declared_and_announced(self):
        """The exposition announces exactly the families services/metric_names.py declares
        (the list the operator kit's check reads), and holds no other sample name."""
        Event = self.env["mfg.integration.event"].sudo()
        Event._ingest(self.system, self._events(2, start=100))
        text = self._scrape(self.token).text
        announced = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE)
        self.assertEqual(announced, [(name, kind) for name, kind, _help in FAMILIES])
        samples = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                   if not line.startswith("#")}  # fmt: skip
        self.assertIn("mfg_integration_event_latency_seconds_count", samples)
        self.assertLessEqual(samples, metric_names())

    def test_contract_sla_and_system_kind_for_the_alert_rules(self):
        """The alert rules compare latencies with each contract's SLA and watch edge
        gateways by their kind."""
        self.contract.sla_latency_seconds = 120
        self.system.sudo().write({"kind": "edge", "last_seen_at": "2026-01-01 00:00:00"})
        text = self._scrape(self.token).text
        self.assertIn(
            'mfg_integration_contract_sla_seconds{contract="test.widget.made",version="1.0"} '
            "120\n",
            text,
        )
        self.assertRegex(
            text,
            r'mfg_integration_last_seen_timestamp_seconds\{system="metrics_mes",kind="edge"\} '
            r"1767225600\n",
        )

    def test_system_info_names_each_systems_company(self):
        """One scrape covers every plant; the info family tells which company (plant) and
        environment each system belongs to, for grouping any family by company."""
        plant2 = self.env["res.company"].create({"name": "Plant Two"})
        self.env["mfg.integration.system"].create(
            {
                "name": "Plant 2 MES",
                "code": "plant2_metrics_mes",
                "company_id": plant2.id,
                "environment": "test",
                "kind": "mes",
            }
        )
        text = self._scrape(self.token).text
        info = dict(
            re.findall(r'^mfg_integration_system_info\{system="([^"]+)",(.*)\} 1$', text, re.M)
        )
        self.assertEqual(
            info["plant2_metrics_mes"],
            'company="Plant Two",environment="test",kind="mes"',
        )
        self.assertEqual(
            info["metrics_mes"],
            f'company="{self.env.company.name}",environment="{self.system.environment}",'
            f'kind="{self.system.kind}"',
        )
