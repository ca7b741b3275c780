"""Telling one target from several: "restart checkout and cart" names two deployments.

Every parameter that says what a catalog action acts on (a name, username, email, domain, image,
service, namespace, environment) takes one value. When the request coordinates a second value of
the same kind with the one the parser kept ("checkout and cart", "lee@… and kim@…", "scratch-1,
scratch-2 and scratch-3", "checkout to 3 and cart to 5", "the payments and ledger namespaces"),
running the action on the kept value alone would do part of what was asked, so the rule parser
declines instead. Values of a parameter that takes a list (a new user's groups) are one target.

The second value must be coordinated: right after a joining word or a comma, and followed by what
ends a noun phrase (the end, a preposition, a resource noun, a role or environment word). So "create
a namespace for payments and call it pay-prod" and "restart cart and let me know" name one target,
and names with "and" inside ("r-and-d", "'black-and-white'") are single tokens. Pure functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from opsgate import entities
from opsgate.catalog import ActionEntry
from opsgate.parsing import extract, vocabulary
from opsgate.parsing.tokens import Token

# The parameters that say what (or where) an action acts on.
TARGET_PARAMETERS = (
    "name", "username", "email", "domain", "service", "image", "target", "namespace", "environment",
)  # fmt: skip
# Words that join a second value to a first ("x and y", "x as well as y"); "but" never does.
_JOINERS: tuple[tuple[str, ...], ...] = (
    ("as", "well", "as"), ("along", "with"), ("and",), ("&",), ("or",), ("plus",), ("then",), ("also",),
)  # fmt: skip
_JOINER_STARTS = frozenset(words[0] for words in _JOINERS)  # a cheap test before the phrases
# Values whose shape says what they are: one after "and" or a comma is a value whatever follows it.
_SHAPED = frozenset({"email", "domain", "image"})
_SKIPPED = frozenset({"the", "a", "an", "both", "either"})
_ITEM_WORDS = 4  # words of one listed item: "Patrick Shea (PShea)"
_BOTH_REACH = 4  # words between "both" and the value it coordinates
# What may follow a coordinated name: "checkout and cart | in staging", "alice and bob | view".
_PREPOSITIONS = frozenset({"for", "of", "to", "in", "on", "at", "from", "with", "into", "as", "by", "via"})
_TAIL_WORDS = frozenset({"please", "too", "now", "asap", "today", "tonight", "both", "each", "respectively"})
# "give alice and bob | the edit role": a granting verb takes the person, then the role.
_GRANT_ACTION = "grant"
_ARTICLES = frozenset({"the", "a", "an"})
# Words that count more than one thing: "both api keys", "several namespaces"
_SEVERAL = frozenset({"both", "several", "multiple", "couple"})
_ALL = frozenset({"all", "every", "each"})
_NAMED_TARGETS = frozenset({"name", "email", "domain"})  # a resource's own identifier
# Counts of these are one resource's size: "3 replicas", "4 pods", "5 nodes"
_SIZE_WORDS = frozenset({"replica", "replicas", "pod", "pods", "node", "nodes", "instances", "copies"})


def several(
    tokens: tuple[Token, ...],
    spans: tuple[extract.Span, ...],
    entry: ActionEntry,
    kept: Mapping[str, object],
) -> tuple[str, ...]:
    """The values named for one single-valued target parameter of ``entry``, when there are several.

    In the order written; empty when every target parameter was given one value.
    """
    if not any(t.stop or t.low in _JOINER_STARTS for t in tokens):
        return ()  # most requests: nothing joins one value to another
    properties: dict[str, dict[str, object]] = entry.parameters.get("properties", {})
    taken = {v for v in kept.values() if isinstance(v, str)}
    taken |= {str(item) for v in kept.values() if isinstance(v, list) for item in v}
    context = _Context(
        tokens,
        covered=frozenset(i for s in spans for i in range(s.start, s.end)),
        noun_starts=frozenset(s.start for s in spans if s.nouns),
        taken=frozenset(taken),
        grant=entry.action == _GRANT_ACTION,
    )
    for name in TARGET_PARAMETERS:
        value = kept.get(name)
        if not isinstance(value, str) or properties.get(name, {}).get("type") == "array":
            continue
        for at in _positions(tokens, name, value):
            found = {at, *context.forward(at), *context.backward(at)}
            if len(found) > 1:
                return tuple(dict.fromkeys(tokens[i].low for i in sorted(found)))
            if pair := _both_and(tokens, at):
                return pair
    return ()


def _both_and(tokens: tuple[Token, ...], at: int) -> tuple[str, ...]:
    """ "for both the app and the etl services": "both … and" names two, whatever words they are."""
    lo = max(0, at - 2 * _BOTH_REACH)
    for b in range(at - 1, lo - 1, -1):
        if tokens[b].stop:
            return ()
        if tokens[b].low != "both":
            continue
        words = [t for t in tokens[b + 1 : at + 1] if t.low not in _SKIPPED]
        joiner = next((i for i, t in enumerate(words) if t.low == "and"), None)
        if joiner is None or joiner == 0 or len(words) > _BOTH_REACH or any(t.stop for t in words[:joiner]):
            return ()  # "both the payments service" alone names one
        return (" ".join(t.raw for t in words[:joiner]), " ".join(t.raw for t in words[joiner + 1 :]))
    return ()


def counted(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], entry: ActionEntry) -> tuple[str, ...]:
    """A count of more than one of the entry's resource ("2 accounts", "both api keys"), as written.

    Replica, pod and node counts are sizes of one resource, not several targets, and a read-only
    action counts what it reads ("500 errors in the logs").
    """
    if entry.phrases is None or entry.informational:
        return ()
    own = set(entry.phrases.strong_nouns)
    # "restart all deployments in shop": every one of a resource named one by one is several targets
    # ("rotate all secrets of billing" is one service's)
    # ("revoke all permissions for user erin" is one person's: the target holds the resource)
    required = set(entry.parameters.get("required", []))
    named = bool(required & _NAMED_TARGETS) or (entry.resource_type == "user" and "username" in required)
    for span in spans:
        if not span.nouns & own or not _plural(tokens[span.end - 1].low):
            continue
        if any(t.low in _SIZE_WORDS for t in tokens[span.start : span.end]):
            continue
        listed = _listed_after(tokens, span.end) or _listed_after_colon(tokens, span.end)
        if len(listed) > 1:
            return listed  # "create namespaces team-a, team-b"
        for back in range(1, 4):
            at = span.start - back
            if at < 0 or tokens[at].stop:
                break
            low = tokens[at].low
            if low in _SEVERAL or (_number(low) or 0) > 1 or (low in _ALL and named):
                return (" ".join(t.raw for t in tokens[at : span.end]),)
            if low in _PREPOSITIONS or low in ("to", "with", "by"):
                break
    return ()


def _listed_after_colon(tokens: tuple[Token, ...], at: int) -> tuple[str, ...]:
    """Items listed after a colon that closes the plural noun's phrase: "need accounts in the new app:
    Patrick Shea (PShea), Lee Berry (LBerry)" lists two people."""
    colon = next((i for i in range(at - 1, min(len(tokens), at + 5)) if tokens[i].colon or tokens[i].stop), None)
    if colon is None or not tokens[colon].colon:
        return ()
    items: list[str] = []
    start = colon + 1
    for i in range(start, len(tokens)):
        if tokens[i].stop or i + 1 == len(tokens):
            if i + 1 - start <= _ITEM_WORDS and tokens[start].low not in _SKIPPED and extract.value_kind(tokens[start]):
                items.append(" ".join(t.raw for t in tokens[start : i + 1]))
            start = i + 1
            if tokens[i].end or tokens[i].colon:
                break
    return tuple(items) if len(items) > 1 else ()


