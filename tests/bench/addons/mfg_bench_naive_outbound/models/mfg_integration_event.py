import json

import requests

from odoo import api, models
from odoo.exceptions import AccessError

from odoo.addons.mfg_integration_base.services import webhook_signature


class MfgIntegrationEvent(models.Model):
    _inherit = "mfg.integration.event"

    @api.model
    def bench_enqueue_naive(self, url, secret, envelopes):
        """One queue_job per envelope, each doing its own POST: the baseline."""
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise AccessError("Integration Managers only")
        for envelope in envelopes:
            self.sudo().with_delay(channel="root.mfg_integration")._bench_post_one(
                url, secret, envelope
            )
        return len(envelopes)

    @api.model
    def _bench_post_one(self, url, secret, envelope):
        body = json.dumps(envelope).encode()
        headers = webhook_signature.headers(secret, envelope["id"], body)
        headers["Content-Type"] = "application/cloudevents+json"
        response = requests.post(url, data=body, headers=headers, timeout=(5, 30))
        response.raise_for_status()
        return response.status_code
