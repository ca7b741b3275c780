"""The Job that executes an approved plan, and how to read its outcome - as data.

One Job per (OpsRequest, plan digest), with a deterministic name, so an operator restart or a
replayed event finds the Job it already created instead of launching a second one. The pod runs
``opsgate execute`` (same image) under the restricted Pod Security profile, with the plan
mounted read-only from a ConfigMap owned by the request. The result comes back through the
container's termination message (one JSON object).
Pure functions.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsgate.controller.approvals import ANNOTATION_REQUEST, LABEL_REQUEST, owner_reference, request_label

LABEL_DIGEST = "opsgate.dev/plan-digest"
LABEL_COMPONENT = "app.kubernetes.io/component"
PLAN_KEY = "plan.json"
PLAN_MOUNT = "/etc/opsgate/plan"
MAX_RESULT_SUMMARY = 2048


@dataclass(frozen=True)
class JobSettings:
    """Knobs a platform team sets for every execution Job (chart values / operator flags)."""

    image: str
    service_account: str = "opsgate-executor"
    backoff_limit: int = 0  # operations are not blindly retried; a failure is reported
    active_deadline_seconds: int = 1800
    ttl_seconds_after_finished: int = 86400
    cpu_request: str = "100m"
    memory_limit: str = "512Mi"
    image_pull_policy: str = "IfNotPresent"
    extra_env: Mapping[str, str] = field(default_factory=dict)


def job_name(request_name: str, request_uid: str, digest: str) -> str:
    """``opsgate-<request>-<digest 10>-<uid 5>``: unique per request and plan, stable across restarts."""
    suffix = f"{digest.removeprefix('sha256:')[:10]}-{request_uid.replace('-', '')[:5]}"
    return f"opsgate-{request_name[: 63 - len(suffix) - len('opsgate--')]}-{suffix}".replace("--", "-")


def build(
    *, request: Mapping[str, Any], plan: Mapping[str, Any], settings: JobSettings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan ConfigMap and the Job for ``plan`` of ``request`` (both owned by the request)."""
    meta = request["metadata"]
    name = job_name(meta["name"], meta["uid"], plan["digest"])
    labels = {
        LABEL_REQUEST: request_label(meta["name"]),
        LABEL_DIGEST: plan["digest"].removeprefix("sha256:")[:63],
        LABEL_COMPONENT: "executor",
        "app.kubernetes.io/managed-by": "opsgate",
    }
    owner = owner_reference(request)
    annotations = {ANNOTATION_REQUEST: meta["name"]}
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "data": {PLAN_KEY: json.dumps(plan, sort_keys=True, indent=2)},
        "immutable": True,
    }
    container = {
        "name": "execute",
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["opsgate", "execute", "--plan", f"{PLAN_MOUNT}/{PLAN_KEY}"],
        "env": [{"name": k, "value": v} for k, v in sorted(settings.extra_env.items())],
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
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": {
            "backoffLimit": settings.backoff_limit,
            "activeDeadlineSeconds": settings.active_deadline_seconds,
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": settings.service_account,
                    "automountServiceAccountToken": True,  # Vault's Kubernetes auth reads it
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
                        {"name": "plan", "configMap": {"name": name, "defaultMode": 0o444}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
    }
    return configmap, job


def service_account(namespace: str, settings: JobSettings) -> dict[str, Any]:
    """The executor's ServiceAccount in ``namespace``: no RoleBindings, its token only for Vault login.

    Shared by every Job of the namespace, so not owned by any one request.
    """
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": settings.service_account,
            "namespace": namespace,
            "labels": {LABEL_COMPONENT: "executor", "app.kubernetes.io/managed-by": "opsgate"},
        },
        "automountServiceAccountToken": False,  # only the executor pods opt in
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
