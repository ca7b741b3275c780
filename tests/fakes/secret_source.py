"""A stand-in for the Vault/OpenBao secret source (``opsgate.adapters.vault.VaultSecretSource``).

Implements :class:`opsgate.execute.secrets.SecretSource` over a dict keyed by ``(path, key)``,
the way KV v2 addresses a value, and records what it was asked for and whether it was closed,
so tests can check that the executor asks only for what the catalog entry declares and always
releases the client. ``fail`` makes ``read`` raise like a client whose login was refused, with
a message quoting a value, as careless client errors do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from opsgate.execute.secrets import SecretRef


@dataclass
class FakeSecretSource:
    values: Mapping[tuple[str, str], str]
    fail: bool = False
    asked: list[SecretRef] = field(default_factory=list)
    closed: bool = False

    def read(self, refs: Sequence[SecretRef]) -> dict[str, str]:
        self.asked.extend(refs)
        if self.fail:
            raise PermissionError(f"permission denied reading {list(self.values.values())}")
        return {ref.name: self.values[(ref.path, ref.key)] for ref in refs if (ref.path, ref.key) in self.values}

    def close(self) -> None:
        self.closed = True
