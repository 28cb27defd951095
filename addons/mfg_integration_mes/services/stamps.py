"""Times in event data: RFC 3339 strings to the naive UTC datetimes Odoo stores."""

from odoo.addons.mfg_integration_base.services.envelope import parse_time


def instant(text, fallback):
    """``text`` (RFC 3339, with an offset) as naive UTC, or ``fallback`` when it is absent.

    :raises ValueError: with a sentence naming the value when it is not a timestamp
    """
    if not text:
        return fallback
    try:
        return parse_time(text)
    except ValueError as error:
        raise ValueError(f"'{text}' is not a date and time with a time zone ({error})") from None
