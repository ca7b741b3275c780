"""The executor's secrets from Vault (or OpenBao): a secret source over ``hvac`` with Kubernetes auth.

``opsgate execute`` asks for the secrets its action names and gets ``{variable: value}`` back; the
values go to the playbook or module and nowhere else (not to status, logs, the audit store or an
LLM prompt, DESIGN.md). The Job's pod proves who it is with its projected service-account token:
Vault's kubernetes auth method checks that token with a TokenReview and hands out a short-lived
Vault token whose policy allows reading ``secret/data/opsgate/*``. ``close()`` revokes that token,
so it dies with the Job even when its TTL would outlive it. docs/vault.md shows the Vault side.

Every failure is a :class:`VaultError` whose message says what failed, where and why, in words
built here from names (the address, the role, a path, a key) and Vault's own error strings — never
from a secret value or a token. It is raised without its cause attached (``from None``): the cause
belongs to requests or hvac and carries the request that held the token.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import hvac
import hvac.exceptions
import requests

DEFAULT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path, not a token
DEFAULT_ROLE = "opsgate-executor"
DEFAULT_AUTH_MOUNT = "kubernetes"
DEFAULT_KV_MOUNT = "secret"
DEFAULT_TIMEOUT_SECONDS = 10.0
_MIN_REDACTED_LENGTH = 8  # Vault tokens and JWTs are far longer


class SecretRefLike(Protocol):
    """What to read: ``opsgate.execute.secrets.SecretRef`` has this shape (read-only fields)."""

    @property
    def name(self) -> str:
        """The variable the playbook reads, e.g. ``mail_api_token``."""

    @property
    def path(self) -> str:
        """The KV v2 path under the mount, e.g. ``opsgate/mail``."""

    @property
    def key(self) -> str:
        """The key within the secret's data, e.g. ``token``."""


class VaultError(Exception):
    """Any failure to log in, read or revoke; the message holds no secret value and no token."""


