"""E2e fixtures: a real Kubernetes API server with OpsGate's CRDs and admission policies installed.

Where the cluster comes from (first match wins):

* ``OPSGATE_E2E_KUBECONFIG=<path>``: an existing cluster you point at (kind, a dev cluster, …);
* ``OPSGATE_E2E_KIND=1``: a kind cluster via pytest-kind (needs Docker);
* otherwise ``hack/local-cluster.sh up``: the local control plane built from Go modules
  (etcd, kube-apiserver, controller-manager, scheduler, kwok), started for this session and
  stopped at the end.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests import vault_setup
from tests.e2e.cluster import ROOT, Cluster, Kubectl, Operator, Team, exports_of, requester
from tests.e2e.ui_server import UiServer, impersonator_kubeconfig
from tests.fakes import mail_server
from tests.real_openbao import RealOpenBao, openbao_server
from tests.real_postgres import RealPostgres


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    env = dict(os.environ)
    configured = os.environ.get("OPSGATE_E2E_KUBECONFIG")
    if configured:
        kubectl = shutil.which("kubectl")
        assert kubectl, "OPSGATE_E2E_KUBECONFIG is set but kubectl is not on PATH"
        env["KUBECONFIG"] = configured
        yield Cluster(configured, kubectl, env)
        return
    if os.environ.get("OPSGATE_E2E_KIND") == "1":
        from pytest_kind import KindCluster  # Docker only; imported on demand

        kind = KindCluster("opsgate-e2e")
        kind.create()
        env["KUBECONFIG"] = str(kind.kubeconfig_path)
        try:
            yield Cluster(str(kind.kubeconfig_path), str(kind.kubectl_path), env)
        finally:
            kind.delete()
        return
    for _attempt in range(2):
        up = subprocess.run(
            [str(ROOT / "hack" / "local-cluster.sh"), "up"],
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        if up.returncode == 0:
            break
        # Seen once on the shared 2-core machine: the controller-manager had not created the default
        # service account within the script's 60 s (it takes ~10 s). The script has stopped what it
        # started, so a second start is clean; a second failure is real.
    assert up.returncode == 0, f"hack/local-cluster.sh up failed:\n{up.stderr}"
    exports = exports_of(up.stdout)
    state_dir = exports["OPSGATE_CLUSTER_DIR"]
    bin_dir = exports["PATH"].removesuffix(":$PATH")
    env.update(KUBECONFIG=exports["KUBECONFIG"], OPSGATE_CLUSTER_DIR=state_dir)
    # Where executor Jobs run: the process node, which really runs them (hack/process_node.py).
    env.update({k: v for k, v in exports.items() if k.startswith("OPSGATE_EXECUTOR_")})
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    try:
        yield Cluster(exports["KUBECONFIG"], str(Path(bin_dir) / "kubectl"), env)
    finally:
        subprocess.run([str(ROOT / "hack" / "local-cluster.sh"), "down", state_dir], check=False, timeout=120)


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Kubectl:
    """Admin kubectl, with the CRDs, admission policies and user roles of ``crds/`` installed."""
    k = Kubectl(cluster)
    k("apply", "-f", str(ROOT / "crds"))
    k(
        "wait",
        "--for=condition=Established",
        "crd/opsrequests.opsgate.dev",
        "crd/approvals.opsgate.dev",
        "--timeout=60s",
    )
    return k


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, labelled with a project and cost centre (tags policy)."""
    slug = "".join(c if c.isalnum() else "-" for c in request.node.name.lower().removeprefix("test_"))[:40]
    name = f"t-{slug.strip('-')}-{hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:6]}"
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, "opsgate.dev/project=e2e", "opsgate.dev/cost-center=cc-0000")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


APPROVAL_TTL_SECONDS = 40


MAIL_TOKEN_PATH = "opsgate/mail"


