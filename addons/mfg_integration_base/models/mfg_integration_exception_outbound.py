from datetime import timedelta

from odoo import _, fields, models


class MfgIntegrationException(models.Model):
    _inherit = "mfg.integration.exception"

    def action_retry(self):
        """An open circuit's exception: probe the system now instead of after the
        cool-down (its events are retried by the dispatcher, not one by one)."""
        circuits = self.filtered(lambda x: x.reason_code == "circuit_open" and not x.event_id)
        if circuits:
            circuits._check_open()
            now = fields.Datetime.now()
            for exception in circuits:
                system = exception.system_id.sudo()
                if system.circuit_state == "open":
                    system.circuit_opened_at = now - timedelta(
                        seconds=system.circuit_cooldown_seconds
                    )
                exception.message_post(
                    body=_("Probe requested by %(user)s.", user=self.env.user.name)
                )
            self.env["mfg.integration.event"].sudo()._schedule_dispatch(circuits.system_id.ids)
        others = self - circuits
        if others:
            return super(MfgIntegrationException, others).action_retry()
        return True
