"""The chat front-end's pure parts: who is asking, CSRF tokens, and what the page is shown."""

from __future__ import annotations

from typing import Any

import pytest

from opsgate.ui import identity, openapi, views


def test_the_proxy_headers_name_the_user_and_their_groups() -> None:
    who = identity.from_headers({"X-Forwarded-User": " alice ", "X-Forwarded-Groups": "dev, opsgate-mfa,,dev"})
    assert who == identity.Identity("alice", ("dev", "opsgate-mfa"))


def test_without_the_user_header_there_is_nobody() -> None:
    assert identity.from_headers({"X-Forwarded-Groups": "opsgate-approvers"}) is None
    assert identity.from_headers({"X-Forwarded-User": "  "}) is None


def test_the_header_names_are_configurable() -> None:
    headers = {"X-Auth-Request-User": "bob", "X-Auth-Request-Groups": "ops", "X-Forwarded-User": "mallory"}
    who = identity.from_headers(headers, user_header="X-Auth-Request-User", groups_header="X-Auth-Request-Groups")
    assert who == identity.Identity("bob", ("ops",))


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-User": "system:admin"},
        {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "system:masters"},
        {"X-Forwarded-User": "alice\nX-Evil: 1"},
        {"X-Forwarded-User": "a" * 300},
    ],
    ids=["system-user", "system-group", "control-characters", "too-long"],
)
def test_names_the_ui_must_never_impersonate_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(identity.IdentityError):
        identity.from_headers(headers)


def test_a_csrf_token_is_bound_to_the_user_and_the_server_secret() -> None:
    token = identity.csrf_token(b"secret-1", "alice")
    assert identity.csrf_valid(b"secret-1", "alice", token)
    assert not identity.csrf_valid(b"secret-1", "bob", token)
    assert not identity.csrf_valid(b"secret-2", "alice", token)
    assert not identity.csrf_valid(b"secret-1", "alice", None)
    assert not identity.csrf_valid(b"secret-1", "alice", "")


def opsrequest(phase: str | None = None, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "chat-x1", "namespace": "team-a", "uid": "u1", "managedFields": [{"secret": "no"}]},
        "spec": {"request": "<script>alert(1)</script>", "requester": "alice"},
        "status": {"phase": phase, **status} if phase else {},
    }


@pytest.mark.parametrize(
    ("phase", "tone", "final"),
    [
        (None, "waiting", False),
        ("AwaitingApproval", "waiting", False),
        ("Running", "working", False),
        ("Succeeded", "done", True),
        ("Answered", "done", True),
        ("Denied", "denied", True),
        ("Rejected", "denied", True),
        ("Failed", "failed", True),
    ],
    ids=lambda v: str(v),
)
def test_each_phase_reads_as_waiting_working_done_denied_or_failed(phase: str | None, tone: str, final: bool) -> None:
    view = views.request_view(opsrequest(phase))
    assert (view["tone"], view["final"]) == (tone, final)


def test_an_approved_dry_run_is_final_nothing_more_will_happen_to_it() -> None:
    dry = opsrequest("Approved")
    dry["spec"]["dryRun"] = True
    assert (views.request_view(dry)["tone"], views.request_view(dry)["final"]) == ("done", True)


def test_a_request_view_carries_what_the_user_follows_and_no_more() -> None:
    status = {
        "intent": {"category": "provision", "action": "scale", "resource_type": "deployment", "confidence": 0.9},
        "context": [{"source": "docs/runbooks/scale.md#1", "score": 0.71}],
        "policy": {"decision": "Allowed", "results": [{"policy": "tags", "result": "pass", "extra": "x"}]},
        "plan": {"action": "provision.scale.deployment", "parameters": {"replicas": 3}, "digest": "sha256:1"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "JobSucceeded", "message": "done: 1 ok"}],
    }
    view = views.request_view(opsrequest("Succeeded", **status))
    assert view["request"] == "<script>alert(1)</script>"  # data, as typed: the page shows it as text
    assert view["message"] == "done: 1 ok"
    assert view["context"] == [{"source": "docs/runbooks/scale.md#1", "score": 0.71}]
    assert view["policy"]["results"] == [
        {"policy": "tags", "result": "pass", "severity": "", "category": "", "message": ""}
    ]
    assert view["plan"]["parameters"] == {"replicas": 3}
    assert "managedFields" not in str(view)
    assert set(view) == set(openapi.VIEW_FIELDS)


def approval(*, requester: str = "alice", groups: tuple[str, ...] = ("opsgate-approvers",), **extra: Any) -> Any:
    return {
        "metadata": {"name": extra.pop("name", "a1"), "namespace": "team-a"},
        "spec": {
            "requester": requester,
            "approverGroups": list(groups),
            "planDigest": "sha256:1",
            "requiredApprovals": 1,
            "expiresAt": extra.pop("expires", "2026-12-04T10:00:00Z"),
            "opsRequestRef": {"name": "chat-x1", "uid": "u1"},
            "summary": {"request": "create an email", "action": "identity.create.email", "policy": ["asks: x"]},
            "decisions": extra.pop("decisions", []),
        },
        "status": extra,
    }


def test_approvals_wait_for_members_of_their_groups_other_than_the_requester() -> None:
    items = [
        approval(name="mine-to-decide", expires="2026-12-04T12:00:00Z"),
        approval(name="sooner", expires="2026-12-04T09:00:00Z"),
        approval(name="own", requester="bob"),
        approval(name="other-group", groups=("dba",)),
        approval(name="decided", state="Approved"),
        approval(name="already-voted", decisions=[{"approver": "bob", "decision": "Approve"}]),
    ]
    waiting = views.waiting_for(items, user="bob", groups=["opsgate-approvers", "system:authenticated"])
    assert [a["metadata"]["name"] for a in waiting] == ["sooner", "mine-to-decide"]


def test_an_approval_view_shows_the_parameters_and_the_policies_that_asked() -> None:
    view = views.approval_view(approval())
    assert view["policy"] == ["asks: x"]
    assert view["state"] == "Pending"
    assert view["requestName"] == "chat-x1"
    assert any("plan digest" in line for line in view["lines"])


def test_my_requests_are_mine_only_newest_first_and_bounded() -> None:
    def made(name: str, requester: str, created: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": created}, "spec": {"requester": requester}}

    items = [made("old", "alice", "2026-12-01T00:00:00Z"), made("bobs", "bob", "2026-12-03T00:00:00Z")]
    items += [made("new", "alice", "2026-12-02T00:00:00Z")]
    assert [r["metadata"]["name"] for r in views.mine(items, user="alice")] == ["new", "old"]
    assert [r["metadata"]["name"] for r in views.mine(items, user="alice", limit=1)] == ["new"]


def test_the_created_request_names_the_requester_as_the_api_server_reported_them() -> None:
    info = {"username": "alice", "groups": ["system:authenticated", "dev"], "extra": {"acr": ["mfa"]}}
    body = views.opsrequest(namespace="team-a", text="restart checkout", user_info=info)
    assert body["spec"] == {
        "request": "restart checkout",
        "requester": "alice",
        "requesterGroups": ["dev", "system:authenticated"],
        "requesterExtra": {"acr": ["mfa"]},
    }
    assert body["metadata"] == {"generateName": "chat-", "namespace": "team-a"}


def test_the_openapi_description_documents_every_route_of_the_contract() -> None:
    paths = openapi.document()["paths"]
    for route in ("/api/requests", "/api/v1/chat", "/api/v1/feedback", "/api/v1/analytics/{report}", "/health"):
        assert route in paths
    assert "401" in paths["/api/requests"]["post"]["responses"]
