"""Run a catalog entry's Ansible playbook through ansible-runner, in a private directory.

The playbook contract (playbooks/README.md): each validated parameter as an extra var of the same
name, the whole parameter object as ``opsgate_params``, the entry's secrets as extra vars (read
by ``no_log`` tasks), ``--check`` for a dry run. The extra vars - secrets included - go to
ansible-runner's ``env/extravars`` file (mode 0600, in a fresh 0700 temp directory removed
afterwards) which the runner passes as ``-e @file``: never on a command line another process
could read, never in an event.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsgate.execute import events
from opsgate.execute.result import Counts

ENV_COLLECTIONS_PATH = "ANSIBLE_COLLECTIONS_PATH"
ANSIBLE_PLAYBOOK = "ansible-playbook"
PARAMS_VAR = "opsgate_params"
MESSAGE_NO_RUNNER = "ansible-runner is not installed in this executor image"
MESSAGE_NO_ANSIBLE = "ansible-playbook is not installed in this executor image (neither on PATH nor next to {python})"
MESSAGE_RUNNER_STATUS = "ansible-runner ended with status {status} (exit code {rc})"


class ToolMissingError(RuntimeError):
    """ansible-runner or ansible-playbook is not available."""


@dataclass(frozen=True)
class PlaybookOutcome:
    succeeded: bool
    counts: Counts
    summary: str | None
    failed_task: str | None
    failure: str | None
    unreachable: bool
    data: dict[str, Any] = field(default_factory=dict)  # published with set_stats (e.g. rollback_parameters)


def extravars(parameters: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """The extra vars of a run: parameters by name, ``opsgate_params``, then the secrets. Pure."""
    return {**parameters, PARAMS_VAR: dict(parameters), **secrets}


def envvars(environ: Mapping[str, str], *, private_dir: Path, tools: Path) -> dict[str, str]:
    """Ansible settings for an unattended run in a read-only container (only /tmp writable).

    ``tools`` (where ansible-playbook is) goes first on PATH: the runner finds the command there.
    Pure.
    """
    search = [str(tools), *(part for part in environ.get("PATH", "").split(os.pathsep) if part)]
    variables = {
        "PATH": os.pathsep.join(dict.fromkeys(search)),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOME": str(private_dir / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(private_dir / "ansible-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(private_dir / "ansible-tmp"),
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    }
    if environ.get(ENV_COLLECTIONS_PATH):
        variables[ENV_COLLECTIONS_PATH] = environ[ENV_COLLECTIONS_PATH]
    return variables


def ansible_playbook(path: str | None = None) -> str:
    """ansible-playbook on PATH, else next to this Python (a venv that is not activated)."""
    found = shutil.which(ANSIBLE_PLAYBOOK, path=path)
    if found:
        return found
    beside = Path(sys.executable).parent / ANSIBLE_PLAYBOOK
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise ToolMissingError(MESSAGE_NO_ANSIBLE.format(python=sys.executable))


def run(
    playbook: Path,
    *,
    parameters: Mapping[str, Any],
    secrets: Mapping[str, str],
    dry_run: bool,
    emit: Callable[[dict[str, Any]], None],
) -> PlaybookOutcome:
    """Run ``playbook`` and stream a line per task result through ``emit``."""
    try:
        import ansible_runner  # type: ignore[import-untyped]  # untyped; imported only where a playbook runs
    except ImportError as exc:
        raise ToolMissingError(MESSAGE_NO_RUNNER) from exc
    binary = ansible_playbook()
    tracker = events.Tracker()

    def on_event(event: dict[str, Any]) -> bool:
        line = tracker.observe(event)
        if line is not None:
            emit(line)
        return True  # kept in the private directory: runner.stats reads the playbook_on_stats event

    with _private_dir() as private:
        _write_private(private / "env" / "extravars", json.dumps(extravars(parameters, secrets)))
        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(playbook.resolve()),
            project_dir=str(playbook.resolve().parent),
            envvars=envvars(os.environ, private_dir=private, tools=Path(binary).parent),
            cmdline="--check" if dry_run else None,
            quiet=True,
            event_handler=on_event,
            ident="run",
        )
        status, rc, stats = str(runner.status), int(runner.rc or 0), runner.stats
    succeeded = status == "successful" and rc == 0
    failure = tracker.failure
    if not succeeded and failure is None:
        failure = MESSAGE_RUNNER_STATUS.format(status=status, rc=rc)
    return PlaybookOutcome(
        succeeded=succeeded,
        counts=events.counts(stats),
        summary=tracker.summary,
        failed_task=tracker.failed_task,
        failure=None if succeeded else failure,
        unreachable=tracker.unreachable,
        data=tracker.data,
    )


@contextlib.contextmanager
def _private_dir() -> Iterator[Path]:
    """A fresh directory only this user can read, removed with everything in it afterwards."""
    private = Path(tempfile.mkdtemp(prefix="opsgate-run-"))  # mode 0700
    try:
        yield private
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
