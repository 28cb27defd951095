"""API keys: expiry, rotation with overlap, throttled last-used time, chatter audit."""

from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tests.common import BaseCase, TransactionCase

from ..services import api_key_policy

T0 = datetime(2026, 11, 23, 8, 0)


class TestApiKeyPolicy(BaseCase):
    def test_current_key_until_its_expiry(self):
        expires = T0 + timedelta(days=30)
        self.assertIsNone(
            api_key_policy.refusal(7, 7, expires, None, expires - timedelta(seconds=1))
        )
        self.assertIn(
            "expired on 2026-12-23 08:00 UTC", api_key_policy.refusal(7, 7, expires, None, expires)
        )
        self.assertIsNone(api_key_policy.refusal(7, 7, None, None, T0 + timedelta(days=9999)))

    def test_replaced_key_until_the_overlap_end(self):
        until = T0 + timedelta(hours=24)
        self.assertIsNone(api_key_policy.refusal(6, 7, None, until, until - timedelta(seconds=1)))
        self.assertIn("replaced", api_key_policy.refusal(6, 7, None, until, until))
        self.assertIn("replaced", api_key_policy.refusal(6, 7, None, None, T0))

    def test_keys_from_before_tracking_keep_working(self):
        self.assertIsNone(api_key_policy.refusal(6, 0, None, None, T0))

    def test_old_key_end_never_revives_an_expired_key(self):
        overlap = timedelta(hours=24)
        self.assertEqual(api_key_policy.old_key_end(T0, overlap, None), T0 + overlap)
        soon = T0 + timedelta(hours=2)
        self.assertEqual(api_key_policy.old_key_end(T0, overlap, soon), soon)
        self.assertEqual(api_key_policy.old_key_end(T0, overlap, T0 - timedelta(days=1)), T0)


