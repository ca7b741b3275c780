"""Cleaning untrusted request text before any parser looks at it.

Request text comes from anyone who can create an OpsRequest. Before parsing we refuse oversized
text, fold Unicode look-alikes (Cyrillic ``а`` for Latin ``a``, full-width letters, curly quotes)
onto ASCII so ``dеlete`` cannot slip past a word list, drop control characters, and cut the text
at the first prompt-injection marker: whatever follows "ignore previous instructions" is not
part of the legitimate request, so no parser acts on it. Pure functions; no I/O.
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
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h", "ⅼ": "l", "м": "m", "т": "t", "к": "k", "в": "b",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "Х": "X", "ο": "o", "α": "a", "ε": "e", "ν": "v", "τ": "t", "ι": "i", "κ": "k",
        "‘": "'", "’": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‐": "-", "‑": "-", "‒": "-",
        "–": "-", "—": "-", "−": "-", "→": "->",
    }
)  # fmt: skip

# Phrases that address the parser rather than describe an operation.
_INJECTION = re.compile(
    r"""
    \b(?:ignore|disregard|forget|override)\b[^.;:!?\n]{0,40}?
        \b(?:instructions?|prompts?|rules|everything|above|context|previous|prior)\b
    | \bsystem\s*(?:prompt|message)?\s*(?::|override)
    | \bnew\s+instructions?\b
    | \byou\s+(?:are|must)\s+now\b
    | \bassistant\s*:
    | </?\s*(?:request|context|system|instructions?)\s*>
    | <\|[a-z_]+\|>
    | \[/?inst\]
    | \#\#\#
    """,
    re.IGNORECASE | re.VERBOSE,
)


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
    folded = fold(text)
    marker = _INJECTION.search(folded)
    if marker is None:
        return CleanText(text=folded)
    return CleanText(text=folded[: marker.start()].strip(), injection=True, notes=(NOTE_INJECTION,))
