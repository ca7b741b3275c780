"""Configure Vault/OpenBao for OpsGate's executor against a Kubernetes cluster, as docs/vault.md describes.

One place for the steps, shared by the Vault tests, the full e2e run, ``hack/vault-dev.sh`` and the
demo:

* in the cluster: the namespace ``opsgate-system`` with the executor's ServiceAccount
  ``opsgate-executor``, and a reviewer ServiceAccount ``opsgate-vault-reviewer`` bound to
  ``system:auth-delegator`` so Vault may call the TokenReview API with its token;
* in Vault: the ``kubernetes`` auth method pointed at the API server (its URL and CA from the
  kubeconfig, the reviewer's JWT), a policy allowing ``read`` on ``secret/data/opsgate/*``, and the
  role ``opsgate-executor`` bound to that one ServiceAccount in that one namespace.

As a script (``python -m tests.vault_setup --help``), with ``VAULT_ADDR``/``VAULT_TOKEN`` of an
admin and ``KUBECONFIG``, it does both, and ``--demo-secrets`` also writes the demo's secrets.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import hvac

AUTH_MOUNT = "kubernetes"
KV_MOUNT = "secret"
SECRETS_PREFIX = "opsgate"
EXECUTOR_NAMESPACE = "opsgate-system"
EXECUTOR_SERVICE_ACCOUNT = "opsgate-executor"
EXECUTOR_ROLE = "opsgate-executor"
EXECUTOR_POLICY = "opsgate-executor"
EXECUTOR_TOKEN_TTL = "15m"  # a Job's whole life; close() revokes it earlier
REVIEWER_SERVICE_ACCOUNT = "opsgate-vault-reviewer"

# The secrets the catalog's playbooks read (playbooks/README.md), under secret/opsgate/<name>.
DEMO_SECRETS: Mapping[str, tuple[str, ...]] = {
    "mail": ("token",),
    "idp": ("token",),
    "ca": ("token",),
    "dependency-track": ("api_key",),
}


def executor_policy(*, kv_mount: str = KV_MOUNT, prefix: str = SECRETS_PREFIX) -> str:
    """Read-only on the KV v2 data under ``prefix``: no list, no metadata, no write."""
    return f'path "{kv_mount}/data/{prefix}/*" {{\n  capabilities = ["read"]\n}}\n'


@dataclass(frozen=True)
class ApiServer:
    """Where Vault reaches the Kubernetes API server for TokenReviews, and the CA it trusts there."""

    url: str
    ca_pem: str


class Kubectl:
    """Just enough kubectl (a path and a kubeconfig) for the cluster side; fails loudly."""

    def __init__(self, *, kubectl: str = "kubectl", kubeconfig: str | None = None) -> None:
        self.argv = [kubectl, *(["--kubeconfig", kubeconfig] if kubeconfig else [])]

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [*self.argv, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {shlex.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def api_server(self) -> ApiServer:
        """The current context's API server URL and CA, from the kubeconfig (file paths inlined)."""
        config = json.loads(self("config", "view", "--raw", "--minify", "--flatten", "-o", "json"))
        cluster = config["clusters"][0]["cluster"]
        ca_data = cluster.get("certificate-authority-data")
        if not ca_data:
            raise RuntimeError("the kubeconfig's cluster has no CA: Vault could not verify the API server")
        return ApiServer(url=cluster["server"], ca_pem=base64.b64decode(ca_data).decode())

    def create_token(self, service_account: str, *, namespace: str, duration: str = "1h") -> str:
        """A JWT for ``service_account`` from the TokenRequest API (``kubectl create token``)."""
        return self("create", "token", service_account, "-n", namespace, f"--duration={duration}").strip()


