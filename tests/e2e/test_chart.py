"""The Helm chart on a real cluster: install, decide, fail over, upgrade a policy, uninstall.

One cluster of its own for the module (hack/local-cluster.sh): the chart installs the API, the
roles and the operator itself, so it must start from a cluster where none of them exist, and
``helm uninstall`` is checked against what that cluster held before. The operator's replicas run
on the process node (the chart's command, as real processes); the Ollama DaemonSet's pods on
the kwok node labelled ``node-role=private-llm``. Figures (object count, failover time) are
printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.cluster import ROOT, Cluster, Kubectl, exports_of, opsrequest, wait_for

CHART = ROOT / "charts" / "opsgate"
NAMESPACE = "opsgate-system"
RELEASE = "opsgate"
PEERING = "opsgate"
TEAM, OTHER_TEAM = "team-a", "team-b"  # the executor is bound in TEAM only (the README's matrix)
PRIVATE_LLM_NODE = "opsgate-llm-0"  # hack/local-cluster.sh: labelled node-role=private-llm, tainted
ACTIVE, STANDBY = "opsgate-operator-1", "opsgate-operator-0"  # the highest ordinal has the highest priority
DENIED_TEXT = "delete the production cluster payments-prod"  # no-production-deletion: Denied at once
EMAIL_TEXT = "create an email for john@acme.org"  # needs an approval, so MFA: admin has none


@dataclass(frozen=True)
class Installed:
    kubectl: Kubectl
    helm: list[str]  # the helm command line against this cluster
    values: list[str]  # the -f/--set arguments of the install
    before: frozenset[str]  # every object of the cluster before the install
    health_port: int  # replica N's liveness endpoint is on health_port + N
    metrics_port: int  # and its metrics on metrics_port + N


def _free_port_pair() -> int:
    """A port P with P and P+1 free: replica N listens on base + N (operator.ports.offsetByReplicaIndex)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two adjacent free ports")


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[Cluster]:
    """A local control plane for this module only (the session's may hold crds/ and deploy/)."""
    for _attempt in range(2):  # a second start after a slow first one, as tests/e2e/conftest.py does
        up = subprocess.run(
            [str(ROOT / "hack" / "local-cluster.sh"), "up"], capture_output=True, text=True, check=False, timeout=3600
        )
        if up.returncode == 0:
            break
    assert up.returncode == 0, f"hack/local-cluster.sh up failed:\n{up.stderr}"
    exports = exports_of(up.stdout)
    bin_dir = exports["PATH"].removesuffix(":$PATH")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "KUBECONFIG": exports["KUBECONFIG"], "HOME": str(Path.home())}
    try:
        yield Cluster(exports["KUBECONFIG"], str(Path(bin_dir) / "kubectl"), env)
    finally:
        subprocess.run(
            [str(ROOT / "hack" / "local-cluster.sh"), "down", exports["OPSGATE_CLUSTER_DIR"]], check=False, timeout=180
        )


def inventory(kubectl: Kubectl) -> frozenset[str]:
    """Every object a user could list (kind/namespace/name), but Events and the node heartbeats."""
    kinds = kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
    skipped = {"events", "events.events.k8s.io", "leases.coordination.k8s.io", "endpoints", "endpointslices"}
    wanted = [k for k in kinds if k not in skipped and not k.endswith("metrics.k8s.io")]
    listed = kubectl("get", ",".join(wanted), "-A", "-o", "json", "--ignore-not-found").stdout
    items = json.loads(listed)["items"] if listed.strip() else []
    return frozenset(
        f"{o['kind']}/{o['metadata'].get('namespace', '-')}/{o['metadata']['name']}"
        for o in items
        if o["kind"] != "Event"
    )


def helm_command(cluster: Cluster) -> list[str]:
    helm = str(Path(cluster.kubectl_path).parent / "helm")
    return [helm, "--kubeconfig", cluster.kubeconfig, "--namespace", NAMESPACE]


