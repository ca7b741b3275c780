"""Splitting cleaned request text into tokens the rule parser can look up.

Quoted text is kept whole: a quoted single word ("ml-lab") becomes one token marked quoted; a
quoted phrase (a TXT record value) becomes a placeholder token so no extractor reads inside it.
Edge punctuation is stripped, possessives ("dave's") are marked, and so is punctuation that ends
a clause ("restart nginx, then …") or introduces a value ("a namespace for payments: payments-v2").
Words of the catalog's resource nouns (``nouns``) are marked: a noun word is not a name. Pure functions.
"""

from __future__ import annotations

import dataclasses
import re

_QUOTED = re.compile(r"\"([^\"]{1,255})\"|(?<![\w])'([^']{1,255})'(?![\w])")
_LEAD = "(\"'[<{`"
_TRAIL = ".,;:!?)\"']>}`"
_CLAUSE_END = frozenset(",;.!?")
_SENTENCE_END = frozenset(".!?")
PLACEHOLDER = "\x00"


@dataclasses.dataclass(frozen=True)
class Token:
    raw: str  # as written, edge punctuation stripped
    low: str  # lower-case, possessive stripped
    quoted: bool = False
    possessive: bool = False
    phrase: str | None = None  # the quoted phrase this placeholder stands for
    stop: bool = False  # followed by , ; . ! or ?: the end of a clause
    colon: bool = False  # followed by ':' ("new cluster please: edge-eu")
    noun: bool = False  # a word of one of the catalog's resource nouns ("namespace", "logs")
    bracketed: bool = False  # opened by "(": an aside ("Onwubu (onwubu1)")
    end: bool = False  # followed by . ! or ?: the end of a sentence
    asked: bool = False  # followed by ?: the end of a question


def tokenize(text: str, *, nouns: frozenset[str] = frozenset()) -> tuple[Token, ...]:
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
            # a quoted sentence ("… went wrong.") ends the sentence it is quoted in
            end = phrase[-1:] in _SENTENCE_END
            tokens.append(
                Token(
                    raw=PLACEHOLDER,
                    low=PLACEHOLDER,
                    quoted=True,
                    phrase=phrase,
                    stop=end,
                    end=end,
                    asked=phrase[-1:] == "?",
                )
            )
            continue
        if piece.startswith("*") or piece.endswith("**"):
            # "**hitech-corp**", "**Have you …?**": markdown emphasis ("lclb-*" keeps its wildcard)
            piece = piece.strip("*")
        body = piece.lstrip(_LEAD)
        raw = body.rstrip(_TRAIL)
        # `kondoodev`: a name in backticks is quoted as code
        if piece.startswith("`") and piece.rstrip(".,;:!?").endswith("`") and raw:
            end = not _SENTENCE_END.isdisjoint(piece[len(piece.rstrip(_TRAIL)) :].replace("`", ""))
            tokens.append(Token(raw=raw, low=raw.lower(), quoted=True, stop=end, end=end))
            continue
        trail = body[len(raw) :]
        stop = not _CLAUSE_END.isdisjoint(trail)
        if not raw:
            if stop and tokens:  # "… 'qa-9' ." or a lone comma: the clause ends at the previous token
                end = tokens[-1].end or not _SENTENCE_END.isdisjoint(trail)
                asked = tokens[-1].asked or "?" in trail
                tokens[-1] = dataclasses.replace(tokens[-1], stop=True, end=end, asked=asked)
            continue
        low = raw.lower()
        # "let's" is "let us", not a possessive: kept whole, it stays a politeness word and not the verb "let"
        possessive = low.endswith("'s") and len(low) > 2 and low != "let's"
        low = low[:-2] if possessive else low
        end = not _SENTENCE_END.isdisjoint(trail)
        tokens.append(
            Token(
                raw=raw,
                low=low,
                possessive=possessive,
                stop=stop,
                colon=":" in trail,
                noun=low in nouns,
                end=end,
                asked="?" in trail,
                bracketed=piece.startswith("("),
            )
        )
    return tuple(tokens)
