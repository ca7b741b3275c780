"""The rule-based parser: the offline default and the LLM's cross-check.

``parse(text, catalog)`` finds verbs and resource nouns (tolerating case, politeness, word
order, kubectl spellings and one-letter typos), picks the catalog entry a verb/noun pair names,
and fills the entry's parameters from the entity candidates in the text. A request that pairs no
verb with a noun of the same entry is *unrecognised*; it is never pushed to the nearest action.
Two narrow exceptions, both needing a name to act on: a verb with one reading implies its noun
("restart nginx"), and a request that opens with a noun asks for that thing to be created.

Text that asks nothing of us (a story, a symptom, a wish, a reply to a requester, a question
after some context) is declined first, by the speech act of the sentence holding the chosen verb
(:mod:`opsgate.parsing.speech`). Two kinds of request are *declined* with a reason for the
requester rather than read as one action: one that asks for several changes in separate clauses
("restart nginx and delete namespace prod": running either change alone is not what was asked),
and a personal IT request about the requester's own things that names no resource to act on
("reset my password", "give me access").

Confidence is a score, not a probability we assume: it starts from how the action was found
(verb and noun, noun alone, verb alone) and drops for typos, weak nouns, competing readings,
missing required parameters and injection markers. ``bench/intent.py`` reports how it is
calibrated on the labelled set. Pure and synchronous. Which words name which action is the
catalog's (its ``nouns`` and each entry's ``phrases``), compiled once per catalog by
:mod:`opsgate.parsing.lexicon`; this module knows the language around them, never an action.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from opsgate import entities
from opsgate.catalog import ActionEntry, Catalog, Strength, Verb
from opsgate.intent import Intent, Parser, declined, unrecognised
from opsgate.parsing import clauses, extract, kubectl, questions, shorthand, slots, speech, targets, text, vocabulary
from opsgate.parsing.lexicon import Lexicon
from opsgate.parsing.lexicon import of as lexicon_of
from opsgate.parsing.tokens import Token, tokenize

NOTE_QUESTION = speech.NOTE_QUESTION
NOTE_NOTHING = "no catalog action matches this request"
NOTE_FOREIGN = "not an operations request"
NOTE_AMBIGUOUS = "also read as {other}"
NOTE_NEGATED = "says what not to do: no change is asked"
NOTE_REPORTED = "tells what was done or how things are: no change is asked"
DECLINED_SEVERAL = "asks for more than one {kind}: {changes}; submit one request per {kind}"
DECLINED_TARGETS = "names several targets ({targets}) for one {kind} ({action}): submit one request per target"
DECLINED_FROM_NAMESPACE = (
    "asks to remove something from a namespace, not to delete the namespace: the catalog has no action for "
    "removing that kind of object; ask the platform team"
)
_THING_FROM_NAMESPACE = "thing-from-namespace"
DECLINED_STEPS = (
    "lists several steps to carry out (a numbered procedure): OpsGate makes one change per request; "
    "submit each catalog change on its own"
)
# A name with a wildcard stands for every name it matches: "we no longer require the lclb-* set"
_WILDCARD = re.compile(r"^[a-z0-9][-a-z0-9._]*\*[-a-z0-9._*]*$")
DECLINED_PERSONAL = (
    "reads as a personal IT request (about your own account, password, mailbox or device) and names "
    "no {missing}: personal IT goes to the IT helpdesk; for an OpsGate change, name the {missing}"
)

CONFIDENCE_VERB_NOUN = 0.92
CONFIDENCE_NOUN_ONLY = 0.75
CONFIDENCE_VERB_ONLY = 0.65
CONFIDENCE_IMPLIED = 0.7  # "restart nginx": the verb names the resource type, a name follows it
CONFIDENCE_NOUN_FIRST = 0.6  # "email account for ann@acme.org please": asking for the thing
PENALTY_FUZZY = 0.1
PENALTY_WEAK = 0.12
PENALTY_AMBIGUOUS = 0.15
PENALTY_MISSING = 0.1
PENALTY_INJECTION = 0.1
FLOOR = 0.05
_NEW_REACH = 3  # words between "new" and the noun it describes ("a new ephemeral preview namespace")
ADJECTIVE_NEW = 12  # how much farther a pair with "new" counts when another verb asks

_MAX_PHRASE = 4
_DETERMINERS = frozenset({"the", "a", "an", "our", "your", "their", "up", "down", "me", "us", "new", "both", "either"})
# "reset my vpn password": what follows "my" is the requester's own thing, not a resource's name
_OWN = frozenset({"my", "mine", "myself"})
# "restart it", "scale them to 3": in a clause after another, a pronoun is the earlier object
_PRONOUNS = frozenset({"it", "them", "that", "this", "those", "these"})
# What opens a noun phrase that borrows the verb before it ("create a cluster x and a namespace y").
_REFERRING = _PRONOUNS | {"one", "ones", "some", "him", "her"}
# words that say a domain follows: "setup a sub-domain tokyo.pyladies.com"
_DOMAIN_WORDS = frozenset({"subdomain", "sub-domain", "domain", "hostname", "fqdn", "url"})
_ARTICLES = frozenset({"a", "an", "the", "another", "new"})
# The parameters that say which thing a change acts on, when the catalog entry requires none.
_TARGETS = ("name", "email", "domain", "username", "service", "image", "target", "namespace", "metric")
_OPENING_FILLER = vocabulary.POLITENESS | {"a", "an", "new"}
_DEFINITE = frozenset({"the", "our", "their", "your", "this", "that", "its"})
_CLAUSE_OPENERS = frozenset({"that", "to", "for"})  # "requesting that x …": the ask is in the clause
# Verb words that ask only at the opening of a request; elsewhere they are nouns ("the site request").
_OPENING_VERBS = frozenset({"request", "requesting"})
# A site that is already served from a host of its own: "currently lives at: http://x.netlify.com"
_HOSTED_AT = re.compile(
    r"\b(?:lives|living|hosted|deployed|served|running)\s+(?:at|on|through|via|from)\s*:?\s*(?:https?://)?"
    r"([a-z0-9][-a-z0-9.]*\.(?:netlify\.com|netlify\.app|github\.io|pages\.dev|vercel\.app|herokuapp\.com|"
    r"gitlab\.io|onrender\.com|web\.app|firebaseapp\.com|azurewebsites\.net|cloudfront\.net))\b",
    re.IGNORECASE,
)
# A ticket title's scope tag: "[laa-apply-for-legalaid-uat] Add serviceaccount …" (a name with a dash)
_TITLE_SCOPE = re.compile(r"^\s*\[([a-z0-9]+(?:-[a-z0-9]+)+)\]\s", re.IGNORECASE)
_REQUESTING_SUBJECTS = frozenset({"am", "are", "is", "i'm", "im", "we're", "we", "i"})
# Where the object of a verb ends: "create a jira ticket | for the login bug".
_OBJECT_END = frozenset({"for", "of", "to", "in", "on", "with", "from", "at", "named", "called", "and"})
# What may stand between an implying verb and its object ("onboard the new engineer kim").
_IMPLIED_SKIP = frozenset({"the", "a", "an", "new", "both", "either"})
# A request that opens with a noun asks for the thing: read it with the verbs of "create".
_CREATE_VERBS = vocabulary.VERBS["create"]
_NEEDING = frozenset({"need", "needs", "require", "requires", "use", "want", "wants"})
_SUBJECTS = frozenset({"we", "i", "they", "he", "she"})
_PURPOSE_MODALS = frozenset({"can", "could", "will", "would", "may", "might"})
_PLACE_PREPOSITIONS = frozenset({"in", "on", "at", "from", "of"})
_BEFORE_NEED = frozenset({"should", "must", "will", "would", "to", "really", "urgently", "definitely", "now", "also"})
_PERFECT = frozenset({"has", "have", "had", "'s", "hasn't", "haven't", "hadn't", "already", "just", "recently"})
# what before an -ed form of a verb tells it happened: "is deleted", "was created", "has been restarted",
# "we restarted"
_STATED_BY = frozenset({"is", "was", "were", "are", "been", "got", "already", "just", "successfully"})
_SPEAKERS_DONE = frozenset({"i", "we", "they", "he", "she", "someone", "somebody", "terraform"})
# pronouns that stand for a thing or person named earlier ("offboard him", "scale it up")
_BACK_PRONOUNS = frozenset({"it", "him", "her", "them"})
# "a new one", "another one": the thing named before
_ONE_OPENERS = frozenset({"a", "new", "another", "fresh", "the", "replacement"})
# finite verbs after a subject: "records are …", "the site has …"
_STATING = frozenset(
    {"is", "are", "was", "were", "has", "have", "had", "isn't", "aren't", "wasn't", "weren't", "seems", "seem",
     "looks", "keeps", "gets", "got", "lacks", "became", "remains", "stays", "works", "fails", "failed",
     "cannot", "can't", "doesn't", "didn't", "won't", "couldn't", "does", "did"}
)  # fmt: skip
# who or what comes before "like" when it wishes: "I'd like", "we would like", "the team would like"
_LIKERS = frozenset(
    {"would", "i'd", "we'd", "id", "they'd", "you'd", "he'd", "she'd", "'d", "really", "also", "i", "we"}
)
_REPLICA_WORDS = frozenset({"replica", "replicas", "instance", "instances", "pod", "pods", "copies"})
# "checkout should have 5 replicas": the word after the subject of a replica count
_HAVING = frozenset({"should", "must", "needs", "need", "has", "have", "gets", "runs", "with"})
_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\b")
_SCALE_TO_NUMBER = re.compile(r"\b(?:scale|bring)\b.*\bto\s+(?:\d+|" + "|".join(entities.NUMBER_WORDS) + r")\b")


@dataclasses.dataclass(frozen=True)
class _Change:
    """One change a clause asks for: a catalog entry and, when the clause names it, its target."""

    key: str
    verbs: frozenset[Verb]
    target: str | None

    def same_as(self, other: _Change) -> bool:
        # "restart api in prod, restart it now" is one change; two named targets are two
        return self.key == other.key and (self.target is None or other.target is None or self.target == other.target)


@dataclasses.dataclass(frozen=True)
class _Reading:
    key: str
    score: int  # lower is a closer verb/noun pair
    confidence: float
    verb_at: int | None
    implied: bool = False  # the verb implied the resource noun ("restart nginx")
    object_name: str | None = None  # the name the reading itself found, where no verb has it


def parse(request: str, catalog: Catalog) -> Intent:
    """The intent of ``request`` according to the rules (never raises on any input)."""
    cleaned = text.clean(request)
    if cleaned.refused:
        return unrecognised(notes=cleaned.notes)
    if questions.is_question(cleaned.text):
        return unrecognised(notes=(*cleaned.notes, NOTE_QUESTION))
    legitimate = text.without_rollback_plan(cleaned.text)
    lexicon = lexicon_of(catalog)
    tokens = tokenize(_commands_as_words(legitimate), nouns=lexicon.noun_words)
    if _opens_with_foreign_verb(tokens):
        return unrecognised(notes=(*cleaned.notes, NOTE_FOREIGN))
    spans = _spans(tokens, lexicon)
    readings = _readings(spans, tokens, lexicon, legitimate.lower())
    if not readings and any(s.verbs for s in spans) and not any(Verb.UNSUPPORTED in s.verbs for s in spans):
        # "I would like a website on x, with enforce https on": the wish is the ask when the
        # other verb names nothing (unless it names an operation we lack: "I can rename the
        # namespace for you, which one do you want?")
        spans = _spans(tokens, lexicon, keep_desire=True)
        readings = _readings(spans, tokens, lexicon, legitimate.lower())
    found_any = bool(readings)
    readings = [r for r in readings if not _object_is_foreign(tokens, spans, r.verb_at)]
    if not readings:
        if not found_any and _says_not_to(tokens, lexicon):
            return unrecognised(notes=(*cleaned.notes, NOTE_NEGATED))  # no reader may act on "do not …"
        if not found_any and _states_done(tokens):
            return unrecognised(notes=(*cleaned.notes, NOTE_REPORTED))  # "the mailbox x is deleted"
        return unrecognised(notes=(*cleaned.notes, NOTE_FOREIGN if found_any else NOTE_NOTHING))
    if len(readings) > 1:
        # "acme.org hosts our blog. The site blog2.acme.org should be taken down": the verb of the
        # sentence that asks names the change, before a verb of a sentence that tells; and "please
        # rotate it now, then we remove it from git history": a verb with its own subject tells
        several = any(t.end for t in tokens[:-1])
        readings.sort(
            key=lambda r: (
                several and (r.verb_at is None or not speech.asks_at(tokens, spans, r.verb_at)),
                several and _in_yes_no_question(tokens, spans, r.verb_at),  # "Have you scaled down …? yes"
                r.verb_at is not None and _has_subject(tokens, r.verb_at),
            )
        )
    best = _explaining_most(readings, tokens, spans, catalog)
    not_asked = _not_asked(tokens, spans, best.verb_at, cleaned.notes)
    if not_asked is not None:
        return not_asked
    changes = _changes(tokens, spans, lexicon, catalog, chosen_at=best.verb_at)
    if len(changes) > 1:
        return declined(_several(changes, catalog), notes=cleaned.notes)
    if _numbered_steps(tokens, lexicon) > 1:
        return declined(DECLINED_STEPS, notes=cleaned.notes)  # "1. Rotate the credential 2. Remove it from …"
    entry = catalog.entries[best.key]
    revoke = _removed_from_namespace(entry, tokens, spans, best.verb_at, catalog)
    if revoke == _THING_FROM_NAMESPACE:
        # "remove the deployment from namespace x": the namespace is where, not what is removed
        return declined(DECLINED_FROM_NAMESPACE, notes=cleaned.notes)
    if isinstance(revoke, ActionEntry):
        entry = revoke  # "please remove user bob from namespace payments": out of the namespace, not deleted
    wildcards = tuple(t.raw for t in tokens if _WILDCARD.match(t.low))
    if wildcards and not entry.informational:
        return declined(_several_targets(entry, wildcards), notes=cleaned.notes)  # "the lclb-* namespaces"
    found = _ask_first(extract.find(tokens, spans), tokens, best.verb_at)
    object_name = best.object_name or _object_after(tokens, spans, best.verb_at)
    record = _record_for_hosted_site(entry, legitimate, found, catalog)
    if record is not None:
        # "an rbind.io subdomain for our site, which is deployed through Netlify and lives at x.netlify.com":
        # a name for a site hosted elsewhere is a record pointing there, not new hosting
        entry, record_values = record
        values = {**slots.candidates(entry, found, object_name=None), **record_values}
    else:
        values = slots.candidates(entry, found, object_name=object_name)
    # "our team's rebind service seems down, so, could you restart rbndr?": the verb's own object names
    # the thing, before a name another clause gives
    asking = _asking_clause(tokens, best.verb_at)
    elsewhere = values.get("name") not in (object_name, None, *asking)
    # "… rbndr is a useful service … any chance to get it back up?": "it" is rbndr, whatever else is named
    called = found.cue(extract.Cue.CALLED)  # "a shared cluster …, call it perf-shared": the name given outright
    if (
        object_name is not None
        and elsewhere
        and values.get("name") != called
        and (object_name in asking or _refers_back(tokens, spans, best.verb_at))
    ):
        values["name"] = object_name
    values = _own_targets(entry, tokens, lexicon, best.verb_at, values, object_name)
    if record is not None:
        values.update(record[1])  # the zone named in the asking sentence is not the record's name
    scope = _TITLE_SCOPE.match(legitimate)
    # "[laa-apply-for-legalaid-uat] Add serviceaccount github-actions": a ticket titled with its namespace
    if (
        scope
        and "namespace" in entry.parameter_names
        and values.get("namespace") is None
        and scope.group(1).lower() not in {str(v).lower() for v in values.values()}
    ):
        values["namespace"] = scope.group(1).lower()
    kept, dropped = slots.fit(entry, values)
    missing = _missing_required(entry, kept)
    person_missing = "username" in missing
    if (
        missing
        and not entry.informational
        and _about_the_requester(tokens, spans, best.verb_at, person_missing=person_missing)
    ):
        shown = " or ".join(f"`{name}`" for name in missing)
        return declined(DECLINED_PERSONAL.format(missing=shown), notes=cleaned.notes)
    if best.implied and missing:
        # a guessed resource type is only worth acting on when the text says everything it needs
        return unrecognised(notes=(*cleaned.notes, NOTE_NOTHING))
    named = targets.several(tokens, spans, entry, kept) or targets.counted(tokens, spans, entry)
    if named:
        # the catalog takes one target per request: acting on the first alone is not what was asked
        return declined(_several_targets(entry, named), notes=cleaned.notes)
    outside = _outside_target(entry, kept)
    if outside is not None:
        return declined(outside, notes=cleaned.notes)
    confidence = best.confidence - PENALTY_MISSING * len(missing)
    notes = [*cleaned.notes, *dropped]
    others = sorted({r.key for r in readings[1:] if r.key != best.key})
    if others:
        confidence -= PENALTY_AMBIGUOUS
        notes.append(NOTE_AMBIGUOUS.format(other=", ".join(others)))
    if cleaned.injection:
        confidence -= PENALTY_INJECTION
    return Intent(
        category=entry.category,
        action=entry.action,
        resource_type=entry.resource_type,
        entities=kept,
        confidence=round(max(FLOOR, min(confidence, 0.99)), 3),
        parser=Parser.RULES,
        notes=tuple(notes),
    )


def parse_as(request: str, catalog: Catalog, key: str, *, confidence: float, note: str) -> Intent:
    """``request`` read as the entry ``key`` another reader proposed, with the rules' values and declines.

    The semantic matcher names an entry, never its values: they come from the text through the same
    extractors and slots as :func:`parse`, validated by the entry's schema. What makes the rules
    decline still does (several changes, several targets, personal IT, an operation the catalog
    lacks, a foreign verb); what the text does not say stays missing, for the caller to weigh.
    """
    cleaned = text.clean(request)
    if cleaned.refused or questions.is_question(cleaned.text):
        return unrecognised(notes=cleaned.notes)
    entry = catalog.entries[key]
    lexicon = lexicon_of(catalog)
    tokens = tokenize(_commands_as_words(text.without_rollback_plan(cleaned.text)), nouns=lexicon.noun_words)
    spans = _spans(tokens, lexicon)
    if (
        _opens_with_foreign_verb(tokens)
        or any(Verb.UNSUPPORTED in s.verbs for s in spans)
        or any(_object_is_foreign(tokens, spans, s.start) for s in spans if s.verbs)
    ):
        return unrecognised(notes=(*cleaned.notes, NOTE_FOREIGN))
    wanted = set(entry.phrases.verbs) if entry.phrases is not None else set()
    verb_at = next((s.start for s in spans if s.verbs & wanted), None)
    not_asked = _not_asked(tokens, spans, verb_at, cleaned.notes)
    if not_asked is not None:
        return not_asked
    changes = _changes(tokens, spans, lexicon, catalog)
    if len(changes) > 1:
        return declined(_several(changes, catalog), notes=cleaned.notes)
    found = extract.find(tokens, spans)
    values = slots.candidates(entry, found, object_name=_object_after(tokens, spans, verb_at))
    kept, dropped = slots.fit(entry, values)
    missing = _missing_required(entry, kept)
    if (
        missing
        and not entry.informational
        and _about_the_requester(tokens, spans, verb_at, person_missing="username" in missing)
    ):
        shown = " or ".join(f"`{name}`" for name in missing)
        return declined(DECLINED_PERSONAL.format(missing=shown), notes=cleaned.notes)
    named = targets.several(tokens, spans, entry, kept) or targets.counted(tokens, spans, entry)
    if named:
        return declined(_several_targets(entry, named), notes=cleaned.notes)
    outside = _outside_target(entry, kept)
    if outside is not None:
        return declined(outside, notes=cleaned.notes)
    return Intent(
        category=entry.category,
        action=entry.action,
        resource_type=entry.resource_type,
        entities=kept,
        confidence=round(max(FLOOR, min(confidence - PENALTY_MISSING * len(missing), 0.99)), 3),
        parser=Parser.RULES,
        notes=(*cleaned.notes, *dropped, note),
    )


def _in_yes_no_question(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int | None) -> bool:
    """Is the verb at ``verb_at`` in a question that asks nothing of us ("Have you deleted the claims?")?"""
    if verb_at is None:
        return False
    end = next((e for s, e in speech.sentences(tokens) if s <= verb_at < e), len(tokens))
    return tokens[end - 1].asked and not speech.asks_at(tokens, spans, verb_at)


def _has_subject(tokens: tuple[Token, ...], verb_at: int) -> bool:
    """Does a personal pronoun stand as the verb's subject ("then we remove it"), not after a modal
    that asks ("can we remove it") or "let"?"""
    if verb_at < 1 or tokens[verb_at - 1].low not in _SUBJECTS or tokens[verb_at - 1].stop:
        return False
    before = tokens[verb_at - 2].low if verb_at >= 2 else ""
    return before not in _PURPOSE_MODALS | {"shall", "should", "let", "if", "why", "don't"}


def _says_not_to(tokens: tuple[Token, ...], lexicon: Lexicon) -> bool:
    """Does a verb of the vocabulary stand negated in the text ("please do not restart the api")?"""
    return any(
        lexicon.lookup(t.low)[0] and Verb.UNSUPPORTED not in lexicon.lookup(t.low)[0] and speech.negated(tokens, i)
        for i, t in enumerate(tokens)
    )


def _states_done(tokens: tuple[Token, ...]) -> bool:
    """Does the text tell that a change was made ("the mailbox x is deleted", "jdoe was created on
    Monday", "we restarted it") rather than ask for one?"""
    for i, token in enumerate(tokens):
        if not token.low.endswith("ed") or _wanted_verb(token.low) is None:
            continue
        before = tokens[i - 1].low if i else ""
        if before in _STATED_BY or (before in _SPEAKERS_DONE and not token.quoted):
            return True
    return False


def _explaining_most(
    readings: list[_Reading], tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], catalog: Catalog
) -> _Reading:
    """Of the readings of the first one's verb, the one that takes the most of the values the text states.

    "Add user fiorisi with read permission in the cad-mechanics namespace" states a person, a role
    and a namespace: a grant takes all three, a new user only the person.
    """
    best = readings[0]
    rivals = [r for r in readings[1:] if r.verb_at == best.verb_at and r.key != best.key and not r.implied]
    if not rivals or best.implied:
        return best
    found = extract.find(tokens, spans)

    def taken(reading: _Reading) -> int:
        entry = catalog.entries[reading.key]
        object_name = reading.object_name or _object_after(tokens, spans, reading.verb_at)
        kept, _ = slots.fit(entry, slots.candidates(entry, found, object_name=object_name))
        return len(kept)

    first = taken(best)
    better = [r for r in rivals if taken(r) > first + 1]
    if better:
        return better[0]
    # "she is a new employee … I need her to have access": a grant names no role, the new account
    # needs nothing more; the reading the text completes is the ask
    if _lacks(best, tokens, spans, found, catalog):
        complete = [r for r in rivals if not _lacks(r, tokens, spans, found, catalog)]
        if len({r.key for r in complete}) == 1 and catalog.entries[complete[0].key].resource_type == "user":
            return complete[0]
    return best


