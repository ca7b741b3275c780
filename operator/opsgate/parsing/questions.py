"""Telling a question ("how do I rotate vault secrets?") from a request ("rotate the vault secrets").

Questions are answered from the documentation (status phase ``Answered``) and never start a
Job, so the rule parser declines them too. A question about live state ("what is the memory
usage of orders?", "who has access to payments?") is a read request, not a documentation
question: those go on to the observability and audit actions. Polite imperatives ("could you
create…?") are requests. Pure function.
"""

from __future__ import annotations

import re

from opsgate.catalog import Verb
from opsgate.parsing import text as request_text
from opsgate.parsing import vocabulary

_OPENERS = ("hey", "hi", "hello", "so", "ok", "okay", "quick question", "question")
_REQUEST_OPENING = re.compile(
    r"^(?:can|could|would|will)\s+(?:you|u|we|someone|somebody|y'?all|you\s*guys|anyone)\b"
    r"|^(?:can|could|may)\s+i\s+(?:please\s+)?(?:get|have)\b"  # "can i (please) get a new ns called tools"
    r"|^do\s+(?:a|an|the|some)\b"  # "do a security scan of billing": an imperative, not "do you…"
    r"|^please\b"
    # "when you get a chance, restart …", "once you're free, …": a courtesy before the ask
    r"|^(?:when|once|whenever|if)\s+(?:you|u|you're|youre)\b[^,?]*,(?!\s*(?:can|could|would|is|are|do|does|did|how|what|why|when|where|who)\b)"
    # "can it be renewed?": asking for a thing named before to be done
    r"|^(?:can|could|would|will)\s+(?:it|this|that|they|these|those)\s+(?:please\s+)?(?:be|get)\s+\w+(?:ed|en)\b"
    r"|^why\s+(?:don'?t|not)\s+(?:you|we|u)\b"  # "why don't we decommission it?": a suggestion to do it
)
_ALWAYS = re.compile(r"^(?:how|why|explain)\b|^what\s+(?:does|do)\b.*\bmean\b")
_INTERROGATIVE = re.compile(
    r"^(?:what|what's|whats|which|where|when|who|whom|whose|is|are|does|do|did|can|should|may|"
    r"must|is\s+there|are\s+there)\b(?![':])"  # "can't wait!" is no question, nor a field "What: …"
)
_LIVE_STATE = re.compile(
    r"\b(?:logs?|metrics?|cpu|memory|latency|error\s+rate|request\s+rate|throughput|usage|incidents?|"
    r"outages?|who\s+(?:has|have|can)\s+(?:access|permissions?|rights)|who\s+accessed"
    # "what access does amyknox have" asks for live state; "what access do I need to …" asks the docs
    r"|(?:what|which)\s+(?:access|permissions?|roles?|rights)\s+(?:does|do|did|has|have)\s+(?!i\b|we\b|you\b|u\b)\S+)"
    r"\b"
)


# The writer saying a question follows: "this is more of a question, what happens if …"
_ANNOUNCED = re.compile(
    r"^(?:this\s+is|it'?s|i\s+have|just)\s+(?:more\s+of\s+|just\s+|really\s+|rather\s+)?a\s+question\b[,:.]?\s*"
)


# An issue form's prompt before its answer: "What is it? We are looking for a sandbox namespace …"
_PROMPT = re.compile(
    r"^(?:what|why|who|where|when)\b[^?.!]{0,10}\?\s+(?=\S)"
    # a form's choice prompt: "Are you requesting to: - [x] remove user access"
    r"|^(?:are\s+you|is\s+this|what\s+are\s+you)\s+(?:requesting|asking|applying)(?:\s+(?:to|for))?\s*:\s*-?\s*"
    r"(?=[a-z])"
)
# A later sentence that asks outright: "Is it possible …? … Please delete the mailbox x, keep the account."
_LATER_ASK = re.compile(r"[.?!]\s+(?:so\s+|then\s+)?(?:please|pls|kindly)\s+([a-z][a-z-]*)")


def is_question(request: str) -> bool:
    """True for a question to be answered from the docs; False for anything to act on."""
    low = request_text.fold(request).lower().strip(" ,.!")
    for opener in _OPENERS:
        if low.startswith((opener + " ", opener + ",")):
            low = low[len(opener) :].lstrip(" ,")
    low = _ANNOUNCED.sub("", low)
    low = _PROMPT.sub("", low)
    if not low or _REQUEST_OPENING.match(low):
        return False
    if _ALWAYS.match(low) and not _asks_later(low):
        return True
    return bool(_INTERROGATIVE.match(low)) and not _LIVE_STATE.search(low) and not _asks_later(low)


def _asks_later(low: str) -> bool:
    """Does a later sentence ask for a catalog operation outright ("… Please delete the mailbox x")?"""
    for match in _LATER_ASK.finditer(low):
        verbs = vocabulary.VERBS.get(match.group(1))
        if verbs and Verb.UNSUPPORTED not in verbs:
            return True
    return False
