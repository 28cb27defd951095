"""GET /mfg/v1/genealogy/<lot>: a lot's genealogy for an external system (authenticated as
every /mfg/v1 route: the system's Bearer key)."""

from odoo.http import request

from odoo.addons.mfg_integration_base.controllers.main import (
    ApiError,
    MfgIntegrationApi,
    api_route,
)


class QualityGenealogyApi(MfgIntegrationApi):
    @api_route("/mfg/v1/genealogy/<string:lot>")
    def get_genealogy(self, lot, system, product=None, **_params):
        """Both directions of ``lot`` (``?product=<code>`` when several products share the
        lot name): components, the lots it went into, deliveries reached, stock now."""
        domain = [("name", "=", lot)]
        if product:
            domain.append(("product_id.default_code", "=", product))
        lots = request.env["stock.lot"].sudo().search(domain, limit=10)
        if not lots:
            raise ApiError(404, "lot_unknown", f"No lot named '{lot}' is known in Odoo.")
        if len(lots) > 1:
            codes = ", ".join(sorted(lots.mapped(lambda r: r.product_id.default_code or "")))
            raise ApiError(
                409,
                "lot_ambiguous",
                f"Several products have a lot named '{lot}' ({codes}): add ?product=<code>.",
            )
        response = request.make_json_response(lots._mfg_genealogy_document())
        response.headers["Cache-Control"] = "no-store"
        return response
