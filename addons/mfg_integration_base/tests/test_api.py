import json
import re
import uuid

from odoo import http
from odoo.tests import HttpCase, tagged

from .common import create_widget_contract


@tagged("post_install", "-at_install")
class TestApi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contract = create_widget_contract(cls.env)
        cls.system = cls.env["mfg.integration.system"].create(
            {
                "name": "API MES",
                "code": "api_mes",
                "allowed_contract_ids": [(6, 0, cls.contract.ids)],
                "max_batch_events": 5,
                "max_payload_bytes": 4096,
            }
        )
        cls.key = cls.system._generate_api_key()
        cls.other = cls.env["mfg.integration.system"].create({"name": "Other", "code": "other"})
        cls.other_key = cls.other._generate_api_key()

    def _envelope(self, **data):
        return {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "plant1/line1",
            "type": "test.widget.made",
            "dataschema": "urn:mfg:contract:test.widget.made:1.0",
            "subject": "WO-1",
            "data": dict({"widget": "W", "qty": 1}, **data),
        }

    def _post(self, body, key=None, content_type="application/json", raw=None):
        headers = {"Content-Type": content_type}
        if key is not False:
            headers["Authorization"] = f"Bearer {key or self.key}"
        data = raw if raw is not None else json.dumps(body)
        return self.url_open("/mfg/v1/events", data=data, headers=headers)

    def test_single_event_accepted_then_duplicate_then_reused(self):
        envelope = self._envelope()
        response = self._post(envelope)
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(response.json()["status"], "accepted")
        self.assertEqual(self._post(envelope).status_code, 200)
        self.assertEqual(self._post(envelope).json()["status"], "duplicate")
        changed = dict(envelope, data={"widget": "W", "qty": 5})
        response = self._post(changed)
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["error"]["code"], "idempotency_key_reused")

    def test_batch_mixed_results_answer_207(self):
        batch = {"events": [self._envelope(), self._envelope(qty="many"), self._envelope()]}
        response = self._post(batch)
        self.assertEqual(response.status_code, 207)
        body = response.json()
        self.assertEqual((body["accepted"], body["rejected"], body["duplicate"]), (2, 1, 0))
        rejected = body["results"][1]
        self.assertEqual(rejected["index"], 1)
        self.assertEqual(rejected["error"]["pointer"], "/data/qty")

    def test_all_rejected_is_422(self):
        response = self._post({"events": [self._envelope(qty=0), self._envelope(extra=1)]})
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["rejected"], 2)

    def test_authentication_and_scope(self):
        response = self._post(self._envelope(), key=False)
        self.assertEqual(response.status_code, 401)
        self.assertIn("Bearer", response.headers["WWW-Authenticate"])
        self.assertEqual(self._post(self._envelope(), key="nope" * 10).status_code, 401)
        response = self._post(self._envelope(), key=self.other_key)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["error"]["code"], "contract_not_allowed")
        # in a batch, a forbidden contract is a per-event refusal (the sender dead-letters it)
        response = self._post({"events": [self._envelope()]}, key=self.other_key)
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["results"][0]["error"]["code"], "contract_not_allowed")
        # an ordinary user's key (even an admin's) is refused
        admin_key = (
            self.env["res.users.apikeys"]
            .with_user(self.env.ref("base.user_admin"))
            ._generate("mfg_integration", "admin key", None)
        )
        response = self._post(self._envelope(), key=admin_key)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["error"]["code"], "not_an_integration_user")

    def test_malformed_requests(self):
        self.assertEqual(self._post(None, raw="{not json").status_code, 400)
        nan = json.dumps(self._envelope()).replace('"qty": 1', '"qty": NaN')
        response = self._post(None, raw=nan)
        self.assertEqual(response.status_code, 400)
        self.assertIn("NaN is not a JSON number", response.json()["error"]["message"])
        self.assertEqual(self._post([1, 2]).status_code, 400)
        self.assertEqual(self._post({"events": []}).status_code, 400)
        self.assertEqual(self._post(self._envelope(), content_type="text/plain").status_code, 415)
        too_many = {"events": [self._envelope() for _ in range(6)]}
        response = self._post(too_many)
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json()["error"]["code"], "batch_too_large")
        big = self._envelope(widget="x" * 5000)
        self.assertEqual(self._post(big).status_code, 413)
        logged = self.env["mfg.integration.event"].search(
            [
                ("system_id", "=", self.system.id),
                ("state", "=", "rejected"),
                ("error_code", "=", "malformed_json"),
            ]
        )
        self.assertIn("{not json", logged.mapped("raw_body"), "what was sent is kept")
        self.assertEqual(len(logged), 2)

    def test_rate_limit_answers_429_with_retry_after(self):
        self.system.rate_limit_per_minute = 3
        self.assertEqual(
            self._post({"events": [self._envelope(), self._envelope()]}).status_code, 202
        )
        response = self._post({"events": [self._envelope(), self._envelope()]})
        self.assertEqual(response.status_code, 429)
        self.assertTrue(1 <= int(response.headers["Retry-After"]) <= 60)
        self.assertEqual(
            self._post({"events": [self._envelope() for _ in range(4)]}).status_code, 413
        )

    def test_get_event_state_and_contracts(self):
        envelope = self._envelope(qty=-5)
        self._post(envelope)
        response = self.url_open(
            f"/mfg/v1/events/{envelope['id']}?source=plant1/line1",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["state"], "rejected")
        self.assertEqual(response.json()["error"]["code"], "schema_invalid")
        missing = self.url_open(
            "/mfg/v1/events/nope", headers={"Authorization": f"Bearer {self.key}"}
        )
        self.assertEqual(missing.status_code, 404)
        contracts = self.url_open(
            "/mfg/v1/contracts", headers={"Authorization": f"Bearer {self.key}"}
        )
        listed = {(c["type"], c["version"]): c for c in contracts.json()["contracts"]}
        self.assertTrue(listed[("test.widget.made", "1.0")]["allowed"])
        self.assertFalse(listed[("edge.heartbeat", "1.0")]["allowed"])
        detail = self.url_open(
            "/mfg/v1/contracts/test.widget.made/1.0",
            headers={"Authorization": f"Bearer {self.key}"},
        ).json()
        self.assertEqual(detail["schema"]["required"], ["widget", "qty"])
        self.assertEqual(detail["example"], {"widget": "W-1", "qty": 2})

    def test_openapi_document_embeds_active_schemas(self):
        response = self.url_open(
            "/mfg/v1/openapi.json", headers={"Authorization": f"Bearer {self.key}"}
        )
        document = response.json()
        self.assertEqual(document["openapi"], "3.1.0")
        self.assertIn("test_widget_made_1_0", document["components"]["schemas"])
        try:
            from openapi_spec_validator import validate
        except ImportError:
            self.skipTest("openapi-spec-validator is not installed")
        validate(document)

    def test_openapi_document_describes_every_route_with_an_operation_id(self):
        document = self.url_open(
            "/mfg/v1/openapi.json", headers={"Authorization": f"Bearer {self.key}"}
        ).json()
        served = set()
        for controller in http.Controller.children_classes["mfg_integration_base"]:
            for member in vars(controller).values():
                routing = getattr(member, "original_routing", None)
                for route in (routing or {}).get("routes", ()):
                    path = re.sub(r"<(?:\w+:)?(\w+)>", "{}", route)
                    served.update((path, method.lower()) for method in routing["methods"])
        documented = {
            (re.sub(r"\{\w+\}", "{}", path), method): operation
            for path, item in document["paths"].items()
            for method, operation in item.items()
        }
        self.assertIn(("/mfg/v1/metrics", "get"), served)
        self.assertIn(("/mfg/v1/edge/config", "get"), served)
        self.assertEqual(set(documented), served, "every route, and only those, documented")
        operation_ids = [operation.get("operationId") for operation in documented.values()]
        self.assertNotIn(None, operation_ids)
        self.assertEqual(len(set(operation_ids)), len(operation_ids), "operationIds are unique")
        for (path, method), operation in documented.items():
            if operation["security"]:
                self.assertIn("401", operation["responses"], f"{method} {path}")
        event_answers = document["paths"]["/mfg/v1/events/{id}"]["get"]["responses"]
        self.assertEqual(set(event_answers), {"200", "401", "403", "404", "409", "503"})

    def test_openapi_schemas_say_what_the_server_answers(self):
        document = self.url_open(
            "/mfg/v1/openapi.json", headers={"Authorization": f"Bearer {self.key}"}
        ).json()
        schemas = document["components"]["schemas"]
        self.assertEqual(schemas["EventResult"]["properties"]["id"]["type"], ["string", "null"])
        self.assertEqual(schemas["Envelope"]["properties"]["id"]["minLength"], 1)
        # what the schema says of id, the server does: an empty id is refused, and a refused
        # event whose id is not a string is answered with id null (never an object)
        response = self._post(
            {"events": [dict(self._envelope(), id=""), dict(self._envelope(), id={"a": 1})]}
        )
        self.assertEqual(response.status_code, 422)
        results = response.json()["results"]
        self.assertEqual([result["id"] for result in results], ["", None])
        self.assertEqual([result["error"]["pointer"] for result in results], ["/id", "/id"])
        # two sources used one id: the documented 409 "ambiguous", with the Error body
        event_id = str(uuid.uuid4())
        for source in ("plant1/line1", "plant1/line2"):
            self._post(dict(self._envelope(), id=event_id, source=source))
        ambiguous = self.url_open(
            f"/mfg/v1/events/{event_id}", headers={"Authorization": f"Bearer {self.key}"}
        )
        self.assertEqual(ambiguous.status_code, 409)
        self.assertEqual(ambiguous.json()["error"]["code"], "ambiguous")
        self.assertIn("409", document["paths"]["/mfg/v1/events/{id}"]["get"]["responses"])

    def test_openapi_webhooks_describe_the_outbound_contracts(self):
        outbound = create_widget_contract(
            self.env, code="test.widget.shipped", direction="outbound", batch_delivery=True
        )
        document = self.url_open(
            "/mfg/v1/openapi.json", headers={"Authorization": f"Bearer {self.key}"}
        ).json()
        active_outbound = self.env["mfg.integration.contract"].search(
            [("direction", "=", "outbound"), ("state", "in", ("active", "deprecated"))]
        )
        self.assertEqual(
            set(document["webhooks"]),
            {f"{contract.code} {contract.version}" for contract in active_outbound},
        )
        webhook = document["webhooks"]["test.widget.shipped 1.0"]["post"]
        self.assertEqual(webhook["operationId"], "deliver_test_widget_shipped_1_0")
        content = webhook["requestBody"]["content"]
        self.assertEqual(
            set(content), {"application/cloudevents+json", "application/cloudevents-batch+json"}
        )
        variant = document["components"]["schemas"]["Outbound_test_widget_shipped_1_0"]
        self.assertEqual(variant["properties"]["type"], {"const": "test.widget.shipped"})
        data_schema = document["components"]["schemas"]["test_widget_shipped_1_0"]
        self.assertEqual(data_schema["required"], json.loads(outbound.schema)["required"])
        self.assertEqual(
            {parameter["name"] for parameter in webhook["parameters"]},
            {"webhook-id", "webhook-timestamp", "webhook-signature"},
        )

    def test_health_needs_no_key_and_tells_nothing_else(self):
        response = self.url_open("/mfg/v1/health")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "up"})