class TestApiKeyLifecycle(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.System = cls.env["mfg.integration.system"]
        cls.system = cls.System.create(
            {
                "name": "Key MES",
                "code": "key_mes",
                "api_key_validity_days": 30,
                "api_key_overlap_hours": 24,
            }
        )

    def usable(self, key):
        """Whether the API would accept ``key`` now (what controllers/main.py checks)."""
        key_id, user_id = self.System._match_api_key(key)
        if not user_id:
            return False
        system = self.System.search([("user_id", "=", user_id)])
        return system == self.system and not system._api_key_refusal(key_id)

    def chatter(self):
        return self.system.message_ids.mapped("body")

    def test_key_expires_and_the_expiry_is_reported_once(self):
        with freeze_time(T0):
            key = self.system._generate_api_key()
        self.assertEqual(self.system.api_key_expires_at, T0 + timedelta(days=30))
        with freeze_time(T0 + timedelta(days=30) - timedelta(seconds=1)):
            self.assertTrue(self.usable(key))
        with freeze_time(T0 + timedelta(days=30)):
            self.assertFalse(self.usable(key))
            key_id, _user = self.System._match_api_key(key)
            self.assertIn("expired on", self.system._api_key_refusal(key_id))
            self.System._cron_expire_api_keys()
            self.System._cron_expire_api_keys()
        expired = [body for body in self.chatter() if "API key expired on" in body]
        self.assertEqual(len(expired), 1)
        self.assertTrue(any("it expires on 2026-12-23 08:00:00" in body for body in self.chatter()))
        self.assertFalse(any(key in body for body in self.chatter()))

    def test_no_expiry_when_validity_is_zero(self):
        self.system.api_key_validity_days = 0
        with freeze_time(T0):
            key = self.system._generate_api_key()
        self.assertFalse(self.system.api_key_expires_at)
        with freeze_time(T0 + timedelta(days=3650)):
            self.assertTrue(self.usable(key))

    def test_rotation_overlap_then_only_the_new_key(self):
        with freeze_time(T0):
            old = self.system._generate_api_key()
        rotated_at = T0 + timedelta(days=1)
        with freeze_time(rotated_at):
            new = self.system._generate_api_key()
            self.assertTrue(self.usable(new), "the new key works at once")
            self.assertTrue(self.usable(old))
        self.assertEqual(self.system.old_api_key_valid_until, rotated_at + timedelta(hours=24))
        self.assertEqual(self.system.api_key_expires_at, rotated_at + timedelta(days=30))
        with freeze_time(rotated_at + timedelta(hours=24) - timedelta(seconds=1)):
            self.assertTrue(self.usable(old))
            self.assertTrue(self.usable(new))
        with freeze_time(rotated_at + timedelta(hours=24)):
            self.assertFalse(self.usable(old))
            key_id, _user = self.System._match_api_key(old)
            self.assertIn("replaced by a new one", self.system._api_key_refusal(key_id))
            self.assertTrue(self.usable(new))
            self.System._cron_expire_api_keys()
            # the old key's hash is gone; the new key is untouched
            self.assertEqual(self.System._match_api_key(old), (None, None))
            self.assertTrue(self.usable(new))
        self.assertFalse(self.system.old_api_key_valid_until)
        chatter = self.chatter()
        self.assertTrue(any("A new API key was generated" in body for body in chatter))
        self.assertTrue(
            any("rotated" in body and "keeps working until" in body for body in chatter)
        )
        self.assertTrue(any("old API key stopped working" in body for body in chatter))
        self.assertFalse(any(old in body or new in body for body in chatter))

    def test_admin_ends_the_overlap_early(self):
        with freeze_time(T0):
            old = self.system._generate_api_key()
            new = self.system._generate_api_key()
            self.assertTrue(self.usable(old))
            self.system.old_api_key_valid_until = T0 + timedelta(minutes=5)
        with freeze_time(T0 + timedelta(minutes=5)):
            self.assertFalse(self.usable(old))
            self.assertTrue(self.usable(new))

    def test_no_overlap_revokes_the_old_key_at_once(self):
        self.system.api_key_overlap_hours = 0
        with freeze_time(T0):
            old = self.system._generate_api_key()
            new = self.system._generate_api_key()
            self.assertEqual(self.System._match_api_key(old), (None, None))
            self.assertTrue(self.usable(new))
        self.assertTrue(any("old key was revoked at once" in body for body in self.chatter()))

    def test_second_rotation_stops_the_key_already_in_overlap(self):
        with freeze_time(T0):
            first = self.system._generate_api_key()
            second = self.system._generate_api_key()
            third = self.system._generate_api_key()
            self.assertEqual(self.System._match_api_key(first), (None, None))
            self.assertTrue(self.usable(second))
            self.assertTrue(self.usable(third))

    def test_rotation_does_not_revive_an_expired_key(self):
        with freeze_time(T0):
            old = self.system._generate_api_key()
        with freeze_time(T0 + timedelta(days=31)):
            self.assertFalse(self.usable(old))
            new = self.system._generate_api_key()
            self.assertFalse(self.usable(old))
            self.assertTrue(self.usable(new))

    def test_keys_from_before_expiry_keep_working_and_rotate_with_overlap(self):
        user = self.system._ensure_technical_user()
        legacy = (
            self.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate("mfg_integration", "legacy", None)
        )
        self.assertFalse(self.system.current_api_key_id)
        with freeze_time(T0):
            self.assertTrue(self.usable(legacy))
            new = self.system._generate_api_key()
            self.assertTrue(self.usable(legacy))
            self.assertTrue(self.usable(new))
        with freeze_time(T0 + timedelta(hours=24)):
            self.assertFalse(self.usable(legacy))

    def test_last_used_is_throttled_per_key(self):
        with freeze_time(T0):
            old = self.system._generate_api_key()
            new = self.system._generate_api_key()
        old_id, _user = self.System._match_api_key(old)
        new_id, _user = self.System._match_api_key(new)
        with freeze_time(T0):
            self.assertTrue(self.system._note_api_key_use(new_id))
        self.assertEqual(self.system.api_key_last_used_at, T0)
        self.assertFalse(self.system.old_api_key_last_used_at)
        with freeze_time(T0 + timedelta(seconds=59)):
            self.assertFalse(self.system._note_api_key_use(new_id), "no write within a minute")
            self.assertTrue(self.system._note_api_key_use(old_id), "each key has its own time")
        self.assertEqual(self.system.api_key_last_used_at, T0)
        self.assertEqual(self.system.old_api_key_last_used_at, T0 + timedelta(seconds=59))
        with freeze_time(T0 + timedelta(seconds=60)):
            self.assertTrue(self.system._note_api_key_use(new_id))
        self.assertEqual(self.system.api_key_last_used_at, T0 + timedelta(seconds=60))

    def test_revoke_stops_every_key_and_is_audited(self):
        with freeze_time(T0):
            old = self.system._generate_api_key()
            new = self.system._generate_api_key()
            self.system.action_revoke_api_keys()
            self.assertEqual(self.System._match_api_key(old), (None, None))
            self.assertEqual(self.System._match_api_key(new), (None, None))
        self.assertFalse(self.system.current_api_key_id)
        self.assertFalse(self.system.old_api_key_valid_until)
        self.assertTrue(any("were revoked by" in body for body in self.chatter()))

    def test_expiry_change_is_tracked_in_the_chatter(self):
        with freeze_time(T0):
            self.system._generate_api_key()
        # tracking starts after the transaction that created the record
        self.env.flush_all()
        self.env.cr.precommit.run()
        self.system.api_key_expires_at = T0 + timedelta(days=90)
        self.env.flush_all()
        self.env.cr.precommit.run()  # tracking values are written at commit
        tracked = self.system.message_ids.tracking_value_ids.filtered(
            lambda value: value.field_id.name == "api_key_expires_at"
        )
        self.assertEqual(tracked.new_value_datetime, T0 + timedelta(days=90))


@tagged("post_install", "-at_install")
class TestApiKeyHttp(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.system = cls.env["mfg.integration.system"].create(
            {"name": "Key HTTP MES", "code": "key_http_mes"}
        )

    def get(self, key):
        return self.url_open("/mfg/v1/contracts", headers={"Authorization": f"Bearer {key}"})

    def post(self, key):
        return self.url_open(
            "/mfg/v1/events",
            data="{",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )

    def test_expired_key_is_answered_401_with_a_clear_message(self):
        key = self.system._generate_api_key()
        self.assertEqual(self.get(key).status_code, 200)
        self.system.api_key_expires_at = fields.Datetime.now() - timedelta(minutes=1)
        response = self.get(key)
        self.assertEqual(response.status_code, 401)
        error = response.json()["error"]
        self.assertEqual(error["code"], "api_key_expired")
        self.assertIn("expired on", error["message"])
        self.assertIn("new key", error["message"])
        self.assertIn('error="invalid_token"', response.headers["WWW-Authenticate"])
        self.assertEqual(self.get("x" * 40).json()["error"]["code"], "invalid_api_key")

    def test_old_and_new_key_until_the_overlap_end_then_only_the_new(self):
        old = self.system._generate_api_key()
        new = self.system._generate_api_key()
        self.assertEqual(self.get(old).status_code, 200)
        self.assertEqual(self.get(new).status_code, 200)
        self.assertEqual(self.post(old).status_code, 400)  # authenticated, then refused
        self.assertEqual(self.post(new).status_code, 400)
        self.system.invalidate_recordset()
        self.assertTrue(self.system.api_key_last_used_at, "the new key's use is recorded")
        self.assertTrue(self.system.old_api_key_last_used_at, "so is the old key's")
        self.system.old_api_key_valid_until = fields.Datetime.now() - timedelta(seconds=1)
        response = self.get(old)
        self.assertEqual(response.status_code, 401)
        self.assertIn("replaced by a new one", response.json()["error"]["message"])
        self.assertEqual(self.get(new).status_code, 200)