def run_helm(installed_or_cluster: Cluster, helm: list[str], *args: str) -> str:
    result = subprocess.run(
        [*helm, *args], capture_output=True, text=True, env=installed_or_cluster.env, timeout=600, check=False
    )
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def local_values(tmp: Path, base_health: int, base_metrics: int) -> Path:
    """What ci/local-values.yaml can't know: this checkout, free ports, the embedder's model cache."""
    cache = Path.home() / ".cache" / "opsgate"
    values = {
        "operator": {
            "home": str(ROOT),  # the process node runs the command on the host: the repo is the image
            "ports": {"health": base_health, "metrics": base_metrics},
            "extraEnv": [
                {"name": "OPSGATE_CACHE_DIR", "value": "/var/cache/opsgate"},
                {"name": "OPSGATE_AUTOINDEX", "value": "0"},  # two replicas indexing would only load the CPUs
            ],
            "extraVolumes": [{"name": "model-cache", "hostPath": {"path": str(cache), "type": "Directory"}}],
            "extraVolumeMounts": [{"name": "model-cache", "mountPath": "/var/cache/opsgate", "readOnly": True}],
        },
        "executor": {"targetNamespaces": [TEAM]},
    }
    path = tmp / "local-values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.fixture(scope="module")
def installed(own_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    kubectl = Kubectl(own_cluster)
    for team in (TEAM, OTHER_TEAM):
        kubectl("create", "namespace", team)
        kubectl("label", "namespace", team, "opsgate.dev/project=chart", "opsgate.dev/cost-center=cc-1800")
    before = inventory(kubectl)
    helm = helm_command(own_cluster)
    health, metrics = _free_port_pair(), _free_port_pair()
    extra = local_values(tmp_path_factory.mktemp("chart"), health, metrics)
    values = ["-f", str(CHART / "ci" / "local-values.yaml"), "-f", str(extra)]
    run_helm(own_cluster, helm, "install", RELEASE, str(CHART), "--create-namespace", *values)
    yield Installed(kubectl, helm, values, before, health, metrics)
    # Whatever a failed test left: no operator process outlives the module.
    run_helm(own_cluster, helm, "uninstall", RELEASE, "--ignore-not-found", "--wait", "--timeout=120s")


# --- what a user sees -------------------------------------------------------------------------


def peers(kubectl: Kubectl) -> dict[str, int]:
    """Replica -> priority of each replica registered in the ClusterKopfPeering."""
    found = kubectl("get", "clusterkopfpeering", PEERING, "-o", "json", check=False)
    if found.returncode != 0:
        return {}
    status: dict[str, dict[str, Any]] = json.loads(found.stdout).get("status") or {}
    return {identity: int(peer["priority"]) for identity, peer in status.items()}


def phase(kubectl: Kubectl, namespace: str, name: str) -> str:
    status = kubectl.get_json("opsrequest", name, "-n", namespace).get("status") or {}
    return str(status.get("phase", ""))


def deciders(kubectl: Kubectl, namespace: str, name: str) -> set[str]:
    """The replicas that posted OpsGate Events about the request (Events' reportingInstance)."""
    events = kubectl.get_json("events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")["items"]
    return {e.get("reportingInstance", "") for e in events if e.get("reportingComponent") == "opsgate"}


def request(kubectl: Kubectl, name: str, text: str) -> None:
    """An OpsRequest by the cluster admin (no MFA group), in TEAM."""
    kubectl.create(opsrequest(name, TEAM, text))


def wait_phase(kubectl: Kubectl, name: str, *phases: str, timeout: float = 120) -> str:
    return str(
        wait_for(lambda: (p := phase(kubectl, TEAM, name)) in phases and p, timeout=timeout, what=f"{name} in {phases}")
    )


def operator_pods(kubectl: Kubectl) -> list[dict[str, Any]]:
    found = kubectl.get_json("pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=operator")
    return list(found["items"])


# --- the tests, in the order a platform team would live them ----------------------------------


def test_the_operator_replicas_run_on_the_process_node_each_with_its_own_priority(installed: Installed) -> None:
    k = installed.kubectl
    rendered = run_helm(k.cluster, installed.helm, "get", "manifest", RELEASE)
    count = sum(1 for doc in yaml.safe_load_all(rendered) if doc)
    print(f"\nchart: {count} objects installed with ci/local-values.yaml")

    def both_running() -> bool:
        pods = operator_pods(k)
        return len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods)

    wait_for(both_running, timeout=120, what="two operator pods Running")
    assert {p["spec"]["nodeName"] for p in operator_pods(k)} == {"process-node"}
    wait_for(lambda: len(peers(k)) == 2, timeout=180, what="both replicas in the peering")
    assert peers(k) == {STANDBY: 0, ACTIVE: 1}
    # Sharing the host's loopback, each replica serves /healthz on its own port (base + ordinal).
    for ordinal in (0, 1):
        url = f"http://127.0.0.1:{installed.health_port + ordinal}/healthz"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.status == 200


