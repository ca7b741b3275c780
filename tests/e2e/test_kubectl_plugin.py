"""``kubectl opsgate …`` as a requester and an approver use it, against the operator on a real cluster.

Run through kubectl's own plugin discovery (``kubectl-opsgate`` on PATH), with the caller's
identity from the kubeconfig or ``--as``; the assertions are on what the user reads (tables,
explanations, exit codes) and on the objects the commands leave behind.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from tests.e2e.cluster import REQUESTER_GROUPS, Kubectl, Operator, Team
from tests.e2e.frontdoor import kubectl_opsgate

APPROVER = ("--as", "bob", "--as-group", "opsgate-approvers")


def opsgate(k: Kubectl, *args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    return kubectl_opsgate(k.cluster, *args, kubeconfig=kubeconfig)


def as_team(team: Team) -> tuple[str, ...]:
    # kube.configure takes one impersonated group; MFA is what the policies ask of this requester
    return ("--as", team.user, "--as-group", REQUESTER_GROUPS[1])


def test_ask_and_wait_follows_a_request_to_its_end_and_says_so_in_the_exit_code(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    ns = team.namespace
    done = opsgate(kubectl, "ask", "scale the checkout deployment to 3 replicas in staging", "-n", ns, "--wait")
    assert done.returncode == 0, done.stderr
    assert "Phase:       Succeeded" in done.stdout
    assert "Plan:        provision.scale.deployment" in done.stdout
    assert "Running" in done.stderr  # the phases it went through, one line each
    denied = opsgate(kubectl, "ask", "Delete the production cluster payments-prod", "-n", ns, "--wait", "-o", "json")
    assert denied.returncode == 3
    request = json.loads(denied.stdout)
    assert request["status"]["phase"] == "Denied"
    assert request["spec"]["requester"] == "admin"

    table = opsgate(kubectl, "status", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "ACTION", "DECISION", "APPROVAL", "AGE"]
    phases = sorted(line.split()[1] for line in table[1:])
    assert phases == ["Denied", "Succeeded"]
    listed = yaml.safe_load(opsgate(kubectl, "status", "-n", ns, "-o", "yaml").stdout)
    assert listed["kind"] == "List"
    assert all("managedFields" not in item["metadata"] for item in listed["items"])

    explained = opsgate(kubectl, "explain", request["metadata"]["name"], "-n", ns)
    assert "no-production-deletion" in explained.stdout
    assert "Decision:    Denied" in explained.stdout
    missing = opsgate(kubectl, "status", "no-such-request", "-n", ns)
    assert missing.returncode == 1
    assert 'opsrequests.opsgate.dev "no-such-request" not found' in missing.stderr


def test_an_approver_sees_what_waits_for_them_decides_and_the_requester_explains_it(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    ns = team.namespace
    asked = opsgate(kubectl, "ask", "create an email for plugin2@acme.org", "-n", ns, "--name", "email", *as_team(team))
    assert asked.returncode == 0, asked.stderr
    waiting = opsgate(
        kubectl, "ask", "create an email for plugin3@acme.org", "-n", ns, "--name", "email-2", *as_team(team)
    )
    assert waiting.returncode == 0, waiting.stderr
    for name in ("email", "email-2"):
        assert kubectl("wait", f"opsrequest/{name}", "-n", ns, "--for=jsonpath={.status.phase}=AwaitingApproval")

    # Approvals live 40 s in these tests: decide first, then look around.
    mine = opsgate(kubectl, "approvals", "-n", ns, *APPROVER).stdout.splitlines()
    approval = kubectl.get_json("opsrequest", "email-2", "-n", ns)["status"]["approval"]["name"]
    rejected = opsgate(kubectl, "reject", approval, "-n", ns, "-m", "not this quarter", *APPROVER)
    assert rejected.returncode == 0, rejected.stderr
    assert "Reject recorded for bob." in rejected.stdout
    assert mine[0].split() == ["NAME", "REQUEST", "ACTION", "RISK", "REQUESTER", "NEEDS", "EXPIRES"]
    assert sorted(line.split()[1] for line in mine[1:]) == ["email", "email-2"]
    after = opsgate(kubectl, "approvals", "-n", ns, "-o", "json", *APPROVER)
    assert "email-2" not in [a["spec"]["opsRequestRef"]["name"] for a in json.loads(after.stdout)["items"]]
    # The requester is in opsgate-approvers too, but their own requests never wait for them.
    own = opsgate(kubectl, "approvals", "-n", ns, "--as", team.user, "--as-group", "opsgate-approvers")
    assert (own.returncode, own.stdout) == (0, "")
    assert f"No approvals waiting for {team.user}." in own.stderr

    kubectl("wait", "opsrequest/email-2", "-n", ns, "--for=jsonpath={.status.phase}=Rejected")
    why = opsgate(kubectl, "explain", "email-2", "-n", ns, *as_team(team))
    assert "Reject     bob: not this quarter" in why.stdout
    assert "Approval:    " in why.stdout
    document = json.loads(opsgate(kubectl, "explain", "email-2", "-n", ns, "-o", "json", *as_team(team)).stdout)
    assert document["phase"] == "Rejected"
    assert document["plan"]["parameters"]["email"] == "plugin3@acme.org"
    assert {r["policy"] for r in document["policy"]["results"] if r["result"] == "approval"}
    assert document["context"], "the context sources the plan was made with"


def test_feedback_lands_as_validated_annotations(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    ns = team.namespace
    team.create("restart", "restart the checkout deployment in staging", dryRun=True)
    bad = opsgate(kubectl, "feedback", "restart", "-n", ns, "--correct-intent", "provision.teleport.deployment")
    assert bad.returncode == 2
    assert "which is not in the catalog" in bad.stderr
    out_of_range = opsgate(kubectl, "feedback", "restart", "-n", ns, "--score", "9")
    assert out_of_range.returncode == 2
    ok = opsgate(kubectl, "feedback", "restart", "-n", ns, "--score", "4", "--intent-correct", "-m", "quick")
    assert ok.returncode == 0, ok.stderr
    annotations = kubectl.get_json("opsrequest", "restart", "-n", ns)["metadata"]["annotations"]
    assert annotations["opsgate.dev/feedback-score"] == "4"
    assert annotations["opsgate.dev/intent-correct"] == "true"
    assert annotations["opsgate.dev/feedback"] == "quick"


def test_the_kubeconfig_context_chooses_cluster_identity_and_namespace(
    kubectl: Kubectl, operator: Operator, team: Team, tmp_path: Path
) -> None:
    ns = team.namespace
    config = yaml.safe_load(kubectl("config", "view", "--raw", "--minify").stdout)
    context = {**config["contexts"][0]["context"], "namespace": ns}
    config["contexts"].append({"name": "team", "context": context})
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    asked = opsgate(kubectl, "ask", "how do I rotate vault secrets?", "--context", "team", kubeconfig=kubeconfig)
    assert asked.returncode == 0, asked.stderr
    name = asked.stdout.split("/")[1].split()[0]
    assert name.startswith("ask-")
    listed = opsgate(kubectl, "status", "--context", "team", kubeconfig=kubeconfig)
    assert name in listed.stdout
    assert kubectl.get_json("opsrequest", name, "-n", ns)["spec"]["requester"] == "admin"
    unknown = opsgate(kubectl, "status", "--context", "nowhere", kubeconfig=kubeconfig)
    assert unknown.returncode == 1
