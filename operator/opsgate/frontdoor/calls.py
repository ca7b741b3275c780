"""The front-door operations, each one API call (or a few) made with the caller's own credentials.

Nothing here decides what the caller may do: the API server does (RBAC, the admission policies of
crds/). A refusal comes back as :class:`opsgate.kube.ApiError` with the API server's own message.
Blocking; the MCP server runs them in a worker thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kubernetes

from opsgate import kube, paths, resources
from opsgate.controller import approvals
from opsgate.frontdoor import views
from opsgate.frontdoor.views import Identity
from opsgate.resources import Verdict


class ConnectError(RuntimeError):
    """The credentials named can't be loaded (kubeconfig missing or unreadable, unknown context)."""


POLL_SECONDS = 1.0
MAX_WAIT_SECONDS = 3600
MESSAGE_NO_FEEDBACK = "give a score, an intent verdict, a corrected intent or a text"


def connect(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    as_user: str | None = None,
    as_group: str | None = None,
) -> None:
    """Use these credentials for every later call (kubectl's --kubeconfig/--context/--as/--as-group).

    A kubeconfig that can't be used (missing, no such context) raises :class:`ConnectError`.
    """
    try:
        kube.configure(kubeconfig, context=context, as_user=as_user, as_group=as_group)
    except (kubernetes.config.ConfigException, OSError) as exc:
        raise ConnectError(f"no usable kubeconfig: {exc}") from exc


def whoami() -> Identity:
    """The caller, as the API server authenticates them."""
    return Identity.from_user_info(kube.whoami())


def submit(text: str, *, namespace: str, **options: Any) -> dict[str, Any]:
    """Create an OpsRequest as the caller (see :func:`views.request_manifest` for ``options``)."""
    return kube.create(views.request_manifest(text, namespace=namespace, identity=whoami(), **options))


def get(namespace: str, name: str) -> dict[str, Any]:
    return kube.get(resources.API_VERSION, "OpsRequest", namespace, name)


def list_requests(namespace: str | None) -> list[dict[str, Any]]:
    """The OpsRequests of ``namespace`` (all namespaces: None), oldest first."""
    items = kube.list_objects(resources.API_VERSION, "OpsRequest", namespace)
    return sorted(items, key=lambda o: (o["metadata"].get("creationTimestamp", ""), o["metadata"]["name"]))


def explain(namespace: str, name: str) -> dict[str, Any]:
    """:func:`views.explanation` of the request, with its Approval when there is one the caller can read."""
    obj = get(namespace, name)
    approval_name = ((obj.get("status") or {}).get("approval") or {}).get("name")
    approval = None
    if approval_name:
        try:
            approval = kube.get(resources.API_VERSION, "Approval", namespace, approval_name)
        except kube.ApiError as exc:
            if exc.status not in (403, 404):
                raise
    return views.explanation(obj, approval)


def approvals_waiting(namespace: str | None, identity: Identity) -> list[Mapping[str, Any]]:
    """The Approvals in ``namespace`` (all: None) the caller can still decide."""
    return views.waiting_for(kube.list_objects(resources.API_VERSION, "Approval", namespace), identity)


def decide(namespace: str, name: str, *, verdict: Verdict, message: str = "") -> tuple[list[str], str]:
    """Append the caller's decision for the Approval's own plan digest; (what was decided, who decided).

    The lines describe what is being decided (``approvals.describe``); the API server checks
    four-eyes, groups, digest and state, and its refusal is raised as is.
    """
    me = whoami().username
    approval = _approval_named(namespace, name)
    operations = approvals.decision_patch(approval, approver=me, verdict=verdict, message=message)
    kube.json_patch(resources.API_VERSION, "Approval", namespace, approval["metadata"]["name"], operations)
    return approvals.describe(approval), me


def _approval_named(namespace: str, name: str) -> dict[str, Any]:
    """The Approval NAME, or the one of the OpsRequest NAME (what ``status`` lists) when no Approval has that name."""
    try:
        return kube.get(resources.API_VERSION, "Approval", namespace, name)
    except kube.ApiError as exc:
        if not exc.not_found:
            raise
        request = kube.get_or_none(resources.API_VERSION, "OpsRequest", namespace, name)
        approval_name = (((request or {}).get("status") or {}).get("approval") or {}).get("name")
        if not approval_name:
            raise
    return kube.get(resources.API_VERSION, "Approval", namespace, approval_name)


def feedback(
    namespace: str,
    name: str,
    *,
    score: int | None = None,
    intent_correct: bool | None = None,
    corrected_intent: str | None = None,
    text: str | None = None,
) -> dict[str, str]:
    """Annotate the request with feedback, validated first as the audit store will read it.

    Bad values are refused here with the same message the operator would give
    (:class:`opsgate.audit.feedback.FeedbackError`), before anything is written.
    """
    from opsgate.audit import feedback as feedback_rules  # the catalog's models: loaded only for feedback
    from opsgate.catalog import load_catalog

    annotations = feedback_annotations(
        score=score, intent_correct=intent_correct, corrected_intent=corrected_intent, text=text
    )
    feedback_rules.read(annotations, catalog=load_catalog(paths.catalog_file()))
    kube.merge_patch(resources.API_VERSION, "OpsRequest", namespace, name, {"metadata": {"annotations": annotations}})
    return annotations


def feedback_annotations(
    *, score: int | None, intent_correct: bool | None, corrected_intent: str | None, text: str | None
) -> dict[str, str]:
    """The annotations of :mod:`opsgate.audit.feedback` for these answers (a bare catalog key is accepted)."""
    from opsgate.audit import feedback as feedback_rules

    annotations: dict[str, str] = {}
    if score is not None:
        annotations[feedback_rules.SCORE] = str(score)
    if intent_correct is not None:
        annotations[feedback_rules.INTENT_CORRECT] = "true" if intent_correct else "false"
    if corrected_intent is not None:
        raw = corrected_intent.strip()
        annotations[feedback_rules.CORRECTED_INTENT] = raw if raw.startswith("{") else json.dumps({"action": raw})
    if text:
        annotations[feedback_rules.TEXT] = text
    if not annotations:
        raise feedback_rules.FeedbackError(MESSAGE_NO_FEEDBACK)
    return annotations


def wait(
    namespace: str,
    name: str,
    *,
    phases: Iterable[str] = (),
    timeout: float,
    on_change: Callable[[dict[str, Any]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[dict[str, Any], bool]:
    """Poll the request until it is in one of ``phases`` or finished, for at most ``timeout`` seconds.

    Returns (the last object read, whether it got there in time). ``on_change`` sees each new phase.
    """
    wanted = tuple(phases)
    deadline = clock() + min(max(timeout, 0.0), MAX_WAIT_SECONDS)
    seen = None
    while True:
        obj = get(namespace, name)
        phase = views.phase_of(obj)
        if on_change is not None and phase != seen:
            on_change(obj)
        seen = phase
        if views.reached(obj, wanted):
            return obj, True
        if clock() >= deadline:
            return obj, False
        sleep(min(POLL_SECONDS, max(deadline - clock(), 0.0)))
