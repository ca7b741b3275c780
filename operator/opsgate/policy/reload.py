"""Policies reloaded when their files change, without restarting the operator.

The chart mounts ``policies/`` from a ConfigMap, which the kubelet updates in place by swapping a
``..data`` link; a platform team may also edit the files of a plain install. Each check compares the
folder's files (name, and the size, modification time and inode of the file behind any link) with
what was last seen, so an idle check reads no file. A change loads the catalog and the policy set
anew, and only a set that loads whole is returned: a malformed edit raises, and the caller keeps
the last good policies in use (the same files are not tried again until they change again).
Requests already decided keep their decision; each Approval stays bound to its plan's digest.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from opsgate.catalog import Catalog, load_catalog
from opsgate.policy.engine import PolicySet

Fingerprint = frozenset[tuple[str, int, int, int]]


@dataclasses.dataclass(frozen=True)
class Loaded:
    catalog: Catalog
    policies: PolicySet


def fingerprint(folder: Path) -> Fingerprint:
    """What the folder's policy files look like, without reading them."""
    found = set()
    for path in folder.glob("*.y*ml"):
        try:
            status = path.stat()  # follows the ConfigMap's links to the file in use
        except OSError:
            continue  # a link caught mid-swap: the next check sees the new file
        found.add((path.name, status.st_size, status.st_mtime_ns, status.st_ino))
    return frozenset(found)


class PolicyFolder:
    """The operator's ``policies/`` folder, checked for changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen = fingerprint(folder)

    def changed(self) -> Loaded | None:
        """The catalog and policies loaded anew if the files changed since the last check, else None.

        Raises ``CatalogError`` or ``PolicyLoadError`` (saying which file and rule) when the
        changed files do not load.
        """
        current = fingerprint(self.folder)
        if current == self._seen:
            return None
        self._seen = current
        return Loaded(catalog=load_catalog(self.folder / "actions.yaml"), policies=PolicySet.load(self.folder))
