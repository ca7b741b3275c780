"""``kubectl explain`` has something to say about every field of spec and status of both CRDs.

The API server serves these descriptions as the OpenAPI of the kinds (tests/e2e/test_kubectl_explain.py
reads them back through ``kubectl explain``); this test finds any field a later change adds without one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from tests.e2e.cluster import ROOT

CRDS = ["opsrequests.opsgate.dev.yaml", "approvals.opsgate.dev.yaml"]


def fields(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property below ``schema``, with its dotted path (``[]`` for array items)."""
    for name, field in (schema.get("properties") or {}).items():
        yield f"{path}.{name}", field
        yield from fields(field, f"{path}.{name}")
        if "items" in field:
            yield from fields(field["items"], f"{path}.{name}[]")


@pytest.mark.parametrize("crd", CRDS)
def test_every_field_of_spec_and_status_is_described(crd: str) -> None:
    document = yaml.safe_load((ROOT / "crds" / crd).read_text())
    root = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    undescribed = [
        path
        for top in ("spec", "status")
        for path, field in [(top, root[top]), *fields(root[top], top)]
        if not str(field.get("description", "")).strip()
    ]
    assert undescribed == []