def _listed_after(tokens: tuple[Token, ...], at: int) -> tuple[str, ...]:
    """Names right after a plural noun, separated by commas: "namespaces team-a, team-b"."""
    names: list[str] = []
    i = at
    while i < len(tokens) and extract.value_kind(tokens[i]) == "name" and not tokens[i].noun:
        names.append(tokens[i].low)
        if not tokens[i].stop or tokens[i].end:
            break
        i += 1
    return tuple(names)


def _verb_form(low: str) -> bool:
    """Is ``low`` the -ed or -ing form of a verb of the vocabulary ("decommissioned", "removing")?"""
    for suffix in ("ed", "ing"):
        stem = low.removesuffix(suffix)
        if stem != low and len(stem) >= 3:
            bases = (stem, stem + "e", stem[:-1] if stem[-1] == stem[-2] else "")
            if any(base in vocabulary.VERBS for base in bases):
                return True
    return False


def _plural(low: str) -> bool:
    return low.endswith("s") and not low.endswith(("ss", "us", "is"))  # "accounts", not "access" or "status"


def _capitalised(token: Token) -> bool:
    return token.raw[:1].isupper() and token.raw[1:].islower() and not token.quoted


def _number(low: str) -> int | None:
    if low.isdigit() and len(low) < 4:
        return int(low)
    return entities.NUMBER_WORDS.get(low)


def _positions(tokens: tuple[Token, ...], name: str, value: str) -> list[int]:
    if name == "environment":
        return [
            i
            for i, t in enumerate(tokens)
            if t.low in entities.ENVIRONMENT_WORDS and entities.normalise_environment(t.low) == value
        ]
    return [i for i, t in enumerate(tokens) if t.low == value]


def _joiner_width(tokens: tuple[Token, ...], i: int) -> int:
    """How many tokens the joining words at ``i`` take (0 when none start there)."""
    if i >= len(tokens) or tokens[i].low not in _JOINER_STARTS:
        return 0
    for words in _JOINERS:
        end = i + len(words)
        if end <= len(tokens) and all(not t.quoted and t.low == w for t, w in zip(tokens[i:end], words, strict=True)):
            return len(words)
    return 0


