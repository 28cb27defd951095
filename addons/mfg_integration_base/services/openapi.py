"""The OpenAPI 3.1 description of the REST API, with the contract schemas, inbound and outbound.

Every route of ``controllers/`` is a path here with an ``operationId``; every outbound
contract is a ``webhooks`` entry (what Odoo posts to a receiver). The document says what the
server answers, status by status: tests/odoo_server/test_openapi_schemathesis.py holds the
running server to it.
"""

from dataclasses import dataclass

from .envelope import REQUIRED, STRING_ATTRIBUTES, TYPE_PATTERN

STRUCTURED = "application/cloudevents+json"
BATCHED = "application/cloudevents-batch+json"
# A required attribute must hold something other than white space (the server strips it).
NOT_BLANK = r"\S"


@dataclass(frozen=True)
class ContractDoc:
    """What the document shows of a contract version (no ORM record in here)."""

    code: str
    version: str
    name: str
    dataschema: str
    schema: dict
    batch_delivery: bool = False

    @property
    def component(self):
        return f"{self.code}_{self.version}".replace(".", "_")


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return _json(_ref("Error"), description)


def _nullable(type_name):
    return {"type": [type_name, "null"]}


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

RESULT_PROPERTIES = {
    "index": {"type": "integer", "minimum": 0, "description": "The event's place in the body."},
    "id": {
        **_nullable("string"),
        "description": "The event's id as sent; null when it sent no string id.",
    },
    "status": {"enum": ["accepted", "duplicate", "rejected"]},
    "sequence": {
        **_nullable("string"),
        "description": "With a duplicate: the sequence of the copy Odoo already holds."
        " A sender that gets its own sequence back knows its earlier attempt was"
        " applied; another sequence means the event was delivered before (a replay).",
    },
    "error": {
        "type": "object",
        "description": "With a rejected event: why, and where in the event.",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "pointer": _nullable("string"),
            "message": {"type": "string"},
        },
    },
}

EVENT_RESULT_SCHEMA = {
    "type": "object",
    "required": ["index", "id", "status"],
    "properties": RESULT_PROPERTIES,
}

EVENTS_ANSWER_SCHEMA = {
    "type": "object",
    "description": "Counts and one result per event; for a single event (not a batch) its "
    "result is also merged into the body.",
    "required": ["accepted", "duplicate", "rejected", "results"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0},
        "duplicate": {"type": "integer", "minimum": 0},
        "rejected": {"type": "integer", "minimum": 0},
        "results": {"type": "array", "minItems": 1, "items": _ref("EventResult")},
        **RESULT_PROPERTIES,
    },
}

EVENT_STATE_SCHEMA = {
    "type": "object",
    "required": ["id", "state", "attempts"],
    "properties": {
        "id": {"type": "string"},
        "source": _nullable("string"),
        "type": _nullable("string"),
        "subject": _nullable("string"),
        "state": {"type": "string"},
        "attempts": {"type": "integer", "minimum": 0},
        "received_at": {**_nullable("string"), "format": "date-time"},
        "processed_at": {**_nullable("string"), "format": "date-time"},
        "error": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "pointer": _nullable("string"),
                        "message": {"type": "string"},
                    },
                },
            ]
        },
        "exception": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["message", "state"],
                    "properties": {
                        "reason_code": _nullable("string"),
                        "message": {"type": "string"},
                        "state": {"type": "string"},
                    },
                },
            ]
        },
    },
}

CONTRACT_PROPERTIES = {
    "type": {"type": "string"},
    "version": {"type": "string"},
    "name": {"type": "string"},
    "direction": {"enum": ["inbound", "outbound"]},
    "state": {"enum": ["active", "deprecated"]},
    "dataschema": {"type": "string"},
}

CONTRACT_LIST_SCHEMA = {
    "type": "object",
    "required": ["contracts"],
    "properties": {
        "contracts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [*CONTRACT_PROPERTIES, "allowed"],
                "properties": {
                    **CONTRACT_PROPERTIES,
                    "sunset_date": {**_nullable("string"), "format": "date"},
                    "allowed": {
                        "type": "boolean",
                        "description": "Whether the calling system may post it.",
                    },
                },
            },
        }
    },
}

CONTRACT_SCHEMA = {
    "type": "object",
    "required": [*CONTRACT_PROPERTIES, "schema"],
    "properties": {
        **CONTRACT_PROPERTIES,
        "description": {"type": "string"},
        "isa95_object": _nullable("string"),
        "schema": {"type": "object", "description": "The data's JSON Schema (Draft 2020-12)."},
        "example": {"oneOf": [{"type": "null"}, {"type": "object"}]},
    },
}

EDGE_CONFIG_SCHEMA = {
    "type": "object",
    "required": ["system", "etag", "rules"],
    "properties": {
        "system": {"type": "string"},
        "etag": {"type": "string"},
        "rules": {
            "type": "array",
            "description": "The edge agent's rules, in the format of its YAML `rules:` items.",
            "items": {
                "type": "object",
                "required": ["name", "source", "type", "version"],
                "properties": {
                    "name": {"type": "string"},
                    "source": {"type": "string"},
                    "type": {"type": "string"},
                    "version": {"type": "string"},
                },
            },
        },
    },
}

