"""Approver notifications' part of the kopf layer: watch Approvals, hand news to the notifier.

Registered beside :mod:`opsgate.handlers` by ``opsgate operator``. Without
``OPSGATE_NOTIFY_CONFIG`` (the path of the routes file, see
:mod:`opsgate.controller.notifications`) nothing is watched for it. A malformed file stops the
operator at start with a message naming the problem, rather than running silently unheard.

What is news: an Approval added while this process watches (created), and a state that became
Approved, Rejected or Expired. Approvals already there when the process starts are remembered,
not announced, so a restart does not send everything again (a decision made while no operator
was running is not announced either; the OpsRequest's status and Events still say it). Sending
happens on the notifier's own task: this handler never waits for a mail server.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import kopf
import yaml

from opsgate import resources
from opsgate.adapters.notifier import Notifier
from opsgate.controller import notifications
from opsgate.resources import ApprovalState

log = logging.getLogger("opsgate.notify")


def load(path: str) -> notifications.Routes:
    """The routes file at ``path``; a clear error if it cannot be read or is malformed."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise notifications.ConfigError(f"cannot read the notification routes {path}: {exc}") from exc
    try:
        return notifications.load_routes(raw or {})
    except notifications.ConfigError as exc:
        raise notifications.ConfigError(f"{path}: {exc}") from exc


@kopf.on.startup()
async def start_notifier(memo: kopf.Memo, **_: Any) -> None:
    path = os.environ.get("OPSGATE_NOTIFY_CONFIG")
    memo["notifier"] = None
    if not path:
        return
    try:
        routes = load(path)
    except notifications.ConfigError as exc:
        raise kopf.PermanentError(str(exc)) from None  # stops the operator: retrying cannot fix the file
    notifier = Notifier(routes)
    notifier.start()
    memo["notifier"] = notifier
    memo["notified"] = {}  # Approval uid -> the state last seen (announced or found at start)
    log.info(
        "approver notifications: %d group(s), %d user(s), e-mail %s, UI link %s",
        len(routes.groups),
        len(routes.users),
        f"via {routes.smtp.host}:{routes.smtp.port}" if routes.smtp else "off",
        routes.ui_url or "off",
    )


@kopf.on.cleanup()
async def stop_notifier(memo: kopf.Memo, **_: Any) -> None:
    notifier: Notifier | None = memo.get("notifier")
    if notifier is not None:
        await notifier.stop()


@kopf.on.event(resources.GROUP, resources.VERSION, resources.APPROVAL_PLURAL, id="notify")
async def approval_news(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    notifier: Notifier | None = memo.get("notifier")
    if notifier is None:
        return
    seen: dict[str, str] = memo["notified"]
    uid = body["metadata"]["uid"]
    if type == "DELETED":
        seen.pop(uid, None)
        return
    state = (body.get("status") or {}).get("state") or ApprovalState.PENDING.value
    if type is None:  # the listing at start: not news
        seen[uid] = state
        return
    if seen.get(uid) == state:
        return
    seen[uid] = state
    event = notifications.event_of(body, created=type == "ADDED")
    if event is None:
        return
    for message in notifications.messages(body, event, routes=notifier.routes):
        notifier.submit(message)
