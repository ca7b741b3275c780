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
    assert name == "opsgate-scale-checkout-ababababab-0b8e5ac4"
    long = jobs.job_name("x" * 253, "uid", DIGEST)
    assert len(long) <= 63


def test_the_job_runs_opsgate_execute_under_the_restricted_profile() -> None:
    job = jobs.build(request=REQUEST, plan=PLAN, settings=SETTINGS)
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
    assert container["env"] == sorted(container["env"], key=lambda e: e["name"])
    assert {"name": "OPSGATE_EXECUTOR_IMAGE", "value": "registry.local/opsgate:0.1.0"} in container["env"]


def test_the_job_carries_its_plan_and_pins_the_approved_digest() -> None:
    job = jobs.build(request=REQUEST, plan=PLAN, settings=SETTINGS)
    template = job["spec"]["template"]
    (container,) = template["spec"]["containers"]
    # the plan file is the pod's own annotation, through a read-only downward-API volume
    assert json.loads(template["metadata"]["annotations"]["opsgate.dev/plan"]) == PLAN
    (volume,) = [v for v in template["spec"]["volumes"] if v["name"] == "plan"]
    (item,) = volume["downwardAPI"]["items"]
    assert item["path"] == "plan.json"
    assert item["fieldRef"]["fieldPath"] == "metadata.annotations['opsgate.dev/plan']"
    assert volume["downwardAPI"]["defaultMode"] == 0o444
    # and the digest it must carry, in the environment (immutable once the pod exists)
    assert {"name": "OPSGATE_APPROVED_DIGEST", "value": DIGEST} in container["env"]
    assert not [v for v in template["spec"]["volumes"] if "configMap" in v]  # nothing else to plant


def test_jobs_live_in_the_executor_namespace_linked_to_their_request_by_labels() -> None:
    job = jobs.build(request=REQUEST, plan=PLAN, settings=SETTINGS)
    meta = REQUEST["metadata"]
    for obj in (job, job["spec"]["template"]):
        assert "ownerReferences" not in obj["metadata"]  # none across namespaces
        assert obj["metadata"]["labels"]["opsgate.dev/request-uid"] == meta["uid"]  # type: ignore[index]
        assert obj["metadata"]["labels"]["opsgate.dev/request-namespace"] == meta["namespace"]  # type: ignore[index]
    assert job["metadata"]["namespace"] == "opsgate-system"
    assert job["metadata"]["annotations"]["opsgate.dev/request"] == meta["name"]  # type: ignore[index]
    assert jobs.request_selector(REQUEST) == f"opsgate.dev/request-uid={meta['uid']}"  # type: ignore[index]


def test_executor_pods_can_be_steered_to_chosen_nodes() -> None:
    steered = jobs.JobSettings(image="i", node_selector={"opsgate.dev/process-node": "true"}, tolerations=("t",))
    pod = jobs.build(request=REQUEST, plan=PLAN, settings=steered)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"opsgate.dev/process-node": "true"}
    assert pod["tolerations"] == [{"key": "t", "operator": "Exists", "effect": "NoSchedule"}]


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


def test_every_job_runs_as_the_executor_account() -> None:
    job = jobs.build(request=REQUEST, plan=PLAN, settings=SETTINGS)
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "opsgate-executor"


def test_an_empty_environment_value_is_left_out_as_the_api_server_would_store_it() -> None:
    # a requester who stated no groups: OPSGATE_REQUESTER_GROUPS would be "", which the API server
    # returns as a variable without a value; the Job read back must equal the one built
    request = {**REQUEST, "spec": {**REQUEST["spec"], "requesterGroups": []}}  # type: ignore[dict-item]
    job = jobs.build(request=request, plan=PLAN, settings=SETTINGS)
    names = [e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "OPSGATE_REQUESTER_GROUPS" not in names
    assert all(e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"])
