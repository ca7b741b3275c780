"""The whole OpsRequest lifecycle on a real API server, with `opsgate operator` running as a process.

Everything is asserted the way a user sees it: `kubectl get opsrequests`, the Approval object,
the Job, status conditions and events.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from tests.e2e.cluster import REQUESTER_GROUPS, ROOT, Kubectl, Operator, Team, opsrequest, requester, wait_for
from tests.e2e.conftest import APPROVAL_TTL_SECONDS

TERMINAL = {"Denied", "NeedsInfo", "Answered", "Succeeded", "Failed", "Rejected", "Expired"}


def status_of(k: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = k.get_json("opsrequest", name, "-n", namespace).get("status") or {}
    return status


def phase_of(k: Kubectl, namespace: str, name: str) -> str:
    return str(status_of(k, namespace, name).get("phase", ""))


# Jobs really run (the process node): an approved request takes seconds to tens of seconds on 2
# shared cores, past its decision.
EXECUTION_TIMEOUT = 240


def wait_phase(
    k: Kubectl, namespace: str, name: str, *phases: str, timeout: float = EXECUTION_TIMEOUT
) -> dict[str, Any]:
    try:
        wait_for(lambda: phase_of(k, namespace, name) in phases, timeout=timeout, what=f"{name} in {phases}")
    except AssertionError as timeout_error:
        raise AssertionError(f"{timeout_error}\n{where_it_stands(k, namespace, name)}") from None
    return status_of(k, namespace, name)


def where_it_stands(k: Kubectl, namespace: str, name: str) -> str:
    """What a user would look at when a request is stuck: its status, its Job and the Job's pods."""
    status = status_of(k, namespace, name)
    lines = [f"status: {json.dumps(status, indent=1)[:3000]}"]
    job = (status.get("job") or {}).get("name")
    if job:
        found = k("get", "job,pods", "-n", EXECUTOR_NAMESPACE, "-l", f"job-name={job}", "-o", "wide", check=False)
        lines.append(f"job and pods: {found.stdout}{found.stderr}")
        pods = k.get_json("pods", "-n", EXECUTOR_NAMESPACE, "-l", f"job-name={job}")["items"]
        for pod in pods:  # what the executor printed so far (the process node keeps each pod's log)
            logs = Path(k.cluster.kubeconfig).parent / "process-node" / "pods" / pod["metadata"]["uid"]
            for log in sorted(logs.glob("*.log")):
                lines.append(f"{log.name} of {pod['metadata']['name']}: ...{log.read_text(errors='replace')[-2500:]}")
    return "\n".join(lines)


EXECUTOR_NAMESPACE = "opsgate-system"


def jobs_in(k: Kubectl, namespace: str) -> list[dict[str, Any]]:
    """The executor Jobs of the requests in ``namespace`` (they run in the executor namespace)."""
    selector = f"opsgate.dev/request-namespace={namespace}"
    items: list[dict[str, Any]] = k.get_json("jobs", "-n", EXECUTOR_NAMESPACE, "-l", selector)["items"]
    return items


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def decide(k: Kubectl, namespace: str, approval: str, approver: str, verdict: str, digest: str) -> Any:
    current = k.get_json("approval", approval, "-n", namespace)["spec"].get("decisions", [])
    entry = {"approver": approver, "decision": verdict, "digest": digest, "message": f"{approver} says {verdict}"}
    patch = json.dumps({"spec": {"decisions": [*current, entry]}})
    return k("patch", "approval", approval, "-n", namespace, "--type=merge", "-p", patch, check=False)


def test_an_allowed_request_runs_one_job_and_succeeds(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    ns = team.namespace
    team.create("scale", "scale the checkout deployment to 6 replicas in staging")
    status = wait_phase(kubectl, ns, "scale", "Succeeded")
    assert status["plan"]["action"] == "provision.scale.deployment"
    assert status["plan"]["parameters"]["replicas"] == 6
    assert status["policy"]["decision"] == "Allowed"
    assert status["intent"]["parser"] == "rules"
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "Executed")["reason"] == "JobSucceeded"
    (job,) = jobs_in(kubectl, ns)
    assert job["metadata"]["name"] == status["job"]["name"]
    assert job["metadata"]["annotations"]["opsgate.dev/request"] == "scale"
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["command"][:2] == ["opsgate", "execute"]
    table = kubectl("get", "opsrequests", "-n", ns).stdout
    assert table.split("\n")[1].split()[:4] == ["scale", "Succeeded", "provision.scale.deployment", "Allowed"]


