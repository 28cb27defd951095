import logging
import os
from pathlib import Path

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..pulls import pull
from ..services import sap_messages
from ..services.odata.errors import ODataError
from ..services.sap_settings import SapSettings

_logger = logging.getLogger(__name__)

MANAGERS = "mfg_integration_base.group_mfg_integration_manager"
# a relative password file path is read from the checkout the addon lives in (the demo's
# run/sap/emulator_password, written by ./setup/run.sh)
CHECKOUT_ROOT = Path(__file__).resolve().parents[3]


class MfgIntegrationSystem(models.Model):
    _inherit = "mfg.integration.system"

    outbound_adapter = fields.Selection(
        selection_add=[("sap_odata", "SAP S/4HANA (OData V2)")],
        ondelete={"sap_odata": "set null"},
    )
    sap_service_root = fields.Char(
        string="SAP Service Root",
        tracking=True,
        help="URL under which SAP's OData services live, e.g. "
        "https://my-s4.example.com/sap/opu/odata/sap/ (each API is a folder below it).",
    )
    sap_client = fields.Char(
        string="SAP Client",
        tracking=True,
        help="The sap-client sent with every request (e.g. 100). Empty: the default client.",
    )
    sap_auth_method = fields.Selection(
        [("basic", "Basic (communication user)"), ("oauth", "OAuth 2.0 client credentials")],
        string="SAP Authentication",
        default="basic",
        tracking=True,
    )
    sap_username = fields.Char(string="SAP Communication User", tracking=True)
    sap_password = fields.Char(string="SAP Password", groups=MANAGERS, copy=False)
    sap_password_file = fields.Char(
        string="SAP Password File",
        groups=MANAGERS,
        help="Path on the Odoo server of a file holding the password, used when the "
        "password field is empty (keeps it out of the database). A relative path starts at "
        "the checkout the integration addons live in.",
    )
    sap_oauth_token_url = fields.Char(string="OAuth Token URL", tracking=True)
    sap_oauth_client_id = fields.Char(string="OAuth Client ID", tracking=True)
    sap_oauth_client_secret = fields.Char(string="OAuth Client Secret", groups=MANAGERS, copy=False)
    sap_batch_enabled = fields.Boolean(
        string="Use $batch",
        default=True,
        tracking=True,
        help="Send confirmations and goods movements in $batch requests (one changeset per "
        "event). Off: one request per event, for gateways that refuse $batch.",
    )
    sap_plant = fields.Char(
        string="SAP Plant",
        default="1010",
        tracking=True,
        help="The plant of the orders, stock and goods movements exchanged with this system.",
    )
    sap_storage_location = fields.Char(
        string="Receipt Storage Location",
        default="0001",
        tracking=True,
        help="SAP storage location of goods receipts from orders (101) when the Odoo "
        "location has no location mapping.",
    )
    sap_issue_storage_location = fields.Char(
        string="Issue Storage Location",
        tracking=True,
        help="SAP storage location that components are issued from (261) when the Odoo "
        "location has no location mapping. Empty: the receipt storage location.",
    )
    sap_order_filter = fields.Char(
        string="Orders Filter",
        tracking=True,
        help="An OData $filter condition added to the order pull, e.g. "
        "MRPController eq '001' (only this MRP controller's orders come to Odoo).",
    )
    sap_order_watermark = fields.Char(
        string="Orders Pulled Up To",
        copy=False,
        help="LastChangeDateTime (yyyymmddhhmmss, UTC) of the newest order pulled; the "
        "next pull asks for later changes. Empty: the next pull takes every order.",
    )
    sap_material_watermark = fields.Char(string="Materials Pulled Up To", copy=False)
    sap_bom_watermark = fields.Char(string="BoMs Pulled Up To", copy=False)
    sap_pull_interval_minutes = fields.Integer(
        string="Pull Every (minutes)",
        default=5,
        tracking=True,
        help="How often the system's orders, materials and BoMs are pulled from SAP "
        "(only the kinds it is the system of record for). 0: never.",
    )
    sap_pull_cron_id = fields.Many2one("ir.cron", string="Pull Job", readonly=True, copy=False)
    sap_order_count = fields.Integer(compute="_compute_sap_order_count")

    def _compute_sap_order_count(self):
        groups = self.env["mrp.production"]._read_group(
            [("sap_system_id", "in", self.ids)], ["sap_system_id"], ["__count"]
        )
        counts = {system.id: count for system, count in groups}
        for system in self:
            system.sap_order_count = counts.get(system.id, 0)

    @api.model_create_multi
    def create(self, vals_list):
        systems = super().create(vals_list)
        systems._sap_sync_pull_cron()
        return systems

    def write(self, vals):
        result = super().write(vals)
        if {"sap_service_root", "sap_pull_interval_minutes", "active", "name"} & set(vals):
            self._sap_sync_pull_cron()
        return result

    def unlink(self):
        crons = self.sudo().sap_pull_cron_id
        result = super().unlink()
        crons.unlink()
        return result

    def _sap_sync_pull_cron(self):
        """One pull job per SAP system, following its interval (inactive at 0)."""
        Cron = self.env["ir.cron"].sudo()
        for system in self.sudo():
            wanted = bool(system.sap_service_root and system.active)
            interval = system.sap_pull_interval_minutes
            values = {
                "name": _("SAP: pull orders, materials and BoMs from %(name)s", name=system.name),
                "active": wanted and interval > 0,
                "interval_number": max(1, interval),
                "interval_type": "minutes",
            }
            if system.sap_pull_cron_id:
                system.sap_pull_cron_id.write(values)
            elif wanted:
                system.sap_pull_cron_id = Cron.create(
                    dict(
                        values,
                        model_id=self.env["ir.model"]._get_id("mfg.integration.system"),
                        state="code",
                        code=f"model.browse({system.id})._cron_sap_pull()",
                    )
                )

    def _delivery_settings(self):
        self.ensure_one()
        if self.outbound_adapter != "sap_odata":
            return super()._delivery_settings()
        return self._sap_settings()

    def _sap_settings(self):
        """The system's SAP connection settings (secrets included: never log them)."""
        self.ensure_one()
        system = self.sudo()
        if not system.sap_service_root:
            raise UserError(
                _("%(name)s has no SAP service root URL: set it first.", name=system.name)
            )
        verify = bool(system.outbound_verify_tls)
        if verify and system.outbound_ca_bundle:
            verify = system.outbound_ca_bundle
        return SapSettings(
            system_code=system.code,
            url=system.sap_service_root,
            connect_timeout=system.outbound_connect_timeout,
            read_timeout=system.outbound_read_timeout,
            verify=verify,
            parallel=system.outbound_parallel,
            sap_client=system.sap_client or "",
            auth_method=system.sap_auth_method or "basic",
            username=system.sap_username or "",
            password=system._sap_password(),
            token_url=system.sap_oauth_token_url or "",
            client_id=system.sap_oauth_client_id or "",
            client_secret=system.sap_oauth_client_secret or "",
            batch_enabled=system.sap_batch_enabled,
        )

    def _sap_password(self):
        if self.sap_password or not self.sap_password_file:
            return self.sap_password or ""
        path = Path(os.path.expanduser(self.sap_password_file))
        if not path.is_absolute():
            path = CHECKOUT_ROOT / path
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as error:
            raise UserError(
                _(
                    "The SAP password file of %(name)s cannot be read (%(error)s): check the "
                    "path on the Odoo server or enter the password.",
                    name=self.name,
                    error=error.strerror or type(error).__name__,
                )
            ) from None

    def _cron_sap_pull(self):
        for system in self.filtered("active"):
            try:
                counts = pull.pull_owned_kinds(system)
            except ODataError as error:
                # SAP down or refusing: the next run pulls from the same watermark
                _logger.warning(
                    "SAP pull from %s failed, retried at the next run: %s",
                    system.code, sap_messages.plain_sap_error(error),
                )  # fmt: skip
                continue
            _logger.info("SAP pull from %s: %s new events", system.code, counts)

    def action_sap_pull_now(self):
        self.ensure_one()
        try:
            counts = pull.pull_owned_kinds(self, owned_only=False)
        except ODataError as error:
            raise UserError(
                _(
                    "The pull from %(name)s failed: %(error)s",
                    name=self.name,
                    error=sap_messages.plain_sap_error(error),
                )
            ) from None
        return _notification(
            _("Pulled from SAP"),
            ", ".join(f"{kind}: {count}" for kind, count in counts.items()) or _("nothing"),
            "success",
        )

    def action_sap_test_connection(self):
        self.ensure_one()
        wizard = self.env["mfg.integration.sap.connection.test"].create({"system_id": self.id})
        wizard._run()
        return {
            "type": "ir.actions.act_window",
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
            "name": _("SAP Connection Test"),
        }

    def action_view_sap_orders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("mrp.mrp_production_action")
        action["domain"] = [("sap_system_id", "=", self.id)]
        action["context"] = {}
        return action


def _notification(title, message, kind):
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {"title": title, "message": message, "type": kind, "sticky": False},
    }
