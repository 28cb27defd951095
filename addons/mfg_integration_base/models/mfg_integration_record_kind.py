"""System of record per business object kind.

Each kind of business object the integration exchanges (manufacturing orders, bills of
materials, products, stock, maintenance requests...) has one system of record: Odoo, or the
one external system configured as its owner on the system's form ("System of Record For").
An inbound change of an object from any other system is refused with a ``sor_conflict``
business exception instead of silently overwriting what the owner says.

Addons seed the kinds they exchange as records of this model (``code`` is what handlers
name); handlers that update an object call::

    env["mfg.integration.record.kind"]._check_inbound_update("bom", event.system_id, "BoM 4711")

Execution facts (a completion, a consumption, a measurement) are not object updates and do
not go through this check.
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..services.errors import BusinessError


class MfgIntegrationRecordKind(models.Model):
    _name = "mfg.integration.record.kind"
    _description = "Integration Business Object (System of Record)"
    _order = "sequence, name"

    code = fields.Char(required=True, help="Technical name handlers use, e.g. 'bom'.")
    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    model_name = fields.Char(
        string="Odoo Model", help="The Odoo model holding these objects, e.g. 'mrp.bom'."
    )
    description = fields.Text(translate=True)
    owner_system_ids = fields.Many2many(
        "mfg.integration.system",
        "mfg_integration_system_sor_kind_rel",
        "kind_id",
        "system_id",
        string="Owner",
        help="The system of record of these objects. Empty: Odoo is the system of record.",
    )
    owner_name = fields.Char(string="System of Record", compute="_compute_owner_name")

    _sql_constraints = [
        ("code_unique", "unique(code)", "A business object kind with this code already exists."),
    ]

    @api.depends("owner_system_ids")
    def _compute_owner_name(self):
        for kind in self:
            kind.owner_name = kind.owner_system_ids[:1].name or "Odoo"

    @api.constrains("owner_system_ids")
    def _check_one_owner(self):
        for kind in self:
            if len(kind.owner_system_ids) > 1:
                raise ValidationError(
                    _(
                        "%(kind)s can have only one system of record, not %(systems)s.",
                        kind=kind.name,
                        systems=", ".join(kind.owner_system_ids.mapped("name")),
                    )
                )

    @api.model
    def _by_code(self, code):
        kind = self.sudo().search([("code", "=", code)], limit=1)
        if not kind:
            raise ValueError(f"No business object kind '{code}' (mfg.integration.record.kind)")
        return kind

    @api.model
    def _owner(self, code):
        """The system that owns objects of this kind; an empty recordset when Odoo owns them."""
        return self._by_code(code).owner_system_ids[:1]

    @api.model
    def _odoo_owns(self, code):
        return not self._owner(code)

    @api.model
    def _check_inbound_update(self, code, system, subject):
        """Raise a ``sor_conflict`` business error unless ``system`` owns ``code`` objects.

        :param subject: the object in business words, e.g. "manufacturing order 1000123"
        """
        kind = self._by_code(code)
        owner = kind.owner_system_ids[:1]
        if owner and owner == system:
            return
        owner_name = owner.name or "Odoo"
        raise BusinessError(
            "sor_conflict",
            _(
                "%(system)s sent a change of %(subject)s, but %(owner)s is the system of record "
                "for %(kind)s: the change was not applied.",
                system=system.name,
                subject=subject,
                owner=owner_name,
                kind=kind.name,
            ),
            suggested_action=_(
                "Make the change in %(owner)s and discard this event; or, if %(system)s should "
                "own %(kind)s, add it under 'System of Record For' on %(system)s's form, then "
                "retry.",
                owner=owner_name,
                system=system.name,
                kind=kind.name,
            ),
            key_fields={"object": kind.code, "owner": owner.code or "odoo"},
        )
