"""Property-based: ≥2,000 generated bodies against the running server.

No input may get a 5xx, and the database must hold exactly the events the API said it
accepted: no row lost, none invented.
"""

import json
import time
import urllib.request

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from .server import post, query

NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

EXAMPLES = 2000
CONTRACTS = ("integration.sent.summary", "edge.heartbeat")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _schema(server, key, code):
    request = urllib.request.Request(
        f"{server.url}/mfg/v1/contracts/{code}/1.0", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["schema"]


def _envelope_strategy(code, schema):
    attributes = {
        "specversion": st.sampled_from(["1.0", "1.0", "1.0", "0.3", ""]),
        "id": st.text(min_size=0, max_size=12) | st.uuids().map(str),
        "source": st.sampled_from(["plant1/fuzz", "plant2/fuzz", "", "x" * 300]),
        "type": st.sampled_from([code, code, "unknown.contract.type", "Bad Type"]),
        "dataschema": st.sampled_from(
            [f"urn:mfg:contract:{code}:1.0", f"urn:mfg:contract:{code}:9.9", "urn:nope"]
        ),
        # A valid time (relative to the clock), the same without its offset, and no time.
        "time": st.sampled_from([NOW, NOW.rstrip("Z"), "yesterday"]),
        "subject": st.text(max_size=30),
        "sequence": st.integers(0, 10**6).map(lambda n: f"{n:012d}"),
        "data": from_schema(schema) | json_values,
    }
    required = {"specversion", "id", "source", "type", "data"}
    return st.fixed_dictionaries(
        {name: strategy for name, strategy in attributes.items() if name in required},
        optional={name: strategy for name, strategy in attributes.items() if name not in required},
    ) | st.builds(
        lambda envelope, extra: {**envelope, **extra},
        st.fixed_dictionaries({name: attributes[name] for name in required}),
        st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    )


def test_no_input_gets_a_5xx_and_no_row_is_lost_or_invented(odoo_server):
    system_id, key = odoo_server.create_system(
        "xproc_fuzz", CONTRACTS, rate_limit_per_minute=0, max_payload_bytes=65536
    )
    envelopes = st.one_of(
        *(_envelope_strategy(code, _schema(odoo_server, key, code)) for code in CONTRACTS)
    )
    bodies = st.one_of(
        envelopes,
        st.fixed_dictionaries({"events": st.lists(envelopes, min_size=0, max_size=8)}),
        json_values,
        st.binary(max_size=64),
    )
    accepted = set()
    seen_statuses = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=bodies)
    def post_one(body):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, answer, _headers = post(odoo_server.url, key, raw)
        seen_statuses.add(status)
        assert status < 500, (status, answer, raw[:500])
        if isinstance(answer, dict) and "results" in answer:
            batch = (
                body["events"]
                if isinstance(body, dict) and "events" in body and "specversion" not in body
                else [body]
            )
            for result, envelope in zip(answer["results"], batch, strict=True):
                if result["status"] == "accepted":
                    key_ = (envelope["source"], envelope["id"])
                    assert key_ not in accepted, f"{key_} accepted twice"
                    accepted.add(key_)

    post_one()
    assert {202, 400, 422} <= seen_statuses, f"the generator missed whole classes: {seen_statuses}"
    stored = set(
        query(
            odoo_server.database,
            "SELECT source, event_uid FROM mfg_integration_event "
            "WHERE system_id = %s AND state <> 'rejected'",
            [system_id],
        )
    )
    assert (
        stored == accepted
    ), f"{len(accepted - stored)} accepted events missing, {len(stored - accepted)} invented"
