"""Front-door helpers: ``kubectl opsgate`` found by kubectl itself, and identities of their own.

:func:`kubectl_opsgate` runs the plugin the way a user does - ``kubectl opsgate …`` with
``kubectl-opsgate`` on PATH - so kubectl's plugin discovery is part of what is tested (kubectl
refuses flags before a plugin's name: the kubeconfig comes from ``$KUBECONFIG``).

:func:`client_certificate_kubeconfig`: an agent in production has its own kubeconfig (a
ServiceAccount token, an OIDC login, a client certificate). Here it gets a client certificate
through the API server's own CertificateSigningRequest flow (signer
``kubernetes.io/kube-apiserver-client``, approved by the admin, signed by the controller-manager),
so the API server authenticates it as ``user`` with ``groups`` - no impersonation by a more
powerful credential.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import yaml
from tests.e2e.cluster import ROOT, Cluster, Kubectl, wait_for


def kubectl_opsgate(cluster: Cluster, *args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``kubectl opsgate ARGS`` as a user types it; with the admin's kubeconfig unless another is given."""
    env = {**cluster.env, "PATH": f"{ROOT / '.venv' / 'bin'}:{cluster.env.get('PATH', '')}"}
    env["KUBECONFIG"] = str(kubeconfig or cluster.kubeconfig)
    return subprocess.run(
        [cluster.kubectl_path, "opsgate", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def client_certificate_kubeconfig(kubectl: Kubectl, folder: Path, user: str, groups: tuple[str, ...]) -> Path:
    """A kubeconfig for the cluster that authenticates as ``user`` in ``groups``; its path."""
    key, csr = folder / f"{user}.key", folder / f"{user}.csr"
    subject = "/CN=" + user + "".join(f"/O={g}" for g in groups)
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(
        ["openssl", "req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr)],
        check=True,
        capture_output=True,
    )
    request = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": f"e2e-{user}"},
        "spec": {
            "request": base64.b64encode(csr.read_bytes()).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "expirationSeconds": 3600,
            "usages": ["client auth"],
        },
    }
    kubectl.create(request)
    kubectl("certificate", "approve", f"e2e-{user}")
    signed = wait_for(
        lambda: kubectl.get_json("csr", f"e2e-{user}").get("status", {}).get("certificate"),
        timeout=60,
        what=f"the certificate of {user}",
    )
    admin = json.loads(kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": signed,
                    "client-key-data": base64.b64encode(key.read_bytes()).decode(),
                },
            }
        ],
        "contexts": [{"name": user, "context": {"cluster": "e2e", "user": user}}],
        "current-context": user,
    }
    path = folder / f"{user}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path
