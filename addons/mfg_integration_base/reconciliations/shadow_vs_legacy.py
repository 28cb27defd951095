from datetime import timedelta

from odoo import _
from odoo.exceptions import UserError

from ..services.reconciliation import Row, registry


def _key_text(value):
    """Keys as the shadow effects store them (services.shadow.plain_value), as text."""
    if hasattr(value, "_name"):  # a many2one group of _read_group
        return str(value.id) if value else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or value is False:
        return None
    return str(value)


@registry.kind("shadow_vs_legacy", "Shadow vs legacy interface (records and quantities)")
def compare_shadow_vs_legacy(rule, start, end):
    """Per business key: the quantity the legacy interface actually put in Odoo (records of
    the effect model it created in the window) against the quantity the new path, running in
    shadow mode, would have created (the effects stored on the contract's shadow events).

    "Missing externally" means the legacy interface did something the new path would not;
    "missing in Odoo" means the new path would have done something the legacy one did not.
    Writes recorded in shadow are shown on the events but not compared: the legacy interface
    changes the same records in parallel, so a shadow write starts from a state it already
    changed; records created are what the two paths do independently.
    """
    effect = rule.shadow_effect_id
    if not effect:
        raise UserError(
            _("Rule %(rule)s needs the effect to compare (model, key, quantity).", rule=rule.name)
        )
    env = rule.env
    # "now" is cut to the second: what happened during this very second counts too
    end += timedelta(seconds=1)
    model = env[effect.model].sudo().with_context(active_test=False)
    key_field = effect.key_field_id.name
    quantity_field = effect.quantity_field_id.name
    env.flush_all()
    env.cr.execute(
        """
        SELECT r.value->'values'->>%(key)s, SUM((r.value->'values'->>%(quantity)s)::numeric)
          FROM mfg_integration_event e
         CROSS JOIN LATERAL jsonb_array_elements(e.shadow_effects->'records') r
         WHERE e.shadow AND e.state = 'done'
           AND e.contract_id = %(contract)s AND e.system_id = %(system)s
           AND e.processed_at >= %(start)s AND e.processed_at < %(end)s
           AND r.value->>'model' = %(model)s AND r.value->>'operation' = 'create'
           AND r.value->'values'->>%(key)s IS NOT NULL
         GROUP BY 1
        """,
        {
            "key": key_field,
            "quantity": quantity_field,
            "contract": effect.contract_id.id,
            "system": rule.system_id.id,
            "start": start,
            "end": end,
            "model": effect.model,
        },
    )
    shadow = {key: float(total) for key, total in env.cr.fetchall()}
    domain = [
        ("create_date", ">=", start),
        ("create_date", "<", end),
        (key_field, "!=", False),
    ]
    if rule.legacy_user_id:
        domain.append(("create_uid", "=", rule.legacy_user_id.id))
    legacy = {}
    labels = {}
    for group_key, total in model._read_group(domain, [key_field], [f"{quantity_field}:sum"]):
        key = _key_text(group_key)
        if key is not None:
            legacy[key] = float(total or 0.0)
            labels[key] = group_key.display_name if hasattr(group_key, "_name") else key
    key_is_relation = model._fields[key_field].type == "many2one"
    if key_is_relation:
        missing_labels = [int(key) for key in shadow if key not in labels and key.isdigit()]
        comodel = env[model._fields[key_field].comodel_name].sudo()
        for record in comodel.browse(missing_labels).exists():
            labels[str(record.id)] = record.display_name
    for key in sorted(set(shadow) | set(legacy)):
        yield Row(
            key=f"{effect.model}/{key_field}/{key}",
            odoo_value=legacy.get(key),
            external_value=shadow.get(key),
            label=labels.get(key, key),
        )
