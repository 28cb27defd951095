from odoo import api, models

from ..services import shadow


class Base(models.AbstractModel):
    """Reports ORM changes to the shadow recorder while a shadow run is in progress.

    Outside a shadow run (always, unless a contract runs in shadow mode) each hook costs
    one context-variable lookup.
    """

    _inherit = "base"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        recorder = shadow.recorder_for(self.env.cr, self._name)
        if recorder is not None:
            recorder.created(records)
        return records

    def write(self, vals):
        recorder = shadow.recorder_for(self.env.cr, self._name)
        if recorder is not None:
            recorder.before_write(self, vals)
        return super().write(vals)

    def unlink(self):
        recorder = shadow.recorder_for(self.env.cr, self._name)
        if recorder is not None:
            recorder.before_unlink(self)
        return super().unlink()
