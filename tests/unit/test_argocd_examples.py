"""examples/argocd: the Applications point at what exists, and the health snippet is the real Lua."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "argocd"
HEALTH = ROOT / "charts" / "opsgate" / "argocd" / "opsgate.dev"
ARGOCD = "system:serviceaccount:argocd:argocd-application-controller"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return document


@pytest.mark.parametrize("kind", ["OpsRequest", "Approval"])
def test_the_health_customization_is_the_charts_lua_verbatim(kind: str) -> None:
    data = load("argocd-cm.yaml")["data"]
    assert data[f"resource.customizations.health.opsgate.dev_{kind}"] == (HEALTH / kind / "health.lua").read_text()


def test_the_chart_application_installs_the_chart_into_the_executor_namespace() -> None:
    app = load("opsgate.yaml")["spec"]
    assert (ROOT / app["source"]["path"] / "Chart.yaml").is_file()
    assert app["destination"]["namespace"] == "opsgate-system"
    assert "ServerSideApply=true" in app["syncPolicy"]["syncOptions"]


def test_the_requests_application_ignores_what_the_operator_writes_and_never_prunes() -> None:
    app = load("requests.yaml")["spec"]
    assert (ROOT / app["source"]["path"]).is_dir()
    ignored = {(d["group"], d["kind"]): d["jsonPointers"] for d in app["ignoreDifferences"]}
    assert "/status" in ignored["opsgate.dev", "OpsRequest"]
    assert "/metadata/finalizers" in ignored["opsgate.dev", "OpsRequest"]
    assert "RespectIgnoreDifferences=true" in app["syncPolicy"]["syncOptions"]
    assert app["syncPolicy"]["automated"]["prune"] is False


def test_synced_requests_name_argo_cd_as_their_requester() -> None:
    requests = sorted((EXAMPLES / "requests").glob("*.yaml"))
    assert requests
    for path in requests:
        request = yaml.safe_load(path.read_text())
        assert request["kind"] == "OpsRequest"
        assert request["spec"]["requester"] == ARGOCD, f"{path.name}: the admission policy would refuse it"
        assert "system:serviceaccounts:argocd" in request["spec"]["requesterGroups"]
