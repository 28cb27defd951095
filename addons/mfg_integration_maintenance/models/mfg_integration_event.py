from odoo import _, api, models

from odoo.addons.mfg_integration_base.outbox.emit import outbound_destinations
from odoo.addons.mfg_integration_base.services.envelope import parse_time
from odoo.addons.mfg_integration_base.services.errors import BusinessError, PrerequisiteMissing


class MfgIntegrationEvent(models.Model):
    _inherit = "mfg.integration.event"

    # -- inbound: what a CMMS event names ------------------------------------------------

    def _cmms_request(self, reference):
        """The request of the CMMS work order ``reference``; not yet known: the event waits
        for the work order's creation (it may be on its way)."""
        self.ensure_one()
        request = self.env["maintenance.request"].search(
            [("cmms_system_id", "=", self.system_id.id), ("cmms_ref", "=", reference)], limit=1
        )
        if not request:
            raise PrerequisiteMissing(
                _(
                    "Work order %(ref)s of %(system)s is not known in Odoo yet (its "
                    "cmms.workorder.created event has not arrived)",
                    ref=reference,
                    system=self.system_id.name,
                ),
                key_fields={"workorder": reference},
            )
        return request

    def _cmms_equipment(self, code):
        """The equipment the system's mapping gives ``code``, else the one with that serial
        number or name; neither: the missing-mapping exception (with Create Mapping)."""
        return self._mes_lookup("equipment", code, "maintenance.equipment", ["serial_no", "name"])

    def _cmms_part(self, code):
        """The spare part the system's product mapping gives ``code``, else the product with
        that internal reference; neither: the missing-mapping exception."""
        return self._mes_lookup("product", code, "product.product", ["default_code"])

    def _cmms_technician(self, login):
        """The Odoo user whose login or e-mail is ``login``."""
        users = self.env["res.users"].search(
            ["|", ("login", "=ilike", login), ("email", "=ilike", login)], limit=2
        )
        if len(users) == 1:
            return users
        raise BusinessError(
            "technician_unknown",
            _(
                "Technician '%(login)s' from %(system)s is not an Odoo user (no single user "
                "has this login or e-mail)",
                login=login,
                system=self.system_id.name,
            ),
            suggested_action=_(
                "Create the technician's user in Odoo (or give the user this login or e-mail), "
                "then retry."
            ),
            key_fields={"technician": login},
        )

    def _cmms_time(self, text, what):
        """An RFC 3339 time of the event's data as naive UTC; malformed: a business error."""
        try:
            return parse_time(text)
        except ValueError as error:
            raise BusinessError(
                "invalid_time",
                _(
                    "%(what)s '%(value)s' is not a date and time: %(error)s",
                    what=what,
                    value=text,
                    error=error,
                ),
                suggested_action=_("Correct the time with Edit Data, then retry."),
                key_fields={"field": what},
            ) from None

    def _cmms_check_owner(self, kind_code, subject):
        """An update of a ``kind_code`` object (``subject``, in business words) is accepted
        only from its system of record (else the sor_conflict business error)."""
        self.ensure_one()
        self.env["mfg.integration.record.kind"]._check_inbound_update(
            kind_code, self.system_id, subject
        )

    # -- outbound ------------------------------------------------------------------------

    @api.model
    def _maintenance_emit(self, contract_code, items, echo=True):
        """Emit ``items`` to the systems subscribed to the active outbound contract; without
        ``echo``, not to the system whose inbound event made the change (it knows already)."""
        if not items:
            return self.browse()
        contract = self.env["mfg.integration.contract"]._active_outbound(contract_code)
        if not contract:
            return self.browse()
        systems = outbound_destinations(self.env, contract, None)
        origin = not echo and self.env.context.get("mfg_cmms_origin_system_id")
        systems = systems.filtered(lambda system: system.id != origin)
        if not systems:
            return self.browse()
        return self.sudo()._emit_many(contract_code, items, systems=systems)

    def _cmms_origin(self):
        """This event in an environment whose changes are not echoed back to its system."""
        self.ensure_one()
        return self.with_context(mfg_cmms_origin_system_id=self.system_id.id)
