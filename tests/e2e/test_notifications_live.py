"""Approver notifications on the local cluster: an Approval created, rejected or expired reaches people.

The operator runs with a routes file (OPSGATE_NOTIFY_CONFIG) sending the approver group's mail to a
real SMTP server (aiosmtpd) and its Slack-compatible webhook to a receiver, both on loopback, and a
second webhook where nothing listens: that dead channel must neither slow nor fail the request.
The session operator is stopped for these tests and restarted afterwards.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.cluster import Kubectl, Operator, Team
from tests.fakes.notify_receivers import Inbox, WebhookReceiver, free_port

from opsgate.controller.notifications import DEFAULT_LINK

UI = "http://opsgate-ui.local:8080"
APPROVAL_TTL_SECONDS = 15


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with Inbox() as server:
        yield server


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def notifying_operator(
    operator: Operator, inbox: Inbox, webhook: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    routes = {
        "uiUrl": UI,
        "smtp": {"host": "127.0.0.1", "port": inbox.port, "from": "opsgate@acme.test"},
        "groups": {
            "opsgate-approvers": {
                "email": ["approvers@acme.test"],
                "webhooks": [webhook.url(), f"http://127.0.0.1:{free_port()}/dead"],
            }
        },
        "requesterDomain": "acme.test",
    }
    path = tmp_path_factory.mktemp("notify") / "routes.yaml"
    path.write_text(json.dumps(routes))  # JSON is YAML
    operator.stop()
    # This operator's Approvals expire after APPROVAL_TTL_SECONDS, so the expiry notice comes soon.
    ttl = str(APPROVAL_TTL_SECONDS)
    env = {**operator.env, "OPSGATE_NOTIFY_CONFIG": str(path), "OPSGATE_APPROVAL_TTL_SECONDS": ttl}
    notifying = Operator(operator.cluster, operator.log_path.with_name("notify-operator.log"), env)
    notifying.start()
    yield notifying
    notifying.stop()
    operator.start()


def _wait_status(k: Kubectl, namespace: str, name: str, phase: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = k.get_json("opsrequest", name, "-n", namespace).get("status") or {}
        if status.get("phase") == phase:
            return status
        time.sleep(0.25)
    raise AssertionError(f"{name} not {phase} in {timeout}s")


def test_approvals_created_rejected_and_expired_reach_approvers_and_requester(
    kubectl: Kubectl, notifying_operator: Operator, team: Team, inbox: Inbox, webhook: WebhookReceiver
) -> None:
    ns = team.namespace
    created = time.monotonic()
    team.create("late", "create an email for late@acme.org")  # left undecided: it expires (below)
    team.create("email", "create an email for john@acme.org")
    status = _wait_status(kubectl, ns, "email", "AwaitingApproval")
    assert time.monotonic() - created < 30  # a dead webhook holds up nothing
    name = status["approval"]["name"]

    subject = f"[OpsGate] Approval needed: provision.create.email ({ns}/email)"
    mail = inbox.wait_for("approvers@acme.test", subject)
    assert mail["Subject"] == subject
    text = mail.get_content()
    assert f"{team.user} asks for a change that needs 1 approval(s) from opsgate-approvers" in text
    assert "parameter     email = john@acme.org" in text
    assert DEFAULT_LINK.format(ui=UI, namespace=ns, name=name) in text
    assert f"kubectl opsgate approve {name} -n {ns}" in text
    own = inbox.wait_for(f"{team.user}@acme.test", subject)
    assert "Your request email needs 1 approval(s) from opsgate-approvers." in own.get_content()
    post = webhook.wait_for(f"kubectl opsgate approve {name} -n {ns}")
    assert post["text"].startswith(f"*[OpsGate] Approval needed: provision.create.email ({ns}/email)*")

    carol = kubectl.as_user("carol", "opsgate-approvers")
    approval = kubectl.get_json("approval", name, "-n", ns)
    entry = {
        "approver": "carol",
        "decision": "Reject",
        "digest": approval["spec"]["planDigest"],
        "message": "use the shared box; its password is hunter2",
    }
    patch = json.dumps({"spec": {"decisions": [entry]}})
    carol("patch", "approval", name, "-n", ns, "--type=merge", "-p", patch)
    _wait_status(kubectl, ns, "email", "Rejected")

    rejected = inbox.wait_for(f"{team.user}@acme.test", "Rejected")
    body = rejected.get_content()
    assert "Your request email was rejected; nothing runs." in body
    assert "Reject by carol: use the shared box; its password is [REDACTED]" in body
    assert "hunter2" not in body
    assert "hunter2" not in inbox.wait_for("approvers@acme.test", "Rejected").get_content()
    assert "hunter2" not in webhook.wait_for("Rejected")["text"]
    log = notifying_operator.log()
    assert "XXXXSECRETXXXX" not in log  # a webhook URL's credential is never logged
    assert "hunter2" not in log

    expired = inbox.wait_for(f"{team.user}@acme.test", "Expired", timeout=APPROVAL_TTL_SECONDS + 30)
    assert "Your request late expired before opsgate-approvers decided; nothing runs." in expired.get_content()
    assert "Approval late-" in inbox.wait_for("approvers@acme.test", "Expired").get_content()
