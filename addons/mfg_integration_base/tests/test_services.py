"""Pure-Python services: no database needed, but run with the addon's other tests."""

import random

from odoo.tests.common import BaseCase

from ..services import schema_validation, webhook_signature
from ..services.backoff import backoff_delay
from ..services.envelope import EnvelopeError, check_envelope, parse_time, payload_hash
from ..services.handler_registry import HandlerRegistry

GOOD = {
    "specversion": "1.0",
    "id": "e-1",
    "source": "plant1",
    "type": "mes.production.completed",
    "dataschema": "urn:mfg:contract:mes.production.completed:1.2",
    "time": "2026-11-23T08:15:02.120Z",
    "data": {"qty": 1},
}


class TestEnvelope(BaseCase):
    def test_good_envelope_gives_contract_and_version(self):
        self.assertEqual(check_envelope(GOOD), ("mes.production.completed", "1.2"))
        without_version = {k: v for k, v in GOOD.items() if k != "dataschema"}
        self.assertEqual(check_envelope(without_version), ("mes.production.completed", None))

    def test_each_problem_has_code_and_pointer(self):
        cases = [
            (dict(GOOD, specversion="0.3"), "unsupported_specversion", "/specversion"),
            ({k: v for k, v in GOOD.items() if k != "id"}, "missing_attribute", "/id"),
            (dict(GOOD, id=""), "invalid_attribute", "/id"),
            (dict(GOOD, id=5), "invalid_attribute", "/id"),
            (dict(GOOD, type="Bad Type"), "invalid_attribute", "/type"),
            (dict(GOOD, data=[1]), "invalid_data", "/data"),
            (dict(GOOD, time="yesterday"), "invalid_attribute", "/time"),
            (dict(GOOD, time="2026-11-23T08:00:00"), "invalid_attribute", "/time"),
            (dict(GOOD, dataschema="urn:other:1.0"), "invalid_dataschema", "/dataschema"),
            (
                dict(GOOD, dataschema="urn:mfg:contract:mes.production.completed:1"),
                "invalid_dataschema",
                "/dataschema",
            ),
            (dict(GOOD, subject="x" * 300), "invalid_attribute", "/subject"),
            (dict(GOOD, BadName="x"), "invalid_attribute", "/BadName"),
        ]
        for envelope, code, pointer in cases:
            with self.assertRaises(EnvelopeError) as caught:
                check_envelope(envelope)
            self.assertEqual((caught.exception.code, caught.exception.pointer), (code, pointer))

    def test_time_is_stored_as_naive_utc(self):
        self.assertEqual(str(parse_time("2026-11-23T10:00:00+02:00")), "2026-11-23 08:00:00")

    def test_payload_hash_ignores_transport_attributes(self):
        resent = dict(GOOD, receivedtime="2026-11-23T09:00:00Z", sequence="000000000009")
        self.assertEqual(payload_hash(GOOD), payload_hash(resent))
        self.assertNotEqual(payload_hash(GOOD), payload_hash(dict(GOOD, data={"qty": 2})))


class TestSchemaValidation(BaseCase):
    def test_invalid_schema_is_refused_with_location(self):
        with self.assertRaisesRegex(schema_validation.SchemaDefinitionError, "Draft 2020-12"):
            schema_validation.parse_schema('{"type": "objekt"}')
        with self.assertRaisesRegex(schema_validation.SchemaDefinitionError, "not valid JSON"):
            schema_validation.parse_schema("{type: object}")
        with self.assertRaisesRegex(schema_validation.SchemaDefinitionError, "draft-07"):
            schema_validation.parse_schema('{"$schema": "http://json-schema.org/draft-07/schema#"}')

    def test_validator_is_compiled_once_per_schema_digest(self):
        schema = '{"type": "object", "required": ["a"]}'
        first = schema_validation.compiled_validator(("t", 1), schema)
        self.assertIs(schema_validation.compiled_validator(("t", 1), schema), first)
        changed = schema_validation.compiled_validator(("t", 1), '{"type": "object"}')
        self.assertIsNot(changed, first)
        schema_validation.forget(("t",))
        self.assertIsNot(schema_validation.compiled_validator(("t", 1), schema), first)

    def test_errors_point_into_the_data(self):
        validator = schema_validation.compiled_validator(
            ("t", 2),
            '{"type": "object", "properties": {"lines": {"type": "array", '
            '"items": {"type": "object", "properties": {"qty": {"type": "number"}}}}}}',
        )
        errors = schema_validation.validation_errors(
            validator, {"lines": [{"qty": 1}, {"qty": "x"}]}
        )
        self.assertEqual(errors[0][0], "/data/lines/1/qty")
        self.assertIn("qty", errors[0][1])
        self.assertEqual(schema_validation.validation_errors(validator, {"lines": []}), [])


