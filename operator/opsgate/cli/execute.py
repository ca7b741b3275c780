"""``opsgate execute --plan FILE``: the Job's entrypoint, also usable as a plain process.

Takes the ``plan`` object exactly as ``opsgate plan --json`` prints it, refuses it unless its
digest is the approved one (``--approved-digest``, set by the Job) and matches this image's
catalog, files and image, asks the authorizer, fetches the entry's
secrets from Vault, runs it, streams one JSON line per task to stdout and ends with one JSON
result line, also written to the termination message (``--termination-log``). Exit code 0 when
it succeeded, 1 when it failed, 2 when it was refused (nothing ran).

This module only wires the real collaborators (Vault, the SubjectAccessReview authorizer,
stdout) into :func:`opsgate.execute.run.execute`; both clients are imported only when
configured.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from opsgate import catalog, paths
from opsgate.execute import result, run, secrets
from opsgate.execute.authorize import Authorizer
from opsgate.settings import DEFAULT_EXECUTOR_IMAGE

ENV_EXECUTOR_IMAGE = "OPSGATE_EXECUTOR_IMAGE"
ENV_APPROVED_DIGEST = "OPSGATE_APPROVED_DIGEST"  # (controller/jobs.py sets it in every Job)
ENV_AUTHORIZER = "OPSGATE_AUTHORIZER"
ENV_NAMESPACE = "OPSGATE_REQUEST_NAMESPACE"
ENV_DRY_RUN = "OPSGATE_DRY_RUN"
ENV_TERMINATION_LOG = "OPSGATE_TERMINATION_LOG"
ENV_VAULT_ADDR = "VAULT_ADDR"
ENV_IN_CLUSTER = "KUBERNETES_SERVICE_HOST"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
MESSAGE_AUTHORIZER_UNAVAILABLE = "the SubjectAccessReview authorizer cannot start ({problem}); nothing was run"
MESSAGE_UNREADABLE_PLAN = "cannot read the plan file {path}: {problem}"
MESSAGE_BAD_CATALOG = "this executor's catalog cannot be loaded: {problem}"
MESSAGE_NO_TERMINATION_LOG = "note: cannot write the termination log {path} ({problem}); the result is on stdout only"


class AuthorizerChoice(enum.StrEnum):
    SUBJECT_ACCESS_REVIEW = "subjectaccessreview"
    NONE = "none"  # run without the execution-time check (a plain process, a cluster without it)


@click.command("execute")
@click.option(
    "--plan", "plan_file", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The plan JSON."
)
@click.option("--dry-run", is_flag=True, envvar=ENV_DRY_RUN, help="Ansible --check / tofu plan only.")
@click.option(
    "--termination-log",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_TERMINATION_LOG,
    default=DEFAULT_TERMINATION_LOG,
    show_default=True,
    help="Where the result JSON goes (the container's terminationMessagePath).",
)
@click.option(
    "--executor-image",
    envvar=ENV_EXECUTOR_IMAGE,
    default=DEFAULT_EXECUTOR_IMAGE,
    show_default=True,
    help="The image this runs in (the digest covers it).",
)
@click.option(
    "--authorizer",
    type=click.Choice([c.value for c in AuthorizerChoice]),
    envvar=ENV_AUTHORIZER,
    default=None,
    help="Execution-time authorization [default: subjectaccessreview in a pod, none elsewhere].",
)
@click.option("--namespace", envvar=ENV_NAMESPACE, default=None, help="The OpsRequest's namespace (for RBAC).")
@click.option(
    "--approved-digest",
    envvar=ENV_APPROVED_DIGEST,
    default=None,
    help="The digest that was approved: a plan carrying another is refused [default: any verified plan].",
)
@click.pass_context
def execute(
    ctx: click.Context,
    *,
    plan_file: Path,
    dry_run: bool,
    termination_log: Path,
    executor_image: str,
    authorizer: str | None,
    namespace: str | None,
    approved_digest: str | None,
) -> None:
    """Verify and run an approved plan (the Job's entrypoint)."""
    outcome = _execute(
        plan_file,
        dry_run=dry_run,
        executor_image=executor_image,
        authorizer=authorizer,
        namespace=namespace,
        approved_digest=approved_digest or None,
    )
    text = result.render(outcome)
    try:
        termination_log.write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(MESSAGE_NO_TERMINATION_LOG.format(path=termination_log, problem=exc.strerror), err=True)
    click.echo(text)
    ctx.exit(int(outcome.exit_code))


def _execute(
    plan_file: Path,
    *,
    dry_run: bool,
    executor_image: str,
    authorizer: str | None,
    namespace: str | None,
    approved_digest: str | None = None,
) -> result.Result:
    try:
        document = json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = getattr(exc, "strerror", None) or str(exc)
        return _refused(result.Reason.INVALID_PLAN, MESSAGE_UNREADABLE_PLAN.format(path=plan_file, problem=problem))
    try:
        home = paths.home()
        actions = catalog.load_catalog(paths.catalog_file())
    except (paths.HomeNotFoundError, catalog.CatalogError) as exc:
        return _failed(document, result.Reason.EXECUTOR_ERROR, MESSAGE_BAD_CATALOG.format(problem=exc))
    try:
        check = _authorizer(authorizer, os.environ)
    except Exception as exc:  # no credentials, no API server: fail closed
        problem = f"{type(exc).__name__}: {exc}"
        return _failed(document, result.Reason.UNAUTHORIZED, MESSAGE_AUTHORIZER_UNAVAILABLE.format(problem=problem))
    request = run.Request(
        document=document,
        executor_image=executor_image,
        dry_run=dry_run,
        namespace=namespace,
        approved_digest=approved_digest,
    )
    environment = run.Environment(actions=actions, home=home, authorizer=check, secret_source=_vault_source, emit=_emit)
    return run.execute(request, environment)


def _authorizer(choice: str | None, environ: os._Environ[str] | dict[str, str]) -> Authorizer | None:
    """The configured authorizer; unset means SubjectAccessReview inside a pod, none outside."""
    if choice is None:
        in_pod = bool(environ.get(ENV_IN_CLUSTER))
        choice = AuthorizerChoice.SUBJECT_ACCESS_REVIEW if in_pod else AuthorizerChoice.NONE
    if choice == AuthorizerChoice.NONE:
        return None
    from opsgate.adapters import authorization  # the Kubernetes client only where it is used

    return authorization.SubjectAccessReviewAuthorizer()


def _vault_source() -> secrets.SecretSource:
    """The Vault/OpenBao source (hvac, Kubernetes auth), built only when an entry declares secrets."""
    if not os.environ.get(ENV_VAULT_ADDR):
        raise secrets.SecretsNotConfiguredError(ENV_VAULT_ADDR)
    from opsgate.adapters import vault  # hvac only where secrets are read

    try:
        return _VaultErrorsAsSecretErrors(vault.VaultSecretSource.from_env(), vault.VaultError)
    except vault.VaultError as exc:
        raise secrets.SecretError(str(exc)) from None


class _VaultErrorsAsSecretErrors:
    """Vault's errors, which name Vault and the path and never a value, as the executor's SecretError."""

    def __init__(self, source: Any, error: type[Exception]) -> None:
        self._source, self._error = source, error

    def read(self, refs: Sequence[secrets.SecretRef]) -> dict[str, str]:
        try:
            found: dict[str, str] = self._source.read(refs)
        except self._error as exc:
            raise secrets.SecretError(str(exc)) from None
        return found

    def close(self) -> None:
        try:
            self._source.close()
        except self._error as exc:
            raise secrets.SecretError(str(exc)) from None


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _refused(reason: result.Reason, message: str) -> result.Result:
    return result.Result(result.Status.FAILED, "", "", False, summary=message, reason=reason, message=message)


def _failed(document: Any, reason: result.Reason, message: str) -> result.Result:
    action = str(document.get("action") or "") if isinstance(document, dict) else ""
    digest = str(document.get("digest") or "") if isinstance(document, dict) else ""
    return result.Result(result.Status.FAILED, action, digest, False, summary=message, reason=reason, message=message)