class VaultSecretSource:
    """Reads KV v2 secrets for the executor, logged in with the pod's service-account token.

    It logs in on the first :meth:`read` (so building one costs nothing and cannot fail on the
    network), reads each asked secret once, and :meth:`close` revokes the Vault token. ``token``
    skips the login with a token that is already valid: for tests against a dev server, which
    have no Kubernetes to vouch for them; production always logs in.
    """

    def __init__(
        self,
        *,
        url: str,
        role: str = DEFAULT_ROLE,
        token_path: Path | str = DEFAULT_TOKEN_PATH,
        auth_mount: str = DEFAULT_AUTH_MOUNT,
        kv_mount: str = DEFAULT_KV_MOUNT,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        verify: bool | str = True,
        token: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.role = role
        self.token_path = Path(token_path)
        self.auth_mount = auth_mount
        self.kv_mount = kv_mount
        self.timeout = timeout
        # token="" rather than None: hvac would otherwise pick VAULT_TOKEN or ~/.vault-token up
        # from the environment, and the executor must act only as its service account.
        self._client = hvac.Client(
            url=self.url,
            token=token or "",
            verify=verify,
            timeout=timeout,  # type: ignore[arg-type]  # requests takes float seconds; the stub says int
        )
        self._logged_in = token is not None
        self._closed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VaultSecretSource:
        """``VAULT_ADDR`` (required), ``VAULT_CACERT``, and the ``OPSGATE_VAULT_*`` settings."""
        env = os.environ if environ is None else environ
        url = env.get("VAULT_ADDR")
        if not url:
            raise VaultError("VAULT_ADDR is not set: the executor does not know where Vault is")
        raw_timeout = env.get("OPSGATE_VAULT_TIMEOUT_SECONDS") or str(DEFAULT_TIMEOUT_SECONDS)
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise VaultError(f"OPSGATE_VAULT_TIMEOUT_SECONDS={raw_timeout!r} is not a number of seconds") from None
        if timeout <= 0:
            raise VaultError(f"OPSGATE_VAULT_TIMEOUT_SECONDS={raw_timeout!r} must be positive")
        return cls(
            url=url,
            role=env.get("OPSGATE_VAULT_ROLE") or DEFAULT_ROLE,
            token_path=env.get("OPSGATE_VAULT_TOKEN_PATH") or DEFAULT_TOKEN_PATH,
            auth_mount=env.get("OPSGATE_VAULT_AUTH_MOUNT") or DEFAULT_AUTH_MOUNT,
            kv_mount=env.get("OPSGATE_VAULT_KV_MOUNT") or DEFAULT_KV_MOUNT,
            timeout=timeout,
            verify=env.get("VAULT_CACERT") or True,
        )

    def read(self, refs: Sequence[SecretRefLike]) -> dict[str, str]:
        """``{ref.name: value}`` for exactly ``refs``; each secret path is read once."""
        if self._closed:
            raise VaultError(f"Vault at {self.url}: this source is closed; its token was revoked")
        wanted = _by_name(refs)
        if not wanted:
            return {}
        self._login()
        secrets: dict[str, Mapping[str, Any]] = {}
        values: dict[str, str] = {}
        for name, ref in wanted.items():
            if ref.path not in secrets:
                secrets[ref.path] = self._read_secret(ref.path)
            data = secrets[ref.path]
            if ref.key not in data:
                raise VaultError(f"secret {ref.path} has no key {ref.key} (asked for {name})")
            value = data[ref.key]
            if not isinstance(value, str):
                raise VaultError(f"secret {ref.path} key {ref.key} is a {type(value).__name__}, not a string")
            values[name] = value
        return values

    def close(self) -> None:
        """Revoke the Vault token this source logged in with (or was given); idempotent.

        Raises :class:`VaultError` when Vault refuses or does not answer: the token then lives
        until its TTL, which the caller may want to report.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._logged_in:
                self._call("revoke its token", self._client.auth.token.revoke_self)
        finally:
            self._client.adapter.close()

    def _login(self) -> None:
        if self._logged_in:
            return
        try:
            jwt = self.token_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise VaultError(f"cannot read the service-account token at {self.token_path}: {exc.strerror}") from None
        if not jwt:
            raise VaultError(f"the service-account token at {self.token_path} is empty")
        self._call(
            f"login as role {self.role}",
            lambda: self._client.auth.kubernetes.login(role=self.role, jwt=jwt, mount_point=self.auth_mount),
            sensitive=jwt,
        )
        self._logged_in = True

    def _read_secret(self, path: str) -> Mapping[str, Any]:
        response = self._call(
            f"reading secret {path}",
            lambda: self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.kv_mount, raise_on_deleted_version=True
            ),
            missing=f"secret {path} does not exist under the KV mount {self.kv_mount}",
        )
        data = (response.get("data") or {}).get("data") if isinstance(response, dict) else None
        if not isinstance(data, dict):
            raise VaultError(f"secret {path} under the KV mount {self.kv_mount} has no data")
        return data

    def _call(self, what: str, action: Callable[[], Any], *, missing: str | None = None, sensitive: str = "") -> Any:
        """``action()``, with every failure turned into a :class:`VaultError` about ``what``.

        Vault's error strings are names and reasons, but they come from a server: should one ever
        echo the JWT sent (``sensitive``) or the client's token, the message blanks it out.
        """
        try:
            return action()
        except requests.Timeout:
            problem = f"Vault at {self.url} did not answer within {self.timeout:g}s ({what})"
        except requests.ConnectionError:
            problem = f"cannot reach Vault at {self.url} ({what})"
        except hvac.exceptions.InvalidPath as exc:
            problem = missing or f"Vault at {self.url}: {what} failed: {_reasons(exc)}"
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
            problem = f"Vault at {self.url}: {what} refused: {_reasons(exc)}"
        except hvac.exceptions.VaultError as exc:
            problem = f"Vault at {self.url}: {what} failed: {_reasons(exc)}"
        except requests.RequestException as exc:
            problem = f"Vault at {self.url}: {what} failed: {type(exc).__name__}"
        for secret in (sensitive, self._client.token):
            if len(secret or "") >= _MIN_REDACTED_LENGTH:  # shorter, it would blank ordinary words
                problem = problem.replace(secret, "[redacted]")
        raise VaultError(problem)


def _by_name(refs: Sequence[SecretRefLike]) -> dict[str, SecretRefLike]:
    """The refs keyed by variable name; the same name asked for two different secrets is an error."""
    wanted: dict[str, SecretRefLike] = {}
    for ref in refs:
        if not (ref.name and ref.path and ref.key):
            raise VaultError(
                f"a secret reference needs a name, a path and a key: {ref.name!r} {ref.path!r} {ref.key!r}"
            )
        seen = wanted.setdefault(ref.name, ref)
        if (seen.path, seen.key) != (ref.path, ref.key):
            raise VaultError(
                f"{ref.name} is asked for from two secrets: {seen.path}#{seen.key} and {ref.path}#{ref.key}"
            )
    return wanted


def _reasons(exc: hvac.exceptions.VaultError) -> str:
    """Vault's own error strings (e.g. ``permission denied``), or the status when it gave none."""
    errors = [str(e) for e in (exc.errors or []) if e]
    return "; ".join(errors) if errors else type(exc).__name__
