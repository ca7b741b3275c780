"""Splitting a tokenised request into clauses, so one change can be told from several.

"restart nginx and delete namespace prod" asks for two changes; "create a namespace and call it
payments" asks for one. A clause ends at sentence punctuation (``, ; . ! ?``) and before a
coordinating word ("and", "then", "also"…). Whether a clause names a change of its own is the
rule parser's question (:func:`opsgate.parsing.rules.parse`); this module only draws the lines.
Pure functions.
"""

from __future__ import annotations

import dataclasses

from opsgate.parsing.tokens import Token

# Words that join a new clause to the previous one ("…, then tear down namespace legacy").
_JOINERS = frozenset({"and", "then", "also", "plus", "&", "but", "or", "afterwards"})


@dataclasses.dataclass(frozen=True)
class Clause:
    """Tokens ``start..end`` (exclusive) of one clause, without its joining words."""

    start: int
    end: int
    joined: bool  # opened by a joining word: "… and a namespace called x" may borrow the verb before


def split(tokens: tuple[Token, ...]) -> tuple[Clause, ...]:
    """The clauses of a request, in order; empty ones (", and then") are left out."""
    clauses: list[Clause] = []
    start, joined = 0, False
    for i, token in enumerate(tokens):
        if token.low in _JOINERS and not token.quoted:
            if i > start:
                clauses.append(Clause(start, i, joined))
                joined = False
            start, joined = i + 1, True
        elif token.stop:
            clauses.append(Clause(start, i + 1, joined))
            start, joined = i + 1, False
    if start < len(tokens):
        clauses.append(Clause(start, len(tokens), joined))
    return tuple(clauses)