class TestBackoffAndSignature(BaseCase):
    def test_full_jitter_stays_within_growing_ceiling(self):
        rng = random.Random(7)
        for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (10, 600)]:
            delays = [backoff_delay(attempt, 10, 600, rng) for _ in range(200)]
            self.assertTrue(all(1 <= d <= ceiling for d in delays))
            self.assertGreater(max(delays) - min(delays), ceiling / 4)

    def test_signature_round_trip_and_tampering(self):
        body = b'{"a":1}'
        headers = webhook_signature.headers("whsec_c2VjcmV0", "msg-1", body, now=1000)
        args = ("whsec_c2VjcmV0", "msg-1", headers["webhook-timestamp"], body)
        self.assertIsNone(webhook_signature.verify(*args, headers["webhook-signature"], now=1000))
        self.assertIn(
            "No signature",
            webhook_signature.verify(*args[:3], b'{"a":2}', headers["webhook-signature"], now=1000),
        )
        self.assertIn(
            "300 s", webhook_signature.verify(*args, headers["webhook-signature"], now=2000)
        )


class TestHandlerRegistry(BaseCase):
    def test_lookup_ignores_modules_not_installed(self):
        table = HandlerRegistry()

        def handler(env, event):
            return None

        table.register("x.y.z", 1, handler, module="addon_a")
        self.assertIsNone(table.get("x.y.z", 1, {"other"}))
        self.assertEqual(table.get("x.y.z", 1, {"addon_a"}).module, "addon_a")
        self.assertIsNone(table.get("x.y.z", 2, {"addon_a"}))
        table.register("x.y.z", 1, handler, module="addon_b")
        with self.assertRaisesRegex(LookupError, "addon_a, addon_b"):
            table.get("x.y.z", 1, {"addon_a", "addon_b"})


class TestNulCharacters(BaseCase):
    def test_nul_in_data_is_refused_with_its_pointer(self):
        with self.assertRaises(EnvelopeError) as caught:
            check_envelope(dict(GOOD, data={"lines": [{"lot": "L1"}, {"lot": "L\x002"}]}))
        self.assertEqual(caught.exception.pointer, "/data/lines/1/lot")
        with self.assertRaises(EnvelopeError) as caught:
            check_envelope(dict(GOOD, data={"a\x00": 1}))
        self.assertEqual(caught.exception.pointer, "/data/a\x00")


class TestFastPathAgreesWithReference(BaseCase):
    """The compiled fast path may only ever say 'valid' where jsonschema does."""

    SCHEMAS = [
        {
            "type": "object",
            "required": ["ref", "qty"],
            "additionalProperties": False,
            "properties": {
                "ref": {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^WH/"},
                "qty": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
                "count": {"type": "integer", "minimum": 0},
                "lot": {"type": ["string", "null"]},
                "state": {"enum": ["stopped", "running"]},
                "lines": {
                    "type": "array",
                    "maxItems": 3,
                    "items": {"type": "object", "required": ["a"], "properties": {"a": {}}},
                },
                "either": {"anyOf": [{"type": "boolean"}, {"const": 7}]},
            },
        }
    ]

    def test_fast_path_is_used_only_for_the_shared_subset(self):
        self.assertIsNotNone(schema_validation.ContractValidator(self.SCHEMAS[0]).fast)
        for schema in (
            {"type": "string", "format": "date"},
            {"$defs": {"a": {"type": "string"}}, "$ref": "#/$defs/a"},
            {"prefixItems": [{"type": "string"}]},
            {"type": "object", "unevaluatedProperties": False},
        ):
            self.assertIsNone(schema_validation.ContractValidator(schema).fast, schema)

    def test_random_instances_get_the_same_verdict(self):
        from hypothesis import given, settings
        from hypothesis import strategies as st
        from hypothesis_jsonschema import from_schema

        validator = schema_validation.ContractValidator(self.SCHEMAS[0])
        self.assertIsNotNone(validator.fast)
        anything = st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
            lambda inner: st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    ["ref", "qty", "count", "lot", "state", "lines", "either", "x", "a"]
                ),
                inner,
                max_size=5,
            ),
            max_leaves=10,
        )

        @settings(max_examples=200, deadline=None, database=None)
        @given(st.one_of(from_schema(self.SCHEMAS[0]), anything))
        def agree(instance):
            fast_verdict = True
            try:
                validator.fast(instance)
            except Exception:
                fast_verdict = False
            self.assertEqual(fast_verdict, validator.reference.is_valid(instance), instance)

        agree()
