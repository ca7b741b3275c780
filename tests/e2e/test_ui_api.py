"""The chat front-end's HTTP API on the real stack: everything as the user, refused as the user.

``opsgate ui`` runs as a ServiceAccount that may only impersonate (tests/e2e/ui_server.py), the
tests play the auth proxy's headers, and every answer checked here is the API server's for that
user: RBAC, the requester-identity policy, four-eyes on Approvals, the feedback-author policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.cluster import REQUESTER_GROUPS, Kubectl, Team, opsrequest, requester, wait_for
from tests.e2e.test_lifecycle import status_of, wait_phase
from tests.e2e.ui_server import UiServer


class Browserless:
    """An HTTP client behind the auth proxy as ``user`` (in ``groups``), holding its CSRF token."""

    def __init__(self, ui: UiServer, user: str, *groups: str) -> None:
        headers = {"X-Forwarded-User": user, "X-Forwarded-Groups": ",".join(groups)}
        self.client = httpx.Client(base_url=ui.url, headers=headers, timeout=60)
        session = self.client.get("/api/session")
        assert session.status_code == 200, session.text
        self.session: dict[str, Any] = session.json()
        self.client.headers["X-CSRF-Token"] = self.session["csrfToken"]

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.client.post(path, json=body)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)


SignIn = Callable[..., Browserless]


@pytest.fixture
def sign_in(ui: UiServer) -> Iterator[SignIn]:
    """Clients behind the auth proxy as a given user (and groups), closed after the test."""
    made: list[Browserless] = []

    def make(user: str, *groups: str) -> Browserless:
        made.append(Browserless(ui, user, *groups))
        return made[-1]

    yield make
    for client in made:
        client.client.close()


def test_a_request_is_created_as_the_signed_in_user_and_attributed_to_them(
    sign_in: SignIn, kubectl: Kubectl, ui: UiServer, team: Team
) -> None:
    alice = sign_in(team.user, *REQUESTER_GROUPS)
    assert alice.session["user"] == team.user
    assert set(alice.session["groups"]) == {*REQUESTER_GROUPS, "system:authenticated"}
    created = alice.post("/api/requests", {"request": "restart the checkout deployment", "namespace": team.namespace})
    assert created.status_code == 201, created.text
    name = created.json()["name"]
    stored = kubectl.get_json("opsrequest", name, "-n", team.namespace)
    assert stored["spec"]["requester"] == team.user
    kubectl.create(opsrequest("admins", team.namespace, "restart the payments deployment"))
    listed = alice.get(f"/api/requests?namespace={team.namespace}").json()["requests"]
    assert [r["name"] for r in listed] == [name]  # hers only, not admin's in the same namespace
    assert stored["spec"]["requesterGroups"] == sorted({*REQUESTER_GROUPS, "system:authenticated"})
    # The audit trail of the API server names the user; the UI's own account may create nothing itself.
    own = kubectl.as_user("system:serviceaccount:opsgate-system:opsgate-ui")(
        "auth", "can-i", "create", "opsrequests.opsgate.dev", "-n", team.namespace, check=False
    )
    assert own.stdout.strip() == "no"


def test_a_user_without_rights_in_the_namespace_is_refused_by_rbac(sign_in: SignIn, ui: UiServer, team: Team) -> None:
    mallory = sign_in("mallory", "opsgate-mfa")
    refused = mallory.post("/api/requests", {"request": "restart the checkout deployment", "namespace": team.namespace})
    assert refused.status_code == 403
    assert 'User "mallory" cannot create resource "opsrequests"' in refused.json()["error"]


def test_chat_answers_with_the_decision_and_the_stream_follows_it_to_the_end(
    sign_in: SignIn, ui: UiServer, team: Team
) -> None:
    alice = sign_in(team.user, *REQUESTER_GROUPS)
    text = "Delete the production cluster payments-prod"
    decided = alice.post("/api/v1/chat", {"request": text, "namespace": team.namespace})
    assert decided.status_code == 201, decided.text
    view = decided.json()
    assert view["phase"] == "Denied"
    assert view["tone"] == "denied"
    assert "no-production-deletion" in {r["policy"] for r in view["policy"]["results"] if r["result"] == "deny"}
    with alice.client.stream("GET", f"/api/requests/{team.namespace}/{view['name']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("event: ") for line in stream.iter_lines() if line.startswith("event: ")]
    assert events == ["progress", "end"]  # a final request: its state, then the end


def test_approvals_are_decided_as_the_approver_and_four_eyes_is_the_api_servers(
    sign_in: SignIn, kubectl: Kubectl, ui: UiServer, team: Team
) -> None:
    alice = sign_in(team.user, *REQUESTER_GROUPS)
    view = alice.post("/api/v1/chat", {"request": "create an email for api@acme.org", "namespace": team.namespace})
    assert view.json()["phase"] == "AwaitingApproval", view.text
    approval = view.json()["approval"]["name"]

    def waiting(client: Browserless) -> list[str]:
        return [a["name"] for a in client.get("/api/approvals").json()["approvals"]]

    assert approval not in waiting(alice)  # not shown to the requester...
    own = alice.post(f"/api/approvals/{team.namespace}/{approval}", {"decision": "Approve"})
    assert own.status_code == 403  # ...and refused by the API server when tried anyway
    assert f'four-eyes: "{team.user}" requested this change' in own.json()["error"]

    outsider = sign_in("olga", "dev")
    assert approval not in waiting(outsider)

    carol = sign_in("carol", "opsgate-approvers")
    (shown,) = [a for a in carol.get("/api/approvals").json()["approvals"] if a["name"] == approval]
    assert shown["parameters"]["email"] == "api@acme.org"
    assert shown["policy"], "the policy results that asked for approval are shown"
    rejected = carol.post(f"/api/approvals/{team.namespace}/{approval}", {"decision": "Reject", "message": "not now"})
    assert rejected.status_code == 200, rejected.text
    status = wait_phase(kubectl, team.namespace, view.json()["name"], "Rejected")
    assert status["approval"]["state"] == "Rejected"
    stored = kubectl.get_json("approval", approval, "-n", team.namespace)
    assert stored["spec"]["decisions"][-1]["approver"] == "carol"


def test_feedback_lands_as_annotations_and_only_the_requester_can_give_it(
    sign_in: SignIn, kubectl: Kubectl, ui: UiServer, team: Team
) -> None:
    alice = sign_in(team.user, *REQUESTER_GROUPS)
    view = alice.post("/api/v1/chat", {"request": "order a large pizza for the team", "namespace": team.namespace})
    name = view.json()["name"]
    # No corrected intent here: a correction teaches the session's parser a phrase, which other tests
    # would then read (the annotation it becomes is checked in tests/unit/test_ui_server.py).
    body = {"namespace": team.namespace, "name": name, "score": 2, "intentCorrect": False, "text": "not what I meant"}
    given = alice.post("/api/v1/feedback", body)
    assert given.status_code == 200, given.text
    annotations = kubectl.get_json("opsrequest", name, "-n", team.namespace)["metadata"]["annotations"]
    assert annotations["opsgate.dev/feedback-score"] == "2"
    assert annotations["opsgate.dev/intent-correct"] == "false"
    assert annotations["opsgate.dev/feedback"] == "not what I meant"
    # the audit store reads them: the operator records the feedback and says so on the request
    wait_for(
        lambda: any(
            (c["type"], c["reason"]) == ("Feedback", "FeedbackRecorded")
            for c in status_of(kubectl, team.namespace, name).get("conditions", [])
        ),
        timeout=60,
        what="the feedback recorded",
    )

    bob = sign_in("bob", "opsgate-approvers")  # an approver may read it; RBAC lets him patch nothing
    assert bob.post("/api/v1/feedback", {**body, "score": 5}).status_code == 403
    requester(kubectl, team.namespace, "dana")  # a requester in the same namespace: RBAC lets her patch...
    dana = sign_in("dana", *REQUESTER_GROUPS)
    forged = dana.post("/api/v1/feedback", {**body, "score": 5})
    assert forged.status_code == 403  # ...but the feedback-author policy keeps her off alice's request
    assert f'only the requester "{team.user}" may give feedback' in forged.json()["error"]
    # With plain kubectl too: the requester may re-score, and may change nothing else of the request.
    where = ("opsrequest", name, "-n", team.namespace)
    rescored = team.kubectl("annotate", *where, "opsgate.dev/feedback-score=3", "--overwrite", check=False)
    assert rescored.returncode == 0, rescored.stderr
    relabel = team.kubectl("label", *where, "opsgate.dev/project=other", check=False)
    assert "may change only the feedback annotations" in relabel.stderr
    other = team.kubectl("annotate", *where, "kopf.zalando.org/last-handled-configuration=forged", check=False)
    assert "may change only the feedback annotations" in other.stderr
    # the patch right given for feedback must not let her touch finalizers (the operator's cleanup of
    # its Job, or a request held from deletion)
    finalizers = kubectl.get_json(*where)["metadata"].get("finalizers") or []
    held = json.dumps({"metadata": {"finalizers": [*finalizers, "example.com/hold"]}})
    refused = team.kubectl("patch", *where, "--type=merge", "-p", held, check=False)
    assert "may change only the feedback annotations" in refused.stderr
    assert (kubectl.get_json(*where)["metadata"].get("finalizers") or []) == finalizers


def test_analytics_need_the_right_to_list_every_request(sign_in: SignIn, ui: UiServer, team: Team) -> None:
    bob = sign_in("bob", "opsgate-approvers")  # opsgate-approver: list opsrequests everywhere

    def accuracy() -> Any:
        answer = bob.get("/api/v1/analytics/accuracy?days=1")
        assert answer.status_code == 200, answer.text
        return answer.json()["rows"]

    rows = wait_for(accuracy, timeout=60, what="the audit store's accuracy rows")
    assert {"parser", "requests", "accuracy"} <= set(rows[0])
    assert bob.get("/api/v1/analytics/errors").status_code == 200
    olga = sign_in("olga", "dev")
    refused = olga.get("/api/v1/analytics/accuracy")
    assert refused.status_code == 403
    assert "list on opsrequests in all namespaces" in refused.json()["error"]
