"""The rule parser's tables for one catalog: its nouns and phrases joined to the language's verbs.

The language (verb words and their classes, stop words) is :mod:`opsgate.parsing.vocabulary`;
everything that names an action comes from the catalog the parser is given: the words of each
resource noun, which verb class and noun pairs name which entry, the nouns that name an entry
alone, idioms and implying verbs. ``of(catalog)`` compiles them once per catalog. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from opsgate.catalog import Catalog, Strength, ValueKind, Verb
from opsgate.parsing import vocabulary
from opsgate.parsing.fuzzy import Corrector

Pairs = Mapping[tuple[Verb, str], tuple[tuple[str, Strength], ...]]


@dataclasses.dataclass(frozen=True)
class Lexicon:
    """What the words of a request can mean against one catalog."""

    nouns: Mapping[str, frozenset[str]]  # word or phrase -> noun names
    noun_words: frozenset[str]  # the keys of ``nouns``, for marking tokens
    idioms: Mapping[str, tuple[frozenset[Verb], frozenset[str]]]  # "who has access" -> (verbs, nouns)
    pairs: Pairs  # (verb class, noun) -> the entries it names, with the noun's strength
    noun_only: Mapping[str, str]  # noun -> the read-only entry it names with no verb ("payments logs")
    implied: Mapping[str, tuple[str, ...]]  # verb word -> entries it names with no noun ("restart nginx")
    metric_nouns: frozenset[str]  # the nouns a Prometheus metric name stands for
    image_nouns: frozenset[str]  # the nouns an image reference stands for, after a verb
    domain_nouns: frozenset[str]  # the nouns a DNS name stands for, after a verb
    address_nouns: frozenset[str]  # the nouns a DNS name stands for, after a verb, when an IP address is given
    corrector: Corrector  # typos are corrected towards what we can act on: "batch" must not become "patch"

    def lookup(self, phrase: str) -> tuple[frozenset[Verb], frozenset[str]]:
        """The verb classes and nouns a word or phrase stands for."""
        idiom = self.idioms.get(phrase)
        if idiom is not None:
            return idiom
        return vocabulary.VERBS.get(phrase, frozenset()), self.nouns.get(phrase, frozenset())


def build(catalog: Catalog) -> Lexicon:
    """Compile ``catalog``'s nouns and phrases (see :func:`of` for the cached form)."""
    nouns: dict[str, set[str]] = {}
    metric_nouns: set[str] = set()
    image_nouns: set[str] = set()
    domain_nouns: set[str] = set()
    address_nouns: set[str] = set()
    for name, spec in catalog.nouns.items():
        for word in spec.words:
            nouns.setdefault(word, set()).add(name)
        if ValueKind.METRIC in spec.values:
            metric_nouns.add(name)
        if ValueKind.IMAGE in spec.values:
            image_nouns.add(name)
        if ValueKind.DOMAIN in spec.values:
            domain_nouns.add(name)
        if ValueKind.ADDRESS in spec.values:
            address_nouns.add(name)
    idioms: dict[str, tuple[frozenset[Verb], frozenset[str]]] = {}
    pairs: dict[tuple[Verb, str], list[tuple[str, Strength]]] = {}
    noun_only: dict[str, str] = {}
    implied: dict[str, list[str]] = {}
    for key, entry in catalog.entries.items():
        phrases = entry.phrases
        if phrases is None:
            continue
        for verb in phrases.verbs:
            for noun, strength in phrases.nouns.items():
                # a noun that only hints at the resource needs the entry's own verb: "scan the
                # shop namespace" is a scan, "list the deployments in shop" is not
                if strength is Strength.WEAK and verb.value != entry.action:
                    continue
                pairs.setdefault((verb, noun), []).append((key, strength))
        if phrases.alone:
            noun_only.update(dict.fromkeys(phrases.strong_nouns, key))
        first_noun = next(iter(phrases.nouns))
        for idiom in phrases.idioms:
            idioms[idiom] = (frozenset(phrases.verbs), frozenset({first_noun}))
        for word in phrases.implies:
            implied.setdefault(word, []).append(key)
    for phrase, key in catalog.learned.items():
        learned = catalog.entries.get(key)
        if (
            learned is None
            or learned.phrases is None
            or phrase in idioms
            or phrase in nouns
            or phrase in vocabulary.VERBS
        ):
            continue  # a learned phrase never overrides what the catalog itself says
        verbs = frozenset(v for v in learned.phrases.verbs if v.value == learned.action) or frozenset(
            learned.phrases.verbs
        )
        idioms[phrase] = (verbs, frozenset({next(iter(learned.phrases.nouns))}))
    actionable = (word for word, verbs in vocabulary.VERBS.items() if Verb.UNSUPPORTED not in verbs)
    return Lexicon(
        nouns={word: frozenset(names) for word, names in nouns.items()},
        noun_words=frozenset(nouns),
        idioms=idioms,
        pairs={pair: tuple(keys) for pair, keys in pairs.items()},
        noun_only=noun_only,
        implied={word: tuple(keys) for word, keys in implied.items()},
        metric_nouns=frozenset(metric_nouns),
        image_nouns=frozenset(image_nouns),
        domain_nouns=frozenset(domain_nouns),
        address_nouns=frozenset(address_nouns),
        corrector=Corrector([*actionable, *nouns]),
    )


_CACHE: dict[int, tuple[Catalog, Lexicon]] = {}
_MAX_CACHED = 8


def of(catalog: Catalog) -> Lexicon:
    """``catalog``'s lexicon, compiled on first use (a catalog is immutable)."""
    cached = _CACHE.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    lexicon = build(catalog)
    if len(_CACHE) >= _MAX_CACHED:
        _CACHE.clear()
    _CACHE[id(catalog)] = (catalog, lexicon)
    return lexicon
