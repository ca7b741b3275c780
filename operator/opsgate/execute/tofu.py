"""Run a catalog entry's OpenTofu module: init, plan to a file, apply that plan.

The module is copied into a fresh private directory with a local backend (an override file),
so a run never writes into the image and never shares state with another run; the plan's
parameters (and the cost tags, where the module declares ``tags``) go in a ``.tfvars.json``
file, secrets as ``TF_VAR_`` variables of the tofu process only. A dry run stops after
``plan``; an entry of rate class ``delete`` plans a destroy. Providers come from the image's
plugin cache or the registry at ``init``; one that cannot be installed is a clear failure
naming the provider, as is a missing ``tofu`` binary.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsgate.execute.result import Counts, Reason

ENV_TOFU = "OPSGATE_TOFU"
TOFU = "tofu"
STEP_TIMEOUT_SECONDS = 1500
OVERRIDE_FILE = "opsgate_backend_override.tf"
VARS_FILE = "opsgate.tfvars.json"
PLAN_FILE = "plan.tfplan"
MESSAGE_NO_TOFU = "OpenTofu is not installed in this executor image (set OPSGATE_TOFU or put `tofu` on PATH)"
MESSAGE_PROVIDER = "OpenTofu could not install provider {provider}: {detail}"
MESSAGE_STEP_FAILED = "tofu {step} failed: {detail}"
MESSAGE_TIMEOUT = "tofu {step} did not finish in {seconds} s"

_PROVIDER_FAILURE = re.compile(
    r"Failed to (query|resolve|install)[^\n]*provider|Could not (resolve|retrieve|install)[^\n]*provider"
)
_PROVIDER_NAME = re.compile(r"provider\s+((?:[\w.-]+/)?[\w-]+/[\w-]+)")
_ERROR = re.compile(r"^Error:\s*(?P<text>.+)$")
_APPLIED = re.compile(r"Resources: (?P<added>\d+) added, (?P<changed>\d+) changed, (?P<destroyed>\d+) destroyed")
_PLANNED = re.compile(r"Plan: (?P<added>\d+) to add, (?P<changed>\d+) to change, (?P<destroyed>\d+) to destroy")
_TAGS_VARIABLE = re.compile(r'^\s*variable\s+"tags"', re.MULTILINE)


@dataclass(frozen=True)
class TofuOutcome:
    succeeded: bool
    counts: Counts
    summary: str
    failed_task: str | None = None
    failure: str | None = None
    reason: Reason | None = None


def binary(environ: Mapping[str, str]) -> str | None:
    """``OPSGATE_TOFU``, else ``tofu`` on PATH."""
    configured = environ.get(ENV_TOFU)
    if configured:
        return configured if Path(configured).is_file() and os.access(configured, os.X_OK) else None
    return shutil.which(TOFU, path=environ.get("PATH"))


def variables(module: Path, *, parameters: Mapping[str, Any], tags: Mapping[str, str | None]) -> dict[str, Any]:
    """The var file's content: the parameters, plus the known tags when the module takes ``tags``."""
    values = dict(parameters)
    if any(_TAGS_VARIABLE.search(tf.read_text(encoding="utf-8")) for tf in sorted(module.glob("*.tf"))):
        values["tags"] = {name: value for name, value in tags.items() if value}
    return values


def backend_override(state: Path) -> str:
    """An override file giving the module a local backend in the run's directory."""
    return f'terraform {{\n  backend "local" {{\n    path = {json.dumps(str(state))}\n  }}\n}}\n'


def provider_failure(output: str) -> str | None:
    """The clear message for an ``init`` that could not install a provider, else None. Pure."""
    if not _PROVIDER_FAILURE.search(output):
        return None
    names = _PROVIDER_NAME.findall(output)
    provider = names[0] if names else "(unnamed)"
    return MESSAGE_PROVIDER.format(provider=provider, detail=first_error(output))