def _lacks(
    reading: _Reading,
    tokens: tuple[Token, ...],
    spans: tuple[extract.Span, ...],
    found: extract.Found,
    catalog: Catalog,
) -> bool:
    entry = catalog.entries[reading.key]
    object_name = reading.object_name or _object_after(tokens, spans, reading.verb_at)
    kept, _ = slots.fit(entry, slots.candidates(entry, found, object_name=object_name))
    return bool(_missing_required(entry, kept))


def _not_asked(
    tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int | None, notes: tuple[str, ...]
) -> Intent | None:
    """The decline of a text that asks us for nothing: a report, a wish, a question, a reply (see :mod:`speech`)."""
    anchor = verb_at if verb_at is not None else next((s.start for s in spans if s.nouns), 0)
    reason, note = speech.declines(tokens, spans, verb_at, anchor)
    if reason is not None:
        return declined(reason, notes=notes)
    if note is not None:
        return unrecognised(notes=(*notes, note))
    return None


def _ask_first(found: extract.Found, tokens: tuple[Token, ...], verb_at: int | None) -> extract.Found:
    """``found`` with the values of the asking clause first, then those of its sentence.

    "x.gov lacks a purpose. Sites like a.x.gov and b.x.gov should be taken down" is about a.x.gov;
    "we offboarded an employee quickly, please remove the account rleighton" about rleighton.
    """
    parts = clauses.split(tokens)
    if verb_at is None or len(parts) < 2:
        return found
    start, end = next(((s, e) for s, e in speech.sentences(tokens) if s <= verb_at < e), (0, len(tokens)))
    in_sentence = {t.low.rstrip(".") for t in tokens[start:end]}
    clause_start, clause_end = verb_at, verb_at
    while clause_start > start and not tokens[clause_start - 1].stop:
        clause_start -= 1
    while clause_end < end - 1 and not tokens[clause_end].stop:
        clause_end += 1
    in_clause = {t.low.rstrip(".") for t in tokens[clause_start : clause_end + 1]}
    # "please not delete the namespace prod-data but delete prod-data-old": a negated clause's object is last
    refused = {
        t.low
        for p in parts
        if any(speech.negated(tokens, i + 1) for i in range(p.start, p.end - 1))
        for t in tokens[p.start : p.end]
    }

    def first(values: list[str]) -> list[str]:
        return sorted(
            values,
            key=lambda value: (
                value.lower() in refused,
                value.lower() not in in_clause,
                value.lower() not in in_sentence,
            ),
        )

    return dataclasses.replace(
        found,
        emails=first(found.emails),
        domains=first(found.domains),
        addresses=first(found.addresses),
        images=first(found.images),
        cues={cue: first(names) for cue, names in found.cues.items()},
    )


