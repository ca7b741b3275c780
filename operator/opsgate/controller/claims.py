"""Is this object the one OpsGate made for this request? Never adopt what someone else created.

Approvals and Jobs have deterministic names, so anyone allowed to create such
objects could create one first, or make a look-alike, and hope the controller takes it for its
own. Each check here compares an observed object with what the controller itself made or would
make, and says in words what differs; an empty answer means "ours".
Pure functions over plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opsgate.controller import jobs

MESSAGE_NOT_OWNED = "{kind} {name} exists but was not created by OpsGate for this request ({why}); nothing was run"


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controlling owner, if it has one."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def approval_mismatch(approval: Mapping[str, Any], *, request: Mapping[str, Any]) -> str:
    """Why ``approval`` is not the Approval this request's controller created ("" if it is).

    Checked against what the controller recorded in ``status.approval`` when it created it: the
    name, the uid, the required count and groups; and against the request: owner, requester,
    plan digest.
    """
    meta, spec = approval.get("metadata") or {}, approval.get("spec") or {}
    status = request.get("status") or {}
    recorded = status.get("approval") or {}
    uid = request["metadata"]["uid"]
    expected: list[tuple[str, object, object]] = [
        ("owner", controller_uid(approval), uid),
        ("request reference", (spec.get("opsRequestRef") or {}).get("uid"), uid),
        ("requester", spec.get("requester"), (request.get("spec") or {}).get("requester")),
        ("plan digest", spec.get("planDigest"), (status.get("plan") or {}).get("digest")),
    ]
    if recorded.get("uid"):
        expected.append(("uid", meta.get("uid"), recorded["uid"]))
    if recorded.get("requiredApprovals") is not None:
        expected.append(("required approvals", spec.get("requiredApprovals"), recorded["requiredApprovals"]))
    if recorded.get("approverGroups") is not None:
        expected.append(("approver groups", list(spec.get("approverGroups") or ()), recorded["approverGroups"]))
    return _differences(expected)


def approval_matches_manifest(approval: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """Why an existing Approval is not the one the controller was about to create ("" if it is)."""
    got, want = approval.get("spec") or {}, manifest["spec"]
    fields = ("opsRequestRef", "planDigest", "requester", "requiredApprovals", "approverGroups")
    expected = [("owner", controller_uid(approval), controller_uid(manifest))]
    expected += [(f, got.get(f), want.get(f)) for f in fields]
    return _differences(expected)


def job_mismatch(job: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """Why an existing Job is not the Job the controller builds for this plan ("" if it is).

    In the executor namespace only the controller (and cluster admins) can create Jobs; still,
    the Job must name this request and plan, carry exactly this plan, and run exactly the image,
    command, environment (the approved digest in it), account and volumes the digest was
    computed for.
    """
    got_template = (job.get("spec") or {}).get("template") or {}
    got_pod = got_template.get("spec") or {}
    want_pod = manifest["spec"]["template"]["spec"]
    got_plan = ((got_template.get("metadata") or {}).get("annotations") or {}).get(jobs.ANNOTATION_PLAN)
    want_plan = manifest["spec"]["template"]["metadata"]["annotations"][jobs.ANNOTATION_PLAN]
    got_containers = [(c.get("image"), c.get("command"), c.get("env")) for c in got_pod.get("containers") or ()]
    want_containers = [(c["image"], c["command"], c["env"]) for c in want_pod["containers"]]
    return _differences(
        [
            *_link(job, manifest),
            ("plan", got_plan, want_plan),
            ("containers", got_containers, want_containers),
            ("service account", got_pod.get("serviceAccountName"), want_pod.get("serviceAccountName")),
            ("volumes", got_pod.get("volumes"), want_pod.get("volumes")),
        ]
    )


def _link(obj: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[tuple[str, object, object]]:
    """The labels that tie an executor Job to its request and plan (no cross-namespace owners)."""
    keys = (jobs.LABEL_REQUEST_UID, jobs.LABEL_DIGEST, jobs.LABEL_MANAGED_BY)
    return [(f"label {key}", _labels(obj).get(key), _labels(manifest).get(key)) for key in keys]


def pods_of(job: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The pods this Job owns (by owner uid), not any pod that carries its ``job-name`` label."""
    uid = (job.get("metadata") or {}).get("uid")
    return [p for p in pods if uid and controller_uid(p) == uid]


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _differences(expected: Sequence[tuple[str, object, object]]) -> str:
    return ", ".join(f"{what} differs" for what, got, want in expected if got != want)
