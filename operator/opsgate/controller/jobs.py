"""The Job that executes an approved plan, and how to read its outcome - as data.

One Job per (OpsRequest, plan digest), with a deterministic name, so an operator restart or a
replayed event finds the Job it already created instead of launching a second one. Jobs live in
the **executor namespace** (``opsgate-system`` by default), which requesters cannot write to: in
the request's own namespace the built-in ``edit`` role could run pods as the executor.
Kubernetes has no owner references across namespaces, so a Job names its request by labels and
annotations (``opsgate.dev/request-uid`` …) and a finalizer on the request cleans up. The pod runs
``opsgate execute`` (same image) under the restricted Pod Security profile.

The Job carries its plan itself: the pod template's annotation ``opsgate.dev/plan``, which a
downward-API volume shows the container as the plan file, and the approved digest in the
container's environment, which ``opsgate execute`` requires the plan to carry. A Job's template
and a pod's environment cannot be changed once created, so the one object the controller creates
(and checks, see ``claims.job_mismatch``) is the whole of what runs; a pod's annotation can be
edited, but a plan edited there no longer has the approved digest and is refused. The result
comes back through the container's termination message (one JSON object).
Pure functions.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsgate.controller.approvals import ANNOTATION_REQUEST, LABEL_REQUEST, request_label

LABEL_DIGEST = "opsgate.dev/plan-digest"
LABEL_REQUEST_UID = "opsgate.dev/request-uid"
LABEL_REQUEST_NAMESPACE = "opsgate.dev/request-namespace"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
ANNOTATION_REQUEST_NAMESPACE = "opsgate.dev/request-namespace"
FINALIZER = "opsgate.dev/executor-cleanup"  # on a request whose Job exists: delete it with the request
ANNOTATION_PLAN = "opsgate.dev/plan"  # on the pod template: the plan, as the plan file shows it
ENV_APPROVED_DIGEST = "OPSGATE_APPROVED_DIGEST"  # what `opsgate execute` requires the plan to carry
PLAN_FILE = "plan.json"
MAX_PLAN_BYTES = 250 * 1024  # a pod's annotations hold 256 KiB in all (the API server refuses more)
PLAN_MOUNT = "/etc/opsgate/plan"
MAX_RESULT_SUMMARY = 2048
DEFAULT_NAMESPACE = "opsgate-system"


@dataclass(frozen=True)
class JobSettings:
    """Knobs a platform team sets for every execution Job (chart values / operator flags)."""

    image: str
    namespace: str = DEFAULT_NAMESPACE  # the executor namespace: requesters can't write there
    service_account: str = "opsgate-executor"
    backoff_limit: int = 0  # operations are not blindly retried; a failure is reported
    active_deadline_seconds: int = 1800
    ttl_seconds_after_finished: int = 86400
    cpu_request: str = "100m"
    memory_limit: str = "512Mi"
    image_pull_policy: str = "IfNotPresent"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[str] = ()  # taint keys tolerated (Exists), e.g. the local process node's
    extra_env: Mapping[str, str] = field(default_factory=dict)


def job_name(request_name: str, request_uid: str, digest: str) -> str:
    """``opsgate-<request>-<digest 10>-<uid 8>``: unique per request and plan, stable across restarts.

    Requests of every namespace share the executor namespace; the uid keeps their Jobs apart.
    """
    suffix = f"{digest.removeprefix('sha256:')[:10]}-{request_uid.replace('-', '')[:8]}"
    return f"opsgate-{request_name[: 63 - len(suffix) - len('opsgate--')]}-{suffix}".replace("--", "-")


def request_selector(request: Mapping[str, Any]) -> str:
    """The label selector of everything the executor namespace holds for ``request``."""
    return f"{LABEL_REQUEST_UID}={request['metadata']['uid']}"


def request_of(job: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(namespace, name, uid) of the request an executor Job was created for, from its metadata."""
    meta = job.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    namespace, name = labels.get(LABEL_REQUEST_NAMESPACE), annotations.get(ANNOTATION_REQUEST)
    uid = labels.get(LABEL_REQUEST_UID)
    if not (namespace and name and uid):
        return None
    return str(namespace), str(name), str(uid)


def finished(job: Mapping[str, Any]) -> bool:
    """True once the Job controller has given its verdict (complete or failed)."""
    done = {c.get("type") for c in (job.get("status") or {}).get("conditions", []) if c.get("status") == "True"}
    return bool(done & {"Complete", "Failed", "SuccessCriteriaMet", "FailureTarget"})


