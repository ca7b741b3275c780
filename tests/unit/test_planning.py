"""Planning a new OpsRequest: status, conditions, Approval and Job decisions, from the body alone.

Real catalog, real policies, real rule parser; no cluster. ``now`` is a Monday 10:00 UTC, inside
the production change window, unless a test says otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Sequence
from typing import Any

import pytest

from opsgate import catalog, paths
from opsgate.controller import planning
from opsgate.controller.conditions import Reason, Status, Type
from opsgate.controller.planning import Retrieved
from opsgate.policy import PolicySet
from opsgate.resources import Phase

MONDAY = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC)
SATURDAY_NIGHT = datetime.datetime(2026, 11, 28, 3, 0, tzinfo=datetime.UTC)
TAGS = {"opsgate.dev/project": "checkout", "opsgate.dev/cost-center": "cc-1"}


@pytest.fixture(scope="module")
def engine() -> planning.Engine:
    home = paths.home()
    return planning.Engine(
        catalog=catalog.load_catalog(),
        policies=PolicySet.load(home / "policies"),
        home=home,
        executor_image="registry.local/opsgate:test",
    )


def body(text: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {"name": "req", "namespace": "team", "uid": "uid-1", "generation": 1, "labels": TAGS},
        "spec": {"request": text, "requester": "alice", **spec},
    }


async def plan(engine: planning.Engine, text: str, *, now: datetime.datetime = MONDAY, **spec: Any) -> planning.Planned:
    return await planning.plan_request(body(text, **spec), engine=engine, now=now, history={}, namespace_labels={})


def cond(planned: planning.Planned, type_: Type) -> planning.Condition:
    return next(c for c in planned.conditions if c.type is type_)


async def test_an_allowed_request_is_planned_to_run(engine: planning.Engine) -> None:
    planned = await plan(engine, "scale the checkout deployment to 6 replicas in staging")
    assert planned.phase is Phase.APPROVED
    assert planned.run
    assert planned.approval is None
    assert planned.plan is not None
    assert planned.plan["parameters"]["replicas"] == 6
    assert planned.status["policy"]["decision"] == "Allowed"
    assert cond(planned, Type.INTENT_RESOLVED).reason is Reason.PARSED
    assert cond(planned, Type.APPROVED).reason is Reason.NOT_REQUIRED


async def test_a_request_needing_approval_gets_an_approval_bound_to_its_digest(engine: planning.Engine) -> None:
    # a requester without MFA is denied what needs an approval (mfa-for-privileged-operations)
    planned = await plan(engine, "create an email for john@acme.org", requesterGroups=["opsgate-mfa"])
    assert planned.phase is Phase.AWAITING_APPROVAL
    assert not planned.run
    assert planned.approval is not None
    assert planned.plan is not None
    assert planned.approval["spec"]["planDigest"] == planned.plan["digest"]
    assert planned.approval["spec"]["requester"] == "alice"
    assert planned.approval["spec"]["expiresAt"] == "2026-11-24T10:00:00Z"
    assert planned.status["approval"] == {
        "name": planned.approval["metadata"]["name"],
        "state": "Pending",
        "approvalsReceived": 0,
        "requiredApprovals": 1,
        "approverGroups": ["opsgate-approvers"],
    }
    assert cond(planned, Type.READY).status is Status.UNKNOWN


async def test_a_production_change_at_saturday_night_is_denied_by_the_change_window(engine: planning.Engine) -> None:
    planned = await plan(engine, "restart the checkout deployment in production", now=SATURDAY_NIGHT)
    assert planned.phase is Phase.DENIED
    assert not planned.run
    assert "production-change-windows" in cond(planned, Type.READY).message
    assert cond(planned, Type.POLICY_EVALUATED).reason is Reason.DENIED


async def test_a_password_is_denied_and_appears_nowhere_in_what_is_written(engine: planning.Engine) -> None:
    planned = await plan(engine, "create a user jdoe with password hunter2 in staging")
    assert planned.phase is Phase.DENIED
    written = json.dumps([planned.status, [c.message for c in planned.conditions], [n.message for n in planned.notes]])
    assert "hunter2" not in written
    assert "no-plaintext-secrets" in written


async def test_an_unrecognised_request_needs_info_and_shows_no_decision(engine: planning.Engine) -> None:
    planned = await plan(engine, "order a large pizza")
    assert planned.phase is Phase.NEEDS_INFO
    assert "policy" not in planned.status
    assert cond(planned, Type.INTENT_RESOLVED).reason is Reason.UNRECOGNISED
    judged = cond(planned, Type.POLICY_EVALUATED)
    assert (judged.status, judged.reason) == (Status.FALSE, Reason.NO_PLAN)  # not "Allowed": nothing was judged
    assert judged.message.startswith("no plan to judge: ")


async def test_a_request_for_several_changes_is_declined_with_the_reason_in_its_conditions(
    engine: planning.Engine,
) -> None:
    planned = await plan(engine, "please rotate the db creds for ledger and also restart ledger")
    reason = (
        "asks for more than one change: rotate secret ledger, restart deployment ledger; submit one request per change"
    )
    assert planned.phase is Phase.NEEDS_INFO
    assert (planned.plan, planned.approval, planned.run) == (None, None, False)
    assert "policy" not in planned.status
    assert planned.status["intent"]["category"] is None
    intent_resolved = cond(planned, Type.INTENT_RESOLVED)
    assert (intent_resolved.status, intent_resolved.reason, intent_resolved.message) == (
        Status.FALSE,
        Reason.DECLINED,
        reason,
    )
    ready = cond(planned, Type.READY)
    assert (ready.status, ready.reason, ready.message) == (Status.FALSE, Reason.NEEDS_INFO, reason)
    assert [(n.type, n.reason, n.message) for n in planned.notes] == [("Warning", "NeedsInfo", reason)]


async def test_a_personal_it_request_is_declined_towards_the_helpdesk(engine: planning.Engine) -> None:
    planned = await plan(engine, "get rid of my inbox")
    assert planned.phase is Phase.NEEDS_INFO
    assert planned.plan is None
    assert cond(planned, Type.INTENT_RESOLVED).reason is Reason.DECLINED
    assert "IT helpdesk" in cond(planned, Type.READY).message


async def test_missing_parameters_name_the_field(engine: planning.Engine) -> None:
    planned = await plan(engine, "create an email")
    assert planned.phase is Phase.NEEDS_INFO
    assert "`email`" in cond(planned, Type.READY).message


async def test_a_structured_intent_skips_parsing(engine: planning.Engine) -> None:
    intent = {
        "category": "provision",
        "action": "create",
        "resource_type": "namespace",
        "entities": {"name": "team-payments", "environment": "dev"},
    }
    planned = await plan(engine, "a namespace for payments", intent=intent)
    assert planned.phase is Phase.APPROVED
    assert planned.status["intent"]["parser"] == "spec"
    assert cond(planned, Type.INTENT_RESOLVED).reason is Reason.FROM_SPEC


async def test_a_dry_run_decides_but_runs_and_asks_nothing(engine: planning.Engine) -> None:
    allowed = await plan(engine, "restart the checkout deployment in staging", dryRun=True)
    assert allowed.phase is Phase.APPROVED
    assert not allowed.run
    assert cond(allowed, Type.EXECUTED).reason is Reason.DRY_RUN
    needs_approval = await plan(
        engine, "create an email for john@acme.org", dryRun=True, requesterGroups=["opsgate-mfa"]
    )
    assert needs_approval.approval is None
    assert "would need 1 approval(s)" in cond(needs_approval, Type.READY).message


async def test_a_question_is_answered_and_says_when_there_is_no_index(engine: planning.Engine) -> None:
    planned = await plan(engine, "how do I rotate vault secrets?")
    assert planned.phase is Phase.ANSWERED
    assert planned.status["answer"] == "I could not look this up: no retriever is configured."
    assert cond(planned, Type.CONTEXT_RETRIEVED).reason is Reason.NO_CONTEXT


class BrokenStore:
    """A context source whose store is down, as when the Qdrant server is unreachable."""

    async def retrieve(self, query: str, *, question: bool) -> Retrieved:
        raise ConnectionError("qdrant:6333 refused the connection")

    async def retrieve_many(self, queries: Sequence[str]) -> list[Retrieved]:
        raise ConnectionError("qdrant:6333 refused the connection")


async def test_with_the_rule_parser_context_is_retrieved_after_the_decision(engine: planning.Engine) -> None:
    broken = planning.Engine(**{**engine.__dict__, "context": BrokenStore()})
    request = body("scale the checkout deployment to 2 replicas in staging")
    planned = await planning.plan_request(request, engine=broken, now=MONDAY, history={}, namespace_labels={})
    assert planned.phase is Phase.APPROVED
    assert planned.context_pending
    assert "context" not in planned.status
    assert cond(planned, Type.CONTEXT_RETRIEVED).reason is Reason.RETRIEVING


async def test_a_failing_retriever_degrades_to_no_context_with_the_reason(engine: planning.Engine) -> None:
    broken = planning.Engine(**{**engine.__dict__, "context": BrokenStore()})
    sources, condition = await planning.retrieve_context(body("scale checkout to 2"), engine=broken)
    assert sources == []
    assert condition.reason is Reason.RETRIEVAL_FAILED
    assert "ConnectionError: qdrant:6333 refused the connection" in condition.message
    status = {"conditions": [{"type": "ContextRetrieved", "reason": "Retrieving"}]}
    assert planning.context_pending(status)
    assert not planning.context_pending({"conditions": [{"type": "ContextRetrieved", "reason": "RetrievalFailed"}]})


async def test_the_rate_limit_counts_the_requesters_history(engine: planning.Engine) -> None:
    text = "scale the checkout deployment to 2 replicas in staging"
    tenth = await planning.plan_request(
        body(text), engine=engine, now=MONDAY, history={"provision": 9}, namespace_labels={}
    )
    eleventh = await planning.plan_request(
        body(text), engine=engine, now=MONDAY, history={"provision": 10}, namespace_labels={}
    )
    assert tenth.phase is Phase.APPROVED
    assert eleventh.phase is Phase.DENIED


def test_history_counts_the_last_hour_by_rate_class(engine: planning.Engine) -> None:
    requests = [
        ("2026-11-23T09:30:00Z", "provision.scale.deployment"),
        ("2026-11-23T09:59:59Z", "provision.create.email"),
        ("2026-11-23T09:10:00Z", "provision.delete.cluster"),
        ("2026-11-23T08:59:59Z", "provision.create.email"),  # more than an hour ago
        ("2026-11-23T09:45:00Z", "cooking.bake.cake"),  # not in the catalog (any more)
        (None, "provision.create.email"),
    ]
    assert planning.history(requests, catalog=engine.catalog, now=MONDAY) == {"provision": 2, "delete": 1}


async def test_an_approver_is_warned_of_intent_values_the_text_never_mentions(engine: planning.Engine) -> None:
    intent = {
        "category": "provision",
        "action": "delete",
        "resource_type": "email",
        "entities": {"email": "ceo@acme.org"},
    }
    planned = await plan(engine, "delete old test mailbox t1@acme.org", intent=intent, requesterGroups=["opsgate-mfa"])
    assert planned.approval is not None
    (warning,) = planned.approval["spec"]["summary"]["warnings"]
    assert "email=ceo@acme.org" in warning
    assert "email=ceo@acme.org" in cond(planned, Type.POLICY_EVALUATED).message


async def test_who_may_run_which_action_is_asked_of_kubernetes_rbac_in_the_target_namespace(
    engine: planning.Engine,
) -> None:
    asked: list[planning.AccessQuestion] = []

    async def only_restarts(question: planning.AccessQuestion) -> planning.AccessAnswer:
        asked.append(question)
        return planning.AccessAnswer(allowed=question.action == "provision.restart.deployment", reason="no binding")

    rbac = dataclasses.replace(engine, authorizer=only_restarts)
    refused = await planning.plan_request(
        body("scale the checkout deployment to 3 replicas in staging"),
        engine=rbac,
        now=MONDAY,
        history={},
        namespace_labels={},
    )
    assert refused.phase is Phase.DENIED
    rbac_result = next(r for r in refused.status["policy"]["results"] if r["policy"] == "rbac-execute")
    assert rbac_result["result"] == "deny"
    assert "alice may not execute provision.scale.deployment in namespace team" in rbac_result["message"]
    assert asked[-1] == planning.AccessQuestion("alice", (), {}, "provision.scale.deployment", "team")
    allowed = await planning.plan_request(
        body("restart the checkout deployment in staging"), engine=rbac, now=MONDAY, history={}, namespace_labels={}
    )
    assert allowed.phase is Phase.APPROVED


async def test_a_request_the_policies_deny_is_not_asked_of_rbac(engine: planning.Engine) -> None:
    # RBAC can only turn a decision into a denial: one access review fewer per denied request
    asked: list[planning.AccessQuestion] = []

    async def allow_all(question: planning.AccessQuestion) -> planning.AccessAnswer:
        asked.append(question)
        return planning.AccessAnswer(allowed=True)

    rbac = dataclasses.replace(engine, authorizer=allow_all)
    denied = await plan(rbac, "restart the checkout deployment in production", now=SATURDAY_NIGHT)
    assert denied.phase is Phase.DENIED
    assert "production-change-windows" in cond(denied, Type.READY).message
    assert asked == []
    allowed = await plan(rbac, "restart the checkout deployment in staging")
    assert allowed.phase is Phase.APPROVED
    assert [q.action for q in asked] == ["provision.restart.deployment"]
