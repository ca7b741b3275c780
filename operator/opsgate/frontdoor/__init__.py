"""The front doors: what a person or an agent does to OpsGate, as themselves.

Submit a request, follow it, ask why it was decided so, list the approvals waiting for you,
decide one, leave feedback. The kubectl plugin (``kubectl opsgate …``, :mod:`opsgate.cli.frontdoor`)
and the MCP server (``opsgate mcp``, :mod:`opsgate.cli.mcp`) both call :mod:`.calls`, so a human and
an agent go through the same code with their own Kubernetes identity: the API server says who the
caller is (SelfSubjectReview) and enforces what they may do (RBAC, the admission policies).
:mod:`.views` is the pure half: manifests, summaries, explanations and tables built from plain dicts.
"""
