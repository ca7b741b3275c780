"""One execution, start to end: verify, authorize, fetch secrets, run, report.

Every collaborator that reaches outside the process - the authorizer, the secret source, the
clock, where lines go - is passed in, so the CLI wires the real ones and the tests fakes. Any
failure becomes a :class:`~opsgate.execute.result.Result`; nothing here raises past
:func:`execute`. Every text that leaves goes through :func:`~opsgate.execute.scrub.scrub`
with the secret values of this run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from opsgate import catalog
from opsgate.execute import playbook, scrub, secrets, tofu, verify
from opsgate.execute.authorize import Authorizer
from opsgate.execute.result import Reason, Result, Status

MESSAGE_UNAUTHORIZED = "refusing to run: {requester} may not execute {action} in namespace {namespace}: {why}"
MESSAGE_AUTHORIZER_FAILED = "refusing to run: the authorization check failed ({error}); nothing was run"
MESSAGE_NO_NAMESPACE = "refusing to run: authorization needs the request's namespace (--namespace)"
MESSAGE_NEEDS_SECRETS = "this action needs secrets {names} from Vault; set VAULT_ADDR"
MESSAGE_SECRETS_MISSING = "the secret source returned no value for {names}; nothing was run"
MESSAGE_SECRETS_FAILED = "could not read the secrets {names}: {error}; nothing was run"
MESSAGE_NOTHING_TO_RUN = "{action} runs nothing (executor kind `none`): it is answered in the request's status"
MESSAGE_TASK_FAILED = "task {task!r} failed: {failure}"
MESSAGE_SUCCEEDED = "{action} succeeded"
MESSAGE_INTERNAL = "the executor failed unexpectedly: {error}"

Emit = Callable[[dict[str, Any]], None]


# Builds the secret source when, and only when, the entry declares secrets.
SecretSourceFactory = Callable[[], secrets.SecretSource]


@dataclass(frozen=True)
class Request:
    """What to execute and how."""

    document: Any  # the `plan` object of `opsgate plan --json`
    executor_image: str
    dry_run: bool = False
    namespace: str | None = None  # the OpsRequest's namespace, where RBAC is asked


@dataclass(frozen=True)
class Environment:
    """Where the executor's inputs and collaborators come from."""

    actions: catalog.Catalog
    home: Path
    authorizer: Authorizer | None  # None: no execution-time check configured
    secret_source: SecretSourceFactory
    emit: Emit
    clock: Callable[[], float] = time.monotonic


def execute(request: Request, env: Environment) -> Result:
    """Run ``request`` and report; refusals and failures are results, never exceptions."""
    started = env.clock()
    values: list[str] = []
    action, digest = _identity(request.document)
    try:
        result = _execute(request, env, values)
    except Exception as exc:  # the Job must always report, whatever broke
        text = f"{type(exc).__name__}: {exc}" if not values else type(exc).__name__
        result = _failed(action, digest, request.dry_run, Reason.EXECUTOR_ERROR, MESSAGE_INTERNAL.format(error=text))
    return _scrubbed(replace(result, duration_seconds=env.clock() - started), values)


def _execute(request: Request, env: Environment, values: list[str]) -> Result:
    action, digest = _identity(request.document)
    try:
        verified = verify.verify(
            request.document, actions=env.actions, home=env.home, executor_image=request.executor_image
        )
    except verify.RefusalError as refusal:
        return _failed(action, digest, request.dry_run, refusal.reason, refusal.message)
    planned, entry = verified.plan, verified.entry
    dry_run = request.dry_run

    def failed(reason: Reason, message: str) -> Result:
        return _failed(planned.action, planned.digest, dry_run, reason, message)

    # the authoritative check, right before acting (an approval may outlive the requester's rights)
    if env.authorizer is not None:
        if not request.namespace:
            return failed(Reason.UNAUTHORIZED, MESSAGE_NO_NAMESPACE)
        # the namespace the action acts in, as the controller asked at plan time
        target = str(planned.parameters.get("namespace") or request.namespace)
        try:
            allowed, why = env.authorizer.check(planned.requester, planned.action, target)
        except Exception as exc:  # fail closed: no answer is no permission
            return failed(Reason.UNAUTHORIZED, MESSAGE_AUTHORIZER_FAILED.format(error=f"{type(exc).__name__}: {exc}"))
        if not allowed:
            message = MESSAGE_UNAUTHORIZED.format(
                requester=planned.requester, action=planned.action, namespace=target, why=why
            )
            return failed(Reason.UNAUTHORIZED, message)

    kind = entry.executor.kind
    if kind is catalog.ExecutorKind.NONE:
        summary = MESSAGE_NOTHING_TO_RUN.format(action=planned.action)
        return Result(Status.SUCCEEDED, planned.action, planned.digest, dry_run, summary)

    declared = secrets.refs(entry)
    try:
        fetched = _read_secrets(declared, env.secret_source)
    except secrets.SecretError as exc:
        return failed(Reason.SECRETS_UNAVAILABLE, str(exc))
    values.extend(fetched.values())

    def emit(line: dict[str, Any]) -> None:
        env.emit({key: scrub.scrub(v, values) if isinstance(v, str) else v for key, v in line.items()})

    if kind is catalog.ExecutorKind.ANSIBLE:
        return _run_playbook(planned.action, planned.digest, dry_run, env, entry, planned.parameters, fetched, emit)
    outcome = tofu.run(
        env.home / str(entry.executor.module),
        parameters=planned.parameters,
        tags=planned.tags.model_dump(),
        secrets=fetched,
        destroy=entry.rate_class is catalog.RateClass.DELETE,
        dry_run=dry_run,
        emit=emit,
    )
    if not outcome.succeeded:
        result = failed(outcome.reason or Reason.TASK_FAILED, outcome.failure or outcome.summary)
        return replace(result, counts=outcome.counts, failed_task=outcome.failed_task)
    return Result(Status.SUCCEEDED, planned.action, planned.digest, dry_run, outcome.summary, counts=outcome.counts)


