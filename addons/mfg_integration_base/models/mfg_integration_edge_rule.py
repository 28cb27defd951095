import hashlib
import json
from pathlib import Path

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..services import schema_validation

RULE_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "edge_rule.schema.json"


class MfgIntegrationEdgeRule(models.Model):
    """A rule an edge agent pulls from Odoo: which source message becomes which event.

    Served as-is by GET /mfg/v1/edge/config in the agent's own rule format, validated
    on save against the agent's rule schema, so a bad rule never reaches a gateway.
    """

    _name = "mfg.integration.edge.rule"
    _description = "Edge Agent Rule"
    _inherit = ["mail.thread"]
    _order = "system_id, sequence, id"

    system_id = fields.Many2one(
        "mfg.integration.system", required=True, ondelete="cascade", index=True, tracking=True
    )
    company_id = fields.Many2one(related="system_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    name = fields.Char(required=True, tracking=True, help="Technical name, e.g. m1-status.")
    source = fields.Selection(
        [("mqtt", "MQTT topic"), ("opcua", "OPC-UA node"), ("csv", "CSV drop folder")],
        required=True,
        default="mqtt",
        tracking=True,
    )
    contract_id = fields.Many2one(
        "mfg.integration.contract",
        required=True,
        domain=[("direction", "=", "inbound")],
        tracking=True,
    )
    event_class = fields.Selection(
        [("transactional", "Transactional (never dropped)"), ("telemetry", "Telemetry")],
        default="transactional",
        required=True,
        help="When the gateway's buffer is full, telemetry may be shed; transactional never.",
    )
    topic = fields.Char(help="MQTT topic filter, with + and # wildcards.", tracking=True)
    node = fields.Char(string="OPC-UA Node", help="e.g. ns=2;s=Line1.M1.State", tracking=True)
    machine = fields.Char(help="OPC-UA: machine label, available as {machine}.")
    folder = fields.Char(string="CSV Folder", tracking=True)
    columns = fields.Char(string="CSV Columns", help="Comma-separated column names.")
    subject = fields.Char(required=True, help="Template, e.g. {payload.work_order}.")
    correlation = fields.Char(string="Correlation Template")
    time_selector = fields.Char(string="Time From", help="e.g. payload.ts or source_time")
    message_id_selector = fields.Char(string="Message ID From", help="e.g. payload.msg_id")
    data_fields = fields.Text(
        string="Data Fields (JSON)",
        required=True,
        default="{}",
        help='Data field -> selector, e.g. {"qty": {"selector": "payload.qty", "as": "number"}}',
    )
    options = fields.Text(
        string="Other Options (JSON)",
        help='e.g. {"value_map": {"0": "stopped"}, "deadband": 0.5, "publishing_interval_ms": 500}',
    )

    @api.constrains(
        "name", "source", "contract_id", "subject", "data_fields", "options", "topic", "node",
        "folder", "columns", "time_selector", "message_id_selector", "correlation",
    )  # fmt: skip
    def _check_rule(self):
        validator = self._rule_validator()
        for rule in self:
            errors = schema_validation.validation_errors(
                validator, rule._rule_object(), pointer_prefix=""
            )
            if errors:
                pointer, sentence = errors[0]
                raise ValidationError(
                    _(
                        "Rule %(name)s: %(where)s %(error)s",
                        name=rule.name,
                        where=pointer,
                        error=sentence,
                    )
                )

    @api.model
    def _rule_validator(self):
        text = RULE_SCHEMA_PATH.read_text()
        return schema_validation.compiled_validator(("edge_rule_schema",), text)

    def _rule_object(self):
        """This rule in the agent's format (the YAML `rules:` item)."""
        self.ensure_one()
        rule = {
            "name": self.name,
            "source": self.source,
            "type": self.contract_id.code,
            "version": self.contract_id.version,
            "class": self.event_class,
            "subject": self.subject,
            "data": _json_object(self.data_fields, _("Data Fields")),
        }
        optional = {
            "correlationid": self.correlation,
            "time": self.time_selector,
            "message_id": self.message_id_selector,
            "topic": self.topic,
            "node": self.node,
            "machine": self.machine,
            "folder": self.folder,
        }
        rule.update({key: value for key, value in optional.items() if value})
        if self.columns:
            rule["columns"] = [name.strip() for name in self.columns.split(",") if name.strip()]
        if self.options:
            rule.update(_json_object(self.options, _("Other Options")))
        return rule

    @api.model
    def _config_document(self, system):
        """The answer to GET /mfg/v1/edge/config, with an etag over the rules."""
        rules = [rule._rule_object() for rule in self.search([("system_id", "=", system.id)])]
        body = json.dumps(rules, sort_keys=True, separators=(",", ":"))
        etag = hashlib.sha256(body.encode()).hexdigest()[:32]
        return {"system": system.code, "etag": etag, "rules": rules}


def _json_object(text, label):
    try:
        value = json.loads(text or "{}")
    except ValueError as error:
        raise ValidationError(
            _("%(label)s is not valid JSON: %(e)s", label=label, e=error)
        ) from None
    if not isinstance(value, dict):
        raise ValidationError(_("%(label)s must be a JSON object.", label=label))
    return value
