"""The audit store on PostgreSQL (asyncpg): schema, recorder, verification, analytics, export.

* :mod:`.schema` - versioned, forward-only migrations, applied under an advisory lock;
* :mod:`.spool` - the bounded on-disk queue records wait in while the database is away;
* :mod:`.recorder` - batches records from the spool into PostgreSQL, idempotently;
* :mod:`.reads` - verification, analytics, the fine-tuning export and learned phrases.

The pure side (records, the hash chain, feedback, learning) is :mod:`opsgate.audit`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ENV_URLS = ("OPSGATE_DATABASE_URL", "DATABASE_URL")


def database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The audit store's URL from the environment, or None (no audit store configured)."""
    env = os.environ if environ is None else environ
    return next((env[name] for name in ENV_URLS if env.get(name)), None)