@pytest.fixture(scope="session")
def mail_api(kubectl: Kubectl, openbao_server: RealOpenBao) -> Iterator[mail_server.MailServer]:
    """The mail provider's API (a test server), and OpenBao holding its token for the executor.

    OpenBao's Kubernetes auth is configured against this cluster, so executor Jobs log in with
    their own service-account token through a real TokenReview (tests/vault_setup.py).
    """
    client = openbao_server.root()
    vault_setup.configure_for_cluster(
        client, vault_setup.Kubectl(kubectl=kubectl.cluster.kubectl_path, kubeconfig=kubectl.cluster.kubeconfig)
    )
    token = secrets.token_urlsafe(24)
    client.secrets.kv.v2.create_or_update_secret(path=MAIL_TOKEN_PATH, secret={"token": token}, mount_point="secret")
    with mail_server.serve(token) as server:
        yield server


@pytest.fixture(scope="session")
def operator(
    kubectl: Kubectl,
    tmp_path_factory: pytest.TempPathFactory,
    openbao_server: RealOpenBao,
    mail_api: mail_server.MailServer,
    postgres_server: RealPostgres,
) -> Iterator[Operator]:
    """The OpsGate controller running as a real process for the session.

    Approvals expire after APPROVAL_TTL_SECONDS here, so the expiry test need not wait a day.
    Every request of the session is recorded in a real PostgreSQL (the audit store).
    """
    kubectl(
        "create",
        "clusterrolebinding",
        "e2e-approvers",
        "--clusterrole=opsgate-approver",
        "--group=opsgate-approvers",
        check=False,
    )
    # The executor namespace, the executor's ServiceAccount and the operator's roles; on this test
    # cluster the executor may act in every namespace (a platform team binds it per namespace).
    kubectl("apply", "-f", str(ROOT / "deploy" / "operator-rbac.yaml"))
    kubectl("apply", "-f", str(ROOT / "deploy" / "executor-rbac.yaml"))
    for role in ("opsgate-executor", "opsgate-executor-namespaces"):
        kubectl(
            "create",
            "clusterrolebinding",
            f"e2e-{role}",
            f"--clusterrole={role}",
            "--serviceaccount=opsgate-system:opsgate-executor",
            check=False,
        )
    state = tmp_path_factory.mktemp("operator")
    env = {
        "OPSGATE_APPROVAL_TTL_SECONDS": str(APPROVAL_TTL_SECONDS),
        "OPSGATE_LOG_LEVEL": "INFO",
        "QDRANT_PATH": str(state / "qdrant"),
        "VAULT_ADDR": openbao_server.url,
        "OPSGATE_EXECUTOR_ENV": f"OPSGATE_MAIL_API_URL={mail_api.url}",
        "OPSGATE_DATABASE_URL": postgres_server.create_database(),
        "OPSGATE_AUDIT_SPOOL": str(state / "audit-spool.sqlite"),
        "OPSGATE_LEARN_SECONDS": "2",  # learned phrases are read again every 2 s (30 s by default)
    }
    # The RAG index the operator retrieves context from: the repository's own docs and playbooks,
    # built before it starts so that the first requests find context (the operator would build it
    # in the background too, and here finds every file unchanged).
    subprocess.run(
        [str(ROOT / ".venv/bin/opsgate"), "index"],
        env={**os.environ, **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    running = Operator(kubectl.cluster, state / "operator.log", env)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def team(kubectl: Kubectl, namespace: str) -> Team:
    """A namespace with a requester of its own, and the deployments the requests act on."""
    user = "u-" + namespace.rsplit("-", 1)[-1]
    for app in ("checkout", "payments"):
        kubectl("create", "deployment", app, "--image=registry.local/shop/app:1", "-n", namespace)
    return Team(namespace, user, requester(kubectl, namespace, user))


@pytest.fixture(scope="session")
def ui(kubectl: Kubectl, operator: Operator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """``opsgate ui`` for the session, as the opsgate-ui ServiceAccount (impersonation only),
    reading analytics from the operator's audit store."""
    state = tmp_path_factory.mktemp("ui")
    kubeconfig = impersonator_kubeconfig(kubectl, state / "kubeconfig")
    env = {**kubectl.cluster.env, "DATABASE_URL": operator.env["OPSGATE_DATABASE_URL"], "OPSGATE_LOG_LEVEL": "INFO"}
    server = UiServer(kubeconfig, state / "ui.log", env)
    server.start()
    yield server
    server.stop()


__all__ = ["openbao_server"]  # the session's OpenBao (tests/real_openbao.py), for the executor's secrets
