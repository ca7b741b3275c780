"""Cleaning untrusted request text before any parser looks at it.

Request text comes from anyone who can create an OpsRequest. Before parsing we refuse oversized
text, fold Unicode look-alikes (a Cyrillic ``a`` for the Latin one, full-width letters, curly
quotes) onto ASCII so a look-alike ``delete`` cannot slip past a word list, drop control
characters, and cut the text at the first prompt-injection marker: whatever follows "ignore
previous instructions" is not part of the legitimate request, so no parser acts on it.
Pure functions; no I/O.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

MAX_REQUEST_CHARS = 4096

NOTE_TOO_LONG = f"request longer than {MAX_REQUEST_CHARS} characters; refused"
NOTE_INJECTION = "text that looks like instructions to the parser was ignored"

# Look-alikes that NFKC leaves alone (Cyrillic and Greek letters, typographic punctuation).
_CONFUSABLES = str.maketrans(
    {
        "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c",
        "\u0443": "y", "\u0445": "x", "\u0456": "i", "\u0458": "j", "\u0455": "s",
        "\u0501": "d", "\u0261": "g", "\u04bb": "h", "\u217c": "l", "\u043c": "m",
        "\u0442": "t", "\u043a": "k", "\u0432": "b", "\u0410": "A", "\u0412": "B",
        "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O",
        "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u03bf": "o",
        "\u03b1": "a", "\u03b5": "e", "\u03bd": "v", "\u03c4": "t", "\u03b9": "i",
        "\u03ba": "k", "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u201c": '"',
        "\u201d": '"', "\u201e": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-",
        "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2192": "->",
    }
)  # fmt: skip

# Phrases that address the parser rather than describe an operation.
_INJECTION = re.compile(
    r"""
    \b(?:ignore|disregard|forget|override)\b[^.;:!?\n]{0,40}?
        \b(?:instructions?|prompts?|rules|everything|above|context|previous|prior)\b
    | \bsystem\s*(?:prompt|message)?\s*(?::|override)
    | \bnew\s+instructions?\b
    | \b(?:note|message|instructions?|memo)\s+(?:to|for)\s+(?:the\s+|any\s+)?
        (?:automation|bot|ai|assistant|agent|model|llm|parser|robot)s?\b
    | \b(?:restrictions|rules|policies|limits|guardrails|checks)\s+(?:do\s+not|don't|no\s+longer)\s+apply\b
    | \byou\s+(?:are|must)\s+now\b
    | \bassistant\s*:
    | </?\s*(?:request|context|system|instructions?)\s*>
    | <\|[a-z_]+\|>
    | \[/?inst\]
    | \#\#\#\s*(?:instructions?|system|assistant|user|human|response|input|prompt|new|note)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)


# "…; rollback: scale back to 3" says how to undo the change (plan.py reads it for the
# rollback-plan policy); it is not a second change to make, so no parser acts on it.
ROLLBACK_PLAN = re.compile(r"\brollback(?:\s+plan)?\s*:\s*(?P<plan>\S[^\n]*)", re.IGNORECASE)


# An issue form's option left unticked ("- [ ] remove user access", "- [] grant user access") beside a
# ticked one ("- [x ] remove user access"): not what the requester chose. With none ticked, the boxes
# are a to-do list ("- [ ] revoke PoC cert from researcher"), and their items are the asks.
_UNCHECKED = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])?[ \t]*\[ ?\][^\n]*$", re.MULTILINE)
_CHECKED = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])?[ \t]*\[ ?[xX✓✔] ?\]", re.MULTILINE)
# A ticked box anywhere ("Requested actions: [x] Create a namespace"): a mark, not a word of the request
_TICK = re.compile(r"\[ ?[xX✓✔] ?\]")


# An issue form's heading over its answer ("### Account Holder Username\ntompock"): a labelled field
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+([^\n#]*?[^\s:#])[ \t]*:?[ \t]*\n+(?=[ \t]*[^\s#])", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class CleanText:
    """Text a parser may act on, and what cleaning it did."""

    text: str
    refused: bool = False
    injection: bool = False
    notes: tuple[str, ...] = ()


def fold(text: str) -> str:
    """NFKC, look-alikes to ASCII, control characters to spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return " ".join(text.split())


def has_injection(text: str) -> bool:
    return _INJECTION.search(fold(text)) is not None


def clean(text: str) -> CleanText:
    """Fold ``text`` and cut it at the first injection marker."""
    if len(text) > MAX_REQUEST_CHARS:
        return CleanText(text="", refused=True, notes=(NOTE_TOO_LONG,))
    if _CHECKED.search(text):
        text = _UNCHECKED.sub("", text)
    text = _TICK.sub(" ", text)
    folded = fold(_HEADING.sub(r"\1: ", text))
    marker = _INJECTION.search(folded)
    if marker is None:
        return CleanText(text=folded)
    return CleanText(text=folded[: marker.start()].strip(), injection=True, notes=(NOTE_INJECTION,))


def without_rollback_plan(text: str) -> str:
    """``text`` up to its rollback plan, if it states one."""
    match = ROLLBACK_PLAN.search(text)
    return text if match is None else text[: match.start()].rstrip(" ;,.-")