def test_an_opsrequest_applied_after_install_is_decided_by_the_active_replica(installed: Installed) -> None:
    k = installed.kubectl
    request(k, "after-install", DENIED_TEXT)
    assert wait_phase(k, "after-install", "Denied", timeout=180) == "Denied"
    wait_for(lambda: deciders(k, TEAM, "after-install"), timeout=30, what="the decision's Event")
    assert deciders(k, TEAM, "after-install") == {ACTIVE}


def test_ollama_pods_land_only_on_the_private_llm_node(installed: Installed) -> None:
    k = installed.kubectl

    def scheduled() -> list[str]:
        pods = k.get_json("pods", "-n", "opsgate-llm", "-l", "app.kubernetes.io/component=ollama")["items"]
        return [p["spec"].get("nodeName", "") for p in pods if p["spec"].get("nodeName")]

    assert wait_for(scheduled, timeout=60, what="the Ollama DaemonSet's pods scheduled") == [PRIVATE_LLM_NODE]
    daemonset = k.get_json("daemonset", "ollama", "-n", "opsgate-llm")
    assert daemonset["status"]["desiredNumberScheduled"] == 1  # of the cluster's three nodes, one is eligible


def permission_matrix() -> list[tuple[str, str, str, str, bool]]:
    """The table under "Permissions" in charts/opsgate/README.md: what the chart documents."""
    rows = []
    for line in (CHART / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("opsgate-") and cells[4] in ("yes", "no"):
            account, verb, resource, namespace, allowed = cells
            rows.append((account, verb, resource, namespace, allowed == "yes"))
    return rows


def test_the_service_accounts_can_do_what_the_chart_documents_and_nothing_more(installed: Installed) -> None:
    matrix = permission_matrix()
    assert len(matrix) >= 30, "the README's permission table was not found"
    wrong = []
    for account, verb, resource, namespace, allowed in matrix:
        kind, _, subresource = resource.partition("/")
        args = ["auth", "can-i", verb, kind, "--as", f"system:serviceaccount:{NAMESPACE}:{account}"]
        args += ["--subresource", subresource] if subresource else []
        args += ["-A"] if namespace == "*" else [] if namespace == "-" else ["-n", namespace]
        answer = installed.kubectl(*args, check=False).stdout.strip()
        if (answer == "yes") != allowed:
            wrong.append(f"{account} {verb} {resource} in {namespace}: {answer}, documented {allowed}")
    print("\n" + "\n".join(f"{a:17} {v:11} {r:48} {n:15} {'yes' if y else 'no'}" for a, v, r, n, y in matrix))
    assert wrong == []


def test_deleting_the_active_replica_hands_over_to_the_standby(installed: Installed) -> None:
    k = installed.kubectl
    pid = replica_process(installed.metrics_port, 1)
    started = time.monotonic()
    k("delete", "pod", ACTIVE, "-n", NAMESPACE, "--wait=false")  # the process node SIGTERMs it
    wait_for(lambda: not alive(pid), timeout=60, what="the active replica's process to stop")
    stopped = time.monotonic()
    # Made once the active replica is gone, so only the standby can decide it.
    request(k, "after-failover", DENIED_TEXT)
    assert wait_phase(k, "after-failover", "Denied", timeout=120) == "Denied"
    decided = time.monotonic()
    wait_for(lambda: deciders(k, TEAM, "after-failover"), timeout=30, what="the decision's Event")
    assert deciders(k, TEAM, "after-failover") == {STANDBY}
    print(
        f"\nchart: the active replica stopped {stopped - started:.1f} s after its pod was deleted; "
        f"the standby decided a request made then {decided - stopped:.1f} s later"
    )
    # The StatefulSet brings the deleted replica back, and with the higher priority it acts again.
    wait_for(lambda: peers(k) == {STANDBY: 0, ACTIVE: 1}, timeout=180, what="the replaced replica in the peering")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def replica_process(metrics_port: int, ordinal: int) -> int:
    """The pid of the operator process the process node runs for replica ``ordinal``.

    Its arguments are unique to this module's install: the free metrics port and the priority.
    The process node's launcher (unshare, then process_node.py launch, then setpriv) ends in
    exec'ing the container's command, so one process carries them.
    """
    listing = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True, timeout=30)
    wanted = f"--priority={ordinal} --metrics-port={metrics_port}"
    pids = [
        int(pid)
        for pid, _, args in (line.strip().partition(" ") for line in listing.stdout.splitlines()[1:])
        if wanted in args and "process_node.py" not in args and not args.startswith(("unshare", "/usr/bin/setpriv"))
    ]
    assert len(pids) == 1, f"replica {ordinal}: {pids} in\n{listing.stdout}"
    return pids[0]