def _own_targets(
    entry: ActionEntry,
    tokens: tuple[Token, ...],
    lexicon: Lexicon,
    verb_at: int | None,
    values: dict[str, Any],
    object_name: str | None,
) -> dict[str, Any]:
    """``values`` with each target the asking sentence names itself taken from it, not from context.

    "Our intern Maria starts on Monday. Could you create a user account for mhernandez?" creates
    mhernandez; a target only another sentence names ("Onwubu (onwubu1) … offboard him") stays.
    """
    if verb_at is None or not any(t.end for t in tokens[:-1]):
        return values
    start, end = next(((s, e) for s, e in speech.sentences(tokens) if s <= verb_at < e), (0, len(tokens)))
    sentence = tokens[start:end]
    words = {t.low.rstrip(".") for t in sentence}
    outside = [
        name
        for name in targets.TARGET_PARAMETERS
        if name != "environment" and isinstance(values.get(name), str) and values[name].lower() not in words
    ]
    if not outside:
        return values
    # a form's labelled field ("GitHub ID: jaredburck") says who wherever it stands
    labelled = extract.find(tokens, _spans(tokens, lexicon)).cues.get(extract.Cue.HANDLE, [])
    outside = [name for name in outside if values[name].lower() not in labelled]
    own = slots.candidates(
        entry,
        extract.find(sentence, _spans(sentence, lexicon)),
        object_name=object_name if object_name in words else None,
    )
    return {**values, **{name: own[name] for name in outside if isinstance(own.get(name), str)}}


