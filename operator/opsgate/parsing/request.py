"""``parse_request``: the one way the controller and the CLI turn text into an intent.

The rule parser always runs; with a semantic matcher, the matcher proposes an entry where the
rules are unsure or find nothing (:mod:`opsgate.parsing.semantic`), and the rules' extractors
fill it. With an LLM parser, the model runs too and the two readings are reconciled
(:mod:`opsgate.parsing.reconcile`); if the model fails for any reason, the rule reading stands
and its notes say so. Refused text (too long), questions and requests the rules
decline (several changes in one request, personal IT) never reach the model.
"""

from __future__ import annotations

from opsgate.catalog import Catalog
from opsgate.intent import Intent
from opsgate.parsing import llm as llm_parser
from opsgate.parsing import questions, reconcile, semantic, text


async def parse_request(
    request: str,
    *,
    catalog: Catalog,
    llm: llm_parser.LlmParser | None = None,
    context: str | None = None,
    matcher: semantic.Matcher | None = None,
) -> Intent:
    """The intent of ``request``: rules always (with the matcher's proposals), the LLM too when given, reconciled."""
    rule_intent = semantic.parse(request, catalog, matcher)
    if llm is None or rule_intent.declined is not None:
        # a decline (several changes in one request…) stands: one model answer cannot undo it
        return rule_intent
    cleaned = text.clean(request)
    if cleaned.refused or not cleaned.text or questions.is_question(cleaned.text):
        return rule_intent
    try:
        llm_intent = await llm.parse(cleaned.text, context=context)
    except llm_parser.LlmError as error:
        return reconcile.fallback(rule_intent, error)
    return reconcile.reconcile(request, rule_intent=rule_intent, llm_intent=llm_intent, catalog=catalog)