def test_a_killed_active_replica_is_replaced_and_requests_keep_being_decided(installed: Installed) -> None:
    """SIGKILL: no goodbye in the peering. The pod fails, the StatefulSet replaces it, and a request
    made at the moment of the kill is decided by whichever replica acts next."""
    k = installed.kubectl
    pid = replica_process(installed.metrics_port, 1)
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    request(k, "after-kill", DENIED_TEXT)
    assert wait_phase(k, "after-kill", "Denied", timeout=120) == "Denied"
    handover = time.monotonic() - started
    wait_for(lambda: deciders(k, TEAM, "after-kill"), timeout=30, what="the decision's Event")
    acted = deciders(k, TEAM, "after-kill")
    print(f"\nchart: after SIGKILL of the active replica, {sorted(acted)} decided a request in {handover:.1f} s")
    assert len(acted) == 1
    # kopf's peering lifetime (15 s in opsgate.handlers) bounds it, not its default of 60 s.
    assert handover < 40
    wait_for(lambda: peers(k) == {STANDBY: 0, ACTIVE: 1}, timeout=180, what="the replaced replica in the peering")


def test_helm_upgrade_with_a_changed_policy_takes_effect(installed: Installed, tmp_path: Path) -> None:
    k = installed.kubectl
    request(k, "email-before", EMAIL_TEXT)
    assert wait_phase(k, "email-before", "Denied", "AwaitingApproval", timeout=120) == "Denied"  # admin has no MFA
    config = (ROOT / "policies" / "config.yaml").read_text()
    relaxed, changed = re.subn(r"(?m)^(\s+require:) approval\b", r"\1 never", config)
    assert changed == 1
    upgrade = tmp_path / "mfa-never.yaml"
    upgrade.write_text(yaml.safe_dump({"policies": {"files": {"config.yaml": relaxed}}}))
    checksum = "checksum/policies"
    old = k.get_json("statefulset", "opsgate-operator", "-n", NAMESPACE)["spec"]["template"]["metadata"]["annotations"]
    run_helm(k.cluster, installed.helm, "upgrade", RELEASE, str(CHART), *installed.values, "-f", str(upgrade))
    new = k.get_json("statefulset", "opsgate-operator", "-n", NAMESPACE)["spec"]["template"]["metadata"]["annotations"]
    assert new[checksum] != old[checksum]
    k("rollout", "status", "statefulset/opsgate-operator", "-n", NAMESPACE, "--timeout=300s")
    request(k, "email-after", EMAIL_TEXT)
    assert wait_phase(k, "email-after", "Denied", "AwaitingApproval", timeout=180) == "AwaitingApproval"


def test_helm_uninstall_leaves_only_the_kept_crds(installed: Installed) -> None:
    k = installed.kubectl
    run_helm(k.cluster, installed.helm, "uninstall", RELEASE, "--wait", "--timeout=180s")
    wait_for(lambda: not operator_pods(k), timeout=120, what="the operator pods gone")
    kept_crds = {
        f"CustomResourceDefinition/-/{name}"
        for name in (
            "opsrequests.opsgate.dev",
            "approvals.opsgate.dev",
            "clusterkopfpeerings.kopf.dev",
            "kopfpeerings.kopf.dev",
        )
    }
    # The API server's aggregator registers an APIService per CRD group version; it stays with them.
    kept_crds |= {"APIService/-/v1alpha1.opsgate.dev", "APIService/-/v1.kopf.dev"}
    # What users and the operator made stays with the kept CRDs (the requests, an Approval, the
    # peering object); the namespace came from --create-namespace, not from the chart, and holds
    # only what every namespace gets.
    made = ("OpsRequest/", "Approval/", "ClusterKopfPeering/")
    namespace = {
        f"Namespace/-/{NAMESPACE}",
        f"ServiceAccount/{NAMESPACE}/default",
        f"ConfigMap/{NAMESPACE}/kube-root-ca.crt",
    }

    def left_behind() -> set[str]:
        return {o for o in inventory(k) - installed.before if not o.startswith(made)} - namespace

    # Garbage collection (ControllerRevisions, the Ollama namespace's contents) finishes shortly after.
    with contextlib.suppress(AssertionError):
        wait_for(lambda: left_behind() == kept_crds, timeout=120, what="only the kept CRDs left")
    assert sorted(left_behind()) == sorted(kept_crds)
