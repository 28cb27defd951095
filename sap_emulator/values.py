"""OData V2 JSON values as SAP Gateway writes them: ``/Date(ms)/``, decimal strings, 14-character
``yyyymmddhhmmss`` stamps; and the typed form the emulator compares them in."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WIRE_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{1,4})?\)/$")


class BadValue(ValueError):
    """A value in a request that does not fit its property's type."""


def milliseconds(moment):
    return (moment - EPOCH) // timedelta(milliseconds=1)


def wire_date(day):
    """Edm.DateTime of a calendar day: midnight UTC, as SAP sends dates."""
    if isinstance(day, datetime):
        day = day.date()
    return f"/Date({milliseconds(datetime(day.year, day.month, day.day, tzinfo=UTC))})/"


def wire_stamp(moment):
    """Edm.DateTimeOffset: ``/Date(ms+0000)/``."""
    return f"/Date({milliseconds(moment)}+0000)/"


def sap_timestamp(moment):
    """The 14-character ``yyyymmddhhmmss`` (UTC) string of LastChangeDateTime in orders."""
    return f"{moment.astimezone(UTC):%Y%m%d%H%M%S}"


def wire_decimal(value, scale=3):
    return f"{Decimal(value):.{scale}f}"


def wire_time(hours, minutes=0, seconds=0):
    return f"PT{hours:02d}H{minutes:02d}M{seconds:02d}S"


def date_of_wire(value):
    """The UTC date of an Edm.DateTime value."""
    return (EPOCH + timedelta(milliseconds=typed("Edm.DateTime", value))).date()


def typed(edm, value):
    """The comparable form of a wire value: Decimal, int milliseconds, bool or str."""
    if value is None:
        return None
    if edm == "Edm.Decimal":
        try:
            return Decimal(str(value))
        except InvalidOperation as error:
            raise BadValue(f"{value!r} is not a decimal") from error
    if edm in ("Edm.DateTime", "Edm.DateTimeOffset"):
        if isinstance(value, int):
            return value
        match = WIRE_DATE.match(str(value))
        if not match:
            raise BadValue(f"{value!r} is not an OData V2 date (/Date(ms)/)")
        return int(match.group(1))
    if edm == "Edm.Boolean":
        if not isinstance(value, bool):
            raise BadValue(f"{value!r} is not a boolean")
        return value
    if edm in ("Edm.Int32", "Edm.Int16", "Edm.Byte", "Edm.Int64"):
        try:
            return int(value)
        except (TypeError, ValueError) as error:
            raise BadValue(f"{value!r} is not an integer") from error
    if not isinstance(value, str):
        raise BadValue(f"{value!r} is not a string")
    return value


def to_wire(prop, value):
    """A request's value checked against ``prop`` and written as SAP would store it."""
    if value is None:
        return None
    if prop.edm == "Edm.Decimal":
        if isinstance(value, float):
            raise BadValue(f"{prop.name}: a decimal is sent as a string in OData V2 JSON")
        number = typed(prop.edm, value)
        return wire_decimal(number, prop.scale or 0)
    if prop.edm == "Edm.DateTime":
        moment = EPOCH + timedelta(milliseconds=typed(prop.edm, value))
        return (
            wire_date(moment.date()) if prop.precision == 0 else f"/Date({milliseconds(moment)})/"
        )
    if prop.edm == "Edm.DateTimeOffset":
        return wire_stamp(EPOCH + timedelta(milliseconds=typed(prop.edm, value)))
    result = typed(prop.edm, value)
    if prop.edm == "Edm.String" and prop.max_length and len(result) > prop.max_length:
        raise BadValue(f"{prop.name}: {result!r} is longer than {prop.max_length} characters")
    return result


def literal_value(literal):
    """The typed value of an OData URI literal (``'x'``, ``datetime'…'``, ``12.5``, ``true``)."""
    token = literal.strip()
    if token in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[token]
    for prefix in ("datetimeoffset", "datetime"):
        if token.startswith(prefix + "'") and token.endswith("'"):
            return _datetime_literal(token[len(prefix) + 1 : -1])
    if token.startswith("guid'") and token.endswith("'"):
        return token[5:-1]
    if token.startswith("'") and token.endswith("'"):
        return token[1:-1].replace("''", "'")
    number = token.rstrip("mMdDfFlL")
    try:
        return Decimal(number)
    except InvalidOperation as error:
        raise BadValue(f"{token!r} is not an OData literal") from error


def _datetime_literal(text):
    normalized = text.replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(normalized)
    except ValueError as error:
        raise BadValue(f"{text!r} is not an ISO date and time") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return milliseconds(moment)


def coerce_literal(edm, value):
    """A literal compared with a property of type ``edm``."""
    if value is None:
        return None
    if edm == "Edm.String":
        return value if isinstance(value, str) else str(value)
    if edm == "Edm.Decimal" and isinstance(value, str):
        return typed(edm, value)
    if edm in ("Edm.DateTime", "Edm.DateTimeOffset") and not isinstance(value, int):
        raise BadValue(f"a date needs a datetime'…' literal, not {value!r}")
    return value


def today(clock):
    moment = clock()
    return date(moment.year, moment.month, moment.day)
