"""Handles on the e2e test cluster: where it is, and kubectl against it (optionally impersonating)."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


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


def exports_of(text: str) -> dict[str, str]:
    """The variables of ``hack/local-cluster.sh up``'s ``export NAME=VALUE`` lines."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
    return env


class Served:
    """An ``opsgate`` server command as a real process, its output in ``log_path``.

    ``serve(argv, ready)`` starts it and returns once ``ready()`` is true (OSError counts as not
    yet); a process that exits or stays unready for 60 s fails the fixture with its log.
    """

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def serve(self, argv: Sequence[str], ready: Callable[[], bool]) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"{argv[1]} exited:\n{self.log()[-3000:]}"
            try:
                if ready():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()  # not left running behind a failed fixture
        raise AssertionError(f"{argv[1]} did not become ready:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Operator(Served):
    """``opsgate operator`` as a real process against the test cluster; killable and restartable."""

    def __init__(self, cluster: Cluster, log_path: Path, env: dict[str, str], args: Sequence[str] = ()) -> None:
        super().__init__(log_path, {**cluster.env, **env})
        self.cluster = cluster
        self.args = tuple(args)  # extra `opsgate operator` flags, e.g. --peering
        self.health = ""

    def start(self) -> None:
        port = _free_port()
        self.health = f"http://127.0.0.1:{port}/healthz"
        argv = [str(ROOT / ".venv" / "bin" / "opsgate"), "operator", "--metrics-port", "0"]
        self.serve([*argv, "--health", self.health, *self.args], self._healthy)

    def _healthy(self) -> bool:
        with urllib.request.urlopen(self.health, timeout=1) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as in a node failure."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)


def token_kubeconfig(kubectl: Kubectl, path: Path, user: str, token: str) -> Path:
    """A kubeconfig for the test cluster that authenticates as ``user`` with ``token``."""
    admin = yaml.safe_load(Path(kubectl.cluster.kubeconfig).read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "e2e", "user": user}}],
        "current-context": user,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll until ``predicate()`` is truthy; its value, or an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# The groups of an impersonated requester (see ``requester``): an approver too (for the four-eyes
# tests) and signed in with MFA, which the seed policy asks of anyone whose change needs approval.
REQUESTER_GROUPS = ("opsgate-approvers", "opsgate-mfa")
ADMIN_GROUPS = ("system:masters",)


def opsrequest(
    name: str,
    namespace: str,
    text: str,
    *,
    requester: str = "admin",
    groups: Sequence[str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An OpsRequest manifest; ``requester`` must be whoever creates it (the admission policy checks).

    ``groups`` states the requester's groups (``spec.requesterGroups``), which the API server
    holds to the caller's real ones: an impersonated user also has ``system:authenticated``.
    """
    if groups is None and requester == "admin":
        groups = ADMIN_GROUPS  # the local control plane's admin: RBAC sees its group, not a binding
    stated = {"requesterGroups": sorted({*groups, "system:authenticated"})} if groups is not None else {}
    return {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"request": text, "requester": requester, **stated, **spec},
    }


def decided(k: Kubectl, namespace: str, name: str, *, timeout: float = 60) -> dict[str, Any]:
    """The request's status once the operator has given it a phase."""

    def status() -> dict[str, Any]:
        found: dict[str, Any] = k.get_json("opsrequest", name, "-n", namespace).get("status") or {}
        return found if found.get("phase") else {}

    result: dict[str, Any] = wait_for(status, timeout=timeout, what=f"{name} decided")
    return result


@dataclass(frozen=True)
class Team:
    """A namespace and a requester of its own (rate limits count per requester and hour)."""

    namespace: str
    user: str
    kubectl: Kubectl  # impersonating ``user``

    def request(self, name: str, text: str, **spec: Any) -> dict[str, Any]:
        return opsrequest(name, self.namespace, text, requester=self.user, groups=REQUESTER_GROUPS, **spec)

    def create(self, name: str, text: str, **spec: Any) -> None:
        self.kubectl.create(self.request(name, text, **spec))


def requester(kubectl: Kubectl, namespace: str, user: str) -> Kubectl:
    """``user`` may create OpsRequests in ``namespace``; in REQUESTER_GROUPS (an approver, with MFA)."""
    kubectl(
        "create",
        "rolebinding",
        f"requester-{user}",
        "--clusterrole=opsgate-requester",
        f"--user={user}",
        "-n",
        namespace,
    )
    return kubectl.as_user(user, *REQUESTER_GROUPS)