def test_a_denied_request_says_why_and_runs_nothing(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    team.create("delete-prod", "Delete the production cluster payments-prod")
    status = wait_phase(kubectl, team.namespace, "delete-prod", "Denied")
    assert "no-production-deletion" in condition(status, "Ready")["message"]
    denied = [r["policy"] for r in status["policy"]["results"] if r["result"] == "deny"]
    assert "no-production-deletion" in denied
    assert jobs_in(kubectl, team.namespace) == []
    assert kubectl.get_json("approvals", "-n", team.namespace)["items"] == []


def test_a_request_carrying_a_password_is_denied_and_the_password_is_nowhere(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    team.create("leaky", "create a user jdoe with password hunter2 in staging")
    wait_phase(kubectl, team.namespace, "leaky", "Denied")
    status = json.dumps(status_of(kubectl, team.namespace, "leaky"))
    assert "no-plaintext-secrets" in status
    assert "hunter2" not in status
    events = kubectl("get", "events", "-n", team.namespace, "-o", "json").stdout
    assert "hunter2" not in events
    assert "hunter2" not in operator.log()


def test_a_request_that_names_no_action_needs_info(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    team.create("pizza", "order a large pizza for the team")
    status = wait_phase(kubectl, team.namespace, "pizza", "NeedsInfo")
    assert condition(status, "IntentResolved")["reason"] == "Unrecognised"
    assert "could not tell which action" in condition(status, "Ready")["message"]


def test_approval_is_four_eyes_and_bound_to_the_digest(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    ns = team.namespace
    team.create("email", "create an email for john@acme.org")
    status = wait_phase(kubectl, ns, "email", "AwaitingApproval")
    name = status["approval"]["name"]
    approval = kubectl.get_json("approval", name, "-n", ns)
    digest = approval["spec"]["planDigest"]
    assert digest == status["plan"]["digest"]
    assert approval["spec"]["requester"] == team.user
    assert approval["spec"]["summary"]["parameters"]["email"] == "john@acme.org"

    # The requester is in the approver group, but not an approver of their own request.
    own = decide(team.kubectl, ns, name, team.user, "Approve", digest)
    assert "four-eyes" in own.stderr
    # bob names another plan: refused by the API server.
    bob = kubectl.as_user("bob", "opsgate-approvers")
    other = decide(bob, ns, name, "bob", "Approve", "sha256:" + "0" * 64)
    assert "names another plan" in other.stderr
    assert phase_of(kubectl, ns, "email") == "AwaitingApproval"
    assert jobs_in(kubectl, ns) == []

    assert decide(bob, ns, name, "bob", "Approve", digest).returncode == 0
    status = wait_phase(kubectl, ns, "email", "Succeeded")
    assert status["approval"]["state"] == "Approved"
    assert condition(status, "Approved")["message"] == "approved by bob"
    assert len(jobs_in(kubectl, ns)) == 1
    assert kubectl.get_json("approval", name, "-n", ns)["status"]["state"] == "Approved"


def test_any_rejection_rejects_and_nothing_runs(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    ns = team.namespace
    team.create("email", "create an email for mary@acme.org")
    status = wait_phase(kubectl, ns, "email", "AwaitingApproval")
    carol = kubectl.as_user("carol", "opsgate-approvers")
    assert decide(carol, ns, status["approval"]["name"], "carol", "Reject", status["plan"]["digest"]).returncode == 0
    status = wait_phase(kubectl, ns, "email", "Rejected")
    assert condition(status, "Ready")["message"] == "rejected by carol: carol says Reject"
    assert jobs_in(kubectl, ns) == []


def test_an_undecided_approval_expires(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    ns = team.namespace
    team.create("email", "create an email for late@acme.org")
    wait_phase(kubectl, ns, "email", "AwaitingApproval")
    status = wait_phase(kubectl, ns, "email", "Expired", timeout=APPROVAL_TTL_SECONDS + 30)
    assert "expired at" in condition(status, "Ready")["message"]
    approval = kubectl.get_json("approval", status["approval"]["name"], "-n", ns)
    assert approval["status"]["state"] == "Expired"
    bob = kubectl.as_user("bob", "opsgate-approvers")
    late = decide(bob, ns, approval["metadata"]["name"], "bob", "Approve", status["plan"]["digest"])
    assert "this approval is already Expired" in late.stderr
    assert jobs_in(kubectl, ns) == []


def test_a_dry_run_stops_after_the_decision(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    team.create("dry", "restart the checkout deployment in staging", dryRun=True)
    status = wait_phase(kubectl, team.namespace, "dry", "Approved")
    assert condition(status, "Executed")["reason"] == "DryRun"
    assert condition(status, "Ready")["message"] == "dry run: the plan is allowed; nothing was run"
    assert jobs_in(kubectl, team.namespace) == []


def test_a_question_is_answered_without_a_job(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    team.create("how", "How do I rotate vault secrets?")
    status = wait_phase(kubectl, team.namespace, "how", "Answered")
    assert status["answer"]
    assert jobs_in(kubectl, team.namespace) == []


def test_every_example_reaches_its_expected_phase(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    documents = [d for path in sorted((ROOT / "examples").glob("*.yaml")) for d in yaml.safe_load_all(path.read_text())]
    namespaces = [d for d in documents if d["kind"] == "Namespace"]
    requests = [d for d in documents if d["kind"] == "OpsRequest"]
    assert len(namespaces) + len(requests) == len(documents), "examples/*.yaml hold OpsRequests and Namespaces"
    for ns in namespaces:  # a namespace carrying the tags, for the requests made in it
        kubectl.apply(ns)
    placed = [(d["metadata"].get("namespace") or team.namespace, d) for d in requests]
    # as admin, whom the examples name (with admin's groups: no MFA, so the e-mail is denied)
    for where, document in placed:
        kubectl("apply", "-n", where, "-f", "-", stdin=json.dumps(document))
    seen = {}
    for where, document in placed:
        name = document["metadata"]["name"]
        status = wait_phase(kubectl, where, name, document["metadata"]["annotations"]["opsgate.dev/expected-phase"])
        seen[name] = (status.get("plan") or {}).get("action")
    # one example per family of the catalog (its categories), each ending where it says
    catalog = yaml.safe_load((ROOT / "policies" / "actions.yaml").read_text())
    families = {key.split(".")[0] for key in catalog["actions"]}
    assert families <= {action.split(".")[0] for action in seen.values() if action}, seen
    for ns in namespaces:
        kubectl("delete", "namespace", ns["metadata"]["name"], "--wait=false", check=False)


def test_the_approval_example_patch_approves_as_the_approver(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    ns = team.namespace
    team.create("email", "create an email for example@acme.org")
    status = wait_phase(kubectl, ns, "email", "AwaitingApproval")
    patch = (ROOT / "examples" / "approval" / "approve.yaml").read_text()
    patch = patch.replace("APPROVER", "bob").replace("PLAN_DIGEST", status["plan"]["digest"])
    bob = kubectl.as_user("bob", "opsgate-approvers")
    name = status["approval"]["name"]
    assert bob("patch", "approval", name, "-n", ns, "--type=merge", "-p", json.dumps(yaml.safe_load(patch)))
    status = wait_phase(kubectl, ns, "email", "Succeeded")
    assert condition(status, "Approved")["message"] == "approved by bob"


def test_a_killed_operator_loses_nothing_and_duplicates_nothing(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    names = [f"scale-{i}" for i in range(8)]
    for i in range(len(names)):
        kubectl("create", "deployment", f"app-{i}", "--image=registry.local/shop/app:1", "-n", team.namespace)
    manifests = "\n---\n".join(
        json.dumps(team.request(n, f"scale the app-{i} deployment to {i + 2} replicas in staging"))
        for i, n in enumerate(names)
    )
    team.kubectl("create", "-f", "-", stdin=manifests)
    wait_for(lambda: any(phase_of(kubectl, team.namespace, n) for n in names), timeout=30, what="a first decision")
    operator.kill()
    operator.start()
    for name in names:
        wait_phase(kubectl, team.namespace, name, "Succeeded")
    owners = Counter(j["metadata"]["annotations"]["opsgate.dev/request"] for j in jobs_in(kubectl, team.namespace))
    assert owners == Counter(names)


def test_fifty_requests_at_once_all_reach_a_terminal_phase(
    kubectl: Kubectl, operator: Operator, namespace: str
) -> None:
    texts = [
        "scale the checkout deployment to 3 replicas in staging",
        "create an email for someone@acme.org",
        "delete the production cluster payments-prod",
        "order a pizza",
        "restart the payments deployment in dev",
    ]
    for app in ("checkout", "payments"):  # the Jobs really run, and act on these
        kubectl("create", "deployment", app, "--image=registry.local/shop/app:1", "-n", namespace)
    users = [f"burst-{u}-{namespace.rsplit('-', 1)[-1]}" for u in range(10)]
    batches = []
    for u, user in enumerate(users):
        as_user = requester(kubectl, namespace, user)
        docs = [
            opsrequest(f"burst-{u}-{i}", namespace, text, requester=user, groups=REQUESTER_GROUPS)
            for i, text in enumerate(texts)
        ]
        batches.append((as_user, "\n---\n".join(json.dumps(d) for d in docs)))
    for as_user, manifests in batches:
        as_user("create", "-f", "-", stdin=manifests)

    def settled() -> bool:
        items = kubectl.get_json("opsrequests", "-n", namespace)["items"]
        done = [i for i in items if (i.get("status") or {}).get("phase") in TERMINAL | {"AwaitingApproval"}]
        return len(done) == len(users) * len(texts)

    wait_for(settled, timeout=2 * EXECUTION_TIMEOUT, what="50 requests to settle", interval=1)
    phases = Counter(i["status"]["phase"] for i in kubectl.get_json("opsrequests", "-n", namespace)["items"])
    waited = phases.pop("AwaitingApproval", 0) + phases.pop("Expired", 0)  # approvals here live 40 s
    assert (phases, waited) == (Counter({"Succeeded": 20, "Denied": 10, "NeedsInfo": 10}), 10)


def test_a_request_carries_the_context_it_was_planned_with(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    team.create("rotate", "rotate the vault secrets for payments in staging")
    wait_phase(kubectl, team.namespace, "rotate", *TERMINAL)

    def with_context() -> dict[str, Any]:
        found = status_of(kubectl, team.namespace, "rotate")
        return found if condition(found, "ContextRetrieved")["reason"] != "Retrieving" else {}

    status = wait_for(with_context, timeout=60, what="the context step")
    sources = [c["source"] for c in status["context"]]
    assert any(s.startswith("playbooks/security/rotate-secret.yml") for s in sources), sources
    assert condition(status, "ContextRetrieved")["status"] == "True"
    assert status["plan"]["action"] == "security.rotate.secret"


def test_a_question_is_answered_from_the_runbooks(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    team.create("how-rotate", "how do I rotate vault secrets?")
    status = wait_phase(kubectl, team.namespace, "how-rotate", "Answered")
    assert any(c["source"].startswith("docs/runbooks/rotate-vault-secrets.md") for c in status["context"])
    assert "docs/runbooks/rotate-vault-secrets.md" in status["answer"]


def opsgate_cli(k: Kubectl, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/opsgate"), *args],
        capture_output=True,
        text=True,
        env=k.cluster.env,
        timeout=60,
        check=False,
    )


def test_approvers_decide_with_the_kubectl_plugin(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    ns = team.namespace
    team.create("email", "create an email for plugin@acme.org")
    name = wait_phase(kubectl, ns, "email", "AwaitingApproval")["approval"]["name"]
    own = opsgate_cli(kubectl, "approve", name, "-n", ns, "--as", team.user, "--as-group", "opsgate-approvers")
    assert own.returncode == 1
    assert f'four-eyes: "{team.user}" requested this change' in own.stderr
    ok = opsgate_cli(
        kubectl, "approve", name, "-n", ns, "-m", "quota checked", "--as", "bob", "--as-group", "opsgate-approvers"
    )
    assert ok.returncode == 0, ok.stderr
    assert "Approve recorded for bob." in ok.stdout
    status = wait_phase(kubectl, ns, "email", "Succeeded")
    assert condition(status, "Approved")["message"] == "approved by bob"
