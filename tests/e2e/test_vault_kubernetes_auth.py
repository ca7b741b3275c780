"""The executor's Vault login through a real TokenReview: OpenBao's kubernetes auth against the test cluster.

OpenBao is configured exactly as a platform team would (tests/vault_setup.py, docs/vault.md):
a reviewer ServiceAccount bound to ``system:auth-delegator``, the API server's URL and CA from the
kubeconfig, and the role ``opsgate-executor`` bound to the ServiceAccount ``opsgate-executor`` in
``opsgate-system``. Tokens come from the TokenRequest API (``kubectl create token``), as a Job's
projected token does. Only that ServiceAccount gets in; the same name in another namespace,
another ServiceAccount and garbage are refused, and no refusal shows a token or a value.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
from tests import vault_setup
from tests.e2e.cluster import Cluster, Kubectl
from tests.real_openbao import RealOpenBao, openbao_server

from opsgate.adapters.vault import VaultError, VaultSecretSource

__all__ = ["openbao_server"]  # the session fixture, taken from tests/real_openbao.py


@dataclass(frozen=True)
class SecretRef:
    """The shape of ``opsgate.execute.secrets.SecretRef``."""

    name: str
    path: str
    key: str


@dataclass(frozen=True)
class Configured:
    vault: RealOpenBao
    kubectl: vault_setup.Kubectl
    ref: SecretRef
    value: str


@pytest.fixture(scope="module")
def configured(openbao_server: RealOpenBao, cluster: Cluster) -> Configured:
    """OpenBao's kubernetes auth configured against the test cluster, with one secret to read."""
    kubectl = vault_setup.Kubectl(kubectl=cluster.kubectl_path, kubeconfig=cluster.kubeconfig)
    root = openbao_server.root()
    vault_setup.configure_for_cluster(root, kubectl)
    path = f"{vault_setup.SECRETS_PREFIX}/e2e-{uuid.uuid4().hex[:8]}/mail"
    value = f"mail-token-{uuid.uuid4().hex}"
    root.secrets.kv.v2.create_or_update_secret(path=path, secret={"token": value, "sender": "ops@acme.org"})
    return Configured(openbao_server, kubectl, SecretRef("mail_api_token", path, "token"), value)


def source_with(configured: Configured, jwt: str, tmp_path: Path) -> VaultSecretSource:
    """The executor's source as a Job builds it: from the environment, the token in a file."""
    token_file = tmp_path / "token"
    token_file.write_text(jwt)
    return VaultSecretSource.from_env({"VAULT_ADDR": configured.vault.url, "OPSGATE_VAULT_TOKEN_PATH": str(token_file)})


def assert_refused(configured: Configured, jwt: str, tmp_path: Path, *, reason: str) -> None:
    """Login is refused for ``reason`` (OpenBao's words), and the message shows neither token nor value."""
    source = source_with(configured, jwt, tmp_path)
    with pytest.raises(VaultError) as raised:
        source.read([configured.ref])
    source.close()
    message = str(raised.value)
    assert message == f"Vault at {configured.vault.url}: login as role opsgate-executor refused: {reason}"
    assert configured.value not in message
    assert jwt not in message
    assert raised.value.__cause__ is None


def test_the_executor_service_account_logs_in_through_a_token_review_and_reads_its_secret(
    configured: Configured, tmp_path: Path
) -> None:
    jwt = configured.kubectl.create_token("opsgate-executor", namespace="opsgate-system", duration="10m")
    source = source_with(configured, jwt, tmp_path)

    assert source.read([configured.ref]) == {"mail_api_token": configured.value}

    vault_token = source._client.token
    identity = hvac.Client(url=configured.vault.url, token=vault_token).auth.token.lookup_self()["data"]
    assert identity["meta"]["service_account_name"] == "opsgate-executor"
    assert identity["meta"]["service_account_namespace"] == "opsgate-system"
    assert identity["policies"] == ["default", "opsgate-executor"]
    source.close()
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=configured.vault.url, token=vault_token).auth.token.lookup_self()


def test_another_service_account_is_refused(
    configured: Configured, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    jwt = configured.kubectl.create_token("default", namespace=namespace, duration="10m")

    assert_refused(configured, jwt, tmp_path, reason="service account name not authorized")


def test_the_executor_s_name_in_another_namespace_is_refused(
    configured: Configured, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    kubectl("create", "serviceaccount", "opsgate-executor", "-n", namespace)
    jwt = configured.kubectl.create_token("opsgate-executor", namespace=namespace, duration="10m")

    assert_refused(configured, jwt, tmp_path, reason="namespace not authorized")


def test_a_forged_executor_token_is_refused_by_the_token_review(configured: Configured, tmp_path: Path) -> None:
    """The claims name the right ServiceAccount in the right namespace, so the role's bindings pass;
    OpenBao holds no signing key (no ``pem_keys``), so only the TokenReview can refuse the signature."""
    header, claims, signature = configured.kubectl.create_token(
        "opsgate-executor", namespace="opsgate-system", duration="10m"
    ).split(".")

    assert_refused(configured, f"{header}.{claims}.{signature[::-1]}", tmp_path, reason="permission denied")


def test_a_garbage_token_is_refused(configured: Configured, tmp_path: Path) -> None:
    assert_refused(
        configured, "eyJhbGciOiJSUzI1NiJ9.bm90IGEgdG9rZW4.c2lnbmF0dXJl", tmp_path, reason="permission denied"
    )
