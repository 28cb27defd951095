import json

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tests.common import new_test_user

from ..services.handler_registry import registry
from .common import IntegrationCase, JobQueue

# An addon on the addons path that is not installed in the test database: its handler is
# in the process-wide registry, and the registry must ignore it.
UNINSTALLED = "mfg_integration_not_installed"


def handle_gadget_made(env, event):
    raise AssertionError("the handler of an addon that is not installed ran")


registry.register("test.gadget.made", 1, handle_gadget_made, module=UNINSTALLED)


# post_install: test users need every installed module's defaults
@tagged("post_install", "-at_install")
class TestHandlerInstalled(IntegrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gadget = cls.Contract.create(
            {
                "name": "Gadget made",
                "code": "test.gadget.made",
                "version": "1.0",
                "schema": json.dumps({"type": "object"}),
            }
        )

    def test_handler_of_an_uninstalled_addon_is_not_used(self):
        self.assertNotIn(UNINSTALLED, self.Event._installed_modules())
        self.assertTrue(registry.get("test.gadget.made", 1), "registered for some addon")
        self.assertIsNone(registry.get("test.gadget.made", 1, self.Event._installed_modules()))
        self.assertFalse(self.gadget.handler_module)

    def test_event_whose_handler_addon_was_uninstalled_fails_with_no_handler(self):
        # active from before its addon was uninstalled
        self.gadget.state = "active"
        self.system.allowed_contract_ids |= self.gadget
        queue = JobQueue(self.env)
        envelope = dict(self.envelope(event_id="gadget-1"), type="test.gadget.made")
        del envelope["dataschema"]
        [answer] = self.Event.sudo()._ingest(self.system, [envelope])
        self.assertEqual(answer["status"], "accepted")
        queue.perform_all(immediate_only=True)
        event = self.Event.search([("event_uid", "=", "gadget-1")])
        self.assertEqual((event.state, event.error_code), ("failed", "no_handler"))
        self.assertEqual(event.exception_id.reason_code, "no_handler")
        self.assertIn("Install the addon", event.exception_id.suggested_action)

    def test_contract_nothing_installed_handles_cannot_be_activated(self):
        manager = "mfg_integration_base.group_mfg_integration_manager"
        reviewer = new_test_user(self.env, "gadget_reviewer", groups=manager)
        self.gadget.with_user(reviewer).action_approve()
        with self.assertRaisesRegex(UserError, "no installed addon handles test.gadget.made"):
            self.gadget.with_user(reviewer).action_activate()
        self.assertEqual(self.gadget.state, "approved")
        # record-only and outbound contracts need no handler
        for version, values in (("2.0", {"processing_mode": "record"}),
                                ("3.0", {"direction": "outbound"})):  # fmt: skip
            other = self.Contract.create(
                dict(values, name="Gadget", code="test.gadget.made", version=version,
                     schema=self.gadget.schema)
            )  # fmt: skip
            other.with_user(reviewer).action_approve()
            other.with_user(reviewer).action_activate()
            self.assertEqual(other.state, "active")
