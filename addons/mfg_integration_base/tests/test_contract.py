import json
from datetime import date

from psycopg2.errors import UniqueViolation

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tests.common import TransactionCase, new_test_user
from odoo.tools import mute_logger

from ..services import schema_validation
from ..services.handler_registry import registry


@registry.handler("test.scrap.reported", major=1)
def handle_scrap_reported(env, event):
    """Activation needs a handler of an installed addon: this test module's."""


# post_install: test users need every installed module's defaults (e.g. account's partner fields)
@tagged("post_install", "-at_install")
class TestContract(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        group = "mfg_integration_base.group_mfg_integration_manager"
        cls.author = new_test_user(cls.env, "contract_author", groups=group)
        cls.reviewer = new_test_user(cls.env, "contract_reviewer", groups=group)
        cls.planner = new_test_user(
            cls.env, "planner", groups="mfg_integration_base.group_mfg_integration_user"
        )
        cls.Contract = cls.env["mfg.integration.contract"]

    def _draft(self, **values):
        return self.Contract.with_user(self.author).create(
            dict(
                {
                    "name": "Scrap reported",
                    "code": "test.scrap.reported",
                    "version": "1.0",
                    "schema": json.dumps({"type": "object", "required": ["qty"]}),
                },
                **values,
            )
        )

    def test_invalid_json_schema_is_refused_with_the_validators_message(self):
        with self.assertRaisesRegex(ValidationError, "not a valid Draft 2020-12 schema at /type"):
            self._draft(schema='{"type": "objekt"}', version="9.1")
        with self.assertRaisesRegex(ValidationError, "minLength"):
            self._draft(schema='{"type": "string", "minLength": -1}', version="9.2")
        with self.assertRaisesRegex(ValidationError, "not valid JSON"):
            self._draft(schema="{", version="9.3")

    def test_example_must_match_schema(self):
        with self.assertRaisesRegex(ValidationError, "example does not match the schema at /data"):
            self._draft(
                example='{"qty": "x", "other": 1}',
                schema='{"type": "object", ' '"properties": {"qty": {"type": "number"}}}',
            )

    def test_code_and_version_format_and_uniqueness(self):
        with self.assertRaisesRegex(ValidationError, "MAJOR.MINOR"):
            self._draft(version="1")
        with self.assertRaisesRegex(ValidationError, "domain.object.verb"):
            self._draft(code="Scrap", version="9.4")
        self._draft()
        with self.assertRaises(UniqueViolation), mute_logger("odoo.sql_db"), self.cr.savepoint():
            self._draft()
        self.assertTrue(self._draft(version="1.1"))

    def test_approval_needs_another_manager(self):
        contract = self._draft()
        with self.assertRaisesRegex(UserError, "another Integration Manager"):
            contract.with_user(self.author).action_approve()
        with self.assertRaisesRegex(UserError, "Only an Integration Manager"):
            contract.with_user(self.planner).action_approve()
        with self.assertRaisesRegex(UserError, "approved before"):
            contract.with_user(self.reviewer).action_activate()
        contract.with_user(self.reviewer).action_approve()
        self.assertEqual((contract.state, contract.approved_by_id), ("approved", self.reviewer))
        contract.with_user(self.author).action_activate()
        self.assertEqual(contract.state, "active")
        self.assertTrue(contract._accepts_events())

    def test_lifecycle_deprecate_with_sunset_then_retire(self):
        contract = self._draft()
        contract.with_user(self.reviewer).action_approve()
        contract.with_user(self.reviewer).action_activate()
        contract.with_user(self.reviewer).action_deprecate()
        contract.sunset_date = date(2026, 1, 31)
        self.assertTrue(contract._accepts_events(today=date(2026, 1, 31)))
        self.assertFalse(contract._accepts_events(today=date(2026, 2, 1)))
        contract.with_user(self.reviewer).action_retire()
        self.assertFalse(contract._accepts_events())
        with self.assertRaisesRegex(UserError, "Only draft contracts can be deleted"):
            contract.unlink()

    def test_published_schema_is_frozen(self):
        contract = self._draft()
        contract.with_user(self.reviewer).action_approve()
        with self.assertRaisesRegex(UserError, "Create a new version"):
            contract.schema = '{"type": "object"}'
        contract.name = "Renamed is fine"

    def test_several_versions_active_at_once(self):
        first = self._draft(state="active")
        second = self._draft(version="2.0", state="active")
        table = self.env["mfg.integration.event"]._contract_table()
        self.assertEqual(set(table["test.scrap.reported"]), {"1.0", "2.0"})
        self.assertEqual(table["test.scrap.reported"]["2.0"], second)
        self.assertEqual(first.version_major, 1)

    def test_validator_cache_follows_schema_changes(self):
        contract = self._draft()
        self.assertFalse(contract._validator().is_valid({}))
        contract.schema = '{"type": "object"}'
        self.assertTrue(contract._validator().is_valid({}))
        key = (self.env.cr.dbname, contract.id)
        size = schema_validation.cache_size()
        schema_validation.forget(key)
        self.assertLess(schema_validation.cache_size(), size)

    def test_shipped_contracts_are_loaded_active(self):
        heartbeat = self.env.ref("mfg_integration_base.contract_edge_heartbeat_1_0")
        self.assertEqual(
            (heartbeat.code, heartbeat.version, heartbeat.state, heartbeat.module),
            ("edge.heartbeat", "1.0", "active", "mfg_integration_base"),
        )
        self.assertEqual(heartbeat.handler_module, "mfg_integration_base")
        self.assertTrue(heartbeat._validator().is_valid(json.loads(heartbeat.example)))
