"""SAP OData V2 JSON values: ``/Date(...)/`` dates, decimal strings, entities, delta filters."""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

# /Date(<ms since 1970>[±<offset minutes>])/, as SAP Gateway writes Edm.DateTime(Offset)
SAP_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{1,4})?\)/$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Entity:
    """One entity: its converted values, ETag, URI and type from ``__metadata``."""

    values: dict
    etag: str | None = None
    uri: str | None = None
    type: str | None = None
    deferred: tuple = field(default_factory=tuple)

    def __getitem__(self, name):
        return self.values[name]

    def get(self, name, default=None):
        return self.values.get(name, default)


def parse_sap_date(value):
    """An aware datetime from ``/Date(1700000000000)/`` (UTC) or ``/Date(1700000000000+0060)/``.

    With an offset the milliseconds count the wall clock of that offset, as datajs, SAPUI5 and
    pyodata's Edm.DateTimeOffset read them: ``/Date(0+0060)/`` is 1970-01-01 00:00 at +01:00.
    """
    match = SAP_DATE.match(value)
    if not match:
        raise ValueError(f"not an OData V2 date: {value!r}")
    offset = timezone(timedelta(minutes=int(match["offset"] or 0)))
    return datetime(1970, 1, 1, tzinfo=offset) + timedelta(milliseconds=int(match["ms"]))


def format_sap_date(moment):
    """``/Date(ms)/`` of an aware datetime (UTC), for request bodies."""
    if moment.tzinfo is None:
        raise ValueError("an OData date needs an aware datetime")
    milliseconds = (moment - EPOCH) // timedelta(milliseconds=1)
    return f"/Date({milliseconds})/"


def parse_decimal(value):
    """A Decimal from SAP's decimal string (``"25.000"``); never through float."""
    if isinstance(value, float):
        raise TypeError("a decimal arrived as a JSON number: SAP sends Edm.Decimal as a string")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ValueError(f"not a decimal: {value!r}") from error


def convert_value(value, name, decimal_fields):
    if name in decimal_fields and value is not None:
        return parse_decimal(value)
    if isinstance(value, str):
        if value.startswith("/Date(") and SAP_DATE.match(value):
            return parse_sap_date(value)
        return value
    if isinstance(value, dict):
        if "__deferred" in value:
            return value
        if "results" in value and isinstance(value["results"], list):
            return [parse_entity(item, decimal_fields) for item in value["results"]]
        return parse_entity(value, decimal_fields)
    return value


def parse_entity(raw, decimal_fields=()):
    """An Entity from one V2 JSON entity; expanded navigations become Entities too.

    ``decimal_fields`` names the Edm.Decimal properties (quantities) to turn into Decimal.
    """
    metadata = raw.get("__metadata") or {}
    decimal_fields = frozenset(decimal_fields)
    values, deferred = {}, []
    for name, value in raw.items():
        if name == "__metadata":
            continue
        if isinstance(value, dict) and "__deferred" in value:
            deferred.append(name)
            continue
        values[name] = convert_value(value, name, decimal_fields)
    return Entity(
        values=values,
        etag=metadata.get("etag"),
        uri=metadata.get("uri"),
        type=metadata.get("type"),
        deferred=tuple(deferred),
    )


def datetimeoffset_literal(moment):
    """``datetimeoffset'2026-11-23T08:15:02Z'``: UTC, whole seconds (truncated down, so a
    delta pull repeats rather than skips the changes of the watermark's own second)."""
    if moment.tzinfo is None:
        raise ValueError("a delta watermark needs an aware datetime")
    utc = moment.astimezone(UTC).replace(microsecond=0)
    return f"datetimeoffset'{utc:%Y-%m-%dT%H:%M:%S}Z'"


def delta_filter(since, field_name="LastChangeDateTime", *, as_timestamp_string=False):
    """``$filter`` of changes after ``since``.

    ``as_timestamp_string`` for services that expose the field as SAP's 14-character
    ``yyyymmddhhmmss`` string (``API_PRODUCTION_ORDER_2_SRV``) instead of Edm.DateTimeOffset.
    """
    if as_timestamp_string:
        if since.tzinfo is None:
            raise ValueError("a delta watermark needs an aware datetime")
        return f"{field_name} gt '{since.astimezone(UTC):%Y%m%d%H%M%S}'"
    return f"{field_name} gt {datetimeoffset_literal(since)}"


def json_default(value):
    """Request bodies: Decimal as SAP's decimal string, aware datetimes as ``/Date(ms)/``."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_sap_date(value)
    raise TypeError(f"cannot send {type(value).__name__} to SAP")


def encode_json(data):
    return json.dumps(data, separators=(",", ":"), default=json_default)


def string_literal(value):
    """An OData string literal: quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"
