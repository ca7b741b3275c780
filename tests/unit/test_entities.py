"""Entity normalisers: what people write becomes what the catalog accepts, or stays as it was."""

from __future__ import annotations

from typing import Any

import pytest

from opsgate import entities


@pytest.mark.parametrize(
    ("name", "value", "schema", "expected"),
    [
        ("environment", "prod", {"type": "string"}, "production"),
        ("environment", "STG", {"type": "string"}, "staging"),
        ("environment", "development", {"type": "string"}, "dev"),
        ("environment", "moon", {"type": "string"}, "moon"),
        ("since", "2 hours", {"type": "string"}, "2h"),
        ("since", "3 months", {"type": "string"}, "90d"),
        ("quota", "5GB", {"type": "string"}, "5Gi"),
        ("replicas", "5", {"type": "integer"}, 5),
        ("replicas", "five", {"type": "integer"}, 5),
        ("ttl", "1h", {"type": "integer"}, 3600),
        ("groups", "sre, qa and ops", {"type": "array"}, ["sre", "qa", "ops"]),
        ("role", "read-only", {"type": "string"}, "view"),
        ("record_type", "cname", {"type": "string"}, "CNAME"),
        ("name", "Payments", {"type": "string"}, "payments"),
        ("value", "v=spf1 ~all", {"type": "string"}, "v=spf1 ~all"),
    ],
    ids=["prod", "stg", "development", "unknown-env-kept", "hours", "months", "gigabytes", "digit-string",
         "number-word", "ttl-duration", "list", "role-alias", "record-type", "lower-case-name", "value-kept"],
)  # fmt: skip
def test_an_entity_is_normalised_for_its_parameter(
    name: str, value: Any, schema: dict[str, Any], expected: Any
) -> None:
    assert entities.normalise(name, value, schema=schema) == expected
