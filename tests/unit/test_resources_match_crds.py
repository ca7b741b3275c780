"""The pydantic models in opsgate.resources and the CRD manifests in crds/ describe the same API."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from opsgate import intent, resources

CRDS = Path(__file__).resolve().parents[2] / "crds"


def _schema(crd_file: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / crd_file).read_text())
    (version,) = crd["spec"]["versions"]
    assert version["name"] == resources.VERSION
    assert crd["spec"]["group"] == resources.GROUP
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


OPSREQUEST = _schema("opsrequests.opsgate.dev.yaml")
APPROVAL = _schema("approvals.opsgate.dev.yaml")


def _aliases(model: type[pydantic.BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (resources.OpsRequestSpec, OPSREQUEST["properties"]["spec"]),
        (resources.SpecIntent, OPSREQUEST["properties"]["spec"]["properties"]["intent"]),
        (resources.ApprovalSpec, APPROVAL["properties"]["spec"]),
        (resources.ApprovalSummary, APPROVAL["properties"]["spec"]["properties"]["summary"]),
        (resources.ApprovalDecision, APPROVAL["properties"]["spec"]["properties"]["decisions"]["items"]),
        (resources.OpsRequestRef, APPROVAL["properties"]["spec"]["properties"]["opsRequestRef"]),
    ],
    ids=["opsrequest-spec", "spec-intent", "approval-spec", "approval-summary", "decision", "request-ref"],
)
def test_model_fields_are_exactly_the_crd_properties(model: type[pydantic.BaseModel], schema: dict[str, Any]) -> None:
    assert _aliases(model) == set(schema["properties"])


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (resources.OpsRequestSpec, OPSREQUEST["properties"]["spec"]),
        (resources.SpecIntent, OPSREQUEST["properties"]["spec"]["properties"]["intent"]),
        (resources.ApprovalSpec, APPROVAL["properties"]["spec"]),
        (resources.ApprovalDecision, APPROVAL["properties"]["spec"]["properties"]["decisions"]["items"]),
    ],
    ids=["opsrequest-spec", "spec-intent", "approval-spec", "decision"],
)
def test_required_fields_agree(model: type[pydantic.BaseModel], schema: dict[str, Any]) -> None:
    required_in_model = {f.alias or n for n, f in model.model_fields.items() if f.is_required()}
    assert required_in_model == set(schema.get("required", []))


@pytest.mark.parametrize(
    ("enum_type", "crd_enum"),
    [
        (resources.Phase, OPSREQUEST["properties"]["status"]["properties"]["phase"]["enum"]),
        (resources.Environment, OPSREQUEST["properties"]["spec"]["properties"]["environment"]["enum"]),
        (
            intent.Category,
            OPSREQUEST["properties"]["spec"]["properties"]["intent"]["properties"]["category"]["enum"],
        ),
        (
            intent.Parser,
            OPSREQUEST["properties"]["status"]["properties"]["intent"]["properties"]["parser"]["enum"],
        ),
        (resources.ApprovalState, APPROVAL["properties"]["status"]["properties"]["state"]["enum"]),
        (
            resources.Verdict,
            APPROVAL["properties"]["spec"]["properties"]["decisions"]["items"]["properties"]["decision"]["enum"],
        ),
    ],
    ids=["phase", "environment", "category", "parser", "approval-state", "verdict"],
)
def test_enums_agree(enum_type: type[enum.Enum], crd_enum: list[str]) -> None:
    assert _values(enum_type) == crd_enum


def test_the_request_length_bound_is_the_same() -> None:
    assert OPSREQUEST["properties"]["spec"]["properties"]["request"]["maxLength"] == resources.MAX_REQUEST_CHARS


def test_every_catalog_category_can_be_named_in_spec_intent() -> None:
    from opsgate import catalog

    shipped = catalog.load_catalog(check_executors=False)
    assert set(shipped.categories) <= set(_values(intent.Category))