HEALTH_SCHEMA = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"enum": ["up", "down"]}},
}


def _envelope_schema():
    properties = {
        name: {"type": "string", "maxLength": limit} for name, limit in STRING_ATTRIBUTES.items()
    }
    for name in REQUIRED:
        if name in properties:
            properties[name] = dict(properties[name], minLength=1, pattern=NOT_BLANK)
    properties["specversion"] = {"const": "1.0"}
    properties["type"] = dict(properties["type"], pattern=TYPE_PATTERN.pattern)
    properties["time"] = {"type": "string", "format": "date-time"}
    properties["data"] = {"type": "object"}
    return {
        "type": "object",
        "description": "A CloudEvents 1.0 event in the JSON format (structured mode).",
        "required": list(REQUIRED),
        "properties": properties,
    }


def _variant(base, contract):
    return {
        "allOf": [_ref(base)],
        "properties": {
            "type": {"const": contract.code},
            "dataschema": {"const": contract.dataschema},
            "data": _ref(contract.component),
        },
    }


def _data_schema(contract):
    schema = {key: value for key, value in contract.schema.items() if key not in ("$schema", "$id")}
    return dict(schema, description=f"{contract.name} ({contract.dataschema})")


def _post_events(event):
    events_answer = _ref("EventsAnswer")
    batch = {"type": "array", "minItems": 1, "items": event}
    wrapped = {
        "type": "object",
        "required": ["events"],
        "properties": {"events": batch},
    }
    return {
        "operationId": "postEvents",
        "summary": "Post one event or a batch of events",
        "description": "Three media types, the same answers: `application/json` (one event, or "
        '`{"events": [...]}`), and the CloudEvents HTTP binding\'s structured mode '
        "(`application/cloudevents+json`, one event) and batched mode "
        "(`application/cloudevents-batch+json`, a JSON array). A `charset` parameter may be "
        "added; it must be UTF-8. The binary mode (`ce-*` headers) is refused with 415.",
        "security": [{"apiKey": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"oneOf": [event, wrapped]}},
                STRUCTURED: {"schema": event},
                BATCHED: {"schema": batch},
            },
        },
        "responses": {
            "200": _json(events_answer, "Every event was a duplicate"),
            "202": _json(events_answer, "Accepted (and duplicates, if any)"),
            "207": _json(events_answer, "Some events were rejected; see results"),
            "400": _error("Malformed JSON, batch or body"),
            "401": _error("Missing, unknown, expired or replaced API key, or invalid signature"),
            "403": _json(
                {"anyOf": [events_answer, _ref("Error")]},
                "A single event of a contract the system may not send (its result), or a key "
                "that is not an integration system's, or an archived system",
            ),
            "413": _error("Body or batch larger than the system's caps"),
            "415": _error("Another media type, another charset or the binary mode"),
            "422": _json(events_answer, "Every event was rejected; see results"),
            "429": {
                **_error("Rate limit reached"),
                "headers": {
                    "Retry-After": {
                        "description": "Seconds to wait",
                        "schema": {"type": "integer", "minimum": 1},
                    }
                },
            },
            "503": _error("No database selected for this host"),
        },
    }


def _authenticated(operation_id, summary, ok, parameters=(), responses=None):
    """A GET with the system's API key: 401 without a valid key, 403 with another's."""
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "security": [{"apiKey": []}],
            "parameters": list(parameters),
            "responses": {
                "200": ok,
                **(responses or {}),
                "401": _error("Missing, unknown, expired, replaced or revoked API key"),
                "403": _error("Not an integration system's key, or the system is archived"),
                "503": _error("No database selected for this host"),
            },
        }
    }


def _path_parameter(name, description):
    # An id with a slash cannot be addressed in one path segment.
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
    }


def _webhook(contract):
    event = _ref(f"Outbound_{contract.component}")
    content = {STRUCTURED: {"schema": event}}
    if contract.batch_delivery:
        content[BATCHED] = {"schema": {"type": "array", "minItems": 1, "items": event}}
    signature_headers = [
        ("webhook-id", "The event's id (a batch: derived from the ids it holds); dedup on it."),
        ("webhook-timestamp", "Unix seconds when the request was signed."),
        ("webhook-signature", "Standard Webhooks signature(s): `v1,<base64 HMAC-SHA256>`."),
    ]
    return {
        "post": {
            "operationId": f"deliver_{contract.component}",
            "summary": f"{contract.name} ({contract.code} {contract.version})",
            "description": "Odoo posts this to a system's webhook endpoint, signed the Standard "
            "Webhooks way with the system's signing secret, in order per subject."
            + (" Several events may travel as one batch." if contract.batch_delivery else ""),
            "parameters": [
                {
                    "name": name,
                    "in": "header",
                    "required": True,
                    "description": description,
                    "schema": {"type": "string"},
                }
                for name, description in signature_headers
            ],
            "requestBody": {"required": True, "content": content},
            "responses": {
                "2XX": {"description": "Delivered: the event is done."},
                "408": {"description": "Retried later (technical)."},
                "409": {"description": "Retried later (technical)."},
                "425": {"description": "Retried later (technical)."},
                "429": {"description": "Retried later, after Retry-After when given."},
                "5XX": {"description": "Retried later, after Retry-After when given."},
                "default": {
                    "description": "Any other answer (another 4xx, a redirect): the event "
                    "fails with a business exception a person resolves; later events of its "
                    "subject wait."
                },
            },
        }
    }


