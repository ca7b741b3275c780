"""The one error policy loading raises, and the helpers that word it.

Every problem in ``policies/`` — unreadable YAML, an unknown field, a CEL expression that
does not compile, an exception naming a policy that does not exist — is a
:class:`PolicyLoadError` whose message names the file, the rule and the cause, so a broken
policy set stops the operator at start-up instead of misjudging requests later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import yaml


class PolicyLoadError(ValueError):
    """The policy set is malformed; the message names the file, the rule and the cause."""


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyLoadError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PolicyLoadError(f"{path}: not valid YAML: {exc}") from exc


def first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "document"
    return f"{field}: {err['msg']}"
