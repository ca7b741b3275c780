"""E2e fixtures: a real Kubernetes API server with OpsGate's CRDs and admission policies installed.

Where the cluster comes from (first match wins):

* ``OPSGATE_E2E_KUBECONFIG=<path>``: an existing cluster you point at (kind, a dev cluster, …);
* ``OPSGATE_E2E_KIND=1``: a kind cluster via pytest-kind (needs Docker);
* otherwise ``hack/local-cluster.sh up``: the local control plane built from Go modules
  (etcd, kube-apiserver, controller-manager, scheduler, kwok), started for this session and
  stopped at the end.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    kubectl_path: str
    env: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Kubectl:
    """kubectl against the test cluster, optionally impersonating a user (``--as``/``--as-group``)."""

    cluster: Cluster
    user: str | None = None
    groups: tuple[str, ...] = ()

    def as_user(self, user: str, *groups: str) -> Kubectl:
        return Kubectl(self.cluster, user, groups)

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [self.cluster.kubectl_path, "--kubeconfig", self.cluster.kubeconfig]
        if self.user:
            argv += ["--as", self.user, *(f"--as-group={g}" for g in self.groups)]
        argv += list(args)
        result = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, env=self.cluster.env, timeout=120, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{shlex.join(argv[3:])} failed ({result.returncode}):\n{result.stderr}")
        return result

    def apply(self, manifest: str | dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self("apply", "-f", "-", stdin=text, check=check)

    def create(self, manifest: str | dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self("create", "-f", "-", stdin=text, check=check)

    def get_json(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json").stdout)


def _exports(text: str) -> dict[str, str]:
    """The variables of ``hack/local-cluster.sh up``'s ``export NAME=VALUE`` lines."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
    return env


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
    up = subprocess.run(
        [str(ROOT / "hack" / "local-cluster.sh"), "up"],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    assert up.returncode == 0, f"hack/local-cluster.sh up failed:\n{up.stderr}"
    exports = _exports(up.stdout)
    state_dir = exports["OPSGATE_CLUSTER_DIR"]
    bin_dir = exports["PATH"].removesuffix(":$PATH")
    env.update(KUBECONFIG=exports["KUBECONFIG"], OPSGATE_CLUSTER_DIR=state_dir)
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
    name = "t-" + request.node.name.lower().replace("_", "-")[:40].strip("-") + f"-{os.getpid() % 10000}"
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)[:63].strip("-")
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, "opsgate.dev/project=e2e", "opsgate.dev/cost-center=cc-0000")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)
