"""Splitting cleaned request text into tokens the rule parser can look up.

Quoted text is kept whole: a quoted single word ("ml-lab") becomes one token marked quoted; a
quoted phrase (a TXT record value) becomes a placeholder token so no extractor reads inside it.
Edge punctuation is stripped, possessives ("dave's") are marked. Pure functions.
"""

from __future__ import annotations

import dataclasses
import re

_QUOTED = re.compile(r"\"([^\"]{1,255})\"|(?<![\w])'([^']{1,255})'(?![\w])")
_LEAD = "(\"'[<{`"
_TRAIL = ".,;:!?)\"']>}`"
PLACEHOLDER = "\x00"


@dataclasses.dataclass(frozen=True)
class Token:
    raw: str  # as written, edge punctuation stripped
    low: str  # lower-case, possessive stripped
    quoted: bool = False
    possessive: bool = False
    phrase: str | None = None  # the quoted phrase this placeholder stands for


def tokenize(text: str) -> tuple[Token, ...]:
    phrases: list[str] = []

    def stash(match: re.Match[str]) -> str:
        inner = (match.group(1) or match.group(2)).strip()
        if inner and " " not in inner:
            return f" {PLACEHOLDER}w{inner} "
        phrases.append(inner)
        return f" {PLACEHOLDER}p{len(phrases) - 1} "

    tokens: list[Token] = []
    for piece in _QUOTED.sub(stash, text).split():
        if piece.startswith(PLACEHOLDER + "w"):
            word = piece[2:]
            tokens.append(Token(raw=word, low=word.lower(), quoted=True))
            continue
        if piece.startswith(PLACEHOLDER + "p"):
            phrase = phrases[int(piece[2:])]
            tokens.append(Token(raw=PLACEHOLDER, low=PLACEHOLDER, quoted=True, phrase=phrase))
            continue
        raw = piece.lstrip(_LEAD).rstrip(_TRAIL)
        if not raw:
            continue
        low = raw.lower()
        possessive = low.endswith("'s") and len(low) > 2
        tokens.append(Token(raw=raw, low=low[:-2] if possessive else low, possessive=possessive))
    return tuple(tokens)
