"""Two replicas with kopf peering: only the higher-priority one acts; when it dies, the standby takes over.

Who acted is read the way a cluster admin would: the Events on each request name the replica
that posted them (``reportingInstance``, the pod name from ``POD_ID``), and the standby's log
says when it resumed. The session operator (standalone, outside the peering) is stopped meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.cluster import REQUESTER_GROUPS, ROOT, Kubectl, Operator, opsrequest, requester, wait_for
from tests.e2e.test_lifecycle import decide, jobs_in, phase_of

HIGH, LOW = "opsgate-high", "opsgate-low"  # POD_ID of each replica: its peering identity and Event source
# settings.peering.lifetime in opsgate.handlers: a replica not heard of for this long counts as dead,
# so the standby resumes at most this long after the active replica's last keep-alive.
PEERING_LIFETIME = 15
RESUMED = "Resuming operations after the pause"  # kopf's log line when a paused replica starts acting


@dataclass(frozen=True)
class Peers:
    where: tuple[str, ...]  # kubectl arguments naming the peering object both replicas join
    high: Operator
    low: Operator


def peer_priorities(kubectl: Kubectl, where: tuple[str, ...]) -> dict[str, int]:
    """Identity -> priority of each replica currently registered in the peering object."""
    found = kubectl("get", *where, "-o", "json", check=False)
    if found.returncode != 0:
        return {}
    status: dict[str, dict[str, Any]] = json.loads(found.stdout).get("status") or {}
    return {identity: int(peer["priority"]) for identity, peer in status.items()}


def replica(kubectl: Kubectl, operator: Operator, directory: Path, identity: str, args: list[str]) -> Operator:
    # Each replica gets its own embedded store: it locks its folder to one process. It stays
    # empty (no context for planning), which changes no phase. Vault and the mail API: the session's.
    env = {
        **operator.env,
        "POD_ID": identity,
        "OPSGATE_LOG_LEVEL": "INFO",
        "QDRANT_PATH": str(directory / f"{identity}-qdrant"),
        "OPSGATE_AUTOINDEX": "0",  # it stays empty: two replicas indexing would only load the CPUs
    }
    return Operator(kubectl.cluster, directory / f"{identity}.log", env, args)


def checkout(kubectl: Kubectl, namespace: str) -> None:
    """The Deployment the requests scale: their Jobs really run and act on it."""
    kubectl("create", "deployment", "checkout", "--image=registry.local/shop/checkout:1", "-n", namespace)


def processes_mentioning(text: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True, timeout=30)
    return [line for line in listing.stdout.splitlines() if text in line]


@contextlib.contextmanager
def peered(
    kubectl: Kubectl, operator: Operator, directory: Path, peering: str, *, namespace: str | None = None
) -> Iterator[Peers]:
    """HIGH (priority 100) and LOW (50) joined in ``peering``: cluster-wide, or watching ``namespace`` only."""
    kubectl("apply", "-f", str(ROOT / "deploy" / "peering.yaml"))
    kubectl("wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev", "--timeout=60s")
    kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "--timeout=60s")
    scope = ["--namespace", namespace] if namespace else []
    where = ("kopfpeering", peering, "-n", namespace) if namespace else ("clusterkopfpeering", peering)
    high = replica(kubectl, operator, directory, HIGH, ["--peering", peering, "--priority", "100", *scope])
    low = replica(kubectl, operator, directory, LOW, ["--peering", peering, "--priority", "50", *scope])
    operator.stop()  # it runs standalone, outside any peering: it would act beside the replicas
    try:
        high.start()
        # The standby must find the active replica registered when it starts: a paused replica
        # resumes only once the peering object shows no live higher-priority peer.
        wait_for(lambda: HIGH in peer_priorities(kubectl, where), timeout=30, what=f"{HIGH} in {where}")
        low.start()
        wait_for(lambda: LOW in peer_priorities(kubectl, where), timeout=30, what=f"{LOW} in {where}")
        assert peer_priorities(kubectl, where) == {HIGH: 100, LOW: 50}
        yield Peers(where, high, low)
    finally:
        high.stop()
        low.stop()
        kubectl("delete", *where, "--ignore-not-found", check=False)
        operator.start()
    assert processes_mentioning(f"--peering {peering} ") == [], "a replica outlived the test"


@pytest.fixture
def peers(kubectl: Kubectl, operator: Operator, namespace: str, tmp_path: Path) -> Iterator[Peers]:
    checkout(kubectl, namespace)
    with peered(kubectl, operator, tmp_path, f"e2e-{namespace}") as running:  # unique: ps looks for it
        yield running


@pytest.fixture
def namespaced_peers(kubectl: Kubectl, operator: Operator, namespace: str, tmp_path: Path) -> Iterator[Peers]:
    checkout(kubectl, namespace)
    with peered(kubectl, operator, tmp_path, f"e2e-{namespace}", namespace=namespace) as running:
        yield running


def sources(kubectl: Kubectl, namespace: str, name: str) -> Counter[tuple[str, str]]:
    """(replica, reason) of each OpsGate Event about the request ``name``."""
    events = kubectl.get_json("events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")["items"]
    return Counter(
        (e.get("reportingInstance", ""), e["reason"]) for e in events if e.get("reportingComponent") == "opsgate"
    )


def assert_each_step_once(name: str, acted: Counter[tuple[str, str]]) -> None:
    # An event lost with a killed replica is possible (kopf posts them in the background); a
    # step posted twice would mean two replicas, or one twice, made the same transition.
    assert max(acted.values(), default=0) <= 1, f"{name} had a step handled twice: {acted}"


def test_only_the_higher_priority_replica_acts_and_the_standby_takes_over_when_it_dies(
    kubectl: Kubectl, peers: Peers, namespace: str
) -> None:
    ns = namespace
    suffix = ns.rsplit("-", 1)[-1]

    def create(name: str, text: str) -> None:
        user = f"{name}-{suffix}"  # one requester per request: rate limits count per requester
        requester(kubectl, ns, user).create(opsrequest(name, ns, text, requester=user, groups=REQUESTER_GROUPS))

    def wait_phase(name: str, *phases: str, timeout: float = 240) -> None:
        wait_for(lambda: phase_of(kubectl, ns, name) in phases, timeout=timeout, what=f"{name} in {phases}")

    # 1. Both replicas run: the high-priority one handles everything, each step once.
    create("scale", "scale the checkout deployment to 2 replicas in staging")
    create("email", "create an email for peer@acme.org")
    create("delete", "Delete the production cluster payments-prod")
    wait_phase("scale", "Succeeded")
    wait_phase("email", "AwaitingApproval")
    wait_phase("delete", "Denied")
    for name in ("scale", "email", "delete"):
        acted = sources(kubectl, ns, name)
        assert {instance for instance, _ in acted} == {HIGH}, f"{name}: {acted}"
        assert_each_step_once(name, acted)
    assert RESUMED not in peers.low.log(), "the standby acted while the active replica was alive"

    # 2. The active replica dies without a goodbye (its peering record stays until it expires).
    create("just-before", "scale the checkout deployment to 3 replicas in staging")  # in flight at the kill
    peers.high.kill()
    killed = time.monotonic()
    create("after", "scale the checkout deployment to 4 replicas in staging")
    email = kubectl.get_json("opsrequest", "email", "-n", ns)["status"]
    bob = kubectl.as_user("bob", "opsgate-approvers")
    assert decide(bob, ns, email["approval"]["name"], "bob", "Approve", email["plan"]["digest"]).returncode == 0

    wait_phase("after", "Approved", "Running", "Succeeded", timeout=PEERING_LIFETIME + 45)
    failover = time.monotonic() - killed
    print(f"failover: the standby decided a new request {failover:.1f} s after the kill")
    for name in ("after", "email", "just-before"):
        wait_phase(name, "Succeeded")
    assert RESUMED in peers.low.log()

    after, email_events, racing = (sources(kubectl, ns, n) for n in ("after", "email", "just-before"))
    assert {instance for instance, _ in after} == {LOW}, after
    # The approval was decided after the kill: the standby moved the request on and ran it.
    assert {instance for instance, reason in email_events if reason != "AwaitingApproval"} == {LOW}, email_events
    for name, acted in (("after", after), ("email", email_events), ("just-before", racing)):
        assert_each_step_once(name, acted)

    # One Job per request that ran, one Approval for the one that needed it: nothing was duplicated.
    owners = Counter(job["metadata"]["annotations"]["opsgate.dev/request"] for job in jobs_in(kubectl, ns))
    assert owners == Counter(["scale", "email", "just-before", "after"])
    approvals = kubectl.get_json("approvals", "-n", ns)["items"]
    assert [a["spec"]["opsRequestRef"]["name"] for a in approvals] == ["email"]


def test_replicas_watching_one_namespace_peer_there_and_only_the_higher_priority_one_acts(
    kubectl: Kubectl, namespaced_peers: Peers, namespace: str
) -> None:
    # Such replicas peer through a KopfPeering in the namespace (the operator creates it);
    # without one, kopf kept them paused and nothing was ever handled.
    user = f"scale-{namespace.rsplit('-', 1)[-1]}"
    requester(kubectl, namespace, user).create(
        opsrequest("scale", namespace, "scale the checkout deployment to 2 replicas in staging", requester=user)
    )
    wait_for(lambda: phase_of(kubectl, namespace, "scale") == "Succeeded", timeout=240, what="scale Succeeded")
    acted = sources(kubectl, namespace, "scale")
    assert {instance for instance, _ in acted} == {HIGH}, acted
    assert_each_step_once("scale", acted)
    assert RESUMED not in namespaced_peers.low.log()
