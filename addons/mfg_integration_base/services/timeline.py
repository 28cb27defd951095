"""An event's timeline as HTML for its form: the steps from the source to Odoo, with gaps."""

from markupsafe import Markup

from .humanize import duration


def timeline_html(steps, format_moment, latency_label=None, latency=None):
    """``steps``: (label, moment or None, note) in order; steps without a moment are
    left out. ``format_moment`` renders a moment for the reader; the latency line is
    shown when ``latency_label`` and ``latency`` (seconds) are given."""
    rows = Markup()
    previous = None
    for label, moment, note in steps:
        if not moment:
            continue
        delta = (
            Markup(' <span class="text-muted">+%s</span>')
            % duration((moment - previous).total_seconds())
            if previous
            else Markup()
        )
        rows += Markup(
            '<li class="list-group-item d-flex justify-content-between py-1">'
            "<span><b>%s</b>%s%s</span><span>%s</span></li>"
        ) % (
            label,
            delta,
            Markup(' <span class="badge text-bg-light">%s</span>') % note if note else Markup(),
            format_moment(moment),
        )
        previous = moment
    summary = (
        Markup('<p class="mb-1">%s <b>%s</b></p>') % (latency_label, duration(latency))
        if latency_label and latency
        else Markup()
    )
    return summary + Markup('<ul class="list-group list-group-flush">%s</ul>') % rows
