"""The addon validates edge rules with a copy of the agent's rule schema: keep them equal."""

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_addon_copy_of_the_rule_schema_matches_the_agent():
    agent = json.loads((REPO / "edge_agent/mfg_edge/schemas/config.schema.json").read_text())
    addon = json.loads(
        (REPO / "addons/mfg_integration_base/data/edge_rule.schema.json").read_text()
    )
    assert addon["$ref"] == "#/$defs/rule"
    assert addon["$defs"] == {name: agent["$defs"][name] for name in addon["$defs"]}
    assert set(addon["$defs"]) == {"selector", "field", "rule"}