def _asking_clause(tokens: tuple[Token, ...], verb_at: int | None) -> set[str]:
    """The words of the clause (between stops and joining words) that holds the verb."""
    if verb_at is None:
        return {t.low for t in tokens}
    part = next((p for p in clauses.split(tokens) if p.start <= verb_at < p.end), None)
    start, end = (part.start, part.end) if part is not None else (0, len(tokens))
    return {t.low.rstrip(".") for t in tokens[start:end]}


def _outside_target(entry: ActionEntry, kept: dict[str, object]) -> str | None:
    """Why the thing acted on is not ours: the entry's first required value is at a public mail provider."""
    required: list[str] = entry.parameters.get("required", [])
    return speech.outside_mailbox_reason(kept.get(required[0])) if required else None


def words_in(request: str, catalog: Catalog) -> tuple[frozenset[Verb], frozenset[str]]:
    """The verb classes and ``catalog`` nouns the legitimate part of ``request`` uses (for checking an LLM reading)."""
    lexicon = lexicon_of(catalog)
    legitimate = _commands_as_words(text.without_rollback_plan(text.clean(request).text))
    spans = _spans(tokenize(legitimate, nouns=lexicon.noun_words), lexicon)
    return frozenset(v for span in spans for v in span.verbs), frozenset(n for span in spans for n in span.nouns)


def _commands_as_words(request: str) -> str:
    """kubectl and chat-command spellings rewritten into the words the rules read."""
    return shorthand.rewrite(kubectl.rewrite(request))


def _opens_with_foreign_verb(tokens: tuple[Token, ...]) -> bool:
    for token in tokens:
        if token.low in vocabulary.POLITENESS:
            continue
        return token.low in vocabulary.FOREIGN_VERBS
    return False


def _spans(tokens: tuple[Token, ...], lexicon: Lexicon, *, keep_desire: bool = False) -> tuple[extract.Span, ...]:
    """Vocabulary matches, longest phrase first, with typo correction for single words.

    A wish ("need", "like") is a verb only when the text has no other verb, unless ``keep_desire``.
    """
    lows = tuple(t.low for t in tokens)
    spans: list[extract.Span] = []
    i = 0
    while i < len(lows):
        for size in range(min(_MAX_PHRASE, len(lows) - i), 0, -1):
            verbs, nouns = lexicon.lookup(" ".join(lows[i : i + size]))
            if verbs or nouns:
                spans.append(extract.Span(start=i, end=i + size, verbs=verbs, nouns=nouns))
                i += size
                break
        else:
            word = lows[i]
            # "needs to be deleted" asks; "has been deleted" reports what happened
            reported = i > 1 and lows[i - 1] == "been" and lows[i - 2] in _PERFECT
            wanted = _wanted_verb(word) if _wished_done_to(lows, i) and not reported else None
            if wanted is None and word.endswith("ed") and _wished_done(lows, i):
                wanted = _wanted_verb(word)  # "we'd need the mailbox x removed": the wish is for the removal
            if wanted is None and i == 0 and word.endswith("ing") and (tokens[0].colon or lows[1:2] == ("-",)):
                wanted = _wanted_verb(word)  # "Onboarding - Pauline", "Offboarding: jdoe": a title names the action
            if wanted is None and word.endswith("ing") and _titled_gerund(tokens, i):
                wanted = _wanted_verb(word)  # "Adding a GKE cluster named x", "feat: adding service account y"
            # "created", "restarted": a verb's -ed or -ing form is no typo of the verb; where it does not
            # ask for the action (after "needs", "be"), it describes ("the namespace created yesterday")
            # "deleting a namespace removes its resources": the -s form states what a thing does
            form = wanted is None and (_wanted_verb(word) is not None or _third_person(word))
            correction = None if tokens[i].quoted or form or _known(word) else lexicon.corrector.correct(word)
            if wanted is not None:
                spans.append(extract.Span(start=i, end=i + 1, verbs=vocabulary.VERBS[wanted], nouns=frozenset()))
            elif lexicon.metric_nouns and extract.is_metric_name(tokens[i]):
                # "graph http_requests_total for api": a Prometheus name is a metric noun
                spans.append(extract.Span(start=i, end=i + 1, verbs=frozenset(), nouns=lexicon.metric_nouns))
            elif correction is not None:
                verbs, nouns = lexicon.lookup(correction)
                spans.append(extract.Span(start=i, end=i + 1, verbs=verbs, nouns=nouns, fuzzy=True))
            i += 1
    spans = _without_purpose_verbs(spans, lows)
    # "our team does not grant namespace access": a negated verb asks for nothing
    spans = [
        dataclasses.replace(s, verbs=frozenset())
        if s.verbs and (speech.negated(tokens, s.start) or speech.backgrounded(tokens, s.start))
        else s
        for s in spans
    ]
    # "domains like x.gov and y.gov": "like" wishes only after a subject or "would" ("I'd like", "we would like")
    spans = [
        dataclasses.replace(s, verbs=frozenset())
        if lows[s.start] == "like" and s.end - s.start == 1 and (s.start == 0 or lows[s.start - 1] not in _LIKERS)
        else s
        for s in spans
    ]
    # "alice cannot log in": logging in is no log
    spans = [
        dataclasses.replace(s, nouns=frozenset())
        if lows[s.start] == "log" and s.end - s.start == 1 and lows[s.end : s.end + 1] in (("in",), ("into",), ("on",))
        else s
        for s in spans
    ]
    # "the namespace demo needs to be archived": the wish is for something done to it (read above
    # when the catalog knows the verb), never for a new one
    spans = [
        dataclasses.replace(s, verbs=frozenset())
        if s.verbs and lows[s.start] in vocabulary.DESIRE and _passive_wish(lows, s.end)
        else s
        for s in spans
    ]
    # "if you need anything else": the reader's wish is not ours to act on
    spans = [
        dataclasses.replace(s, verbs=frozenset())
        if s.verbs and lows[s.start] in vocabulary.DESIRE and s.start > 0 and lows[s.start - 1] in ("you", "u")
        else s
        for s in spans
    ]
    # "To rotate a secret, open the portal …": a purpose that opens a sentence is not asked for
    spans = [
        dataclasses.replace(s, verbs=frozenset()) if s.verbs and _purpose_opening(tokens, s.start) else s for s in spans
    ]
    # "let me know if it works": a courtesy, not a grant
    spans = [
        dataclasses.replace(s, verbs=frozenset())
        if lows[s.start] == "let" and lows[s.start + 1 : s.start + 3] in (("me", "know"), ("us", "know"))
        else s
        for s in spans
    ]
    # "we are looking for a sandbox namespace (x)": looking for a thing that the writer names asks for
    # one ("looking for a cluster admin to help" names no thing)
    covered = {i for s in spans for i in range(s.start, s.end)}
    for i in range(len(lows) - 2):
        if (
            lows[i] == "looking"
            and lows[i + 1] == "for"
            and lows[i + 2] in ("a", "an")
            and i not in covered
            and i > 0
            and lows[i - 1] in ("are", "am", "is", "we're", "i'm", "im")
            and not tokens[i + 1].stop
        ):
            noun = next((s for s in spans if s.nouns and i + 2 < s.start <= i + 5), None)
            if (
                noun is not None
                and noun.end < len(tokens)
                and (tokens[noun.end].bracketed or lows[noun.end] in ("called", "named") or tokens[noun.end - 1].colon)
            ):
                spans.append(extract.Span(start=i, end=i + 2, verbs=_CREATE_VERBS, nouns=frozenset()))
    spans.sort(key=lambda s: s.start)
    spans = [s for s in spans if s.verbs or s.nouns]
    # "the new site is live" describes a thing that is there; "a new site" asks for one
    spans = [
        dataclasses.replace(s, verbs=frozenset())
        if lows[s.start] == "new" and s.start > 0 and lows[s.start - 1] in _DEFINITE
        else s
        for s in spans
    ]
    if not keep_desire and any(s.verbs for s in spans if " ".join(lows[s.start : s.end]) not in vocabulary.DESIRE):
        spans = [s for s in spans if " ".join(lows[s.start : s.end]) not in vocabulary.DESIRE]
    opening = next((i for i, low in enumerate(lows) if low not in vocabulary.POLITENESS), None)
    # "request: a dev namespace" asks; "a ticket for the email request" names a request
    spans = [
        s
        for s in spans
        if not (
            lows[s.start] in _OPENING_VERBS
            and s.end - s.start == 1
            and (s.start != opening or (s.end < len(lows) and lows[s.end] in _CLAUSE_OPENERS))
            # "we are requesting the url as x", "the team is requesting a sub-domain": said by a subject,
            # the word asks wherever it stands
            and not (s.start > 0 and lows[s.start - 1] in _REQUESTING_SUBJECTS and not tokens[s.start - 1].stop)
        )
    ]
    # "questions on how to create a service account": what follows "how to" is asked about, not asked for
    spans = [s for s in spans if not (s.start >= 2 and lows[s.start - 2 : s.start] == ("how", "to"))]
    noun_starts = {s.start for s in spans if s.nouns}
    # "in the build namespace": between an article and a noun, a verb word names the noun's kind
    # ("give it a restart" and "a new ns" keep theirs: no noun follows, or "new" asks for one)
    return tuple(
        s
        for s in spans
        if not (
            s.verbs
            and not s.nouns
            and s.start > 0
            and lows[s.start - 1] in _ARTICLES
            and s.end in noun_starts
            and lows[s.start] != "new"
        )
    )


