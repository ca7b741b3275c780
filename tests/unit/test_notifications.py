"""Approver notifications: who is told what (pure), and the notifier delivering to a real SMTP server and a webhook.

The SMTP server is aiosmtpd's real one and the webhook a Slack-compatible receiver, both on
loopback (tests/fakes/notify_receivers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.notify_receivers import Inbox, WebhookReceiver, free_port

from opsgate.adapters.notifier import Notifier, slack_payload
from opsgate.controller import notifications
from opsgate.controller.notifications import Channels, ConfigError, Event, Routes, Smtp

APPROVAL: dict[str, Any] = {
    "metadata": {"name": "email-approval-3f2a", "namespace": "team-a", "uid": "a-1"},
    "spec": {
        "opsRequestRef": {"name": "email", "uid": "r-1"},
        "planDigest": "sha256:" + "ab" * 32,
        "requester": "alice",
        "requiredApprovals": 1,
        "approverGroups": ["opsgate-approvers", "mail-admins"],
        "expiresAt": "2026-12-04T10:00:00Z",
        "summary": {
            "request": "create an email for john@acme.org, my token=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "action": "provision.create.email",
            "description": "Create a mailbox",
            "risk": "medium",
            "environment": "production",
            "executor": "playbooks/provision/create-email.yml",
            "parameters": {"email": "john@acme.org", "quota_mib": 1024},
            "policy": ["approval-for-email: a new mailbox needs an approval"],
        },
    },
    "status": {"state": "Pending"},
}
ROUTES = Routes(
    ui_url="https://opsgate.acme.test",
    groups={
        "opsgate-approvers": Channels(email=("approvers@acme.test",), webhooks=("https://hooks.acme.test/a",)),
        "mail-admins": Channels(email=("mail@acme.test", "approvers@acme.test")),
    },
    users={"bob": Channels(email=("robert@acme.test",))},
    requester_domain="acme.test",
)


def _with(state: str, *decisions: dict[str, str]) -> dict[str, Any]:
    approval = copy.deepcopy(APPROVAL)
    approval["status"] = {"state": state}
    approval["spec"]["decisions"] = list(decisions)
    return approval


def test_a_new_approval_tells_the_approvers_what_to_decide_and_how() -> None:
    to_approvers, to_requester = notifications.messages(APPROVAL, Event.CREATED, routes=ROUTES)
    assert to_approvers.email == ("approvers@acme.test", "mail@acme.test")  # each address once
    assert to_approvers.webhooks == ("https://hooks.acme.test/a",)
    assert to_approvers.subject == "[OpsGate] Approval needed: provision.create.email in production (team-a/email)"
    text = to_approvers.text
    assert "alice asks for a change that needs 1 approval(s) from opsgate-approvers, mail-admins" in text
    assert "parameter     email = john@acme.org" in text
    assert "asks because  approval-for-email: a new mailbox needs an approval" in text
    assert "https://opsgate.acme.test/?approval=team-a/email-approval-3f2a" in text
    assert "kubectl opsgate approve email-approval-3f2a -n team-a" in text
    assert to_requester.email == ("alice@acme.test",)
    assert "Your request email needs 1 approval(s) from opsgate-approvers, mail-admins." in to_requester.text
    assert "kubectl opsgate approve" not in to_requester.text


def test_no_secret_reaches_a_message() -> None:
    rejected = _with(
        "Rejected", {"approver": "bob", "decision": "Reject", "digest": "d", "message": "password=hunter2"}
    )
    for event, approval in ((Event.CREATED, APPROVAL), (Event.REJECTED, rejected)):
        for message in notifications.messages(approval, event, routes=ROUTES):
            assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in message.text
            assert "hunter2" not in message.text
            assert "[REDACTED]" in message.text


@pytest.mark.parametrize(
    ("state", "created", "event"),
    [
        ("Pending", True, Event.CREATED),
        ("Pending", False, None),
        ("Approved", False, Event.APPROVED),
        ("Rejected", False, Event.REJECTED),
        ("Expired", False, Event.EXPIRED),
    ],
    ids=["created", "pending-update", "approved", "rejected", "expired"],
)
def test_what_is_news(state: str, created: bool, event: Event | None) -> None:
    assert notifications.event_of(_with(state), created=created) is event


def test_a_decision_tells_both_sides_who_decided() -> None:
    approved = _with("Approved", {"approver": "bob", "decision": "Approve", "digest": "d", "message": "quota ok"})
    to_approvers, to_requester = notifications.messages(approved, Event.APPROVED, routes=ROUTES)
    assert to_approvers.subject.startswith("[OpsGate] Approved: provision.create.email")
    assert "Approve by bob: quota ok" in to_approvers.text
    assert "Your request email was approved; it runs now." in to_requester.text
    expired = notifications.messages(_with("Expired"), Event.EXPIRED, routes=ROUTES)[1]
    assert "expired before opsgate-approvers, mail-admins decided; nothing runs" in expired.text


def test_a_requester_who_is_listed_in_a_group_hears_once() -> None:
    routes = Routes(groups={"opsgate-approvers": Channels(email=("alice@acme.test",))}, requester_domain="acme.test")
    assert [m.email for m in notifications.messages(APPROVAL, Event.CREATED, routes=routes)] == [("alice@acme.test",)]


def test_a_service_account_requester_has_no_guessed_address() -> None:
    approval = copy.deepcopy(APPROVAL)
    approval["spec"]["requester"] = "system:serviceaccount:opsgate-system:alerts"
    assert len(notifications.messages(approval, Event.CREATED, routes=ROUTES)) == 1


def test_the_routes_file_is_read_and_its_mistakes_named() -> None:
    routes = notifications.load_routes(
        {
            "uiUrl": "https://ui.acme.test/",
            "smtp": {"host": "smtp.acme.test", "port": 587, "from": "opsgate@acme.test", "starttls": True},
            "groups": {"opsgate-approvers": {"email": ["a@acme.test"], "webhooks": "https://hooks.acme.test/x"}},
            "requesterDomain": "acme.test",
        }
    )
    assert routes.ui_url == "https://ui.acme.test"
    assert routes.smtp == Smtp(host="smtp.acme.test", port=587, sender="opsgate@acme.test", starttls=True)
    assert routes.groups["opsgate-approvers"].webhooks == ("https://hooks.acme.test/x",)
    with pytest.raises(ConfigError, match=r"groups\.ops\.email must be a list of strings"):
        notifications.load_routes({"groups": {"ops": {"email": [1]}}})
    with pytest.raises(ConfigError, match="smtp needs at least a host"):
        notifications.load_routes({"smtp": {"port": 25}})


# --- delivery: a real SMTP server and a webhook receiver ------------------------------------------


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with Inbox() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


async def _delivered(notifier: Notifier, count: int) -> None:
    """Until ``count`` deliveries ended (sent or given up), for at most 15 s."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(15):
            while notifier.delivered + notifier.failed < count:  # noqa: ASYNC110 - counters, no event to wait on
                await asyncio.sleep(0.05)


