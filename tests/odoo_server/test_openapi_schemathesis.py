"""Schemathesis against the running server: the OpenAPI document and the server agree.

Every operation of GET /mfg/v1/openapi.json gets generated requests, valid ones and (for the
event body) invalid ones, authenticated as a system (the metrics route with the metrics
token). No answer may be a 5xx, and every answer must be one the document lists for the
operation, with its media type, headers and schema. Bounded: MAX_EXAMPLES per operation and
data generation method, derandomized, so a run is repeatable and takes well under two minutes.
"""

import json
import time
import urllib.request
import uuid
from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import DataGenerationMethod  # noqa: E402
from schemathesis.checks import ALL_CHECKS  # noqa: E402
from schemathesis.exceptions import CheckFailed  # noqa: E402

from .server import Admin  # noqa: E402

# Schemathesis 3.x reads OpenAPI 3.1 (JSON Schema 2020-12) only with this experiment on.
schemathesis.experimental.OPEN_API_3_1.enable()

MAX_EXAMPLES = 25
# The event body also gets invalid requests: the server must refuse them in a documented way.
NEGATIVE_OPERATIONS = {"postEvents"}
CONTRACTS = ("integration.sent.summary", "edge.heartbeat")
STRUCTURED = "application/cloudevents+json"
BATCHED = "application/cloudevents-batch+json"


def _get_json(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _metrics_token(server):
    admin = Admin(server)
    settings_id = admin.create("res.config.settings", {})
    action = admin("res.config.settings", "action_mfg_generate_metrics_token", [settings_id])
    return admin(action["res_model"], "read", [action["res_id"]], ["token"])[0]["token"]


def _exercise(operation, method, headers, requests_sent, statuses, failures):
    """MAX_EXAMPLES generated requests of one operation; conformance failures collected."""
    operation_id = operation.definition.raw["operationId"]

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(data_generation_method=method))
    def check(case):
        requests_sent[(operation_id, method.name)] += 1
        _validate(case, headers, statuses, failures)

    check()


def _validate(case, headers, statuses, failures):
    response = case.call(headers=headers, timeout=60)
    statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=ALL_CHECKS, headers=headers)
    except CheckFailed as error:
        problem = " ".join(str(error).split())[:300]
        failures.setdefault(
            (case.operation.definition.raw["operationId"], problem),
            f"{case.method} {case.formatted_path} -> {response.status_code} "
            f"{response.text[:200]!r}",
        )
    return response


def _contract_examples(server, key, post_events, headers, statuses, failures):
    """The allowed contracts' own examples, in each media type: accepted, duplicate, mixed.

    Generated data rarely makes a valid event of an allowed contract; these answers (202,
    200, 207) must match the document too.
    """
    envelopes = []
    for code in CONTRACTS:
        contract = _get_json(f"{server.url}/mfg/v1/contracts/{code}/1.0", key)
        envelopes.append(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "xproc/openapi",
                "type": code,
                "dataschema": contract["dataschema"],
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "data": contract["example"],
            }
        )
    invalid = dict(envelopes[0], id=str(uuid.uuid4()), data={"unexpected": True})
    bodies = [
        (envelopes[0], STRUCTURED, 202),
        (envelopes[0], "application/json", 200),
        ({"events": envelopes}, "application/json", 202),
        ([*envelopes, invalid], BATCHED, 207),
    ]
    for body, media_type, expected in bodies:
        case = post_events.make_case(body=body, media_type=media_type, headers={})
        response = _validate(case, headers, statuses, failures)
        assert response.status_code == expected, (media_type, response.text)


def test_server_answers_as_its_openapi_document_says(odoo_server):
    _system_id, key = odoo_server.create_system(
        "xproc_openapi", CONTRACTS, rate_limit_per_minute=0, max_payload_bytes=65536
    )
    tokens = {"apiKey": key, "metricsToken": _metrics_token(odoo_server)}
    document = _get_json(f"{odoo_server.url}/mfg/v1/openapi.json", key)
    schema = schemathesis.from_dict(document, base_url=odoo_server.url)
    requests_sent = Counter()
    statuses = Counter()
    failures = {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        security = operation.definition.raw["security"]
        headers = {"Authorization": f"Bearer {tokens[next(iter(security[0]))]}"} if security else {}
        if operation.definition.raw["operationId"] == "postEvents":
            _contract_examples(odoo_server, key, operation, headers, statuses, failures)
        methods = [DataGenerationMethod.positive]
        if operation.definition.raw["operationId"] in NEGATIVE_OPERATIONS:
            methods.append(DataGenerationMethod.negative)
        for method in methods:
            _exercise(operation, method, headers, requests_sent, statuses, failures)
    elapsed = time.monotonic() - started

    total = sum(requests_sent.values())
    print(f"schemathesis: {total} requests in {elapsed:.1f} s; statuses {dict(statuses)}")
    for (operation_id, method), count in sorted(requests_sent.items()):
        print(f"  {operation_id} {method}: {count}")
    assert not failures, "answers that contradict the document:\n" + "\n".join(
        f"{operation_id}: {problem}\n    first seen: {request}"
        for (operation_id, problem), request in failures.items()
    )
    documented = {
        item["operationId"] for path in document["paths"].values() for item in path.values()
    }
    assert {operation_id for operation_id, _method in requests_sent} == documented
    assert {200, 202, 207, 400, 422} <= set(statuses), f"answers never seen: {statuses}"