def _without_purpose_verbs(spans: list[extract.Span], lows: tuple[str, ...]) -> list[extract.Span]:
    """Verbs in a purpose clause describe why, not what: "I'd like a robot service account ci-robot
    in namespace web so our pipeline can deploy" asks for the account, not a deployment."""
    purpose_at = next((i for i in range(1, len(lows)) if _opens_purpose(lows[i:])), None)
    if purpose_at is None or not any(s.verbs and s.start < purpose_at for s in spans):
        return spans
    return [dataclasses.replace(s, verbs=frozenset()) if s.verbs and s.start > purpose_at else s for s in spans]


def _opens_purpose(lows: tuple[str, ...]) -> bool:
    """ "so our pipeline can …", "so that we can …", "in order to …"; not "so please delete …"."""
    if lows[:3] == ("in", "order", "to"):
        return True
    if len(lows) > 3 and lows[0] in _NEEDING and lows[1] in _PRONOUNS and lows[2] == "to":
        return True  # "name it github-actions - we need it to allow actions to run deployments"
    if lows[:1] != ("so",):
        return False
    modal = next((i for i in range(1, min(5, len(lows))) if lows[i] in _PURPOSE_MODALS), None)
    # "so in the meantime can you generate an SBOM": a modal before "you" asks the reader
    return modal is not None and (modal + 1 >= len(lows) or lows[modal + 1] not in ("you", "u", "someone"))


def _wished_done(lows: tuple[str, ...], at: int) -> bool:
    """Does a wish's object end at ``at`` ("need the mailbox x removed", "want the site taken down")?"""
    for j in range(at - 1, max(-1, at - 7), -1):
        # a wish, or a causative ("have her access to namespace curator removed", "get the site taken down")
        if lows[j] in vocabulary.DESIRE or lows[j] in ("have", "get"):
            return j < at - 1
        if lows[j] in _OBJECT_END or lows[j] in vocabulary.VERBS:
            return False  # "have her access to namespace x removed": the object's head is unclear, read nothing
    return False


def _purpose_opening(tokens: tuple[Token, ...], at: int) -> bool:
    """Is the verb at ``at`` the one of a "To <verb> …," purpose that opens its sentence?"""
    if at < 1 or tokens[at - 1].low != "to" or (at >= 2 and not tokens[at - 2].end):
        return False
    return any(t.stop and not t.end for t in tokens[at : at + 8])


def _third_person(word: str) -> bool:
    """Is ``word`` a verb's -s form ("removes", "restarts", "creates")?"""
    if not word.endswith("s") or word in vocabulary.VERBS:
        return False
    verbs = vocabulary.VERBS.get(word[:-1]) or vocabulary.VERBS.get(
        word[:-2] if word.endswith("es") else "", frozenset()
    )
    return bool(verbs) and Verb.UNSUPPORTED not in verbs


# What follows a sentence-opening -ing form that names its object: "Adding a cluster …", "Creating my account …"
_GERUND_OBJECTS = frozenset({"a", "an", "the", "my", "our", "new", "another"})
# Words after which the sentence tells what a thing does: "Creating a namespace fails with …"
_GERUND_STATES = _STATING | {
    "fails",
    "failed",
    "throws",
    "returns",
    "gives",
    "causes",
    "breaks",
    "errors",
    "will",
    "would",
    "should",
    "can",
    "could",
    "may",
    "might",
    "takes",
    "requires",
    "means",
}


def _titled_gerund(tokens: tuple[Token, ...], i: int) -> bool:
    """Is the -ing form at ``i`` a title-style ask ("Adding a GKE cluster named x to staging, please",
    "feat: adding service account y")? It opens a sentence (or follows a "tag:"), names its object
    next, and the sentence tells nothing of it ("Creating a namespace fails with 403" is a symptom)."""
    opening = i == 0 or tokens[i - 1].end or (i == 1 and tokens[0].colon)
    if not opening or i + 1 >= len(tokens) or (tokens[i + 1].low not in _GERUND_OBJECTS and not tokens[i + 1].noun):
        return False
    for token in tokens[i + 1 :]:
        if token.low in _GERUND_STATES or _third_person(token.low) or token.asked:
            return False
        if token.end:
            break
    return True


# Between a wish and the participles it asks for: "needs to be switched off and decommissioned"
_PARTICIPLE_LINKS = frozenset({"and", "or", "then", "off", "up", "down", "out", "away", "over"})


def _passive_wish(lows: tuple[str, ...], at: int) -> bool:
    """Does a wish go on in the passive at ``at`` ("… needs to be archived", "… to get deleted")?"""
    after = lows[at : at + 3]
    return after[:2] == ("to", "be") or (after[:2] == ("to", "get") and len(after) == 3 and after[2].endswith("ed"))


def _wished_done_to(lows: tuple[str, ...], i: int) -> bool:
    """Does the word at ``i`` follow a wish ("needs deleting", "be deleted"), directly or after other
    participles ("be switched off and decommissioned")?"""
    j = i - 1
    while j > 0 and lows[j] not in vocabulary.NEED_FORMS and (lows[j] in _PARTICIPLE_LINKS or lows[j].endswith("ed")):
        j -= 1
    return j >= 0 and lows[j] in vocabulary.NEED_FORMS


def _wanted_verb(word: str) -> str | None:
    """The verb whose -ing or -ed form ``word`` is ("rotating", "renewed", "scanned"), if it is one."""
    for suffix in ("ing", "ed"):
        stem = word.removesuffix(suffix)
        if stem == word or len(stem) < 3:
            continue
        # "renew|ing", "rotat|e|d", "scan|n|ed"
        for base in (stem, stem + "e", stem[:-1] if stem[-1] == stem[-2] else ""):
            if base in vocabulary.VERBS and Verb.UNSUPPORTED not in vocabulary.VERBS[base]:
                return base
    return None


def _known(word: str) -> bool:
    return (
        word in vocabulary.STOPWORDS
        or word in vocabulary.POLITENESS
        or word in entities.ENVIRONMENT_WORDS
        or word in entities.LEVEL_WORDS
        or word in entities.ROLE_WORDS
    )


