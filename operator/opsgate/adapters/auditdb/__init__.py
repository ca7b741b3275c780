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

from opsgate.catalog import Catalog

ENV_URLS = ("OPSGATE_DATABASE_URL", "DATABASE_URL")


def database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The audit store's URL from the environment, or None (no audit store configured)."""
    env = os.environ if environ is None else environ
    return next((env[name] for name in ENV_URLS if env.get(name)), None)


async def with_learning(catalog: Catalog, url: str | None) -> tuple[Catalog, str | None]:
    """``catalog`` with the audit store's active learned phrases and corrected examples, as the
    operator parses (``opsgate parse``/``plan`` read like it); unchanged, with a note why, when the
    store can't be read: parsing never waits on the audit store."""
    if url is None:
        return catalog, None
    import asyncpg  # the CLI's other commands don't need the driver loaded

    from opsgate.adapters.auditdb import reads
    from opsgate.adapters.auditdb.recorder import connect
    from opsgate.audit import learning

    try:
        conn = await connect(url)
        try:
            phrases = await reads.active_phrases(conn)
            examples = await reads.corrected_examples(conn)
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return catalog, f"learned phrases not read from the audit store ({type(exc).__name__}); parsing without them"
    return learning.with_learned(catalog, phrases, examples), None
