"""How the demo partner systems talk to Odoo.

- ``post_events``: ``POST /mfg/v1/events`` with the system's API key (Bearer) and a
  Standard Webhooks signature made with its signing secret (webhooks.sign_headers), as a
  real system posts; answers the per-event results.
- ``DemoReader``: what the partners see of Odoo without a contract for it, read over Odoo's
  XML-RPC as the demo admin: the purchase orders the demo suppliers received (a supplier
  gets the order document by e-mail or EDI, which the demo has no channel for) and the
  spare parts' free stock (the CMMS's store, so it never books a part that is not there).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import xmlrpc.client

from ..webhooks import sign_headers

_logger = logging.getLogger(__name__)

# The demo suppliers the portal relays (mfg_integration_procurement's demo data).
DEMO_SUPPLIERS = ("Rhine Steel Supplies", "Eastbridge Electronics")


class OdooRefused(Exception):
    """Odoo answered the request with an error status (its body says why)."""


def post_events(url: str, api_key: str, secret: str | None, events: list[dict]) -> list[dict]:
    """Post ``events`` in one batch; the per-event answers (accepted, duplicate, rejected)."""
    body = json.dumps({"events": events}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    if secret:
        headers.update(sign_headers(secret, events[0]["id"], body))
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url} is not an http(s) address")
    request = urllib.request.Request(  # noqa: S310 - http(s) checked above
        f"{url.rstrip('/')}/mfg/v1/events", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - http(s) checked above
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            answer = json.loads(text)  # 207 / 422: each event's answer
        except ValueError:
            answer = {}
        if "results" not in answer:
            raise OdooRefused(f"HTTP {error.code}: {text[:500].decode(errors='replace')}") from None
    return answer["results"]


class DemoReader:
    """Reads of the demo database over XML-RPC (the demo admin's login)."""

    def __init__(self, url: str, database: str, login: str, password: str):
        self.url = url.rstrip("/")
        self.database = database
        self.login = login
        self.password = password
        self.uid = None

    def _call(self, model: str, method: str, *args, **kwargs):
        if self.uid is None:
            common = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common")
            self.uid = common.authenticate(self.database, self.login, self.password, {})
            if not self.uid:
                raise OdooRefused(f"the login {self.login} was refused by {self.database}")
        models = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/object", allow_none=True)
        return models.execute_kw(
            self.database, self.uid, self.password, model, method, list(args), kwargs
        )

    def database_uuid(self) -> str:
        """The database's own id: a database dropped and made again under the same name is
        another one (the partners' memory of the old one must not apply)."""
        return self._call("ir.config_parameter", "get_param", "database.uuid")

    def supplier_orders(self) -> list[dict]:
        """The demo suppliers' confirmed purchase orders, oldest first, each with its lines
        (the supplier's product code, quantity, date, price, whether lot-tracked, whether
        confirmed by the supplier) and whether a receipt is still open and notified."""
        orders = self._call(
            "purchase.order",
            "search_read",
            [("partner_id.name", "in", list(DEMO_SUPPLIERS)), ("state", "=", "purchase")],
            fields=["name", "partner_id", "order_line", "picking_ids"],
            order="id",
        )
        if not orders:
            return []
        line_ids = [line for order in orders for line in order["order_line"]]
        lines = {
            line["id"]: line
            for line in self._call(
                "purchase.order.line",
                "read",
                line_ids,
                fields=[
                    "product_id",
                    "product_qty",
                    "date_planned",
                    "price_unit",
                    "supplier_state",
                    "display_type",
                ],
            )
        }
        product_ids = sorted(
            {line["product_id"][0] for line in lines.values() if line["product_id"]}
        )
        products = {
            product["id"]: product
            for product in self._call(
                "product.product", "read", product_ids, fields=["default_code", "tracking"]
            )
        }
        vendor_codes = {
            (info["partner_id"][0], info["product_tmpl_id"][0]): info["product_code"]
            for info in self._call(
                "product.supplierinfo",
                "search_read",
                [("partner_id.name", "in", list(DEMO_SUPPLIERS)), ("product_code", "!=", False)],
                fields=["partner_id", "product_tmpl_id", "product_code"],
            )
        }
        templates = {
            product["id"]: product["product_tmpl_id"][0]
            for product in self._call(
                "product.product", "read", product_ids, fields=["product_tmpl_id"]
            )
        }
        picking_ids = [picking for order in orders for picking in order["picking_ids"]]
        pickings = {
            picking["id"]: picking
            for picking in self._call(
                "stock.picking", "read", picking_ids, fields=["state", "asn_shipment_refs"]
            )
        }
        result = []
        for order in orders:
            partner = order["partner_id"][0]
            entries = []
            for line_id in order["order_line"]:
                line = lines[line_id]
                if line["display_type"] or not line["product_id"]:
                    continue
                product = products[line["product_id"][0]]
                code = vendor_codes.get((partner, templates[product["id"]]))
                entries.append(
                    {
                        "product_code": code or product["default_code"],
                        "qty": line["product_qty"],
                        "date_planned": line["date_planned"].replace(" ", "T") + "Z",
                        "price_unit": line["price_unit"],
                        "tracked": product["tracking"] != "none",
                        "confirmed": bool(line["supplier_state"]),
                    }
                )
            open_receipts = [
                pickings[p]
                for p in order["picking_ids"]
                if pickings[p]["state"] not in ("done", "cancel")
            ]
            result.append(
                {
                    "name": order["name"],
                    "lines": entries,
                    "open_receipt": bool(open_receipts),
                    "notified": any(p["asn_shipment_refs"] for p in open_receipts),
                }
            )
        return result

    def free_quantities(self, codes: list[str]) -> dict[str, float]:
        """Free stock per internal reference."""
        products = self._call(
            "product.product",
            "search_read",
            [("default_code", "in", codes)],
            fields=["default_code", "free_qty"],
        )
        return {product["default_code"]: product["free_qty"] for product in products}
