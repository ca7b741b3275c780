"""Where the executor gets the secrets a catalog entry declares, as a protocol.

The catalog entry says what a run may read (``secrets: {<var>: {path, key, optional}}``); a
:class:`SecretSource` fetches the values (Vault/OpenBao KV v2 with Kubernetes auth in production,
``opsgate.adapters.vault.VaultSecretSource``; a fake in tests). The executor only ever holds
the values in memory, hands them to Ansible through a private file and scrubs them from what it
prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from opsgate import catalog


@dataclass(frozen=True)
class SecretRef:
    """One declared secret: the var name the playbook reads, its KV v2 path and the key there."""

    name: str
    path: str
    key: str
    optional: bool = False  # a source may leave it out; the run goes on without it

    def __str__(self) -> str:
        return f"{self.name} ({self.path}#{self.key})"


class SecretError(RuntimeError):
    """The secrets could not be read (no source configured, login refused, path or key missing).

    The message names refs, never a value.
    """


class SecretsNotConfiguredError(SecretError):
    """No secret source is configured (no ``VAULT_ADDR``): fatal only for an entry with required secrets."""


class SecretSource(Protocol):
    """Reads secret values; implementations must never log or include a value in an error."""

    def read(self, refs: Sequence[SecretRef]) -> dict[str, str]:
        """``{ref.name: value}`` for the refs found.

        A ref that does not exist may be left out (the executor decides, by ``ref.optional``,
        whether that is fatal); a failure to reach or authenticate to the store raises
        :class:`SecretError` (or any exception, which the executor reports without its text).
        """
        ...

    def close(self) -> None:
        """Release the client (revoke the token where the store supports it)."""
        ...


def refs(entry: catalog.ActionEntry) -> tuple[SecretRef, ...]:
    """The secrets ``entry`` declares, sorted by var name. Pure."""
    return tuple(
        SecretRef(name=name, path=secret.path, key=secret.key, optional=secret.optional)
        for name, secret in sorted(entry.secrets.items())
    )


def missing(declared: Sequence[SecretRef], values: dict[str, str]) -> tuple[SecretRef, ...]:
    """The required refs a source did not return. Pure."""
    return tuple(ref for ref in declared if not ref.optional and not values.get(ref.name))