def cluster_manifests(
    *,
    namespace: str = EXECUTOR_NAMESPACE,
    service_account: str = EXECUTOR_SERVICE_ACCOUNT,
    reviewer: str = REVIEWER_SERVICE_ACCOUNT,
) -> list[dict[str, object]]:
    """The executor's namespace and ServiceAccount, and the reviewer Vault calls TokenReview as."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": service_account, "namespace": namespace}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": reviewer, "namespace": namespace}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": reviewer},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:auth-delegator",
            },
            "subjects": [{"kind": "ServiceAccount", "name": reviewer, "namespace": namespace}],
        },
    ]


def prepare_cluster(kubectl: Kubectl, *, namespace: str = EXECUTOR_NAMESPACE, reviewer_lifetime: str = "1h") -> str:
    """Apply :func:`cluster_manifests` (idempotent) and return a reviewer JWT for Vault."""
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": cluster_manifests(namespace=namespace)}),
    )
    return kubectl.create_token(REVIEWER_SERVICE_ACCOUNT, namespace=namespace, duration=reviewer_lifetime)


def configure_vault(
    client: hvac.Client,
    *,
    api_server: ApiServer,
    reviewer_jwt: str,
    auth_mount: str = AUTH_MOUNT,
    kv_mount: str = KV_MOUNT,
    role: str = EXECUTOR_ROLE,
    namespace: str = EXECUTOR_NAMESPACE,
    service_account: str = EXECUTOR_SERVICE_ACCOUNT,
    token_ttl: str = EXECUTOR_TOKEN_TTL,
) -> None:
    """Kubernetes auth, the executor's policy and role, with an admin ``client``; idempotent."""
    if f"{auth_mount}/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("kubernetes", path=auth_mount)
    client.auth.kubernetes.configure(
        kubernetes_host=api_server.url,
        kubernetes_ca_cert=api_server.ca_pem,
        token_reviewer_jwt=reviewer_jwt,
        mount_point=auth_mount,
    )
    client.sys.create_or_update_policy(name=EXECUTOR_POLICY, policy=executor_policy(kv_mount=kv_mount))
    client.auth.kubernetes.create_role(
        name=role,
        bound_service_account_names=[service_account],
        bound_service_account_namespaces=[namespace],
        policies=[EXECUTOR_POLICY],
        ttl=token_ttl,
        max_ttl=token_ttl,
        mount_point=auth_mount,
    )


def configure_for_cluster(client: hvac.Client, kubectl: Kubectl, *, reviewer_lifetime: str = "1h") -> ApiServer:
    """Both sides: :func:`prepare_cluster`, then :func:`configure_vault` against that cluster."""
    reviewer_jwt = prepare_cluster(kubectl, reviewer_lifetime=reviewer_lifetime)
    api_server = kubectl.api_server()
    configure_vault(client, api_server=api_server, reviewer_jwt=reviewer_jwt)
    return api_server


def put_demo_secrets(client: hvac.Client, *, kv_mount: str = KV_MOUNT) -> list[str]:
    """Random values for :data:`DEMO_SECRETS` under ``secret/opsgate/``; the paths written."""
    written = []
    for name, keys in DEMO_SECRETS.items():
        path = f"{SECRETS_PREFIX}/{name}"
        data = {key: f"demo-{secrets.token_urlsafe(16)}" for key in keys}
        client.secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=kv_mount)
        written.append(f"{kv_mount}/{path}")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.vault_setup", description=__doc__.splitlines()[0])
    parser.add_argument("--vault-addr", default=os.environ.get("VAULT_ADDR"), help="default: $VAULT_ADDR")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), help="default: $KUBECONFIG")
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--reviewer-lifetime", default="24h")
    parser.add_argument("--demo-secrets", action="store_true", help="also write the demo's secrets")
    args = parser.parse_args(argv)
    token = os.environ.get("VAULT_TOKEN")  # an admin's token, from the environment only (not argv)
    if not args.vault_addr or not token:
        parser.error("VAULT_ADDR (or --vault-addr) and VAULT_TOKEN are required")
    client = hvac.Client(url=args.vault_addr, token=token, timeout=10)
    kubectl = Kubectl(kubectl=args.kubectl, kubeconfig=args.kubeconfig)
    api_server = configure_for_cluster(client, kubectl, reviewer_lifetime=args.reviewer_lifetime)
    print(f"kubernetes auth at {AUTH_MOUNT}/ reviews tokens with {api_server.url}", file=sys.stderr)
    print(
        f"role {EXECUTOR_ROLE}: ServiceAccount {EXECUTOR_NAMESPACE}/{EXECUTOR_SERVICE_ACCOUNT} may read"
        f" {KV_MOUNT}/{SECRETS_PREFIX}/*",
        file=sys.stderr,
    )
    if args.demo_secrets:
        for path in put_demo_secrets(client):
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
