"""`opsgate plan` judges exactly like the operator: every example and every labelled request, both ways.

The operator plans an OpsRequest body (controller.planning.plan_request); the CLI turns its flags
into the body the operator would see. Any difference in what either decides - the phase, the
intent, the plan and its digest, the policy decision, an answer - is a bug in that translation.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from opsgate import catalog, paths
from opsgate.cli import main
from opsgate.controller import planning
from opsgate.policy import PolicySet
from opsgate.settings import DEFAULT_EXECUTOR_IMAGE

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T10:00:00+00:00"  # a Monday, inside the production change window
NAMESPACE_LABELS = {"opsgate.dev/project": "shop", "opsgate.dev/cost-center": "cc-7"}


def examples() -> list[dict[str, Any]]:
    """The OpsRequests of examples/ (a file may also hold the Namespace its request is made in)."""
    documents = [d for path in sorted((ROOT / "examples").glob("*.yaml")) for d in yaml.safe_load_all(path.read_text())]
    return [d for d in documents if d["kind"] == "OpsRequest"]


def labelled(limit: int = 60) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (ROOT / "tests/data/intents.jsonl").read_text().splitlines() if line]
    rows += [json.loads(line) for line in (ROOT / "tests/data/intents_unseen.jsonl").read_text().splitlines() if line]
    return rows[:: max(1, len(rows) // limit)]


def as_request(text: str, *, name: str = "req", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {"name": name, "namespace": namespace, "uid": "uid-1", "labels": {}},
        "spec": {"request": text, "requester": "alice", **spec},
    }


@pytest.fixture(scope="module")
def engine() -> planning.Engine:
    return planning.Engine(
        catalog=catalog.load_catalog(),
        policies=PolicySet.load(paths.policies_dir()),
        home=paths.home(),
        executor_image=DEFAULT_EXECUTOR_IMAGE,
    )


def operator_view(engine: planning.Engine, body: dict[str, Any]) -> dict[str, Any]:
    now = datetime.datetime.fromisoformat(NOW)
    planned = asyncio.run(
        planning.plan_request(body, engine=engine, now=now, history={}, namespace_labels=NAMESPACE_LABELS)
    )
    return {
        "phase": planned.phase.value,
        "intent": {
            k: (planned.status.get("intent") or {}).get(k) for k in ("category", "action", "resource_type", "entities")
        },
        "plan": planned.plan,
        "decision": (planned.status.get("policy") or {}).get("decision") if planned.plan else None,
        "answered": "answer" in planned.status,
    }


def cli_view(body: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "no-index"))  # the operator here has no index either
    spec, meta = body["spec"], body["metadata"]
    argv = ["plan", spec["request"], "--json", "--now", NOW, "--requester", spec["requester"]]
    argv += ["--namespace", meta["namespace"]]
    argv += [f"--namespace-label={k}={v}" for k, v in NAMESPACE_LABELS.items()]
    argv += [f"--label={k}={v}" for k, v in (meta.get("labels") or {}).items()]
    if spec.get("requesterGroups"):
        argv += ["--groups", ",".join(spec["requesterGroups"])]
    if spec.get("environment"):
        argv += ["--environment", spec["environment"]]
    if spec.get("intent"):
        argv += ["--intent", json.dumps(spec["intent"])]
    if spec.get("dryRun"):
        argv += ["--dry-run"]
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    return {
        "phase": document["phase"],
        "intent": {k: document["intent"].get(k) for k in ("category", "action", "resource_type", "entities")},
        "plan": document["plan"],
        "decision": document["policy"]["decision"] if document["plan"] else None,
        "answered": "answer" in document,
    }


@pytest.mark.parametrize("example", examples(), ids=lambda e: e["metadata"]["name"])
def test_every_example_is_judged_the_same_by_the_cli_and_the_operator(
    example: dict[str, Any], engine: planning.Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    body = {**example, "metadata": {**example["metadata"], "namespace": "shop", "uid": "uid-1"}}
    assert cli_view(body, monkeypatch, tmp_path) == operator_view(engine, body)


@pytest.mark.parametrize("row", labelled(), ids=lambda r: r["text"][:40])
def test_every_labelled_request_is_judged_the_same_by_the_cli_and_the_operator(
    row: dict[str, Any], engine: planning.Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    body = as_request(row["text"], requesterGroups=["opsgate-mfa", "system:authenticated"])
    assert cli_view(body, monkeypatch, tmp_path) == operator_view(engine, body)
