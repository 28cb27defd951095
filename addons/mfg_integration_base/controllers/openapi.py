"""The OpenAPI 3.1 description of the REST API, with the active contract schemas."""

import json

from ..services.envelope import STRING_ATTRIBUTES

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


def _component_name(contract):
    return f"{contract.code}_{contract.version}".replace(".", "_")


def build_openapi(contracts, server_url):
    data_schemas = {}
    envelope_variants = []
    for contract in contracts:
        name = _component_name(contract)
        schema = json.loads(contract.schema)
        schema.pop("$schema", None)
        schema.pop("$id", None)
        data_schemas[name] = dict(schema, description=f"{contract.name} ({contract.dataschema})")
        envelope_variants.append(
            {
                "allOf": [{"$ref": "#/components/schemas/Envelope"}],
                "properties": {
                    "type": {"const": contract.code},
                    "dataschema": {"const": contract.dataschema},
                    "data": {"$ref": f"#/components/schemas/{name}"},
                },
            }
        )
    envelope = {
        "type": "object",
        "description": "A CloudEvents 1.0 structured JSON event.",
        "required": ["specversion", "id", "source", "type", "data"],
        "properties": {
            name: {"type": "string", "maxLength": limit}
            for name, limit in STRING_ATTRIBUTES.items()
        },
    }
    envelope["properties"]["specversion"] = {"const": "1.0"}
    envelope["properties"]["time"] = {"type": "string", "format": "date-time"}
    envelope["properties"]["data"] = {"type": "object"}
    result = {
        "type": "object",
        "required": ["index", "status"],
        "properties": {
            "index": {"type": "integer"},
            "id": {"type": ["string", "null"]},
            "status": {"enum": ["accepted", "duplicate", "rejected"]},
            "sequence": {
                "type": ["string", "null"],
                "description": "With a duplicate: the sequence of the copy Odoo already holds."
                " A sender that gets its own sequence back knows its earlier attempt was"
                " applied; another sequence means the event was delivered before (a replay).",
            },
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "pointer": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
            },
        },
    }
    batch_answer = {
        "type": "object",
        "properties": {
            "accepted": {"type": "integer"},
            "duplicate": {"type": "integer"},
            "rejected": {"type": "integer"},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/EventResult"}},
        },
    }
    event_or_batch = {
        "oneOf": [
            {"$ref": "#/components/schemas/Event"},
            {
                "type": "object",
                "required": ["events"],
                "properties": {
                    "events": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"$ref": "#/components/schemas/Event"},
                    }
                },
            },
        ]
    }

    def answer(description, schema="BatchAnswer"):
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }

    def error(description):
        return answer(description, "Error")

    secured = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Manufacturing Integration API",
            "version": "1.0.0",
            "description": "Post CloudEvents to Odoo; each event's data is validated against "
            "its contract version's JSON Schema.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(
                data_schemas,
                Envelope=envelope,
                Event={"oneOf": envelope_variants} if envelope_variants else envelope,
                EventResult=result,
                BatchAnswer=batch_answer,
                Error=ERROR_SCHEMA,
            ),
        },
        "paths": {
            "/mfg/v1/events": {
                "post": {
                    "summary": "Post one event or a batch of events",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": event_or_batch}},
                    },
                    "responses": {
                        "200": answer("Every event was a duplicate"),
                        "202": answer("Accepted (and duplicates, if any)"),
                        "207": answer("Some events were rejected; see results"),
                        "400": error("Malformed body"),
                        "401": error("Missing or invalid API key or signature"),
                        "403": error("The system may not post these contracts"),
                        "413": error("Body or batch larger than the system's cap"),
                        "415": error("Not application/json"),
                        "422": answer("Every event was rejected; see results"),
                        "429": error("Rate limit reached; see Retry-After"),
                    },
                }
            },
            "/mfg/v1/events/{id}": {
                "get": {
                    "summary": "State of an event sent by this system",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {"name": "source", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {"description": "The event's state"},
                        "404": error("Unknown event"),
                    },
                }
            },
            "/mfg/v1/contracts": {
                "get": {
                    "summary": "Active contract versions",
                    "security": secured,
                    "responses": {"200": {"description": "The contracts"}},
                }
            },
            "/mfg/v1/contracts/{type}/{version}": {
                "get": {
                    "summary": "A contract version's schema and example",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "type",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "version",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"200": {"description": "The contract"}, "404": error("Unknown")},
                }
            },
            "/mfg/v1/health": {
                "get": {
                    "summary": "Up or down (no authentication)",
                    "security": [],
                    "responses": {"200": {"description": "Up"}, "503": {"description": "Down"}},
                }
            },
        },
    }