def _readings(
    spans: tuple[extract.Span, ...], tokens: tuple[Token, ...], lexicon: Lexicon, low_text: str
) -> list[_Reading]:
    """Every catalog entry the text could name, closest verb/noun pair first."""
    readings: list[_Reading] = []
    verb_spans = [s for s in spans if s.verbs]
    noun_spans = [s for s in spans if s.nouns]
    # "decommission x.org, the new site is live": "new" describes when another verb asks
    asked = any(tokens[s.start].low != "new" for s in verb_spans)
    for v in verb_spans:
        adjective = asked and tokens[v.start].low == "new"
        for n in noun_spans:
            if _taken_from(tokens, v, n) or _claimed_by_other(tokens, verb_spans, v, n) or _reaches_back(tokens, v, n):
                continue
            if (
                tokens[v.start].low == "new"
                and not _describes(tokens, v, n)
                and not speech.asks_at(tokens, spans, v.start)
            ):
                # "when a new staffer logs in, their account is created": in a sentence that asks for
                # nothing, "new" describes its own phrase's noun, not one farther on
                continue
            for verb in v.verbs:
                for noun in n.nouns:
                    for key, strength in lexicon.pairs.get((verb, noun), ()):
                        after = n.start >= v.start
                        # "Can we get it created?": a participle whose object is "it" said before it
                        # is about a thing named earlier, not one named in a later clause
                        if (
                            after
                            and v.start >= 1
                            and tokens[v.start - 1].low in _BACK_PRONOUNS
                            and (tokens[v.start].low.endswith("ed") and any(t.stop for t in tokens[v.end : n.start]))
                        ):
                            after = False
                        elif (
                            not after
                            and v.start >= 1
                            and tokens[v.start - 1].low in _BACK_PRONOUNS
                            and (tokens[v.start].low.endswith("ed"))
                        ):
                            after = True
                        score = abs(n.start - v.start) + (0 if after else 5) + (ADJECTIVE_NEW if adjective else 0)
                        confidence = CONFIDENCE_VERB_NOUN
                        if strength is Strength.WEAK:
                            score += 3
                            confidence -= PENALTY_WEAK
                        if v.fuzzy or n.fuzzy:
                            confidence -= PENALTY_FUZZY
                        readings.append(_Reading(key, score, confidence, v.start))
    if not verb_spans and noun_spans:
        first_noun = noun_spans[0]
        opening = next((i for i, t in enumerate(tokens) if t.low not in _OPENING_FILLER), None)
        # "NS records are not suggested": a noun that is the subject of a statement is not asked for
        # "user alice cannot log in": the noun and its name are the subject too
        with_name = first_noun.end + 1 < len(tokens) and not tokens[first_noun.end].stop
        subject_end = first_noun.end + 1 if with_name else first_noun.end
        stated = any(i < len(tokens) and tokens[i].low in _STATING for i in {first_noun.end, subject_end})
        if first_noun.start == opening and not stated:
            for noun in first_noun.nouns:
                for verb in _CREATE_VERBS:
                    for key, strength in lexicon.pairs.get((verb, noun), ()):
                        if strength is Strength.STRONG:
                            readings.append(_Reading(key, 15, CONFIDENCE_NOUN_FIRST, None))
    if not verb_spans:
        for n in noun_spans:
            for noun in n.nouns:
                noun_key = lexicon.noun_only.get(noun)
                if noun_key is not None:
                    confidence = CONFIDENCE_NOUN_ONLY - (PENALTY_FUZZY if n.fuzzy else 0.0)
                    readings.append(_Reading(noun_key, 10 + n.start, confidence, None))
    if not readings and _SCALE_TO_NUMBER.search(low_text):
        scale_key = next((k for (verb, _), ks in lexicon.pairs.items() if verb is Verb.SCALE for k, _ in ks), None)
        has_noun = any(s.nouns for s in spans)
        scale_at = next((s.start for s in verb_spans if Verb.SCALE in s.verbs), None)
        if scale_key is not None and not has_noun and scale_at is not None:
            readings.append(_Reading(scale_key, 20, CONFIDENCE_VERB_ONLY, scale_at))
    if not readings and extract.states_replica_count(low_text):
        # "can we get 6 instances of resizer running", "cut worker back to 1 replica": a replica
        # count is the scale's own words, whichever verb (or none) carries it; like an implied
        # verb it needs the name, so "5 replicas please" alone stays unrecognised
        scale_key = next((k for (verb, _), ks in lexicon.pairs.items() if verb is Verb.SCALE for k, _ in ks), None)
        if scale_key is not None:
            at = verb_spans[0].start if verb_spans else None
            named = _replicas_of(tokens, spans)
            readings.append(_Reading(scale_key, 20, CONFIDENCE_IMPLIED, at, implied=True, object_name=named))
    if not readings:
        readings = _image_readings(verb_spans, tokens, lexicon)
    if not readings:
        # "take down promo.acme.org"; "point x.org at 10.0.0.1" names a record, not a site
        addresses = len(_ADDRESS.findall(low_text))  # two addresses are two records: not one request
        nouns = lexicon.domain_nouns if addresses == 0 else lexicon.address_nouns if addresses == 1 else frozenset()
        readings = _value_readings(verb_spans, tokens, "domain", nouns, lexicon, object_only=True)
    if not readings:
        readings = _implied_readings(verb_spans, tokens, spans, lexicon)
    readings.sort(key=lambda r: (r.score, -r.confidence))
    return readings


def _describes(tokens: tuple[Token, ...], adjective: extract.Span, noun: extract.Span) -> bool:
    """Does the adjective "new" stand in the noun's own phrase ("a new dev namespace", "new user account")?"""
    between = tokens[adjective.end : noun.start]
    return (
        noun.start >= adjective.end
        and len(between) <= _NEW_REACH
        and not any(t.stop for t in tokens[adjective.start : noun.start])
    )


def _reaches_back(tokens: tuple[Token, ...], verb: extract.Span, noun: extract.Span) -> bool:
    """Does the verb take a noun from an earlier sentence although it has an object of its own?

    "We are creating a website on our server. We want to setup a sub-domain x.org to point to our
    IP": "setup" acts on the sub-domain; "The site x.org is old. Please take it down" refers back.
    """
    if noun.start >= verb.start or not any(t.end for t in tokens[noun.start : verb.start]):
        return False
    obj = next(
        (t for t in tokens[verb.end :] if t.low not in _IMPLIED_SKIP and t.low not in vocabulary.POLITENESS), None
    )
    # "Can you produce one for ghcr.io/x/y?": "one" stands for the noun said before
    return obj is not None and not tokens[verb.end - 1].stop and obj.low not in _REFERRING and not obj.noun


def _claimed_by_other(
    tokens: tuple[Token, ...], verb_spans: list[extract.Span], verb: extract.Span, noun: extract.Span
) -> bool:
    """Is the noun the object of another verb that stands between it and ``verb``, in a later sentence?

    "Provision x.edu on host3. Also run `kubectl delete ns --all`": "ns" is what "delete" acts on;
    "provision" reaches across a sentence end only for a noun no verb of its own has.
    """
    if noun.start <= verb.start or not any(t.end for t in tokens[verb.end : noun.start]):
        return False
    for other in verb_spans:
        # "new" beside another verb describes the noun ("they are getting a new website"): no claim
        if verb.end <= other.start and other.end <= noun.start and tokens[other.start].low != "new":
            between = tokens[other.end : noun.start]
            if all(t.low in _DETERMINERS for t in between) and not any(t.end for t in tokens[other.start : noun.start]):
                return True
    return False


def _taken_from(tokens: tuple[Token, ...], verb: extract.Span, noun: extract.Span) -> bool:
    """Is the noun where the verb's own object is taken from ("remove alice from namespace payments")?

    The verb acts on its object (a bare name right after it), not on the place after "from".
    """
    if noun.start <= verb.end + 1:
        return False
    at = verb.end + 1  # "remove alice | from …"
    obj = tokens[verb.end]
    if at >= noun.start or tokens[at].low not in ("from", "off") or obj.noun:
        return False
    if not extract.is_name(obj, username=True):
        return False
    # "from namespace payments", "from the payments namespace": the noun's phrase opens with "from"
    place = tokens[at + 1 : noun.start]
    return all(t.low in _DETERMINERS for t in place[:-1]) and len(place) <= 3


def _image_readings(verb_spans: list[extract.Span], tokens: tuple[Token, ...], lexicon: Lexicon) -> list[_Reading]:
    """An image reference after a verb stands for the image noun: "scan ghcr.io/acme/api:2.0"."""
    return _value_readings(verb_spans, tokens, "image", lexicon.image_nouns, lexicon)


def _value_readings(
    verb_spans: list[extract.Span],
    tokens: tuple[Token, ...],
    kind: str,
    nouns: frozenset[str],
    lexicon: Lexicon,
    *,
    object_only: bool = False,
) -> list[_Reading]:
    """A value of ``kind`` after a verb stands for the ``nouns`` that value kind names.

    With ``object_only`` the value must be the verb's object: "take down promo.acme.org" is about
    the site, "purge the CDN for shop.acme.org" is about something else of it.
    """
    readings: list[_Reading] = []
    for v in verb_spans:
        if object_only:
            # "requesting the url as gold.phsc.edu": "as" after a domain word gives the value
            after = (
                t
                for j, t in enumerate(tokens[v.end :], start=v.end)
                if t.low not in _IMPLIED_SKIP
                and t.low not in vocabulary.POLITENESS
                and t.low not in _DOMAIN_WORDS
                and not (t.low == "as" and j > 0 and tokens[j - 1].low in _DOMAIN_WORDS)
            )
            # "x.gov should be taken down": after a need form the subject is the object
            passive = [tokens[i] for i in _object_positions(tokens, (), v.start)] if _after_need(tokens, v) else []
            obj = next(after, tokens[v.start])
            # "we no longer need x.edu to be live … Can I deactivate it?": "it" is the one value said before
            told = obj.low == "it" and sum(extract.value_kind(t) == kind for t in tokens[: v.start]) == 1
            if (
                extract.value_kind(obj) != kind
                and not told
                and not any(extract.value_kind(t) == kind for t in passive[:1])
            ):
                continue
        elif not any(extract.value_kind(t) == kind for t in tokens[v.start :]):
            continue
        for verb in v.verbs:
            for noun in nouns:
                for key, _ in lexicon.pairs.get((verb, noun), ()):
                    readings.append(_Reading(key, 20, CONFIDENCE_IMPLIED, v.start, implied=True))
        if readings:
            return readings
    return readings


def _after_need(tokens: tuple[Token, ...], verb: extract.Span) -> bool:
    """Is the verb asked for after a need form ("should be taken down", "needs rotating")?"""
    return verb.start > 0 and tokens[verb.start - 1].low in vocabulary.NEED_FORMS


