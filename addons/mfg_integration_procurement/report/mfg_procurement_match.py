from odoo import fields, models, tools

from ..services import supply_rules

MATCH_STATES = [
    ("check", "To Check"),
    ("open", "In Progress"),
    ("matched", "Matched"),
]


class MfgProcurementMatch(models.Model):
    """Three-way match per purchase line: ordered, received and invoiced quantity and price.

    One set-based SQL view (no per-line query): the vendor bill lines are summed per purchase
    line in one grouped subquery, the tolerances are read from the system parameters in the
    same statement. A line is 'To Check' when more is received than ordered, more is billed
    than received, or the billed price differs from the order's, beyond the tolerance.
    Quantities are in the purchase line's unit; prices in the order's currency.
    """

    _name = "mfg.procurement.match"
    _description = "Three-Way Match"
    _auto = False
    _order = "match_state, date_order desc, id"

    purchase_line_id = fields.Many2one("purchase.order.line", readonly=True)
    order_id = fields.Many2one("purchase.order", string="Purchase Order", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Supplier", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    product_uom_id = fields.Many2one("uom.uom", string="Unit", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    date_order = fields.Datetime(string="Order Date", readonly=True)
    qty_ordered = fields.Float(string="Ordered", digits="Product Unit of Measure", readonly=True)
    qty_received = fields.Float(string="Received", digits="Product Unit of Measure", readonly=True)
    qty_invoiced = fields.Float(string="Billed", digits="Product Unit of Measure", readonly=True)
    price_ordered = fields.Float(string="Order Price", digits="Product Price", readonly=True)
    price_invoiced = fields.Float(string="Billed Price", digits="Product Price", readonly=True)
    price_difference_percent = fields.Float(string="Price Difference (%)", readonly=True)
    qty_to_receive = fields.Float(
        string="Still to Receive", digits="Product Unit of Measure", readonly=True
    )
    qty_billed_not_received = fields.Float(
        string="Billed, Not Received", digits="Product Unit of Measure", readonly=True
    )
    over_received = fields.Boolean(readonly=True)
    over_billed = fields.Boolean(readonly=True)
    price_mismatch = fields.Boolean(readonly=True)
    match_state = fields.Selection(MATCH_STATES, string="Match", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE OR REPLACE VIEW {self._table} AS (
            WITH tolerance AS (
                SELECT
                    COALESCE((SELECT CASE WHEN value ~ '^[0-9]+(\\.[0-9]+)?$'
                                     THEN value::numeric END
                              FROM ir_config_parameter WHERE key = %(qty_param)s),
                             %(default)s) AS qty_percent,
                    COALESCE((SELECT CASE WHEN value ~ '^[0-9]+(\\.[0-9]+)?$'
                                     THEN value::numeric END
                              FROM ir_config_parameter WHERE key = %(price_param)s),
                             %(default)s) AS price_percent
            ),
            billed AS (
                SELECT aml.purchase_line_id,
                       SUM(CASE WHEN am.move_type = 'in_refund' THEN -aml.price_subtotal
                                ELSE aml.price_subtotal END) AS amount,
                       SUM(CASE WHEN am.move_type = 'in_refund' THEN -aml.quantity
                                ELSE aml.quantity END) AS quantity
                FROM account_move_line aml
                JOIN account_move am ON am.id = aml.move_id
                WHERE aml.purchase_line_id IS NOT NULL
                  AND am.state = 'posted'
                  AND am.move_type IN ('in_invoice', 'in_refund')
                GROUP BY aml.purchase_line_id
            ),
            line AS (
                SELECT pol.id, pol.order_id, po.partner_id, pol.product_id,
                       pol.product_uom AS product_uom_id, pol.company_id, po.currency_id,
                       po.date_order, pol.product_qty AS qty_ordered,
                       pol.qty_received, pol.qty_invoiced, pol.price_unit AS price_ordered,
                       CASE WHEN billed.quantity <> 0 THEN billed.amount / billed.quantity END
                           AS price_invoiced,
                       t.qty_percent, t.price_percent
                FROM purchase_order_line pol
                JOIN purchase_order po ON po.id = pol.order_id
                LEFT JOIN billed ON billed.purchase_line_id = pol.id
                CROSS JOIN tolerance t
                WHERE po.state IN ('purchase', 'done') AND pol.display_type IS NULL
            ),
            flagged AS (
                SELECT line.*,
                       line.qty_received > line.qty_ordered * (1 + line.qty_percent / 100)
                           AS over_received,
                       line.qty_invoiced > line.qty_received
                           + line.qty_ordered * line.qty_percent / 100 AS over_billed,
                       COALESCE(ABS(line.price_invoiced - line.price_ordered)
                           > ABS(line.price_ordered) * line.price_percent / 100, FALSE)
                           AS price_mismatch
                FROM line
            )
            SELECT id, id AS purchase_line_id, order_id, partner_id, product_id,
                   product_uom_id, company_id, currency_id, date_order, qty_ordered,
                   qty_received, qty_invoiced, price_ordered,
                   COALESCE(price_invoiced, 0) AS price_invoiced,
                   CASE WHEN price_invoiced IS NOT NULL AND price_ordered <> 0
                        THEN ROUND((100 * (price_invoiced - price_ordered)
                                    / price_ordered)::numeric, 2)
                        ELSE 0 END AS price_difference_percent,
                   GREATEST(qty_ordered - qty_received, 0) AS qty_to_receive,
                   GREATEST(qty_invoiced - qty_received, 0) AS qty_billed_not_received,
                   over_received, over_billed, price_mismatch,
                   CASE WHEN over_received OR over_billed OR price_mismatch THEN 'check'
                        WHEN ABS(qty_received - qty_ordered)
                                 <= qty_ordered * qty_percent / 100
                             AND ABS(qty_invoiced - qty_received)
                                 <= qty_ordered * qty_percent / 100
                             AND qty_invoiced > 0 THEN 'matched'
                        ELSE 'open' END AS match_state
            FROM flagged
            )
            """,
            {
                "qty_param": supply_rules.MATCH_QTY_TOLERANCE_PARAM,
                "price_param": supply_rules.MATCH_PRICE_TOLERANCE_PARAM,
                "default": supply_rules.DEFAULT_TOLERANCE_PERCENT,
            },
        )
