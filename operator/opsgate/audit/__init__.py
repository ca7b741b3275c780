"""The audit trail and the learning loop, as pure functions over data.

* :mod:`.chain` - the per-request hash chain (canonical JSON, links, verification);
* :mod:`.records` - the record one status write of an OpsRequest leaves behind (redacted);
* :mod:`.exchanges` - one LLM exchange as kept, and how the request's records list (and verify) it;
* :mod:`.feedback` - the feedback annotations, validated;
* :mod:`.learning` - corrections turned into catalog-level phrases and few-shot examples.

PostgreSQL, the on-disk queue and the recorder that moves records between them are in
:mod:`opsgate.adapters.auditdb`; nothing here does I/O.
"""
