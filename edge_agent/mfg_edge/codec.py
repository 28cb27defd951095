"""The JSON codec and the timestamps of every stage: compact JSON, RFC 3339 and UTC days."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from .errors import RuleError

try:  # optional speed-up (the package's `fast` extra; some gateway CPUs have no orjson wheel)
    import orjson
except ImportError:  # tests/test_unit_packaging.py runs the codec this way
    orjson = None

# One encoder for every envelope: json.dumps(..., separators=...) builds a new one per call.
_stdlib_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps_compact(value: Any) -> str:
    """Compact JSON text, non-ASCII kept: orjson when installed (about 10x faster on an
    envelope), else the standard library. Either output is valid JSON for the same value; what
    orjson refuses (integers beyond 64 bits, non-string keys) goes to the standard library."""
    if orjson is not None:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return _stdlib_encode(value)


def loads(data: bytes | str) -> Any:
    """json.loads, through orjson when it can: anything orjson refuses (NaN, a UTF-16 payload,
    invalid JSON) goes to the standard library, which accepts or explains it as before."""
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def parse_timestamp(value: Any) -> float:
    """Epoch seconds (int/float, or milliseconds when > 1e11) or an RFC 3339 string."""
    if isinstance(value, bool):
        raise RuleError("bad_time", f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        return value / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise RuleError("bad_time", f"{value!r} is not an RFC 3339 timestamp") from None
        if parsed.tzinfo is None:
            raise RuleError("bad_time", f"{value!r} has no time zone offset")
        return parsed.timestamp()
    raise RuleError("bad_time", f"{value!r} is not a timestamp")


# Whole second -> "YYYY-MM-DDTHH:MM:SS": an envelope formats its source time and its receive
# time, and consecutive events mostly share both seconds. Bounded; cleared when it fills.
_SECONDS_TEXT: dict[int, str] = {}


def format_timestamp(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds, the form the envelope's `time` uses."""
    milliseconds = round(epoch * 1000)
    seconds, millis = divmod(milliseconds, 1000)
    text = _SECONDS_TEXT.get(seconds)
    if text is None:
        if len(_SECONDS_TEXT) >= 256:
            _SECONDS_TEXT.clear()
        text = _SECONDS_TEXT[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{millis:03d}Z"


_DAYS: dict[int, str] = {}  # day number since the epoch -> "YYYY-MM-DD" (a few per run)


def utc_day(epoch: float) -> str:
    number = int(epoch // 86400)
    text = _DAYS.get(number)
    if text is None:
        if len(_DAYS) > 1000:
            _DAYS.clear()
        text = _DAYS[number] = datetime.fromtimestamp(number * 86400, tz=UTC).strftime("%Y-%m-%d")
    return text
