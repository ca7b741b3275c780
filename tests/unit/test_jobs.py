"""The execution Job: one per request and plan, restricted, and its outcome read back."""

from __future__ import annotations

import json
from typing import Any

from opsgate.controller import jobs
from opsgate.controller.jobs import JobState

DIGEST = "sha256:" + "ab" * 32
REQUEST = {
    "apiVersion": "opsgate.dev/v1alpha1",
    "kind": "OpsRequest",
    "metadata": {
        "name": "scale-checkout",
        "namespace": "team",
        "uid": "0b8e5ac4-97b6-4b2e-9f43-4a9e8f0f2c11",
    },
    "spec": {"request": "scale checkout to 6", "requester": "alice"},
}
PLAN = {
    "action": "provision.scale.deployment",
    "digest": DIGEST,
    "parameters": {"name": "checkout", "replicas": 6},
}
SETTINGS = jobs.JobSettings(image="registry.local/opsgate:0.1.0")


def test_the_job_name_is_deterministic_and_a_valid_dns_label() -> None:
    name = jobs.job_name("scale-checkout", REQUEST["metadata"]["uid"], DIGEST)  # type: ignore[index]
    assert name == "opsgate-scale-checkout-ababababab-0b8e5"
    long = jobs.job_name("x" * 253, "uid", DIGEST)
    assert len(long) <= 63


def test_the_job_runs_opsgate_execute_under_the_restricted_profile() -> None:
    configmap, job = jobs.build(request=REQUEST, plan=PLAN, settings=SETTINGS)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["opsgate", "execute", "--plan", "/etc/opsgate/plan/plan.json"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "plan", "mountPath": "/etc/opsgate/plan", "readOnly": True} in container["volumeMounts"]
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert json.loads(configmap["data"]["plan.json"]) == PLAN
    for obj in (configmap, job):
        assert obj["metadata"]["ownerReferences"][0]["uid"] == REQUEST["metadata"]["uid"]  # type: ignore[index]


def pod(message: str | None, created: str = "2026-11-02T10:00:00Z") -> dict[str, Any]:
    terminated = {"exitCode": 0, **({"message": message} if message else {})}
    return {
        "metadata": {"creationTimestamp": created},
        "status": {"containerStatuses": [{"state": {"terminated": terminated}}]},
    }


def job_with(condition: str | None, **extra: str) -> dict[str, Any]:
    conds = [{"type": condition, "status": "True", **extra}] if condition else []
    return {"status": {"conditions": conds}}


def test_a_complete_job_succeeds_with_the_reported_result() -> None:
    report = {"ok": 3, "changed": 1, "failed": 0, "summary": "scaled checkout to 6"}
    result = jobs.outcome(job_with("Complete"), [pod(json.dumps(report))])
    assert result == jobs.Outcome(JobState.SUCCEEDED, "scaled checkout to 6", report)


def test_a_failed_job_reports_the_reason_when_the_executor_said_nothing() -> None:
    result = jobs.outcome(job_with("Failed", reason="DeadlineExceeded", message="too slow"), [pod(None)])
    assert result.state is JobState.FAILED
    assert result.message == "the Job failed (DeadlineExceeded: too slow)"


def test_a_non_json_termination_message_is_kept_as_the_summary() -> None:
    result = jobs.outcome(job_with("Failed", reason="BackoffLimitExceeded"), [pod("ansible: host unreachable\n")])
    assert result.message == "ansible: host unreachable"


def test_the_newest_pod_speaks_for_the_job() -> None:
    pods = [
        pod('{"summary": "old"}', "2026-11-02T10:00:00Z"),
        pod('{"summary": "new"}', "2026-11-02T10:01:00Z"),
    ]
    assert jobs.outcome(job_with("Complete"), pods).message == "new"


def test_a_job_without_a_final_condition_is_running() -> None:
    assert jobs.outcome(job_with(None), []).state is JobState.RUNNING


def test_the_executor_service_account_is_shared_and_mounts_no_token_by_default() -> None:
    account = jobs.service_account("team", SETTINGS)
    assert account["metadata"] == {
        "name": "opsgate-executor",
        "namespace": "team",
        "labels": {"app.kubernetes.io/component": "executor", "app.kubernetes.io/managed-by": "opsgate"},
    }
    assert account["automountServiceAccountToken"] is False
    _, job = jobs.build(request=REQUEST, plan=PLAN, settings=SETTINGS)
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "opsgate-executor"
