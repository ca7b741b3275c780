"""Turning request text into an :class:`opsgate.intent.Intent`.

``parse_request`` is the one entry point for the controller and the CLI: the rule parser
(:mod:`.rules`) always runs, with the semantic matcher's proposals over the catalog's example
requests when a :class:`Matcher` is given (:mod:`.semantic`); an LLM parser runs too when one is given, and the two are
reconciled (:mod:`.reconcile`). ``is_question`` tells documentation questions (answered from
the docs, no Job) from requests. The package is pure: ``LlmParser`` is a protocol, and the
Ollama client that implements it lives in :mod:`opsgate.adapters.ollama_parser`.
"""

from __future__ import annotations

from opsgate.parsing.llm import LlmError, LlmFailure, LlmParser
from opsgate.parsing.questions import is_question
from opsgate.parsing.request import parse_request
from opsgate.parsing.semantic import Embedder, Matcher

__all__ = ["Embedder", "LlmError", "LlmFailure", "LlmParser", "Matcher", "is_question", "parse_request"]