def build(*, request: Mapping[str, Any], plan: Mapping[str, Any], settings: JobSettings) -> dict[str, Any]:
    """The Job that runs ``plan`` of ``request``, in the executor namespace, the plan inside it."""
    meta, spec = request["metadata"], request.get("spec") or {}
    name = job_name(meta["name"], meta["uid"], plan["digest"])
    labels = {
        LABEL_REQUEST: request_label(meta["name"]),
        LABEL_REQUEST_UID: meta["uid"],
        LABEL_REQUEST_NAMESPACE: meta["namespace"],
        LABEL_DIGEST: plan["digest"].removeprefix("sha256:")[:63],
        LABEL_COMPONENT: "executor",
        LABEL_MANAGED_BY: "opsgate",
    }
    annotations = {ANNOTATION_REQUEST: meta["name"], ANNOTATION_REQUEST_NAMESPACE: meta["namespace"]}
    env = {
        # what `opsgate execute` checks right before acting: the digest covers this image, and the
        # requester must still be allowed to run the action in the request's namespace
        "OPSGATE_EXECUTOR_IMAGE": settings.image,
        ENV_APPROVED_DIGEST: str(plan["digest"]),
        "OPSGATE_REQUESTER": str(spec.get("requester", "")),
        "OPSGATE_REQUESTER_GROUPS": ",".join(spec.get("requesterGroups") or ()),
        "OPSGATE_REQUEST_NAMESPACE": meta["namespace"],
        "HOME": "/tmp",  # noqa: S108 - the emptyDir: ansible and tofu keep their state under HOME
        **settings.extra_env,
    }
    container = {
        "name": "execute",
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["opsgate", "execute", "--plan", f"{PLAN_MOUNT}/{PLAN_FILE}"],
        # (an empty value is left out: the API server stores it as no value, and the Job read back
        # must equal this one to the letter - see controller/claims.py)
        "env": [{"name": k, "value": v} for k, v in sorted(env.items()) if v],
        "resources": {
            "requests": {"cpu": settings.cpu_request, "memory": settings.memory_limit},
            "limits": {"memory": settings.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "plan", "mountPath": PLAN_MOUNT, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, the only writable path
        ],
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.service_account,
        "automountServiceAccountToken": True,  # Vault's Kubernetes auth and the SubjectAccessReview
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {
                "name": "plan",
                "downwardAPI": {
                    "defaultMode": 0o444,
                    "items": [
                        {
                            "path": PLAN_FILE,
                            # (apiVersion as the API server defaults it: the Job read back is compared)
                            "fieldRef": {"apiVersion": "v1", "fieldPath": f"metadata.annotations['{ANNOTATION_PLAN}']"},
                        }
                    ],
                },
            },
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }
    if settings.node_selector:
        pod_spec["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        pod_spec["tolerations"] = [
            {"key": k, "operator": "Exists", "effect": "NoSchedule"} for k in settings.tolerations
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": settings.namespace, "labels": labels, "annotations": annotations},
        "spec": {
            "backoffLimit": settings.backoff_limit,
            "activeDeadlineSeconds": settings.active_deadline_seconds,
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {ANNOTATION_PLAN: json.dumps(plan, sort_keys=True, indent=2)},
                },
                "spec": pod_spec,
            },
        },
    }


class JobState(enum.StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class Outcome:
    state: JobState
    message: str
    result: dict[str, Any] = field(default_factory=dict)


def outcome(job: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> Outcome:
    """Where a Job stands, with the result its container reported in the termination message."""
    conditions = {c.get("type"): c for c in job.get("status", {}).get("conditions", []) if c.get("status") == "True"}
    reported = _termination_result(pods)
    if "Complete" in conditions or "SuccessCriteriaMet" in conditions:
        summary = reported.get("summary") or "the Job completed; the executor reported no summary"
        return Outcome(JobState.SUCCEEDED, str(summary), reported or {"summary": summary})
    if "Failed" in conditions or "FailureTarget" in conditions:
        cond = conditions.get("Failed") or conditions["FailureTarget"]
        reason = f"{cond.get('reason', 'Failed')}: {cond.get('message', '')}".strip(": ")
        summary = reported.get("summary") or f"the Job failed ({reason})"
        return Outcome(JobState.FAILED, str(summary), reported or {"summary": summary})
    return Outcome(JobState.RUNNING, "the Job is running")


def _termination_result(pods: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON object the executor wrote as its termination message (newest pod first)."""
    ordered = sorted(pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp", ""), reverse=True)
    for pod in ordered:
        for status in pod.get("status", {}).get("containerStatuses", []):
            message = (status.get("state", {}).get("terminated") or {}).get("message")
            if not message:
                continue
            try:
                parsed = json.loads(message)
            except json.JSONDecodeError:
                return {"summary": message.strip()[-MAX_RESULT_SUMMARY:]}
            if isinstance(parsed, dict):
                return parsed
    return {}
