"""Where OpsGate finds its data files: the catalog, policies, playbooks and modules.

The operator image and a source checkout lay these out the same way (``policies/``,
``playbooks/``, ``terraform/`` next to each other). ``OPSGATE_HOME`` points at that root;
without it we walk up from the package, which finds the checkout in development.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "OPSGATE_HOME"
_MARKER = Path("policies") / "actions.yaml"


class HomeNotFoundError(RuntimeError):
    """No directory holding ``policies/actions.yaml`` was found."""


def home() -> Path:
    """The root holding ``policies/``, ``playbooks/`` and ``terraform/``."""
    configured = os.environ.get(ENV_HOME)
    if configured:
        root = Path(configured).resolve()
        if not (root / _MARKER).is_file():
            raise HomeNotFoundError(f"{ENV_HOME}={configured} has no {_MARKER}")
        return root
    for parent in Path(__file__).resolve().parents:
        if (parent / _MARKER).is_file():
            return parent
    raise HomeNotFoundError(f"no {_MARKER} above {Path(__file__).parent}; set {ENV_HOME}")


def catalog_file() -> Path:
    return home() / _MARKER


def policies_dir() -> Path:
    return home() / "policies"