def first_error(output: str) -> str:
    """tofu's first ``Error:`` with its explanation on one line, else its last line. Pure."""
    lines = [line.strip().lstrip("│╷╵").strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        match = _ERROR.match(line)
        if match is None:
            continue
        title = match.group("text").strip()
        rest = lines[index + 1 :]
        while rest and not rest[0]:  # the blank line between the title and its explanation
            rest = rest[1:]
        explanation = []
        for following in rest:
            if not following or _ERROR.match(following):
                break
            explanation.append(following)
        return f"{title}: {' '.join(explanation)}" if explanation else title
    remaining = [line for line in lines if line]
    return remaining[-1] if remaining else "no output"


def resource_counts(output: str, *, applied: bool) -> tuple[Counts, str]:
    """Counts and the summary line from ``apply`` (or, for a dry run, ``plan``) output. Pure."""
    pattern = _APPLIED if applied else _PLANNED
    match = pattern.search(output)
    if match is None:
        line = "No changes." if "No changes." in output else ""
        return Counts(ok=1), line
    changed = sum(int(match.group(key)) for key in ("added", "changed", "destroyed"))
    return Counts(ok=1, changed=changed), match.group(0)


def run(
    module: Path,
    *,
    parameters: Mapping[str, Any],
    tags: Mapping[str, str | None],
    secrets: Mapping[str, str],
    destroy: bool,
    dry_run: bool,
    emit: Callable[[dict[str, Any]], None],
    environ: Mapping[str, str] | None = None,
) -> TofuOutcome:
    """init, plan (-destroy for deletes), apply unless ``dry_run``; a line per step through ``emit``."""
    environ = os.environ if environ is None else environ
    tofu = binary(environ)
    if tofu is None:
        return TofuOutcome(False, Counts(failed=1), MESSAGE_NO_TOFU, "init", MESSAGE_NO_TOFU, Reason.TOOL_MISSING)
    with _private_dir() as private:
        workdir = private / "module"
        shutil.copytree(module, workdir, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
        (workdir / OVERRIDE_FILE).write_text(backend_override(private / "terraform.tfstate"), encoding="utf-8")
        var_file = private / VARS_FILE
        var_file.write_text(json.dumps(variables(workdir, parameters=parameters, tags=tags)), encoding="utf-8")
        env = {
            **environ,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "NO_COLOR": "1",
            "TF_DATA_DIR": str(private / ".tofu"),
            **{f"TF_VAR_{name}": value for name, value in secrets.items()},
        }
        plan_args = ["plan", "-input=false", "-no-color", f"-out={PLAN_FILE}", f"-var-file={var_file}"]
        steps: list[tuple[str, Sequence[str]]] = [
            ("init", ["init", "-input=false", "-no-color"]),
            ("plan", [*plan_args, "-destroy"] if destroy else plan_args),
        ]
        if not dry_run:
            steps.append(("apply", ["apply", "-input=false", "-no-color", "-auto-approve", PLAN_FILE]))
        done = 0
        output = ""
        for step, args in steps:
            ok, output = _step(tofu, step, args, cwd=workdir, env=env)
            emit({"event": "step", "task": f"tofu {step}", "status": "ok" if ok else "failed"})
            if not ok:
                failure = provider_failure(output) if step == "init" else None
                reason = Reason.PROVIDER_MISSING if failure else Reason.TASK_FAILED
                failure = failure or MESSAGE_STEP_FAILED.format(step=step, detail=first_error(output))
                return TofuOutcome(False, Counts(ok=done, failed=1), failure, f"tofu {step}", failure, reason)
            done += 1
    counts, line = resource_counts(output, applied=not dry_run)
    counts = Counts(ok=done, changed=counts.changed)
    return TofuOutcome(True, counts, line or f"tofu {steps[-1][0]} succeeded")


def _step(tofu: str, step: str, args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[bool, str]:
    try:
        completed = subprocess.run(
            [tofu, *args],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, MESSAGE_TIMEOUT.format(step=step, seconds=STEP_TIMEOUT_SECONDS)
    except OSError as exc:
        return False, f"Error: cannot run {tofu}: {exc.strerror}"
    return completed.returncode == 0, f"{completed.stdout}\n{completed.stderr}"


@contextlib.contextmanager
def _private_dir() -> Iterator[Path]:
    private = Path(tempfile.mkdtemp(prefix="opsgate-tofu-"))  # mode 0700
    try:
        yield private
    finally:
        shutil.rmtree(private, ignore_errors=True)
