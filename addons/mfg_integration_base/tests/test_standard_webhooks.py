"""Our outbound signatures checked by the official Standard Webhooks library, as a receiver
would, and the whsec_ signing secrets Odoo generates and accepts."""

import base64
from datetime import UTC, datetime

import standardwebhooks
from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests.common import BaseCase, TransactionCase, new_test_user

from ..adapters.webhook import WebhookAdapter
from ..services import webhook_signature
from ..services.adapters import Message, Settings

ENVELOPE = {
    "specversion": "1.0",
    "id": "evt-0001",
    "source": "odoo://test",
    "type": "com.example.widget.built",
    "subject": "W-1",
    "time": "2026-11-23T08:00:00Z",
    "datacontenttype": "application/json",
    "data": {"widget": "W-1", "qty": 3},
}


def signed_request(secret, envelopes):
    adapter = WebhookAdapter(
        Settings(system_code="receiver", url="http://127.0.0.1:9", secret=secret)
    )
    try:
        messages = [
            Message(event_id=number, envelope=envelope)
            for number, envelope in enumerate(envelopes, 1)
        ]
        return adapter.request(messages)
    finally:
        adapter.close()


class TestOfficialVerifier(BaseCase):
    def setUp(self):
        super().setUp()
        self.secret = webhook_signature.generate_secret()

    def test_official_library_verifies_a_single_delivery(self):
        body, headers = signed_request(self.secret, [ENVELOPE])
        payload = standardwebhooks.Webhook(self.secret).verify(body, headers)
        self.assertEqual(payload["id"], "evt-0001")
        self.assertEqual(headers["webhook-id"], "evt-0001")

    def test_official_library_verifies_a_batch(self):
        second = dict(ENVELOPE, id="evt-0002")
        body, headers = signed_request(self.secret, [ENVELOPE, second])
        payload = standardwebhooks.Webhook(self.secret).verify(body, headers)
        self.assertEqual([event["id"] for event in payload], ["evt-0001", "evt-0002"])

    def test_tampered_body_fails(self):
        body, headers = signed_request(self.secret, [ENVELOPE])
        tampered = body.replace(b'"qty":3', b'"qty":4')
        self.assertNotEqual(tampered, body)
        with self.assertRaises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(self.secret).verify(tampered, headers)

    def test_other_secret_fails(self):
        body, headers = signed_request(self.secret, [ENVELOPE])
        with self.assertRaises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(webhook_signature.generate_secret()).verify(body, headers)

    def test_old_timestamp_fails(self):
        with freeze_time("2026-11-23 08:00:00"):
            body, headers = signed_request(self.secret, [ENVELOPE])
        with (
            freeze_time("2026-11-23 08:06:00"),
            self.assertRaises(standardwebhooks.WebhookVerificationError),
        ):
            standardwebhooks.Webhook(self.secret).verify(body, headers)

    def test_our_verifier_accepts_what_the_official_library_signs(self):
        webhook = standardwebhooks.Webhook(self.secret)
        with freeze_time("2026-11-23 08:00:00"):
            timestamp = datetime.now(UTC)
            signature = webhook.sign("msg-1", timestamp, b"{}")
            problem = webhook_signature.verify(
                self.secret, "msg-1", str(int(timestamp.timestamp())), b"{}", signature
            )
        self.assertIsNone(problem)

    def test_generated_secret_has_the_standard_form(self):
        self.assertTrue(self.secret.startswith("whsec_"))
        key = base64.b64decode(self.secret[len("whsec_") :], validate=True)
        self.assertEqual(len(key), webhook_signature.GENERATED_SECRET_BYTES)
        self.assertNotEqual(self.secret, webhook_signature.generate_secret())

    def test_secret_problems(self):
        self.assertIsNone(webhook_signature.secret_problem(self.secret))
        self.assertIn("plain-text", webhook_signature.secret_problem("my shared secret"))
        self.assertIn("not valid base64", webhook_signature.secret_problem("whsec_***"))
        short = "whsec_" + base64.b64encode(b"x" * 16).decode()
        self.assertIn("16 bytes", webhook_signature.secret_problem(short))


class TestSigningSecretOnTheSystem(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            login="secret_manager",
            groups="base.group_user,mfg_integration_base.group_mfg_integration_manager",
        )
        cls.system = cls.env["mfg.integration.system"].create(
            {"name": "Receiver", "code": "secret_receiver"}
        )

    def test_generated_secret_is_shown_once_and_verifies(self):
        system = self.system.with_user(self.manager)
        action = system.action_generate_signing_secret()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        secret = wizard.signing_secret
        self.assertEqual(self.system.sudo().signing_secret, secret)
        self.assertEqual(self.system.signing_secret_kind, "standard")
        # the form's field is write-only
        self.assertFalse(system.new_signing_secret)

        body, headers = signed_request(self.system._delivery_settings().secret, [ENVELOPE])
        self.assertEqual(standardwebhooks.Webhook(secret).verify(body, headers)["id"], "evt-0001")

        wizard.with_user(self.manager).action_done()
        self.assertFalse(wizard.signing_secret)
        messages = self.system.message_ids.mapped("body")
        self.assertTrue(any("new signing secret was generated" in body for body in messages))
        self.assertFalse(any(secret in body for body in messages))

    def test_plain_text_secret_is_refused_for_new_values(self):
        with self.assertRaisesRegex(ValidationError, "official Standard Webhooks libraries"):
            self.system.write({"signing_secret": "plant-shared-secret"})
        with self.assertRaisesRegex(ValidationError, "official Standard Webhooks libraries"):
            self.system.with_user(self.manager).write({"new_signing_secret": "plain"})

    def test_pasted_whsec_secret_is_stored(self):
        secret = webhook_signature.generate_secret()
        self.system.with_user(self.manager).write({"new_signing_secret": secret})
        self.assertEqual(self.system.sudo().signing_secret, secret)

    def test_legacy_plain_secret_keeps_signing_and_is_flagged(self):
        # stored before the rule: written past the ORM, as an old database holds it
        self.env.cr.execute(
            "UPDATE mfg_integration_system SET signing_secret = 'legacy-plain' WHERE id = %s",
            [self.system.id],
        )
        self.system.invalidate_recordset()
        self.assertEqual(self.system.signing_secret_kind, "plain")
        body, headers = signed_request(self.system._delivery_settings().secret, [ENVELOPE])
        self.assertIsNone(
            webhook_signature.verify(
                "legacy-plain",
                headers["webhook-id"],
                headers["webhook-timestamp"],
                body,
                headers["webhook-signature"],
            )
        )

    def test_only_a_manager_generates_a_secret(self):
        user = new_test_user(
            self.env,
            login="secret_user",
            groups="base.group_user,mfg_integration_base.group_mfg_integration_user",
        )
        with self.assertRaises(UserError):
            self.system.with_user(user).action_generate_signing_secret()
        self.assertEqual(self.system.signing_secret_kind, "none")
