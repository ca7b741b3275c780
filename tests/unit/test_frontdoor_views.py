"""What the front doors build and show, from plain objects (opsgate.frontdoor.views, and the feedback
annotations of opsgate.frontdoor.calls): no cluster needed."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from opsgate import catalog, paths
from opsgate.audit import feedback
from opsgate.frontdoor import calls, views
from opsgate.frontdoor.views import Identity

NOW = datetime.datetime(2026, 12, 4, 12, 0, tzinfo=datetime.UTC)
BOB = Identity("bob", ("opsgate-approvers", "system:authenticated"))


def request(phase: str | None = None, *, dry_run: bool = False, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "r", "namespace": "team", "creationTimestamp": "2026-12-04T11:59:00Z"},
        "spec": {"request": "restart checkout", "requester": "alice", "dryRun": dry_run},
        "status": {"phase": phase, **status} if phase else status,
    }


def approval(requester: str = "alice", state: str | None = None, decided: tuple[str, ...] = (), **spec: Any) -> Any:
    return {
        "metadata": {"name": f"a-{requester}-{state}-{len(decided)}"},
        "spec": {
            "requester": requester,
            "approverGroups": ["opsgate-approvers"],
            "decisions": [{"approver": a, "decision": "Approve"} for a in decided],
            **spec,
        },
        "status": {"state": state} if state else {},
    }


def test_a_submitted_request_states_exactly_the_callers_identity() -> None:
    me = Identity("alice", ("system:authenticated", "opsgate-mfa"), {"acr": ["mfa"]})
    manifest = views.request_manifest("restart checkout", namespace="team", identity=me, dry_run=True)
    assert manifest["metadata"] == {"namespace": "team", "generateName": "ask-"}
    assert manifest["spec"] == {
        "request": "restart checkout",
        "requester": "alice",
        "requesterGroups": ["opsgate-mfa", "system:authenticated"],
        "requesterExtra": {"acr": ["mfa"]},
        "dryRun": True,
    }
    named = views.request_manifest("x", namespace="team", identity=Identity("bob"), name="mine")
    assert named["metadata"]["name"] == "mine"
    assert "requesterExtra" not in named["spec"]


def test_a_blank_request_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="empty"):
        views.request_manifest("  \n", namespace="team", identity=BOB)


@pytest.mark.parametrize(
    ("obj", "finished", "succeeded"),
    [
        (request(), False, False),
        (request("AwaitingApproval"), False, False),
        (request("Approved"), False, False),
        (request("Approved", dry_run=True), True, True),
        (request("Succeeded"), True, True),
        (request("Answered"), True, True),
        (request("Denied"), True, False),
        (request("NeedsInfo"), True, False),
        (request("Failed"), True, False),
        (request("Expired"), True, False),
    ],
    ids=[
        "new",
        "awaiting",
        "approved",
        "dry-run",
        "succeeded",
        "answered",
        "denied",
        "needs-info",
        "failed",
        "expired",
    ],
)
def test_when_a_request_is_finished_and_whether_it_did_what_was_asked(
    obj: dict[str, Any], finished: bool, succeeded: bool
) -> None:
    assert (views.finished(obj), views.succeeded(obj)) == (finished, succeeded)


def test_waiting_for_a_phase_stops_there_or_at_the_end() -> None:
    assert views.reached(request("AwaitingApproval"), ["AwaitingApproval"])
    assert views.reached(request("Denied"), ["AwaitingApproval"])  # it will never get there
    assert not views.reached(request("Planning"), ["AwaitingApproval"])


@pytest.mark.parametrize(
    ("candidate", "shown"),
    [
        (approval(), True),
        (approval(state="Pending"), True),
        (approval("bob"), False),  # bob's own request: four-eyes
        (approval(state="Approved"), False),
        (approval(decided=("bob",)), False),  # bob decided already
        (approval(decided=("carol",)), True),
        (approval(approverGroups=["security-leads"]), False),  # not bob's group
    ],
    ids=["pending", "pending-state", "own", "approved", "decided", "other-decided", "other-group"],
)
def test_approvals_waiting_for_me_follow_the_admission_rules(candidate: Any, shown: bool) -> None:
    assert (views.waiting_for([candidate], BOB) == [candidate]) is shown


@pytest.mark.parametrize(
    ("created", "age"),
    [
        ("2026-12-04T11:59:15Z", "45s"),
        ("2026-12-04T11:48:00Z", "12m"),
        ("2026-12-04T07:00:00Z", "5h"),
        ("2026-12-01T12:00:00Z", "3d"),
    ],
)
def test_ages_read_like_kubectls(created: str, age: str) -> None:
    assert views.age(created, now=NOW) == age


def test_tables_are_kubectl_like() -> None:
    text = views.table(views.REQUEST_HEADER, views.request_rows([request("Denied")], now=NOW))
    assert text.splitlines() == [
        "NAME   PHASE    ACTION   DECISION   APPROVAL   AGE",
        "r      Denied   <none>   <none>     <none>     60s",
    ]


def test_an_explanation_shows_every_policy_result_the_plan_and_the_sources() -> None:
    obj = request(
        "Denied",
        intent={"category": "provision", "action": "delete", "resource_type": "cluster", "entities": {"name": "p"}},
        plan={"action": "provision.delete.cluster", "parameters": {"name": "p"}, "digest": "sha256:ab"},
        context=[{"source": "docs/runbooks/x.md#Delete", "score": 0.8123}],
        policy={
            "decision": "Denied",
            "results": [
                {
                    "policy": "no-production-deletion",
                    "result": "deny",
                    "severity": "critical",
                    "category": "security",
                    "message": "production clusters are never deleted",
                },
                {
                    "policy": "required-tags",
                    "result": "pass",
                    "severity": "low",
                    "category": "compliance",
                    "message": "",
                },
            ],
        },
        conditions=[{"type": "Ready", "status": "False", "reason": "Denied", "message": "denied by policy"}],
    )
    document = views.explanation(obj)
    assert [r["policy"] for r in document["policy"]["results"]] == ["no-production-deletion", "required-tags"]
    assert document["message"] == "denied by policy"
    text = views.render_explanation(document)
    assert "Phase:       Denied  (denied by policy)" in text
    assert "Plan:        provision.delete.cluster" in text
    assert "0.812  docs/runbooks/x.md#Delete" in text
    assert "no-production-deletion   deny     critical" in text
    json.dumps(document)  # what -o json and the MCP tool return


def test_the_catalog_is_listed_with_schemas_and_risk() -> None:
    listed = views.catalog_actions(catalog.load_catalog(paths.catalog_file()))
    keys = [a["key"] for a in listed]
    assert keys == sorted(keys)
    entry = next(a for a in listed if a["requiresApproval"])
    assert entry["parameters"]["type"] == "object"
    assert entry["risk"] in {"low", "medium", "high", "critical"}


def test_managed_fields_are_left_out_as_kubectl_does() -> None:
    listed = {"kind": "List", "items": [{"metadata": {"name": "r", "managedFields": [{}]}}]}
    assert views.without_managed_fields(listed) == {"kind": "List", "items": [{"metadata": {"name": "r"}}]}


def test_feedback_answers_become_the_annotations_the_audit_store_reads() -> None:
    annotations = calls.feedback_annotations(
        score=2, intent_correct=None, corrected_intent="provision.restart.deployment", text="it scaled instead"
    )
    read = feedback.read(annotations, catalog=catalog.load_catalog(paths.catalog_file()))
    assert (read.score, read.intent_correct, read.key) == (2, False, "provision.restart.deployment")
    assert json.loads(annotations[feedback.CORRECTED_INTENT]) == {"action": "provision.restart.deployment"}
    with pytest.raises(feedback.FeedbackError, match="give a score"):
        calls.feedback_annotations(score=None, intent_correct=None, corrected_intent=None, text=None)


class _Clock:
    """A clock that moves only when the waiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_reports_each_new_phase_once_and_stops_where_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = iter(["Pending", "Planning", "Planning", "AwaitingApproval", "Approved"])
    monkeypatch.setattr(calls, "get", lambda namespace, name: request(next(seen)))
    clock, changes = _Clock(), []
    obj, in_time = calls.wait(
        "team",
        "r",
        phases=["AwaitingApproval"],
        timeout=60,
        on_change=lambda o: changes.append(views.phase_of(o).value),
        clock=clock,
        sleep=clock.sleep,
    )
    assert (views.phase_of(obj).value, in_time) == ("AwaitingApproval", True)
    assert changes == ["Pending", "Planning", "AwaitingApproval"]


def test_wait_gives_up_at_its_timeout_with_the_last_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calls, "get", lambda namespace, name: request("AwaitingApproval"))
    clock = _Clock()
    obj, in_time = calls.wait("team", "r", timeout=5, clock=clock, sleep=clock.sleep)
    assert (views.phase_of(obj).value, in_time) == ("AwaitingApproval", False)
    assert clock.now == 5
