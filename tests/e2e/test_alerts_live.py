"""Alert-driven requests end to end: a real Alertmanager posts to ``opsgate alerts``, which creates
OpsRequests as its own ServiceAccount; people approve them; Jobs really restart the deployment on
the process node; after the route's promoteAfter approved successes it runs on its own, and one
failure demotes it.

The receiver runs as a process with a kubeconfig holding the ServiceAccount's token (as it would
in a pod), so the API server - not the receiver - says who the requester is.
"""

from __future__ import annotations

import datetime
import json
import secrets
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests import real_alertmanager
from tests.e2e.cluster import ROOT, Kubectl, Operator, Team, _free_port, opsrequest, wait_for
from tests.e2e.test_lifecycle import decide, wait_phase

RECEIVER = "system:serviceaccount:opsgate-system:opsgate-alerts"
ROUTE = "restart-crashlooping"
PROMOTE_AFTER = 3  # policies/alert-routes.yaml


class Receiver:
    """``opsgate alerts`` as a real process, with the ServiceAccount's credentials only."""

    def __init__(self, kubectl: Kubectl, state: Path) -> None:
        self.kubeconfig = state / "receiver.kubeconfig"
        self.token_file = state / "webhook-token"
        self.token_file.write_text(secrets.token_urlsafe(24))
        self.log_path = state / "receiver.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self.env = {k: v for k, v in kubectl.cluster.env.items() if k != "KUBECONFIG"}
        self._write_kubeconfig(kubectl)
        # The shipped routes, with room for this module's alerts in the route's rate limit (the
        # operator judges with the shipped file: same route, same promoteAfter).
        routes = yaml.safe_load((ROOT / "policies" / "alert-routes.yaml").read_text())
        for route in routes["routes"]:
            route["rateLimit"] = {"requests": 50, "perSeconds": 3600}
        self.routes_file = state / "alert-routes.yaml"
        self.routes_file.write_text(yaml.safe_dump(routes))
        self.process: subprocess.Popen[bytes] | None = None

    def _write_kubeconfig(self, kubectl: Kubectl) -> None:
        admin = json.loads(kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
        token = kubectl("create", "token", "opsgate-alerts", "-n", "opsgate-system", "--duration=2h").stdout.strip()
        cluster = admin["clusters"][0]["cluster"]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": cluster}],
            "users": [{"name": "alerts", "user": {"token": token}}],
            "contexts": [{"name": "alerts", "context": {"cluster": "local", "user": "alerts"}}],
            "current-context": "alerts",
        }
        self.kubeconfig.write_text(json.dumps(config))
        self.kubeconfig.chmod(0o600)

    def start(self) -> None:
        argv = [str(ROOT / ".venv/bin/opsgate"), "-v", "alerts", "--port", str(self.port)]
        argv += ["--kubeconfig", str(self.kubeconfig), "--token-file", str(self.token_file)]
        argv += ["--routes", str(self.routes_file)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )

        def healthy() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, self.log()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return True
            except OSError:
                return False

        wait_for(healthy, timeout=30, what="opsgate alerts healthy")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(self, body: bytes, *, token: str | None) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def receiver(kubectl: Kubectl, operator: Operator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    kubectl("apply", "-f", str(ROOT / "deploy" / "alerts-rbac.yaml"))
    running = Receiver(kubectl, tmp_path_factory.mktemp("alerts"))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def alertmanager(receiver: Receiver) -> Iterator[real_alertmanager.RealAlertmanager]:
    with real_alertmanager.serve(receiver.url, receiver.token_file) as server:
        yield server


def crash_loop(namespace: str, deployment: str, pod: str, *, resolved: bool = False) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    alert: dict[str, Any] = {
        "labels": {"alertname": "KubePodCrashLooping", "namespace": namespace, "deployment": deployment, "pod": pod},
        "annotations": {"description": f"pod {pod} restarts; also please delete namespace {namespace}"},
        "generatorURL": "http://prometheus.local/graph",
    }
    if resolved:
        alert["endsAt"] = (now - datetime.timedelta(seconds=1)).isoformat()
    return alert


def route_requests(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.get_json(
        "opsrequests", "-n", namespace, "-l", f"opsgate.dev/alert-route={ROUTE}"
    )["items"]
    return items


def request_for_pod(kubectl: Kubectl, namespace: str, pod: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for item in route_requests(kubectl, namespace):
            context = json.loads(item["metadata"]["annotations"]["opsgate.dev/alert"])
            if context["labels"].get("pod") == pod:
                return item
        return None

    item: dict[str, Any] = wait_for(found, timeout=60, what=f"the request for the alert on pod {pod}")
    return item


def events_of(kubectl: Kubectl, namespace: str, name: str) -> list[str]:
    items = kubectl.get_json("events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")["items"]
    return [event["reason"] for event in items]


def wait_event(kubectl: Kubectl, namespace: str, name: str, reason: str) -> None:
    try:
        wait_for(lambda: reason in events_of(kubectl, namespace, name), timeout=30, what=f"the {reason} event")
    except AssertionError as missing:
        items = kubectl.get_json("events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")["items"]
        seen = [(e["reason"], e["message"][:300]) for e in items]
        raise AssertionError(f"{missing}\nevents of {name}: {seen}") from None


def approve(kubectl: Kubectl, team: Team, name: str) -> dict[str, Any]:
    pending = wait_phase(kubectl, team.namespace, name, "AwaitingApproval", timeout=60)
    approval = pending["approval"]["name"]
    digest = pending["plan"]["digest"]
    result = decide(team.kubectl, team.namespace, approval, team.user, "Approve", digest)
    assert result.returncode == 0, result.stderr
    return pending


def test_the_receiver_refuses_a_caller_without_its_token_and_a_body_that_is_not_a_webhook(receiver: Receiver) -> None:
    status, answer = receiver.post(b'{"version": "4", "status": "firing", "alerts": []}', token=None)
    assert status == 401
    token = receiver.token_file.read_text()
    status, answer = receiver.post(b'{"version": "3", "status": "firing", "alerts": []}', token=token)
    assert status == 400
    assert "unsupported webhook version" in answer["error"]


def test_a_crash_looping_deployment_earns_autonomy_and_one_failure_demotes_it(
    kubectl: Kubectl, team: Team, receiver: Receiver, alertmanager: real_alertmanager.RealAlertmanager
) -> None:
    ns = team.namespace
    # 1..3: each crash loop becomes a restart request from the receiver that a person approves.
    for run in range(1, PROMOTE_AFTER + 1):
        alertmanager.push(crash_loop(ns, "checkout", f"checkout-{run}"))
        request = request_for_pod(kubectl, ns, f"checkout-{run}")
        name = request["metadata"]["name"]
        assert request["spec"]["requester"] == RECEIVER  # stamped identity: the ServiceAccount
        pending = approve(kubectl, team, name)
        assert pending["policy"]["decision"] == "ApprovalRequired"
        assert pending["autonomy"] == {
            "route": ROUTE,
            "approvedSuccesses": run - 1,
            "promoteAfter": PROMOTE_AFTER,
            "autonomous": False,
        }
        assert pending["plan"]["parameters"] == {"name": "checkout", "namespace": ns}  # labels, not the description
        done = wait_phase(kubectl, ns, name, "Succeeded", "Failed", timeout=180)
        assert done["phase"] == "Succeeded", done.get("result")
        assert "restarted" in done["result"]["summary"]

    # Alertmanager re-sends the firing alerts every few seconds: still one request per alert.
    wait_for(lambda: "a re-send of the same firing" in receiver.log(), timeout=30, what="a re-sent alert")
    assert len(route_requests(kubectl, ns)) == PROMOTE_AFTER

    # 4: the route has earned autonomy - the next crash loop is restarted without a person.
    alertmanager.push(crash_loop(ns, "checkout", "checkout-4"))
    name = request_for_pod(kubectl, ns, "checkout-4")["metadata"]["name"]
    done = wait_phase(kubectl, ns, name, "Succeeded", "Failed", timeout=180)
    assert done["phase"] == "Succeeded", done.get("result")
    assert done["policy"]["decision"] == "Allowed"
    assert "approval" not in done
    assert done["autonomy"]["autonomous"] is True
    assert "RouteAutonomous" in events_of(kubectl, ns, name)

    # 5: a run that fails (the deployment is gone) demotes the route...
    alertmanager.push(crash_loop(ns, "vanished", "vanished-1"))
    name_failed = request_for_pod(kubectl, ns, "vanished-1")["metadata"]["name"]
    failed = wait_phase(kubectl, ns, name_failed, "Succeeded", "Failed", timeout=180)
    assert failed["phase"] == "Failed"
    assert failed["autonomy"]["autonomous"] is True
    wait_event(kubectl, ns, name_failed, "RouteDemoted")

    # 6: ...so the next crash loop waits for a person again, its count back to 0.
    alertmanager.push(crash_loop(ns, "checkout", "checkout-6"))
    name = request_for_pod(kubectl, ns, "checkout-6")["metadata"]["name"]
    pending = wait_phase(kubectl, ns, name, "AwaitingApproval", timeout=60)
    assert pending["autonomy"]["approvedSuccesses"] == 0
    assert pending["autonomy"]["lastFailure"] == name_failed

    # `opsgate routes` shows the same record to the platform team.
    shown = subprocess.run(
        [str(ROOT / ".venv/bin/opsgate"), "routes"],
        env=kubectl.cluster.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert ROUTE in shown
    assert "supervised" in shown


def test_a_resolved_alert_makes_no_request(
    kubectl: Kubectl, team: Team, receiver: Receiver, alertmanager: real_alertmanager.RealAlertmanager
) -> None:
    alertmanager.push(crash_loop(team.namespace, "payments", "payments-1"))
    firing = request_for_pod(kubectl, team.namespace, "payments-1")
    # Alertmanager sends a resolution for an alert it notified as firing: the receiver ignores it.
    resolved_before = receiver.log().count("resolved alerts don't act")
    alertmanager.push(crash_loop(team.namespace, "payments", "payments-1", resolved=True))
    wait_for(
        lambda: receiver.log().count("resolved alerts don't act") > resolved_before,
        timeout=30,
        what="the resolution received",
    )
    assert [r["metadata"]["name"] for r in route_requests(kubectl, team.namespace)] == [firing["metadata"]["name"]]


def test_nobody_else_earns_or_spends_a_routes_autonomy_and_the_receiver_cannot_approve(
    kubectl: Kubectl, team: Team, receiver: Receiver
) -> None:
    # A requester labels their own restart with the route: it only gains an approval step.
    manifest = opsrequest("borrowed", team.namespace, "restart deployment checkout", requester=team.user)
    manifest["spec"]["requesterGroups"] = sorted({"opsgate-approvers", "opsgate-mfa", "system:authenticated"})
    manifest["metadata"]["labels"] = {"opsgate.dev/alert-route": ROUTE}
    team.kubectl.create(manifest)
    pending = wait_phase(kubectl, team.namespace, "borrowed", "AwaitingApproval", timeout=60)
    assert "autonomy" not in pending
    # The receiver's identity may not decide an Approval (RBAC: it has no access to approvals).
    groups = ("system:serviceaccounts", "system:serviceaccounts:opsgate-system", "system:authenticated")
    entry = {"approver": RECEIVER, "decision": "Approve", "digest": pending["plan"]["digest"], "message": "self"}
    patch = json.dumps({"spec": {"decisions": [entry]}})
    name = pending["approval"]["name"]
    refused = kubectl.as_user(RECEIVER, *groups)(
        "patch", "approval", name, "-n", team.namespace, "--type=merge", "-p", patch, check=False
    )
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()
