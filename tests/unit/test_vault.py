"""The executor's Vault secret source against a real OpenBao dev server (no Kubernetes).

What ships logs in with Kubernetes auth (tests/e2e/test_vault_kubernetes_auth.py proves that through a real
TokenReview). Here the source is handed a token of the executor's policy instead, to pin down
everything after the login: it reads exactly the secrets asked, each once (the server's audit
log says which paths were read); a missing path or key, or a path outside the policy, is an error
that names it and shows no value; ``close()`` really revokes the token; a Vault that hangs hits
the timeout (tests/fakes/hung_server.py); and the settings come from the environment.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
from tests import vault_setup
from tests.fakes.hung_server import hung_server
from tests.real_openbao import RealOpenBao, free_port, openbao_server

from opsgate.adapters.vault import VaultError, VaultSecretSource

__all__ = ["openbao_server"]  # the session fixture, taken from tests/real_openbao.py


@dataclass(frozen=True)
class SecretRef:
    """The shape of ``opsgate.execute.secrets.SecretRef``."""

    name: str
    path: str
    key: str


@pytest.fixture
def prefix() -> str:
    """A fresh path under secret/opsgate/ per test, so the audit log's reads are this test's own."""
    return f"opsgate/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def root(openbao_server: RealOpenBao) -> hvac.Client:
    client = openbao_server.root()
    client.sys.create_or_update_policy(name=vault_setup.EXECUTOR_POLICY, policy=vault_setup.executor_policy())
    return client


@pytest.fixture
def executor_token(root: hvac.Client) -> str:
    """A token with exactly the policy the Kubernetes role grants."""
    created = root.auth.token.create(policies=[vault_setup.EXECUTOR_POLICY], ttl="5m", no_default_policy=False)
    token: str = created["auth"]["client_token"]
    return token


@pytest.fixture
def source(openbao_server: RealOpenBao, executor_token: str) -> Iterator[VaultSecretSource]:
    opened = VaultSecretSource(url=openbao_server.url, token=executor_token, timeout=5)
    yield opened
    opened.close()


def put(root: hvac.Client, path: str, data: dict[str, object]) -> None:
    root.secrets.kv.v2.create_or_update_secret(path=path, secret=data)


def assert_shows_no_secret(error: VaultError, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in str(error)
        assert secret not in repr(error)
    assert error.__cause__ is None  # the transport's exception (holding the request) is not chained
    assert error.__suppress_context__ or error.__context__ is None


def test_reads_exactly_the_secrets_asked_each_path_once(
    openbao_server: RealOpenBao, root: hvac.Client, source: VaultSecretSource, prefix: str
) -> None:
    put(root, f"{prefix}/mail", {"token": "mail-token-1", "password": "mail-password-2"})
    put(root, f"{prefix}/idp", {"token": "idp-token-3"})
    put(root, f"{prefix}/decoy", {"token": "decoy-token-4"})

    values = source.read(
        [
            SecretRef("mail_api_token", f"{prefix}/mail", "token"),
            SecretRef("idp_token", f"{prefix}/idp", "token"),
            SecretRef("mail_token_again", f"{prefix}/mail", "token"),
        ]
    )

    assert values == {"mail_api_token": "mail-token-1", "idp_token": "idp-token-3", "mail_token_again": "mail-token-1"}
    assert sorted(openbao_server.reads(f"secret/data/{prefix}/")) == [
        f"secret/data/{prefix}/idp",
        f"secret/data/{prefix}/mail",
    ]


def test_nothing_asked_reads_nothing_and_logs_nothing_in(openbao_server: RealOpenBao, tmp_path: Path) -> None:
    never_logs_in = VaultSecretSource(url=openbao_server.url, token_path=tmp_path / "no-such-token")

    assert never_logs_in.read([]) == {}
    never_logs_in.close()


def test_a_missing_key_names_the_secret_and_the_key_and_shows_no_value(
    root: hvac.Client, source: VaultSecretSource, prefix: str
) -> None:
    put(root, f"{prefix}/mail", {"password": "mail-password-5"})

    with pytest.raises(VaultError) as raised:
        source.read([SecretRef("mail_api_token", f"{prefix}/mail", "token")])

    assert str(raised.value) == f"secret {prefix}/mail has no key token (asked for mail_api_token)"
    assert_shows_no_secret(raised.value, "mail-password-5")


def test_a_missing_secret_is_a_clear_error(source: VaultSecretSource, prefix: str) -> None:
    with pytest.raises(VaultError) as raised:
        source.read([SecretRef("mail_api_token", f"{prefix}/mail", "token")])

    assert str(raised.value) == f"secret {prefix}/mail does not exist under the KV mount secret"


def test_a_secret_outside_the_policy_is_refused_without_its_value(
    openbao_server: RealOpenBao, root: hvac.Client, source: VaultSecretSource
) -> None:
    elsewhere = f"payroll/t-{uuid.uuid4().hex[:12]}"
    put(root, elsewhere, {"token": "payroll-token-6"})

    with pytest.raises(VaultError) as raised:
        source.read([SecretRef("payroll", elsewhere, "token")])

    assert str(raised.value).startswith(f"Vault at {openbao_server.url}: reading secret {elsewhere} refused: ")
    assert "permission denied" in str(raised.value)
    assert_shows_no_secret(raised.value, "payroll-token-6", source._client.token)


def test_a_value_that_is_not_a_string_is_refused_without_showing_it(
    root: hvac.Client, source: VaultSecretSource, prefix: str
) -> None:
    put(root, f"{prefix}/ca", {"token": {"nested": "ca-token-7"}})

    with pytest.raises(VaultError) as raised:
        source.read([SecretRef("ca_api_token", f"{prefix}/ca", "token")])

    assert str(raised.value) == f"secret {prefix}/ca key token is a dict, not a string"
    assert_shows_no_secret(raised.value, "ca-token-7")


def test_one_name_asked_from_two_secrets_is_refused_before_anything_is_read(
    openbao_server: RealOpenBao, source: VaultSecretSource, prefix: str
) -> None:
    with pytest.raises(VaultError, match="mail_api_token is asked for from two secrets"):
        source.read(
            [SecretRef("mail_api_token", f"{prefix}/a", "token"), SecretRef("mail_api_token", f"{prefix}/b", "t")]
        )

    assert openbao_server.reads(f"secret/data/{prefix}/") == []


def test_close_revokes_the_token(
    openbao_server: RealOpenBao, root: hvac.Client, executor_token: str, prefix: str
) -> None:
    put(root, f"{prefix}/mail", {"token": "mail-token-8"})
    opened = VaultSecretSource(url=openbao_server.url, token=executor_token)
    assert opened.read([SecretRef("mail_api_token", f"{prefix}/mail", "token")]) == {"mail_api_token": "mail-token-8"}

    opened.close()
    opened.close()  # idempotent

    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=openbao_server.url, token=executor_token).auth.token.lookup_self()
    with pytest.raises(VaultError, match="this source is closed"):
        opened.read([SecretRef("mail_api_token", f"{prefix}/mail", "token")])


def test_a_hung_vault_hits_the_timeout_with_a_clear_message() -> None:
    with hung_server() as url:
        hanging = VaultSecretSource(url=url, token="s.never-sent-anywhere-useful", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(VaultError) as raised:
            hanging.read([SecretRef("mail_api_token", "opsgate/mail", "token")])
        elapsed = time.monotonic() - started

    assert str(raised.value) == f"Vault at {url} did not answer within 0.5s (reading secret opsgate/mail)"
    assert elapsed < 3
    assert_shows_no_secret(raised.value, "s.never-sent-anywhere-useful")


def test_a_hung_vault_at_login_names_the_role_not_the_service_account_token(tmp_path: Path) -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.a-service-account-token.signature"
    (tmp_path / "token").write_text(jwt + "\n")
    with hung_server() as url:
        hanging = VaultSecretSource(url=url, token_path=tmp_path / "token", timeout=0.5)
        with pytest.raises(VaultError) as raised:
            hanging.read([SecretRef("mail_api_token", "opsgate/mail", "token")])

    assert str(raised.value) == f"Vault at {url} did not answer within 0.5s (login as role opsgate-executor)"
    assert_shows_no_secret(raised.value, jwt)


def test_a_vault_nobody_listens_on_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(VaultError) as raised:
        VaultSecretSource(url=url, token="t", timeout=2).read([SecretRef("mail_api_token", "opsgate/mail", "token")])

    assert str(raised.value) == f"cannot reach Vault at {url} (reading secret opsgate/mail)"


def test_a_missing_service_account_token_file_says_where_it_looked(tmp_path: Path) -> None:
    missing = tmp_path / "serviceaccount" / "token"
    unused = VaultSecretSource.from_env({"VAULT_ADDR": "http://127.0.0.1:1", "OPSGATE_VAULT_TOKEN_PATH": str(missing)})

    with pytest.raises(VaultError) as raised:
        unused.read([SecretRef("mail_api_token", "opsgate/mail", "token")])

    assert str(raised.value) == f"cannot read the service-account token at {missing}: No such file or directory"


def test_a_vault_token_in_the_environment_is_never_used(
    openbao_server: RealOpenBao, root: hvac.Client, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(root, f"{prefix}/mail", {"token": "mail-token-9"})
    monkeypatch.setenv("VAULT_TOKEN", openbao_server.root_token)  # what hvac would otherwise pick up
    monkeypatch.setenv("HOME", str(tmp_path))  # and its ~/.vault-token
    only_its_service_account = VaultSecretSource(url=openbao_server.url, token_path=tmp_path / "no-such-token")

    with pytest.raises(VaultError, match="cannot read the service-account token"):
        only_its_service_account.read([SecretRef("mail_api_token", f"{prefix}/mail", "token")])


def test_settings_default_to_the_shipped_role_mounts_and_token_path() -> None:
    source = VaultSecretSource.from_env({"VAULT_ADDR": "https://vault.vault.svc:8200/"})

    assert (source.url, source.role, source.auth_mount, source.kv_mount, source.timeout) == (
        "https://vault.vault.svc:8200",
        "opsgate-executor",
        "kubernetes",
        "secret",
        10.0,
    )
    assert source.token_path == Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def test_settings_come_from_the_environment() -> None:
    source = VaultSecretSource.from_env(
        {
            "VAULT_ADDR": "https://bao.example:8200",
            "OPSGATE_VAULT_ROLE": "ops-runner",
            "OPSGATE_VAULT_AUTH_MOUNT": "k8s-prod",
            "OPSGATE_VAULT_KV_MOUNT": "kv",
            "OPSGATE_VAULT_TOKEN_PATH": "/var/run/secrets/vault/token",
            "OPSGATE_VAULT_TIMEOUT_SECONDS": "2.5",
        }
    )

    assert (source.role, source.auth_mount, source.kv_mount, source.timeout) == ("ops-runner", "k8s-prod", "kv", 2.5)
    assert source.token_path == Path("/var/run/secrets/vault/token")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "VAULT_ADDR is not set: the executor does not know where Vault is"),
        (
            {"VAULT_ADDR": "http://v:8200", "OPSGATE_VAULT_TIMEOUT_SECONDS": "soon"},
            "OPSGATE_VAULT_TIMEOUT_SECONDS='soon' is not a number of seconds",
        ),
        (
            {"VAULT_ADDR": "http://v:8200", "OPSGATE_VAULT_TIMEOUT_SECONDS": "0"},
            "OPSGATE_VAULT_TIMEOUT_SECONDS='0' must be positive",
        ),
    ],
    ids=["no-address", "timeout-not-a-number", "timeout-zero"],
)
def test_bad_settings_are_refused_with_the_variable_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(VaultError) as raised:
        VaultSecretSource.from_env(environ)

    assert str(raised.value) == message