async def test_the_notifier_sends_mail_and_posts_the_webhook(
    inbox: Inbox, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    routes = Routes(
        ui_url="http://ui.local",
        smtp=Smtp(host="127.0.0.1", port=inbox.port, sender="opsgate@acme.test"),
        groups={"opsgate-approvers": Channels(email=("approvers@acme.test",), webhooks=(webhook.url(),))},
        requester_domain="acme.test",
    )
    notifier = Notifier(routes, backoff=(0.1,))
    notifier.start()
    try:
        for message in notifications.messages(APPROVAL, Event.CREATED, routes=routes):
            notifier.submit(message)
        await _delivered(notifier, 3)
    finally:
        await notifier.stop()
    assert (notifier.delivered, notifier.failed) == (3, 0)
    (mail,) = inbox.to("approvers@acme.test")
    assert mail["From"] == "opsgate@acme.test"
    assert mail["Subject"] == "[OpsGate] Approval needed: provision.create.email in production (team-a/email)"
    assert "kubectl opsgate approve email-approval-3f2a -n team-a" in mail.get_content()
    assert inbox.to("alice@acme.test")
    (post,) = webhook.posts
    assert post == slack_payload(notifications.messages(APPROVAL, Event.CREATED, routes=routes)[0])
    assert "http://ui.local/?approval=team-a/email-approval-3f2a" in post["text"]
    assert "HTTP Request: POST" in caplog.text  # httpx logs each request at INFO…
    assert "XXXXSECRETXXXX" not in caplog.text  # …but never the webhook's credential


async def test_a_failing_channel_is_retried_with_backoff(webhook: WebhookReceiver) -> None:
    webhook.failures = [503, 500]
    routes = Routes(groups={"opsgate-approvers": Channels(webhooks=(webhook.url(),))})
    notifier = Notifier(routes, backoff=(0.05, 0.1, 0.2))
    notifier.start()
    try:
        notifier.submit(notifications.messages(APPROVAL, Event.CREATED, routes=routes)[0])
        await _delivered(notifier, 1)
    finally:
        await notifier.stop()
    assert (webhook.calls, len(webhook.posts), notifier.delivered) == (3, 1, 1)


async def test_a_mail_server_that_is_down_never_holds_up_the_caller_and_the_webhook_still_goes(
    webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    routes = Routes(
        smtp=Smtp(host="127.0.0.1", port=free_port(), timeout=1),  # nothing listens there
        groups={"opsgate-approvers": Channels(email=("approvers@acme.test",), webhooks=(webhook.url(),))},
    )
    notifier = Notifier(routes, backoff=(0.05, 0.05))
    notifier.start()
    try:
        started = time.monotonic()
        for message in notifications.messages(APPROVAL, Event.CREATED, routes=routes):
            notifier.submit(message)
        assert time.monotonic() - started < 0.05  # submit only queues
        await _delivered(notifier, 2)
    finally:
        await notifier.stop()
    assert (notifier.delivered, notifier.failed) == (1, 1)
    assert "not delivered after 3 attempts: SMTP 127.0.0.1" in caplog.text
    assert "XXXXSECRETXXXX" not in caplog.text  # a webhook URL's credential is never logged


async def test_a_malformed_routes_file_stops_the_operator_saying_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kopf

    from opsgate import notify_events

    path = tmp_path / "routes.yaml"
    path.write_text("groups:\n  opsgate-approvers: {email: 3}\n")
    monkeypatch.setenv("OPSGATE_NOTIFY_CONFIG", str(path))
    with pytest.raises(kopf.PermanentError, match=r"routes.yaml: groups\.opsgate-approvers\.email must be a list"):
        await notify_events.start_notifier(memo=kopf.Memo())