def _a_list(found: list[tuple[int, bool]], *, shaped: bool) -> list[int]:
    """The coordinated positions, if they make a list: a joining word ("a and b", "a, b and c"),
    commas alone between three or more ("a, b, c"), or between addresses or images. A name after a
    comma may be a remark ("restart cart, thx"; "create user bob, temp password …"), not a target."""
    if shaped or any(joined for _, joined in found) or len(found) >= 2:
        return [i for i, _ in found]
    return []


@dataclasses.dataclass(frozen=True)
class _Context:
    """One request's tokens, with what a second target must not be."""

    tokens: tuple[Token, ...]
    covered: frozenset[int]  # inside a vocabulary word: "restart cart and delete …" has no target "delete"
    noun_starts: frozenset[int]
    taken: frozenset[str]  # values kept for a parameter, or items of a list parameter (a user's groups)
    grant: bool

    def forward(self, at: int) -> list[int]:
        """Targets coordinated after the one at ``at``: "x and y", "x, y and z", "x to 3 and y to 5"."""
        kind = extract.value_kind(self.tokens[at])
        first = at
        found: list[tuple[int, bool]] = []
        while kind is not None and (nxt := self._next_segment(at)) is not None:
            if not self._same_kind(nxt[0], kind, self.tokens[at].low) or not self._ends_a_phrase(nxt[0], kind):
                break
            found.append(nxt)
            at = nxt[0]
        # "offboarding Chris Cardillo, Ruth Miller": full names after a comma are people, not a remark
        people = len(found) == 1 and self._full_name(first) and self._full_name(found[0][0])
        return [i for i, _ in found] if people else _a_list(found, shaped=kind in _SHAPED)

    def _full_name(self, i: int) -> bool:
        tokens = self.tokens
        return i + 1 < len(tokens) and _capitalised(tokens[i]) and _capitalised(tokens[i + 1]) and not tokens[i].stop

    def backward(self, at: int) -> list[int]:
        """Targets coordinated before the one at ``at`` when a noun follows: "the a and b deployments"."""
        kind = extract.value_kind(self.tokens[at])
        if kind is None or at + 1 not in self.noun_starts:
            return []
        found: list[tuple[int, bool]] = []
        while (before := self._previous_value(at)) is not None and self._same_kind(
            before[0], kind, self.tokens[at].low
        ):
            found.append(before)
            at = before[0]
        return _a_list(found, shaped=kind in _SHAPED)

    def _next_segment(self, at: int) -> tuple[int, bool] | None:
        """The first word after the next comma or joining word following ``at``, and whether a joining
        word opened it, if one comes."""
        tokens = self.tokens
        i, joined = at, False
        while i < len(tokens):
            if i > at and tokens[i].low == "but":
                return None
            width = _joiner_width(tokens, i) if i > at else 0
            if width:
                i, joined = i + width, True
                break
            if tokens[i].end:
                return None  # "create user jsmith. Regards, Anna": a list never runs past a sentence
            if tokens[i].stop:
                i += 1
                break
            i += 1
        else:
            return None
        # ", and the y": several joining words and an article are one boundary
        while i < len(tokens) and ((width := _joiner_width(tokens, i)) or tokens[i].low in _SKIPPED):
            joined = joined or width > 0
            i += width or 1
        return (i, joined) if i < len(tokens) else None

    def _previous_value(self, at: int) -> tuple[int, bool] | None:
        """The value right before the joining word or comma that opens ``at``'s phrase, and whether
        a joining word did."""
        tokens = self.tokens
        i = at - 1
        while i >= 0 and tokens[i].low in _SKIPPED:
            i -= 1
        if i >= 0 and tokens[i].stop:
            return i, False  # "a, b deployments"
        for width in (1, 2, 3):
            if i - width + 1 >= 0 and _joiner_width(tokens, i - width + 1) == width:
                before = i - width
                return (before, True) if before >= 0 else None
        return None

    def _same_kind(self, i: int, kind: str, first: str) -> bool:
        token = self.tokens[i]
        return (
            i not in self.covered
            and token.low != first
            and token.low not in self.taken
            and extract.value_kind(token) == kind
            and not _verb_form(token.low)  # "switched off and decommissioned": a second verb, no second target
        )

    def _ends_a_phrase(self, i: int, kind: str) -> bool:
        """Is the value at ``i`` a whole noun phrase, not the first word of a new clause ("let me know")?"""
        tokens = self.tokens
        if kind in _SHAPED or tokens[i].stop or i + 1 == len(tokens):
            return True
        if _capitalised(tokens[i]) and _capitalised(tokens[i + 1]) and not tokens[i].stop:
            return self._ends_a_phrase(i + 1, kind)  # "John Smith and Mary Jones": a person's full name
        follower = tokens[i + 1].low
        return (
            _joiner_width(tokens, i + 1) > 0
            or follower in _PREPOSITIONS
            or follower in _TAIL_WORDS
            or follower in vocabulary.NEED_FORMS
            or i + 1 in self.noun_starts
            or follower in entities.ENVIRONMENT_WORDS
            or follower in entities.ROLE_WORDS
            or follower in entities.LEVEL_WORDS
            or follower in entities.NUMBER_WORDS
            or follower.isdigit()
            or (self.grant and follower in _ARTICLES)
        )