def _run_playbook(
    action: str,
    digest: str,
    dry_run: bool,
    env: Environment,
    entry: catalog.ActionEntry,
    parameters: Mapping[str, Any],
    fetched: Mapping[str, str],
    emit: Emit,
) -> Result:
    try:
        outcome = playbook.run(
            env.home / str(entry.executor.playbook),
            parameters=parameters,
            secrets=fetched,
            dry_run=dry_run,
            emit=emit,
        )
    except playbook.ToolMissingError as exc:
        return _failed(action, digest, dry_run, Reason.TOOL_MISSING, str(exc))
    if outcome.succeeded:
        summary = outcome.summary or MESSAGE_SUCCEEDED.format(action=action)
        return Result(Status.SUCCEEDED, action, digest, dry_run, summary, counts=outcome.counts)
    failure = outcome.failure or "the playbook failed"
    message = MESSAGE_TASK_FAILED.format(task=outcome.failed_task, failure=failure) if outcome.failed_task else failure
    reason = Reason.HOST_UNREACHABLE if outcome.unreachable else Reason.TASK_FAILED
    return Result(
        Status.FAILED,
        action,
        digest,
        dry_run,
        summary=message,
        counts=outcome.counts,
        failed_task=outcome.failed_task,
        reason=reason,
        message=failure,
    )


def _read_secrets(declared: tuple[secrets.SecretRef, ...], factory: SecretSourceFactory) -> dict[str, str]:
    """The declared secrets' values; optional ones may be absent (and need no source at all)."""
    if not declared:
        return {}
    try:
        source = factory()
    except secrets.SecretsNotConfiguredError as exc:
        required = [ref for ref in declared if not ref.optional]
        if not required:  # optional ones only: the playbook runs without them
            return {}
        raise secrets.SecretError(MESSAGE_NEEDS_SECRETS.format(names=_names(required))) from exc
    try:
        values = source.read(declared)
    except secrets.SecretError as exc:
        raise secrets.SecretError(MESSAGE_SECRETS_FAILED.format(names=_names(declared), error=exc)) from exc
    except Exception as exc:  # its text may quote what it read: name the type only
        error = type(exc).__name__
        raise secrets.SecretError(MESSAGE_SECRETS_FAILED.format(names=_names(declared), error=error)) from exc
    finally:
        source.close()
    lacking = secrets.missing(declared, values)
    if lacking:
        raise secrets.SecretError(MESSAGE_SECRETS_MISSING.format(names=_names(lacking)))
    names = {ref.name for ref in declared}
    return {name: value for name, value in values.items() if name in names and value}


def _names(refs: list[secrets.SecretRef] | tuple[secrets.SecretRef, ...]) -> str:
    return ", ".join(str(ref) for ref in refs)


def _identity(document: Any) -> tuple[str, str]:
    """The action and digest a plan document claims (for a result even when it is refused)."""
    if isinstance(document, Mapping):
        return str(document.get("action") or ""), str(document.get("digest") or "")
    return "", ""


def _failed(action: str, digest: str, dry_run: bool, reason: Reason, message: str) -> Result:
    return Result(Status.FAILED, action, digest, dry_run, summary=message, reason=reason, message=message)


def _scrubbed(result: Result, values: list[str]) -> Result:
    if not values:
        return result

    def clean(text: str | None) -> str | None:
        return None if text is None else scrub.scrub(text, values)

    return replace(
        result,
        summary=scrub.scrub(result.summary, values),
        failed_task=clean(result.failed_task),
        message=clean(result.message),
    )
