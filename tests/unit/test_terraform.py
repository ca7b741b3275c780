"""The OpenTofu modules behind the catalog: each catalog parameter is a validated variable.

Provider plugins cannot be installed here, so the modules are checked as parsed HCL: every
parameter of every terraform catalog entry has a variable of the matching type whose
validation enforces the same pattern, enum, bounds and lengths as the catalog's JSON schema;
catalog defaults are the variables' defaults; outputs and version constraints exist; no
credential is written into a module. With the `tofu` binary setup builds (``OPSGATE_TOFU``, or on PATH), the
formatting is checked with ``tofu fmt`` too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from tests import required

from opsgate import catalog

ROOT = Path(__file__).resolve().parents[2]
MODULE_FILES = ("versions.tf", "variables.tf", "main.tf", "outputs.tf")

TERRAFORM_ENTRIES = {
    entry.key: entry
    for entry in catalog.load_catalog(ROOT / "policies" / "actions.yaml").entries.values()
    if entry.executor.kind is catalog.ExecutorKind.TERRAFORM
}
MODULES = sorted({str(entry.executor.module) for entry in TERRAFORM_ENTRIES.values()})
PARAMETERS = sorted((key, name) for key, entry in TERRAFORM_ENTRIES.items() for name in entry.parameter_names)

HCL_TYPES = {"string": "string", "integer": "number", "boolean": "bool"}
CREDENTIAL = re.compile(r"(access_key|secret_key|token|password)\s*=|AKIA[0-9A-Z]{16}|-----BEGIN", re.IGNORECASE)


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes around names and strings: "\\"x\\"" -> "x"."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _hcl_string(literal: str) -> str:
    """The value of an HCL string literal's body (backslash escapes resolved)."""
    return re.sub(r"\\(.)", r"\1", literal)


def _load(module: str, file: str) -> dict[str, Any]:
    with (ROOT / module / file).open(encoding="utf-8") as handle:
        document: dict[str, Any] = hcl2.load(handle)
    return document


def _variables(module: str) -> dict[str, dict[str, Any]]:
    return {_unquote(name): body for block in _load(module, "variables.tf")["variable"] for name, body in block.items()}


def _conditions(variable: dict[str, Any]) -> str:
    return " && ".join(validation["condition"] for validation in variable.get("validation", []))


@pytest.mark.parametrize("module", MODULES)
def test_each_module_has_the_standard_files(module: str) -> None:
    assert [file for file in MODULE_FILES if not (ROOT / module / file).is_file()] == []


@pytest.mark.parametrize(("key", "name"), PARAMETERS, ids=[f"{key}-{name}" for key, name in PARAMETERS])
def test_every_catalog_parameter_is_a_variable_of_the_same_type(key: str, name: str) -> None:
    entry = TERRAFORM_ENTRIES[key]
    variables = _variables(str(entry.executor.module))

    assert name in variables
    assert variables[name]["type"] == HCL_TYPES[entry.parameters["properties"][name]["type"]]


@pytest.mark.parametrize(("key", "name"), PARAMETERS, ids=[f"{key}-{name}" for key, name in PARAMETERS])
def test_every_variable_validates_what_the_catalog_schema_validates(key: str, name: str) -> None:
    schema = TERRAFORM_ENTRIES[key].parameters["properties"][name]
    condition = _conditions(_variables(str(TERRAFORM_ENTRIES[key].executor.module))[name])
    regexes = [_hcl_string(literal) for literal in re.findall(r'regex\("((?:[^"\\]|\\.)*)"', condition)]

    if "pattern" in schema:
        assert schema["pattern"] in regexes
    if "enum" in schema:
        listed = re.search(r"contains\(\[([^\]]*)\],[^)]*\bvar\." + name, condition)
        assert listed is not None
        assert {_unquote(item.strip()) for item in listed.group(1).split(",")} == set(schema["enum"])
    if "maxLength" in schema:
        assert f"length(var.{name}) <= {schema['maxLength']}" in condition
    if "minLength" in schema:
        assert f"length(var.{name}) >= {schema['minLength']}" in condition
    if "minimum" in schema:
        assert f"var.{name} >= {schema['minimum']}" in condition
    if "maximum" in schema:
        assert f"var.{name} <= {schema['maximum']}" in condition
    assert condition, f"{name} has no validation"