def build_openapi(inbound, outbound, server_url):
    """The document; ``inbound`` and ``outbound`` are :class:`ContractDoc` sequences."""
    schemas = {}
    for contract in [*inbound, *outbound]:
        schemas[contract.component] = _data_schema(contract)
    envelope = _envelope_schema()
    inbound_variants = [_variant("Envelope", contract) for contract in inbound]
    for contract in outbound:
        schemas[f"Outbound_{contract.component}"] = _variant("Envelope", contract)
    schemas.update(
        Envelope=envelope,
        Event={"oneOf": inbound_variants} if inbound_variants else _ref("Envelope"),
        EventResult=EVENT_RESULT_SCHEMA,
        EventsAnswer=EVENTS_ANSWER_SCHEMA,
        EventState=EVENT_STATE_SCHEMA,
        ContractList=CONTRACT_LIST_SCHEMA,
        Contract=CONTRACT_SCHEMA,
        EdgeConfig=EDGE_CONFIG_SCHEMA,
        Health=HEALTH_SCHEMA,
        Error=ERROR_SCHEMA,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Manufacturing Integration API",
            "version": "1.1.0",
            "description": "Post CloudEvents to Odoo; each event's data is validated against "
            "its contract version's JSON Schema. Odoo's own events reach external systems as "
            "the signed webhooks listed under `webhooks`.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The API key of a system's technical user.",
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The metrics token (Settings > Manufacturing Integration).",
                },
            },
            "schemas": schemas,
        },
        "paths": {
            "/mfg/v1/events": {"post": _post_events(_ref("Event"))},
            "/mfg/v1/events/{id}": _authenticated(
                "getEvent",
                "State of an event sent by this system",
                _json(_ref("EventState"), "The event's state"),
                [
                    _path_parameter("id", "The event's CloudEvents id"),
                    {
                        "name": "source",
                        "in": "query",
                        "description": "The event's source, when several sources used the id",
                        "schema": {"type": "string"},
                    },
                ],
                {
                    "404": _error("No event with this id from this system"),
                    "409": _error("Several sources used this id (code `ambiguous`); add ?source="),
                },
            ),
            "/mfg/v1/contracts": _authenticated(
                "listContracts",
                "Active and deprecated contract versions",
                _json(_ref("ContractList"), "The contracts"),
            ),
            "/mfg/v1/contracts/{type}/{version}": _authenticated(
                "getContract",
                "A contract version's schema and example",
                _json(_ref("Contract"), "The contract"),
                [
                    _path_parameter("type", "The contract's type, e.g. mes.order.released"),
                    _path_parameter("version", "The contract's version, e.g. 1.0"),
                ],
                {"404": _error("No such active or deprecated contract version")},
            ),
            "/mfg/v1/openapi.json": _authenticated(
                "getOpenApi",
                "This document",
                _json({"type": "object"}, "The OpenAPI 3.1 document"),
            ),
            "/mfg/v1/edge/config": _authenticated(
                "getEdgeConfig",
                "An edge gateway's rules, kept in Odoo",
                {
                    **_json(_ref("EdgeConfig"), "The rules"),
                    "headers": {"ETag": {"schema": {"type": "string"}}},
                },
                [
                    {
                        "name": "If-None-Match",
                        "in": "header",
                        "description": "The ETag of the rules the agent holds",
                        "schema": {"type": "string"},
                    }
                ],
                {"304": {"description": "The rules did not change"}},
            ),
            "/mfg/v1/metrics": {
                "get": {
                    "operationId": "getMetrics",
                    "summary": "Prometheus text exposition of the integration's figures",
                    "security": [{"metricsToken": []}],
                    "responses": {
                        "200": {
                            "description": "The metrics (text format 0.0.4)",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _error("Missing or wrong metrics token"),
                        "503": _error("No database selected for this host"),
                    },
                }
            },
            "/mfg/v1/health": {
                "get": {
                    "operationId": "getHealth",
                    "summary": "Up or down (no authentication, no data)",
                    "security": [],
                    "responses": {
                        "200": _json(_ref("Health"), "Up"),
                        "503": _json(_ref("Health"), "Down"),
                    },
                }
            },
        },
        "webhooks": {
            f"{contract.code} {contract.version}": _webhook(contract) for contract in outbound
        },
    }
