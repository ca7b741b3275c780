"""Clients of services outside the process (a model server, the context index), behind the core's protocols.

The pure modules (``parsing``, ``plan``, ``policy``…) state what they need as a protocol; the
classes here implement it over a network. Only the operator and the CLI import them, and lazily,
so a pure import never pulls a network client (an import-linter contract in pyproject.toml).
"""
