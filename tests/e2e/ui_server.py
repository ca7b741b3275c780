"""``opsgate ui`` as a real process against the e2e cluster, with only the right to impersonate.

The UI runs with the ``opsgate-ui`` ServiceAccount of ``deploy/ui-rbac.yaml`` (a token from
``kubectl create token``), exactly as in a cluster: everything it does for a user it does as that
user, so what the tests see allowed or refused is the API server's own answer for the user.
Tests play the auth proxy by sending ``X-Forwarded-User`` / ``X-Forwarded-Groups``.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from tests.e2e.cluster import ROOT, Kubectl, Served, _free_port, token_kubeconfig

UI_SERVICE_ACCOUNT = "opsgate-ui"
UI_NAMESPACE = "opsgate-system"


def impersonator_kubeconfig(kubectl: Kubectl, path: Path) -> Path:
    """A kubeconfig for the UI's ServiceAccount (deploy/ui-rbac.yaml): it may impersonate, nothing else."""
    kubectl("apply", "-f", str(ROOT / "deploy" / "operator-rbac.yaml"))  # the opsgate-system namespace
    kubectl("apply", "-f", str(ROOT / "deploy" / "ui-rbac.yaml"))
    token = kubectl("create", "token", UI_SERVICE_ACCOUNT, "-n", UI_NAMESPACE, "--duration=2h").stdout.strip()
    return token_kubeconfig(kubectl, path, UI_SERVICE_ACCOUNT, token)


class UiServer(Served):
    """``opsgate ui --port P --kubeconfig <the impersonator's>``; ``url`` once healthy."""

    def __init__(self, kubeconfig: Path, log_path: Path, env: dict[str, str]) -> None:
        super().__init__(log_path, env)
        self.kubeconfig = kubeconfig
        self.url = ""

    def start(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = [str(ROOT / ".venv/bin/opsgate"), "ui", "--port", str(port), "--kubeconfig", str(self.kubeconfig)]
        self.serve(argv, self._healthy)

    def _healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
