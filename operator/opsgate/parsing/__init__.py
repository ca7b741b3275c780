"""Turning request text into an :class:`opsgate.intent.Intent`.

``parse_request`` is the one entry point for the controller and the CLI: the rule parser always
runs; the LLM parser runs too when one is configured, and the two are reconciled. See
:mod:`opsgate.parsing.rules`, :mod:`opsgate.parsing.llm` and :mod:`opsgate.parsing.reconcile`.
"""

from __future__ import annotations

from opsgate.parsing.questions import is_question

__all__ = ["is_question"]
