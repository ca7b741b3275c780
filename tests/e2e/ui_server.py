"""``opsgate ui`` as a real process against the e2e cluster, with only the right to impersonate.

The UI runs with the ``opsgate-ui`` ServiceAccount of ``deploy/ui-rbac.yaml`` (a token from
``kubectl create token``), exactly as in a cluster: everything it does for a user it does as that
user, so what the tests see allowed or refused is the API server's own answer for the user.
Tests play the auth proxy by sending ``X-Forwarded-User`` / ``X-Forwarded-Groups``.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import yaml
from tests.e2e.cluster import ROOT, Kubectl, _free_port

UI_SERVICE_ACCOUNT = "opsgate-ui"
UI_NAMESPACE = "opsgate-system"


def impersonator_kubeconfig(kubectl: Kubectl, path: Path) -> Path:
    """A kubeconfig for the UI's ServiceAccount (deploy/ui-rbac.yaml): it may impersonate, nothing else."""
    kubectl("apply", "-f", str(ROOT / "deploy" / "operator-rbac.yaml"))  # the opsgate-system namespace
    kubectl("apply", "-f", str(ROOT / "deploy" / "ui-rbac.yaml"))
    token = kubectl("create", "token", UI_SERVICE_ACCOUNT, "-n", UI_NAMESPACE, "--duration=2h").stdout.strip()
    admin = yaml.safe_load(Path(kubectl.cluster.kubeconfig).read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": UI_SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "ui", "context": {"cluster": "e2e", "user": UI_SERVICE_ACCOUNT}}],
        "current-context": "ui",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


class UiServer:
    """``opsgate ui --port P --kubeconfig <the impersonator's>``; ``url`` once healthy."""

    def __init__(self, kubeconfig: Path, log_path: Path, env: dict[str, str]) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = _free_port()
        argv = [str(ROOT / ".venv/bin/opsgate"), "ui", "--port", str(port), "--kubeconfig", str(self.kubeconfig)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"opsgate ui exited:\n{self.log()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"opsgate ui did not become healthy:\n{self.log()[-3000:]}")

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