@pytest.mark.parametrize(("key", "name"), PARAMETERS, ids=[f"{key}-{name}" for key, name in PARAMETERS])
def test_required_parameters_have_no_default_and_catalog_defaults_match(key: str, name: str) -> None:
    entry = TERRAFORM_ENTRIES[key]
    variable = _variables(str(entry.executor.module))[name]

    if name in entry.parameters.get("required", []):
        assert "default" not in variable
    if name in entry.defaults:
        assert _unquote(variable["default"]) == entry.defaults[name]


def test_a_website_cannot_be_created_with_tls_turned_off() -> None:
    tls = _variables("terraform/modules/website")["tls"]

    assert [validation["condition"] for validation in tls["validation"]] == ["${var.tls}"]
    assert "TLS cannot be disabled" in tls["validation"][0]["error_message"]


@pytest.mark.parametrize("module", MODULES)
def test_each_module_pins_tofu_and_its_providers(module: str) -> None:
    terraform = _load(module, "versions.tf")["terraform"][0]

    assert _unquote(terraform["required_version"]).startswith(">=")
    providers = terraform["required_providers"][0]
    assert providers
    for provider in providers.values():
        if isinstance(provider, dict):
            assert _unquote(provider["source"]).count("/") == 1
            assert _unquote(provider["version"])


@pytest.mark.parametrize("module", MODULES)
def test_each_module_has_described_outputs(module: str) -> None:
    outputs = {_unquote(name): body for block in _load(module, "outputs.tf")["output"] for name, body in block.items()}

    assert outputs
    assert [name for name, body in outputs.items() if not _unquote(body.get("description", ""))] == []


@pytest.mark.parametrize("module", MODULES)
def test_no_module_holds_a_credential(module: str) -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / module).glob("*.tf")))

    assert CREDENTIAL.findall(text) == []


@pytest.fixture(scope="module")
def tofu() -> str:
    found = os.environ.get("OPSGATE_TOFU") or shutil.which("tofu")
    if found is None:
        required.unavailable("the tofu binary (OPSGATE_TOFU or tofu on PATH)", hint="run hack/setup.sh")
    return found


def test_the_modules_are_tofu_fmt_clean(tofu: str) -> None:
    result = subprocess.run(
        [tofu, "fmt", "-check", "-diff", "-recursive", "terraform"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "variables", "complaint"),
    [
        ("website", {"domain": "promo.acme.org", "tls": "false"}, "TLS cannot be disabled"),
        ("website", {"domain": "Promo.Acme.org"}, "lower-case DNS name"),
        ("dns_record", {"domain": "api.acme.org", "record_type": "SRV", "value": "x"}, "must be one of A"),
        (
            "dns_record",
            {"domain": "api.acme.org", "record_type": "A", "value": "203.0.113.10", "ttl": "30"},
            "60",
        ),
        ("cluster", {"name": "analytics", "node_count": "0"}, "from 1 to 100"),
        ("cluster", {"name": "analytics", "environment": "prod"}, "dev, staging, production"),
        ("dns_record", {"domain": "api.acme.org", "record_type": "A", "value": "203.0.113.10"}, ""),
        ("cluster", {"name": "analytics", "region": "eu-west-1", "node_count": "5"}, ""),
    ],
    ids=[
        "website-tls-off",
        "website-upper-case",
        "dns-srv",
        "dns-ttl-too-low",
        "cluster-no-nodes",
        "cluster-bad-environment",
        "dns-valid",
        "cluster-valid",
    ],
)
def test_tofu_itself_refuses_what_the_catalog_refuses(
    tofu: str, tmp_path: Path, module: str, variables: dict[str, str], complaint: str
) -> None:
    # The variables alone need no provider, so tofu can evaluate their validations offline.
    shutil.copy(ROOT / "terraform" / "modules" / module / "variables.tf", tmp_path / "variables.tf")
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_DATA_DIR": str(tmp_path / ".tofu"), "NO_COLOR": "1"}
    init = subprocess.run(
        [tofu, f"-chdir={tmp_path}", "init", "-backend=false", "-input=false", "-no-color"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert init.returncode == 0, init.stderr

    plan = subprocess.run(
        [tofu, f"-chdir={tmp_path}", "plan", "-input=false", "-no-color", "-lock=false"]
        + [f"-var={name}={value}" for name, value in variables.items()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )

    if complaint:
        assert plan.returncode == 1
        assert complaint in " ".join(plan.stderr.split())
    else:
        assert plan.returncode == 0, plan.stderr
