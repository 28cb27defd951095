"""GET /mfg/v1/metrics: the Prometheus text exposition of the integration's figures.

Protected by the metrics token (Settings > Manufacturing Integration), sent as
``Authorization: Bearer <token>``: a monitoring server reads aggregate figures only, so it
gets its own token rather than a system's API key, which may post events.
"""

from odoo import http
from odoo.http import request

from .main import BEARER, ApiError, _error, api_route

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MfgIntegrationMetricsApi(http.Controller):
    @api_route("/mfg/v1/metrics", authenticated=False)
    def metrics(self, **_params):
        if request.env is None or not request.db:
            raise ApiError(503, "no_database", "No Odoo database is selected for this host.")
        Metrics = request.env(su=True)["mfg.integration.metrics"]
        match = BEARER.match(request.httprequest.headers.get("Authorization", ""))
        if not match or not Metrics._check_token(match.group(1)):
            return _error(
                ApiError(
                    401,
                    "invalid_metrics_token",
                    "Send the metrics token (Settings > Manufacturing Integration) as "
                    "'Authorization: Bearer <token>'.",
                    {"WWW-Authenticate": 'Bearer realm="mfg-metrics"'},
                )
            )
        return request.make_response(
            Metrics._render(),
            headers=[("Content-Type", CONTENT_TYPE), ("Cache-Control", "no-store")],
        )
