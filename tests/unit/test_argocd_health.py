"""The Argo CD health checks of OpsRequest and Approval, run the way Argo CD runs them.

Argo CD loads ``<group>/<Kind>/health.lua``, sets the global ``obj`` to the resource as a Lua
table and reads ``status`` and ``message`` from the table the script returns. Every fixture in
each ``health_test.yaml`` (Argo CD's own fixture format) goes through the real script here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

CUSTOMIZATIONS = Path(__file__).resolve().parents[2] / "charts" / "opsgate" / "argocd" / "opsgate.dev"
KINDS = ("OpsRequest", "Approval")
ARGO_HEALTH_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def _fixtures() -> list[Any]:
    cases = []
    for kind in KINDS:
        document = yaml.safe_load((CUSTOMIZATIONS / kind / "health_test.yaml").read_text(encoding="utf-8"))
        for test in document["tests"]:
            scenario = Path(test["inputPath"]).stem
            cases.append(pytest.param(kind, test, id=f"{kind}-{scenario}"))
    return cases


def _run_health(kind: str, resource: dict[str, Any]) -> dict[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=False)
    lua.globals().obj = lua.table_from(resource, recursive=True)
    script = (CUSTOMIZATIONS / kind / "health.lua").read_text(encoding="utf-8")
    hs = lua.execute(script)
    return {"status": hs["status"], "message": hs["message"]}


@pytest.mark.parametrize(("kind", "test"), _fixtures())
def test_each_fixture_gets_the_health_argo_cd_would_show(kind: str, test: dict[str, Any]) -> None:
    resource = yaml.safe_load((CUSTOMIZATIONS / kind / test["inputPath"]).read_text(encoding="utf-8"))

    assert _run_health(kind, resource) == test["healthStatus"]


@pytest.mark.parametrize(("kind", "test"), _fixtures())
def test_each_fixture_is_named_after_the_status_it_expects(kind: str, test: dict[str, Any]) -> None:
    status = test["healthStatus"]["status"]

    assert status in ARGO_HEALTH_STATUSES
    assert Path(test["inputPath"]).name.startswith(status.lower() + "_")


@pytest.mark.parametrize("kind", KINDS)
def test_every_testdata_file_is_exercised_by_the_fixture_list(kind: str) -> None:
    document = yaml.safe_load((CUSTOMIZATIONS / kind / "health_test.yaml").read_text(encoding="utf-8"))
    listed = {test["inputPath"] for test in document["tests"]}

    on_disk = {f"testdata/{path.name}" for path in (CUSTOMIZATIONS / kind / "testdata").glob("*.yaml")}

    assert listed == on_disk


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Pending", "Progressing"),
        ("Planning", "Progressing"),
        ("Approved", "Progressing"),
        ("Running", "Progressing"),
        ("AwaitingApproval", "Suspended"),
        ("Succeeded", "Healthy"),
        ("Answered", "Healthy"),
        ("Denied", "Degraded"),
        ("NeedsInfo", "Degraded"),
        ("Failed", "Degraded"),
        ("Rejected", "Degraded"),
        ("Expired", "Degraded"),
    ],
    ids=lambda value: str(value),
)
def test_every_opsrequest_phase_maps_to_its_argo_cd_health(phase: str, expected: str) -> None:
    resource = {
        "kind": "OpsRequest",
        "metadata": {"name": "r", "generation": 1},
        "status": {"phase": phase, "observedGeneration": 1},
    }

    assert _run_health("OpsRequest", resource)["status"] == expected


def test_a_phase_the_script_does_not_know_is_unknown_not_healthy() -> None:
    resource = {
        "kind": "OpsRequest",
        "metadata": {"generation": 1},
        "status": {"phase": "Exploded", "observedGeneration": 1},
    }

    assert _run_health("OpsRequest", resource) == {"status": "Unknown", "message": "Unknown phase Exploded"}