@tagged("post_install", "-at_install")
class TestEdgeConfig(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.system = cls.env["mfg.integration.system"].create(
            {"name": "Gateway", "code": "gw_cfg", "kind": "edge"}
        )
        cls.key = cls.system._generate_api_key()
        cls.status = cls.env["mfg.integration.contract"].create(
            {
                "name": "Machine status",
                "code": "test.machine.status",
                "version": "1.0",
                "state": "active",
            }
        )

    def _rule(self, **values):
        return self.env["mfg.integration.edge.rule"].create(
            dict(
                {
                    "system_id": self.system.id,
                    "name": "m1-status",
                    "source": "opcua",
                    "node": "ns=2;s=Line1.M1.State",
                    "machine": "M1",
                    "contract_id": self.status.id,
                    "subject": "machine/{machine}",
                    "time_selector": "source_time",
                    "data_fields": json.dumps({"machine": "machine", "state": "state"}),
                    "options": json.dumps({"value_map": {"0": "stopped", "1": "running"}}),
                },
                **values,
            )
        )

    def _get(self, etag=None):
        headers = {"Authorization": f"Bearer {self.key}"}
        if etag:
            headers["If-None-Match"] = etag
        return self.url_open("/mfg/v1/edge/config", headers=headers)

    def test_rules_are_served_in_the_agents_format_with_etag(self):
        self._rule()
        response = self._get()
        self.assertEqual(response.status_code, 200)
        document = response.json()
        self.assertEqual(document["system"], "gw_cfg")
        self.assertEqual(
            document["rules"][0],
            {
                "name": "m1-status",
                "source": "opcua",
                "type": "test.machine.status",
                "version": "1.0",
                "class": "transactional",
                "subject": "machine/{machine}",
                "time": "source_time",
                "node": "ns=2;s=Line1.M1.State",
                "machine": "M1",
                "data": {"machine": "machine", "state": "state"},
                "value_map": {"0": "stopped", "1": "running"},
            },
        )
        self.assertEqual(self._get(etag=response.headers["ETag"]).status_code, 304)
        self._rule(name="m2-status", node="ns=2;s=Line1.M2.State", machine="M2")
        self.assertEqual(self._get(etag=response.headers["ETag"]).status_code, 200)

    def test_invalid_rule_is_refused_on_save(self):
        from odoo.exceptions import ValidationError

        with self.assertRaisesRegex(ValidationError, "node"):
            self._rule(name="no-node", node=False)
        with self.assertRaisesRegex(ValidationError, "not valid JSON"):
            self._rule(name="bad-json", data_fields="{")
