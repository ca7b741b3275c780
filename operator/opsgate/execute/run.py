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
from opsgate.execute import playbook, rollback, scrub, secrets, tofu, verify
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
MESSAGE_CAPTURE_FAILED = "could not capture the state to roll back to: {failure}; the change was not run"
MESSAGE_VALIDATED = "the change was validated"
MESSAGE_ROLLED_BACK = "validation failed: {why}; rolled back: {undo}"
MESSAGE_ROLLBACK_FAILED = "validation failed: {why}; the rollback failed too: {failure}"
MESSAGE_NOT_UNDONE = "validation failed: {why}; the entry declares no rollback, the change stays"
VALIDATION_TIMEOUT_VAR = "opsgate_validation_timeout"
VALIDATION_PASSED, VALIDATION_FAILED = "Passed", "Failed"
ROLLBACK_AVAILABLE, ROLLBACK_DONE, ROLLBACK_FAILED = "Available", "RolledBack", "Failed"

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
    approved_digest: str | None = None  # the digest the plan must carry (the Job's), None: any verified plan


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
            request.document,
            actions=env.actions,
            home=env.home,
            executor_image=request.executor_image,
            approved_digest=request.approved_digest,
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
    """Capture the inverse (if declared), change, validate (if declared), and undo a change that did not hold."""

    def run(path: str, params: Mapping[str, Any]) -> playbook.PlaybookOutcome:
        return playbook.run(env.home / path, parameters=params, secrets=fetched, dry_run=dry_run, emit=emit)

    try:
        inverse: tuple[str, dict[str, Any]] | None = None
        if entry.rollback is not None and not dry_run:
            captured = run(entry.rollback.capture, parameters)
            if not captured.succeeded:
                failed = _playbook_result(action, digest, dry_run, captured)
                return replace(failed, summary=MESSAGE_CAPTURE_FAILED.format(failure=failed.summary))
            inverse_key = str(entry.rollback_action)
            try:
                inverse_params = rollback.inverse_parameters(
                    captured.data, entry=entry, inverse=env.actions.entries[inverse_key]
                )
            except rollback.CaptureError as exc:
                return _failed(action, digest, dry_run, Reason.TASK_FAILED, str(exc))
            inverse = (inverse_key, inverse_params)
        assert entry.executor.playbook is not None
        outcome = run(entry.executor.playbook, parameters)
        result = _playbook_result(action, digest, dry_run, outcome)
        available = rollback.record(*inverse, state=ROLLBACK_AVAILABLE) if inverse else None
        if not outcome.succeeded or dry_run or entry.validation is None:
            return replace(result, rollback=available)
        timeout = f"{entry.validation.timeout_seconds}s"
        check = run(entry.validation.playbook, {**parameters, VALIDATION_TIMEOUT_VAR: timeout})
        if check.succeeded:
            passed = {"state": VALIDATION_PASSED, "message": check.summary or MESSAGE_VALIDATED}
            return replace(result, validation=passed, rollback=available)
        why = check.failure or "the validation playbook failed"
        failed_validation = {"state": VALIDATION_FAILED, "message": why}
        if inverse is None:
            summary = MESSAGE_NOT_UNDONE.format(why=why)
            return _validation_failed(result, summary, failed_validation, None)
        inverse_entry = env.actions.entries[inverse[0]]
        assert inverse_entry.executor.playbook is not None
        undo = run(inverse_entry.executor.playbook, inverse[1])
        if undo.succeeded:
            summary = MESSAGE_ROLLED_BACK.format(why=why, undo=undo.summary or inverse[0])
            record = rollback.record(*inverse, state=ROLLBACK_DONE, summary=undo.summary)
        else:
            summary = MESSAGE_ROLLBACK_FAILED.format(why=why, failure=undo.failure or "it failed")
            record = rollback.record(*inverse, state=ROLLBACK_FAILED, summary=undo.failure)
        return _validation_failed(result, summary, failed_validation, record)
    except playbook.ToolMissingError as exc:
        return _failed(action, digest, dry_run, Reason.TOOL_MISSING, str(exc))


def _validation_failed(
    result: Result, summary: str, validation: dict[str, Any], record: dict[str, Any] | None
) -> Result:
    return replace(
        result,
        status=Status.FAILED,
        summary=summary,
        reason=Reason.VALIDATION_FAILED,
        message=validation["message"],
        validation=validation,
        rollback=record,
    )


def _playbook_result(action: str, digest: str, dry_run: bool, outcome: playbook.PlaybookOutcome) -> Result:
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

    def clean_texts(document: dict[str, Any] | None) -> dict[str, Any] | None:
        if document is None:
            return None
        return {k: scrub.scrub(v, values) if isinstance(v, str) else v for k, v in document.items()}

    return replace(
        result,
        summary=scrub.scrub(result.summary, values),
        failed_task=clean(result.failed_task),
        message=clean(result.message),
        validation=clean_texts(result.validation),
        rollback=clean_texts(result.rollback),
    )