def _implied_readings(
    verb_spans: list[extract.Span],
    tokens: tuple[Token, ...],
    spans: tuple[extract.Span, ...],
    lexicon: Lexicon,
    *,
    pronoun: bool = False,
) -> list[_Reading]:
    """Readings for a verb that names its resource ("restart nginx"), when a name follows it.

    With ``pronoun``, "restart it" counts too: in a later clause "it" is a thing named before.
    """
    readings: list[_Reading] = []
    for v in verb_spans:
        phrase = " ".join(t.low for t in tokens[v.start : v.end])
        keys = lexicon.implied.get(phrase) or lexicon.implied.get(_wanted_verb(phrase) or "", ())
        if not keys:
            continue
        refers_back = pronoun and v.end < len(tokens) and tokens[v.end].low in _PRONOUNS
        if not (refers_back or _names_an_object(tokens, spans, v)):
            continue
        for key in keys:
            confidence = CONFIDENCE_IMPLIED - (PENALTY_FUZZY if v.fuzzy else 0.0)
            readings.append(_Reading(key, 25 + v.start, confidence, v.start, implied=True))
    return readings


def _names_an_object(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb: extract.Span) -> bool:
    """Does a name follow the implying verb (right after it, after "the", or after a person word)?

    "my"/"our" are not skipped: "restart my laptop" is about the requester's own things.
    """
    covered = {i for s in spans for i in range(s.start, s.end)}
    for i in _object_positions(tokens, spans, verb.start):
        low = tokens[i].low
        if low in _IMPLIED_SKIP or low in vocabulary.PERSON_WORDS or low in vocabulary.POLITENESS:
            continue
        if low in _BACK_PRONOUNS:
            return _antecedent(tokens, spans, i) is not None  # "Onwubu (onwubu1) … offboard him"
        return i not in covered and low not in vocabulary.FOREIGN_OBJECTS and extract.is_name(tokens[i], username=True)
    return False


def _object_positions(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int) -> list[int]:
    """Where the verb's object may stand: after the verb, or for a verb asked for in its -ing/-ed
    form or as a noun after a need, at the opening ("the ledger credentials need rotating", "ingest
    should be restarted", "the worker in staging needs a restart")."""
    need_at = verb_at - 2 if verb_at > 1 and tokens[verb_at - 1].low in ("a", "an") else verb_at - 1
    if need_at >= 0 and tokens[need_at].low in vocabulary.NEED_FORMS:
        covered = {i for s in spans for i in range(s.start, s.end)}
        subject = _subject_before(tokens, covered, need_at)
        before = [i for i in range(verb_at) if i not in covered]
        return [subject, *before] if subject is not None else before
    span_end = next((s.end for s in spans if s.start == verb_at), verb_at + 1)
    return list(range(span_end, len(tokens)))


def _subject_before(tokens: tuple[Token, ...], covered: set[int], need_at: int) -> int | None:
    """The head of the subject of a need, read backwards from it: "after the migration weekend,
    the worker in staging needs a restart" is about the worker (not "in staging", not "after")."""
    i = need_at - 1
    while i >= 0:
        low = tokens[i].low
        if i in covered or low in _BEFORE_NEED:
            i -= 1
        elif i >= 1 and tokens[i - 1].low in _PLACE_PREPOSITIONS:
            i -= 2  # "in staging"
        elif i >= 2 and tokens[i - 2].low in _PLACE_PREPOSITIONS and i - 1 in covered:
            i -= 3  # "in namespace shop"
        elif not extract.is_name(tokens[i], username=True):
            return None
        else:
            while i >= 1 and i - 1 not in covered and extract.is_name(tokens[i - 1], username=True):
                i -= 1  # "the payments api": a compound name is named by its first word, as when it follows a verb
            return i
    return None


def _object_is_foreign(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int | None) -> bool:
    """Is the verb's object something outside the catalog ("create a jira *ticket* for the login bug")?"""
    if verb_at is None:
        return False
    noun_at = {i for s in spans if s.nouns for i in range(s.start, s.end)}
    start = next((s.end for s in spans if s.start == verb_at), verb_at + 1)
    foreign = False
    for i in range(start, len(tokens)):
        if tokens[i].low in _OBJECT_END or tokens[i].bracketed:
            break
        if tokens[i].low in vocabulary.SETTINGS:
            return True  # "increase the memory limit of api": a setting of the thing, which the catalog does not change
        if tokens[i].stop:
            break
    for i in range(start, len(tokens)):
        if i in noun_at:
            return False  # "rotate the database credentials": the head is a catalog noun
        if tokens[i].low in _OBJECT_END:
            break
        foreign = foreign or tokens[i].low in vocabulary.FOREIGN_OBJECTS
    return foreign


def _object_after(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int | None) -> str | None:
    """The name right after the verb ("restart frontend", "grant alice …"), if there is one.

    "the ledger credentials need rotating" rotates ledger's, as "rotate the ledger credentials" does.
    """
    if verb_at is None:
        return None
    for i in _object_positions(tokens, spans, verb_at):
        token = tokens[i]
        if token.low in _OWN:
            return None  # "reset my vpn password": the requester's own password, not a service's
        if token.low in _BACK_PRONOUNS:
            before = _antecedent(tokens, spans, i)
            return None if before is None else tokens[before].low
        if token.low in _DETERMINERS or token.low in vocabulary.PERSON_WORDS:
            continue
        return token.low if extract.is_name(token, username=True) else None
    return None


def _refers_back(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int | None) -> bool:
    """Is the verb's object a pronoun for a thing named before ("restart it")?"""
    if verb_at is None:
        return False
    at = next((i for i in _object_positions(tokens, spans, verb_at) if tokens[i].low not in _DETERMINERS), None)
    return at is not None and tokens[at].low in _BACK_PRONOUNS


def _antecedent(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], pronoun_at: int) -> int | None:
    """What a pronoun object refers back to, when an earlier sentence or clause names it: a person's
    handle in brackets ("Onwubu (onwubu1) has been away … offboard him"), or the subject that opens
    the text ("cassandra is deployed with two replicas, please scale it to 3")."""
    covered = {i for s in spans for i in range(s.start, s.end)}
    for i in range(pronoun_at):
        if tokens[i].bracketed and i not in covered and extract.is_name(tokens[i], username=True):
            return i
    # "cassandra is deployed with two replicas …", "i think rbndr is a useful service …": the first
    # name that is the subject of a statement
    for i in range(min(pronoun_at - 1, len(tokens) - 1)):
        if i not in covered and tokens[i + 1].low in _STATING and extract.is_name(tokens[i], username=True):
            return i
    return None


def _replicas_of(tokens: tuple[Token, ...], spans: tuple[extract.Span, ...]) -> str | None:
    """What a replica count is of: "6 instances of the resizer", "checkout should have 5 replicas"."""
    covered = {i for s in spans for i in range(s.start, s.end)}

    def name_at(i: int) -> str | None:
        ok = 0 <= i < len(tokens) and i not in covered and extract.is_name(tokens[i])
        return tokens[i].low if ok else None

    lows = [t.low for t in tokens]
    for i, low in enumerate(lows[:-1]):
        if (low.isdigit() or low in entities.NUMBER_WORDS) and lows[i + 1] in _REPLICA_WORDS:
            j = i + 2
            if j < len(lows) and lows[j] == "of":
                j += 1
                while j < len(lows) and lows[j] in _DETERMINERS:
                    j += 1
                return name_at(j)
    for i, low in enumerate(lows):
        if low in _HAVING and (named := name_at(i - 1)) is not None:
            return named
    return None


def _missing_required(entry: ActionEntry, kept: dict[str, object]) -> list[str]:
    required: list[str] = entry.parameters.get("required", [])
    return [name for name in required if name not in kept and name not in entry.defaults]


def _about_the_requester(
    tokens: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int | None, *, person_missing: bool = False
) -> bool:
    """Is the request about the requester's own things ("my password", "give me access", "the email I sent")?"""
    noun_ends = {s.end for s in spans if s.nouns}
    verb_end = next((s.end for s in spans if s.start == verb_at), None)
    for i, token in enumerate(tokens):
        if token.low in _OWN:
            return True
        if token.low in ("me", "us") and i == verb_end:
            return True  # "give me access", "give us some space": the requester receives it
        wishing = verb_at is not None and 0 < verb_at - i <= 2 and tokens[verb_at].low in vocabulary.DESIRE
        if person_missing and wishing and token.low in ("i", "i'd", "id"):
            return True  # "I need access to namespace payments": the requester is the person who needs it
        if token.low == "i" and (i in noun_ends or (i > 0 and tokens[i - 1].low in ("that", "which"))):
            return True  # "the email I sent yesterday": a thing the requester made, not a resource
    return False


