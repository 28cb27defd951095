"""SAP confirmations against Odoo's completions, with the MES's word beside them.

Per SAP order with an order of its chain finished in the rule's window: Odoo's produced
quantity (the chain's done orders) against SAP's confirmed yield (its confirmations of the
order that are neither reversed nor reversals). The line's label carries the MES's reported
quantity, and the order's SAP tab shows the three side by side with the one-click fix
(``Correct SAP Confirmation``).
"""

from odoo.addons.mfg_integration_base.services.reconciliation import Row, registry


@registry.kind("sap_confirmation", "SAP confirmations per order (Odoo, SAP and the MES)")
def compare_sap_confirmations(rule, start, end):
    system = rule.system_id
    env = rule.env
    finished = env["mrp.production"].search(
        [
            ("sap_system_id", "=", system.id),
            ("state", "=", "done"),
            ("date_finished", ">=", start),
            # a completion of the run's own second counts (stamps are whole seconds)
            ("date_finished", "<=", end),
        ]
    )
    orders = {}
    for production in finished:
        orders.setdefault(production.sap_order_number, production)
    for number in sorted(orders):
        production = orders[number]
        facts = production._sap_three_way()
        mes = facts["mes"]
        yield Row(
            key=f"{system.code}/{number}/yield",
            odoo_value=facts["odoo"],
            external_value=facts["sap"] if facts["confirmations"] else None,
            label=env._(
                "SAP order %(order)s: Odoo %(odoo)s, SAP %(sap)s, MES %(mes)s",
                order=number,
                odoo=facts["odoo"],
                sap=facts["sap"],
                mes="-" if mes is None else mes,
            ),
        )
