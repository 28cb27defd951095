"""JSON Schema (Draft 2020-12) checks for contract schemas and event payloads.

Validators are compiled once per (database, contract id, schema digest) and kept in a
process-wide cache: a changed schema has a new digest, so it is never validated with a
stale validator, and :func:`forget` drops the entries of a contract on write or unlink.
"""

import hashlib
import json
import threading

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, best_match

MAX_ERRORS_REPORTED = 5

_cache = {}
_cache_lock = threading.Lock()
_format_checker = FormatChecker()


class SchemaDefinitionError(ValueError):
    """The contract's schema is not itself a valid Draft 2020-12 schema."""


def digest(text):
    return hashlib.sha256((text or "").encode()).hexdigest()


def parse_schema(text):
    """The schema as a dict; raises SchemaDefinitionError with a readable sentence."""
    try:
        schema = json.loads(text)
    except (TypeError, ValueError) as error:
        raise SchemaDefinitionError(f"The schema is not valid JSON: {error}") from error
    check_schema(schema)
    return schema


def check_schema(schema):
    if not isinstance(schema, dict):
        raise SchemaDefinitionError("The schema must be a JSON object.")
    declared = schema.get("$schema")
    if declared and "2020-12" not in declared:
        raise SchemaDefinitionError(
            f"The schema declares {declared}; contracts use JSON Schema Draft 2020-12 "
            "(https://json-schema.org/draft/2020-12/schema)."
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = "/" + "/".join(str(part) for part in error.absolute_path)
        raise SchemaDefinitionError(
            f"The schema is not a valid Draft 2020-12 schema at {where}: {error.message}"
        ) from error


# Keywords whose meaning is the same in Draft-07 and Draft 2020-12. A schema built only
# from these can also be compiled to Python code by fastjsonschema (Draft-07), which is
# ~17x faster than jsonschema's interpreter on the hot path. $ref (sibling rules
# differ), format (checkers differ between the two libraries) and 2020-12-only keywords
# keep a schema on the reference validator alone.
SUBSCHEMA_KEYWORDS = {"items", "additionalProperties", "not", "propertyNames"}
SUBSCHEMA_LIST_KEYWORDS = {"anyOf", "allOf", "oneOf"}
PLAIN_KEYWORDS = {
    "$schema", "$id", "$comment", "title", "description", "examples", "default",
    "type", "required", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "minItems",
    "maxItems", "uniqueItems", "minProperties", "maxProperties", "properties",
}  # fmt: skip


def _fast_path_safe(schema):
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    for keyword, value in schema.items():
        if keyword == "properties":
            if not all(_fast_path_safe(sub) for sub in value.values()):
                return False
        elif keyword in SUBSCHEMA_KEYWORDS:
            if not _fast_path_safe(value):
                return False
        elif keyword in SUBSCHEMA_LIST_KEYWORDS:
            if not all(_fast_path_safe(sub) for sub in value):
                return False
        elif keyword not in PLAIN_KEYWORDS or (
            keyword in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool)
        ):
            return False
    return True


class ContractValidator:
    """Draft 2020-12 validation with a compiled fast path for the common subset.

    jsonschema stays the reference: the fast path may only say "valid"; every
    rejection, and its message, comes from jsonschema.
    """

    def __init__(self, schema):
        self.reference = Draft202012Validator(schema, format_checker=_format_checker)
        self.fast = None
        if _fast_path_safe(schema):
            draft07 = dict(schema, **{"$schema": "http://json-schema.org/draft-07/schema#"})
            # use_default=False: validation must never write defaults into the data
            self.fast = fastjsonschema.compile(draft07, use_default=False, use_formats=False)

    def is_valid(self, instance):
        if self.fast is not None:
            try:
                self.fast(instance)
                return True
            except fastjsonschema.JsonSchemaException:
                pass
        return self.reference.is_valid(instance)

    def iter_errors(self, instance):
        return self.reference.iter_errors(instance)


def compiled_validator(cache_key, schema_text):
    """A compiled validator for ``schema_text``, cached under ``cache_key`` + its digest."""
    key = (cache_key, digest(schema_text))
    validator = _cache.get(key)
    if validator is None:
        validator = ContractValidator(parse_schema(schema_text))
        with _cache_lock:
            _cache[key] = validator
    return validator


def forget(cache_key_prefix):
    """Drop cached validators whose cache key starts with ``cache_key_prefix`` (a tuple)."""
    size = len(cache_key_prefix)
    with _cache_lock:
        for key in [k for k in _cache if k[0][:size] == cache_key_prefix]:
            del _cache[key]


def cache_size():
    return len(_cache)


def json_pointer(path):
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def validation_errors(validator, instance, pointer_prefix="/data"):
    """[] when valid; else up to a few (pointer, sentence) pairs, the most relevant first."""
    if validator.is_valid(instance):
        return []
    errors = list(validator.iter_errors(instance))
    first = best_match(errors)
    ordered = [first] + [error for error in errors if error is not first]
    return [
        (pointer_prefix + json_pointer(error.absolute_path), _sentence(error))
        for error in ordered[:MAX_ERRORS_REPORTED]
    ]


def _sentence(error):
    field = error.absolute_path[-1] if error.absolute_path else None
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if field is not None:
        return f"Field '{field}': {error.message}"
    return error.message
