"""``opsgate execute`` runs a catalog entry's OpenTofu module with the real ``tofu``: init, plan to
a file, apply that plan, in a private copy with a local backend; a provider it cannot install
and a missing binary are clear failures, never a traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests import required

from opsgate import catalog, paths
from opsgate.execute import result, run, tofu
from opsgate.intent import Intent, Parser
from opsgate.plan import Plan, RequestContext, Requester, build_plan

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.test/opsgate/opsgate:execute-test"
KEY = "operations.create.scratch"
MODULE = "terraform/modules/scratch"
MODULE_TF = """\
variable "name" {
  type = string
}

variable "tags" {
  type    = map(string)
  default = {}
}

resource "terraform_data" "scratch" {
  input = { name = var.name, owner = lookup(var.tags, "owner", "") }
}

output "owner" {
  value = terraform_data.scratch.output.owner
}
"""
PROVIDER_TF = """\
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }
}

variable "name" {
  type = string
}
"""
ENTRY: dict[str, Any] = {
    "description": "Create a scratch resource",
    "parameters": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": "^[a-z0-9-]+$"}},
    },
    "executor": {"kind": "terraform", "module": MODULE},
    "requiresApproval": False,
    "risk": "low",
    "rateClass": "provision",
}


@pytest.fixture
def tofu_binary(monkeypatch: pytest.MonkeyPatch) -> str:
    found = os.environ.get(tofu.ENV_TOFU) or shutil.which(tofu.TOFU)
    if not found:
        required.unavailable("the tofu binary (OPSGATE_TOFU or tofu on PATH)", hint="run hack/setup.sh")
    monkeypatch.setenv(tofu.ENV_TOFU, found)
    return found


def home_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module_tf: str) -> Path:
    """An OpsGate home whose catalog has one more entry, run by a module of ``module_tf``."""
    home = tmp_path / "home"
    for folder in ("policies", "playbooks", "terraform"):
        shutil.copytree(ROOT / folder, home / folder)
    (home / MODULE).mkdir(parents=True)
    (home / MODULE / "main.tf").write_text(module_tf)
    path = home / "policies" / "actions.yaml"
    document = yaml.safe_load(path.read_text())
    document["actions"][KEY] = ENTRY
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setenv(paths.ENV_HOME, str(home))
    return home


def planned(home: Path) -> tuple[catalog.Catalog, dict[str, Any]]:
    """The plan the controller would build for ``name=demo``, as ``status.plan``."""
    actions = catalog.load_catalog(home / "policies" / "actions.yaml")
    category, action, resource_type = KEY.split(".")
    intent = Intent(
        category=category,
        action=action,
        resource_type=resource_type,
        entities={"name": "demo"},
        confidence=1.0,
        parser=Parser.SPEC,
    )
    context = RequestContext(text="create scratch demo", requester=Requester(username="alice"), namespace="default")
    plan = build_plan(intent, actions.entries[KEY], context=context, home=home, executor_image=IMAGE)
    assert isinstance(plan, Plan)
    return actions, plan.to_status()


def execute(
    home: Path, actions: catalog.Catalog, plan: dict[str, Any], *, dry_run: bool = False
) -> tuple[result.Result, list[dict[str, Any]]]:
    lines: list[dict[str, Any]] = []
    outcome = run.execute(
        run.Request(document=plan, executor_image=IMAGE, dry_run=dry_run),
        run.Environment(
            actions=actions,
            home=home,
            authorizer=None,
            secret_source=lambda: pytest.fail("this entry declares no secrets"),
            emit=lines.append,
        ),
    )
    return outcome, lines


def test_a_terraform_data_module_is_applied_with_the_real_tofu(
    tofu_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = home_with(tmp_path, monkeypatch, MODULE_TF)
    actions, plan = planned(home)

    outcome, lines = execute(home, actions, plan)

    assert outcome.status is result.Status.SUCCEEDED, outcome
    assert outcome.summary == "Resources: 1 added, 0 changed, 0 destroyed"
    assert outcome.counts == result.Counts(ok=3, changed=1)
    assert [line["task"] for line in lines] == ["tofu init", "tofu plan", "tofu apply"]
    assert not list((home / MODULE).iterdir())[1:]  # the image's module is left as it was: main.tf only


def test_a_dry_run_of_a_module_stops_after_the_plan(
    tofu_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = home_with(tmp_path, monkeypatch, MODULE_TF)
    actions, plan = planned(home)

    outcome, lines = execute(home, actions, plan, dry_run=True)

    assert outcome.status is result.Status.SUCCEEDED, outcome
    assert outcome.dry_run
    assert outcome.summary == "Plan: 1 to add, 0 to change, 0 to destroy"
    assert [line["task"] for line in lines] == ["tofu init", "tofu plan"]


def test_a_module_needing_a_provider_that_cannot_be_installed_fails_clearly(
    tofu_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = home_with(tmp_path, monkeypatch, PROVIDER_TF)
    actions, plan = planned(home)

    outcome, lines = execute(home, actions, plan)

    assert outcome.status is result.Status.FAILED
    assert outcome.exit_code is result.ExitCode.FAILED
    assert outcome.reason is result.Reason.PROVIDER_MISSING
    assert str(outcome.message).startswith("OpenTofu could not install provider hashicorp/aws: ")
    assert outcome.failed_task == "tofu init"
    assert lines == [{"event": "step", "task": "tofu init", "status": "failed"}]


def test_a_missing_tofu_binary_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = home_with(tmp_path, monkeypatch, MODULE_TF)
    actions, plan = planned(home)
    monkeypatch.setenv(tofu.ENV_TOFU, str(tmp_path / "no-such-tofu"))

    outcome, _lines = execute(home, actions, plan)

    assert outcome.reason is result.Reason.TOOL_MISSING
    assert outcome.message == tofu.MESSAGE_NO_TOFU


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            'Initializing provider plugins...\n- Finding hashicorp/aws versions matching "~> 5.60"...\n\n'
            "Error: Failed to resolve provider packages\n\nCould not resolve provider hashicorp/aws: could not\n"
            "connect to registry.opentofu.org\n",
            "OpenTofu could not install provider hashicorp/aws: Failed to resolve provider packages: "
            "Could not resolve provider hashicorp/aws: could not connect to registry.opentofu.org",
        ),
        (
            "╷\n│ Error: Failed to query available provider packages\n│\n│ Could not retrieve the list of available "
            "versions for provider hashicorp/kubernetes: no available releases\n╵\n",
            "OpenTofu could not install provider hashicorp/kubernetes: Failed to query available provider packages: "
            "Could not retrieve the list of available versions for provider hashicorp/kubernetes: "
            "no available releases",
        ),
        ('Error: Unsupported argument\n\nAn argument named "x" is not expected here.\n', None),
    ],
    ids=["unreachable-registry", "boxed-output", "not-a-provider-problem"],
)
def test_a_provider_failure_is_read_from_tofus_output(output: str, expected: str | None) -> None:
    assert tofu.provider_failure(output) == expected