def _changes(
    tokens: tuple[Token, ...],
    spans: tuple[extract.Span, ...],
    lexicon: Lexicon,
    catalog: Catalog,
    *,
    chosen_at: int | None = None,
) -> list[_Change]:
    """The distinct changes the request's clauses ask for, each named by a verb of its own clause."""
    parts = clauses.split(tokens)
    if len(parts) < 2 or (sum(1 for s in spans if s.verbs) < 2 and not any(p.joined for p in parts)):
        return []  # a single clause, or a single verb that no clause can borrow
    changes: list[_Change] = []
    # "Deprovision x.edu please. They are getting a new website …": a sentence that tells, beside
    # one that asks, asks for no change of its own
    sentences = speech.sentences(tokens)
    asking = {s for s in sentences if speech.asks_at(tokens, spans, s[0])} if len(sentences) > 1 else set(sentences)
    if asking and chosen_at is not None:
        # "Provision x.edu. Also run `kubectl delete ns --all`": when the chosen verb stands in a
        # sentence that does not read as an ask, that sentence's change counts beside the asking one's
        asking |= {s for s in sentences if s[0] <= chosen_at < s[1]}
    # "**Have you scaled down all pods to 0?** yes": a form's question, answered, asks for no change
    asked = [
        (s, e)
        for s, e in sentences
        if tokens[e - 1].asked and (s, e) not in asking and not (chosen_at is not None and s <= chosen_at < e)
    ]
    for part in parts:
        if asking and not any(s <= part.start < e for s, e in asking):
            continue
        if any(s <= part.start < e for s, e in asked):
            continue
        clause = tokens[part.start : part.end]
        clause_spans = _spans(clause, lexicon)
        change = _clause_change(clause, clause_spans, lexicon, catalog)
        if change is None and part.joined and changes:
            change = _borrowed_change(clause, clause_spans, lexicon, catalog, changes[-1])
        if change is None and changes:
            change = _one_again(clause, clause_spans, lexicon, catalog, changes[-1])
        if change is not None and not any(change.same_as(c) for c in changes):
            changes.append(change)
    return changes


def _clause_change(
    clause: tuple[Token, ...], spans: tuple[extract.Span, ...], lexicon: Lexicon, catalog: Catalog
) -> _Change | None:
    """The change one clause names with a verb of its own ("then tear down namespace legacy")."""
    readings = _readings(spans, clause, lexicon, " ".join(t.low for t in clause))
    if not readings:
        readings = _implied_readings([s for s in spans if s.verbs], clause, spans, lexicon, pronoun=True)
    readings = [r for r in readings if r.verb_at is not None and not _object_is_foreign(clause, spans, r.verb_at)]
    if not readings:
        return None
    best = readings[0]
    verbs = next((s.verbs for s in spans if s.start == best.verb_at), frozenset())
    return _Change(best.key, verbs, _target(best.key, clause, spans, best.verb_at, catalog))


def _borrowed_change(
    clause: tuple[Token, ...],
    spans: tuple[extract.Span, ...],
    lexicon: Lexicon,
    catalog: Catalog,
    previous: _Change,
) -> _Change | None:
    """A clause that names another resource for the verb before ("create a cluster x and a namespace y")."""
    opening = next((i for i, t in enumerate(clause) if t.low not in _ARTICLES), None)
    head = next((s for s in spans if s.start == opening and s.nouns), None)
    if head is None:
        return None
    for verb in previous.verbs:
        for noun in head.nouns:
            for key, strength in lexicon.pairs.get((verb, noun), ()):
                if strength is Strength.STRONG:
                    return _Change(key, previous.verbs, _target(key, clause, spans, None, catalog))
    return None


def _one_again(
    clause: tuple[Token, ...],
    spans: tuple[extract.Span, ...],
    lexicon: Lexicon,
    catalog: Catalog,
    previous: _Change,
) -> _Change | None:
    """A clause whose verb acts on "a new one" or "another one": the thing the change before named
    ("revoke the cert and issue a new one" asks for two changes to certificates)."""
    lows = [t.low for t in clause]
    ones = [i for i, low in enumerate(lows) if low in ("one", "ones") and i > 0 and lows[i - 1] in _ONE_OPENERS]
    verb = next((s for s in spans if s.verbs and ones and s.start < ones[0]), None)
    entry = catalog.entries[previous.key]
    if verb is None or entry.phrases is None:
        return None
    for verb_class in verb.verbs:
        for noun in entry.phrases.strong_nouns:
            for key, strength in lexicon.pairs.get((verb_class, noun), ()):
                if strength is Strength.STRONG and key != previous.key:
                    return _Change(key, verb.verbs, None)
    return None


def _target(
    key: str, clause: tuple[Token, ...], spans: tuple[extract.Span, ...], verb_at: int | None, catalog: Catalog
) -> str | None:
    """What a change acts on, as the clause names it: its first required value, else a usual one."""
    entry = catalog.entries[key]
    values = slots.candidates(entry, extract.find(clause, spans), object_name=_object_after(clause, spans, verb_at))
    required: list[str] = entry.parameters.get("required", [])
    for name in (*required, *_TARGETS):
        value = values.get(name)
        if isinstance(value, str):
            return value
    return None


def _several(changes: list[_Change], catalog: Catalog) -> str:
    """The reason a request for several changes is declined, naming each change."""
    entries = [catalog.entries[c.key] for c in changes]
    targets_named = tuple(c.target for c in changes if c.target is not None)
    if len({c.key for c in changes}) == 1 and len(targets_named) == len(changes):
        # "drop namespace qa-1 and namespace qa-2" is one change over two targets
        return _several_targets(entries[0], targets_named)
    named = [
        " ".join(part for part in (e.action, e.resource_type.replace("_", " "), c.target) if part)
        for e, c in zip(entries, changes, strict=True)
    ]
    kind = "action" if all(e.informational for e in entries) else "change"
    return DECLINED_SEVERAL.format(kind=kind, changes=", ".join(named))


def _removed_from_namespace(
    entry: ActionEntry,
    tokens: tuple[Token, ...],
    spans: tuple[extract.Span, ...],
    verb_at: int | None,
    catalog: Catalog,
) -> ActionEntry | str | None:
    """The revoke entry when a removal takes a person out of a namespace ("remove user bob from namespace
    payments", "bob be removed from namespace x"); None otherwise."""
    if verb_at is None or entry.action != "delete" or entry.resource_type not in ("user", "namespace"):
        return None
    verbs = next((s.verbs for s in spans if s.start == verb_at), frozenset())
    if Verb.REVOKE not in verbs:
        return None
    lows = [t.low for t in tokens]
    for i in range(max(0, verb_at - 4), min(len(tokens) - 1, verb_at + 6)):
        if lows[i] not in ("from", "in", "inside") or tokens[i - 1].stop:
            continue
        after = [w for w in lows[i + 1 : i + 4] if w not in ("the", "our", "their", "his", "her")]
        if not after or not ({"namespace", "ns", "project"} & set(after[:2])):
            continue
        if entry.resource_type == "namespace" and any(
            sp.nouns and "namespace" not in sp.nouns and verb_at < sp.start < i for sp in spans
        ):
            return _THING_FROM_NAMESPACE
        if lows[i] != "from":
            continue  # "delete user bob in namespace x" deletes bob
        # someone is named before "from": "user bob", "bob be removed", "remove bob"
        person = any(
            extract.value_kind(t) == "name" and lows[j] not in ("namespace", "ns", "project")
            for j, t in enumerate(tokens[max(0, verb_at - 4) : i], start=max(0, verb_at - 4))
            if j != verb_at
        )
        if not person:
            return None
        return next((e for e in catalog.entries.values() if e.resource_type == "access" and e.action == "revoke"), None)
    return None


def _record_for_hosted_site(
    entry: ActionEntry, text_: str, found: extract.Found, catalog: Catalog
) -> tuple[ActionEntry, dict[str, Any]] | None:
    """The DNS record entry and its values when a new site's name is asked for a site already hosted at
    another host name; None otherwise."""
    if entry.resource_type != "website" or entry.action != "create":
        return None
    hosted = _HOSTED_AT.search(text_)
    if hosted is None:
        return None
    host = hosted.group(1).lower().rstrip("/.")
    record = next(
        (e for e in catalog.entries.values() if e.resource_type == "dns_record" and e.action == "create"), None
    )
    names = [d for d in found.domains if d != host and not host.endswith("." + d)]
    if record is None or not names:
        return None
    # "an rbind.io subdomain … can we have rladies-pdx.rbind.io?": the name inside a zone said before
    name = next((d for d in names if any(d.endswith("." + z) for z in names if z != d)), names[0])
    return record, {"domain": name, "value": host, "record_type": "CNAME"}


def _numbered_steps(tokens: tuple[Token, ...], lexicon: Lexicon) -> int:
    """How many items of a numbered list ("1. Rotate … 2. Remove … 3. Purge …") open with a verb."""
    count = 0
    for i, token in enumerate(tokens[:-1]):
        if not (token.low.isdigit() and len(token.low) == 1 and token.end):
            continue
        word = tokens[i + 1].low
        if lexicon.lookup(word)[0] or word in vocabulary.FOREIGN_VERBS:
            count += 1
    return count if count > 2 else 0


def _several_targets(entry: ActionEntry, named: tuple[str, ...]) -> str:
    """The reason a request naming several targets for one single-target action is declined."""
    return DECLINED_TARGETS.format(
        targets=", ".join(named),
        kind="action" if entry.informational else "change",
        action=f"{entry.action} {entry.resource_type.replace('_', ' ')}",
    )
