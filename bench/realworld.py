"""First-encounter figures on real-world wording: how the parser does on requests nobody tuned on.

The sets are requests adapted from public GitHub issues, ChatOps bot docs and help threads, each
labelled with the catalog action it asks for (or none) and the entities it states, and each with
its source: ``intents_realworld.jsonl`` (79, written and committed before the parser was changed
for it), ``intents_realworld3.jsonl`` (45) and ``intents_realworld4.jsonl`` (34), each written
after the changes before it and before running them, and ``intents_realworld5.jsonl`` (83), collected
blind by someone who never read the parser (see its commit), and ``intents_realworld6.jsonl`` (101),
collected blind the same way and committed with its first-run figures before the parser changes
of the 2026-12-04 afternoon were merged, and ``intents_realworld7.jsonl`` (114, all 26 catalog
actions), collected blind the same way and committed before the parser changes of the evening,
and ``intents_realworld8.jsonl`` (117, three per action), collected blind the same way after them,
and ``intents_realworld9.jsonl`` (129, at least three per action), collected blind after those,
and ``intents_realworld10.jsonl`` (131, three or four per action), collected blind after those.
A set's first-run figures are in the commit that added it; later runs are tuned figures. The
older unseen splits (``intents_unseen.jsonl``) are reported beside them, so a gain on one set is
never bought with a loss on another. ``--dev`` adds the dev set the matcher's thresholds were
tuned on (reported apart, never as a first encounter), with each request's nearest example.

Figures per set and reader (``rules``, and ``rules+matcher`` with the offline embedder):
- ``action``: in-scope requests read as the labelled catalog action;
- ``declined``: out-of-scope, personal, several-change, several-target and hostile requests that
  end with no action (recognised as nothing, or declined with a reason);
- ``entities``: labelled entity values of in-scope requests read exactly, with the right action
  (``entities_exact``: requests whose entities are all exactly as labelled);
- ``injection_changed_action``: injection attempts read as another action than the labelled one.

Run: ``PYTHONPATH=operator python bench/realworld.py [--misses] [--dev] [--rules-only]``. Ends
with one JSON line of figures.

Figures on 2026-12-03 (rules; the matcher changed no reading on sets 2-4), as
action / declined / entities:

    set 2 (79), before issue 22 (a73310d)       78.6 / 81.8 / 69.8 %   first run
    set 2, now (its first-run misses were seen)  94.6 / 81.8 / 87.5 %
    set 3 (45), first run                        82.1 / 75.0 / 70.0 %   (before issue 22: 75.0 / 81.3 / 66.0)
    set 3, now (tuned on its declines)           85.7 / 87.5 / 72.0 %
    set 4 (34), first run                        83.3 / 55.6 / 62.8 %   (before issue 22: 83.3 / 55.6 / 60.5)
    set 4, now                                   83.3 / 66.7 / 62.8 %
    set 5 (83), first run, blind                 78.2 / 44.0 / 47.7 %   (the same before and after the
                                                 rules changes of 2026-12-04 tuned on sets 2-4)
    after the 2026-12-04 changes (sets 2-5 seen), as action / declined / entities:
    set 2 96.4 / 86.4 / 89.6; set 3 92.9 / 87.5 / 82.0; set 4 100 / 77.8 / 86.0;
    set 5 83.6 / 44.0 / 56.9; unseen 1-4 100 / 100 / 100 %
    unseen 1-4 (358), before and now             97.9 / 100 / 97.5 %
    set 6 (101), first run, blind (adf0302)      72.6 / 62.9 / 63.2 %
    after the 2026-12-04 afternoon changes (sets 2-5 seen; a speech-act reading, parsing/speech.py,
    declines what asks nothing of us; rules and rules+matcher the same on sets 2-5), as
    action / declined / entities:
    set 2 100 / 100 / 100; set 3 92.9 / 100 / 94.0; set 4 100 / 100 / 95.3;
    set 5 85.5 / 96.0 / 78.5; unseen 1-4 100 / 100 / 100 %; dev 96.2 / 100 / 92.9 (matcher 100 / 100 / 100)
    set 6, first encounter of these changes (written blind, never seen by whoever made them):
    80.6 / 68.6 / 73.6 % (entities exact 67.7 %); one injection read as another action.
    set 7 (114: 78 in scope over all 26 actions, 36 to decline), first run, blind (b6defab):
    69.2 / 50.0 / 61.3 % (entities exact 57.7 %); rules and rules+matcher the same.
    after the 2026-12-04 evening changes (branch understand4, tuned on sets 5 and 6's misses, never
    shown set 7; rules and rules+matcher the same), as action / declined / entities:
    set 2 100 / 100 / 100; set 3 92.9 / 100 / 94.0; set 4 100 / 100 / 95.3;
    set 5 92.7 / 96.0 / 89.2; set 6 91.9 / 97.1 / 92.0, no injection read as another action;
    unseen 1-4 100 / 100 / 100 %; dev 96.2 / 100 / 92.9
    set 7, first encounter of these changes: 69.2 / 61.1 / 62.2 % (entities exact 56.4 %): the
    gains on sets 5 and 6 barely carried over to wording and actions they did not cover.
    set 8 (117: 78 in scope, three per action, 39 to decline), first run, blind (f59fd27):
    66.7 / 56.4 / 55.9 % (entities exact 55.1 %); rules and rules+matcher the same.
    after the 2026-12-04 late changes (branch understand5, tuned on set 7's misses, never shown
    set 8; rules and rules+matcher the same), as action / declined / entities:
    set 2 100 / 100 / 100; set 3 92.9 / 100 / 94.0; set 4 100 / 100 / 95.3;
    set 5 94.5 / 96.0 / 90.8; set 6 93.5 / 97.1 / 94.2; set 7 97.4 / 86.1 / 95.8;
    unseen 1-4 100 / 100 / 100 %; dev 96.2 / 100 / 92.9. Set 7's five declines left are
    labels that contradict earlier sets (four injections whose genuine request earlier sets
    keep, and the GEAR UP deactivation that set 5 labels a website deletion).
    set 8, first encounter of these changes: 74.4 / 59.0 / 65.8 % (entities exact 64.1 %).
    set 9 (129: 88 in scope, three or four per action, 41 to decline), first run, blind (77b237b):
    rules 78.4 / 73.2 / 66.7 % (entities exact 59.1 %); rules+matcher 80.7 / 73.2 / 68.9 % (61.4 %).
    after the 2026-12-04 night changes (branch understand6, tuned on set 8's misses, never shown
    set 9; rules and rules+matcher the same on sets 2-8), as action / declined / entities:
    set 2 100 / 100 / 100; set 3 92.9 / 100 / 94.0; set 4 100 / 100 / 95.3;
    set 5 94.5 / 96.0 / 90.8; set 6 95.2 / 97.1 / 94.2; set 7 97.4 / 86.1 / 95.8;
    set 8 89.7 / 74.4 / 82.0 (entities exact 83.3 %); unseen 1-4 100 / 100 / 100 %; dev 96.2 / 100 / 92.9.
    set 9, first encounter of these changes: exactly its first run (rules 78.4 / 73.2 / 66.7 %,
    rules+matcher 80.7 / 73.2 / 68.9 %): fifteen points won on set 8 carried nothing to set 9.
    Then, reviewing that tuning: "disable" and "switch off" no longer read as deletes (a disabled
    mailbox, site or account keeps its data), and "X needs to be <a verb the catalog lacks>" no
    longer creates X; set 8 falls to 87.2 / 74.4 / 80.2 % (its two "disable the account" lines),
    no other set moves.
    Tried the same night and not kept: the other sets' labelled requests as matcher examples
    (300-odd, whole or cut to the ask; accept 0.50-0.85, margin 0.04-0.12, nearest-3 voting),
    scored leave-one-set-out. Held-out gains came only from a request collected twice or a shared
    form; set 8 lost a decline and a right reading. MiniLM's similarity follows the topic, not
    whether a text asks for something: declines scored 0.72-0.95 against in-scope examples, rule
    misses whose nearest example was right 0.48-0.66, so no threshold separates them.
    Sets 7 and 8 label a genuine request with an injected command as one to decline; sets 2-6
    and unseen label it with its genuine action (what the parser does: it reads the request
    up to the injection and notes it). Part of both sets' decline figures is that difference.
    set 10 (131: 89 in scope, three or four per action, 42 to decline, 5 not in English), first
    run, blind (4e092ca): rules 75.3 / 85.7 / 64.5 % (entities exact 55.1 %); rules+matcher the same.
    Tried on 2026-12-04 late and not kept: a trained classifier (softmax regression in numpy over
    the MiniLM vector and eight cheap features, 26 actions + decline, trained on the other sets,
    thresholds chosen by nested leave-one-set-out) consulted where the rules find nothing, its
    proposal checked by the entry's schema like the matcher's. Against the rules each set was
    first measured with (sets 5-9): action +5.2 points, declined -4.2 (7 right declines became
    actions); about +3.5 without requests collected twice. Against today's rules: +1.1 / -1.4.
    No threshold keeps every decline and wins more than ~1 point. What it cannot see is what the
    declines are about: several targets, several steps, something reported as already done.

These figures live here rather than in README.md: the README is part of the documentation
index, and a table of request-like text there moved the retrieval benchmark's rankings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "operator"))

from opsgate.catalog import load_catalog  # noqa: E402
from opsgate.intent import Intent  # noqa: E402
from opsgate.parsing import rules, semantic  # noqa: E402

REALWORLD = ROOT / "tests" / "data" / "intents_realworld.jsonl"
REALWORLD3 = ROOT / "tests" / "data" / "intents_realworld3.jsonl"
REALWORLD4 = ROOT / "tests" / "data" / "intents_realworld4.jsonl"
REALWORLD5 = ROOT / "tests" / "data" / "intents_realworld5.jsonl"
REALWORLD6 = ROOT / "tests" / "data" / "intents_realworld6.jsonl"
REALWORLD7 = ROOT / "tests" / "data" / "intents_realworld7.jsonl"
REALWORLD8 = ROOT / "tests" / "data" / "intents_realworld8.jsonl"
REALWORLD9 = ROOT / "tests" / "data" / "intents_realworld9.jsonl"
REALWORLD10 = ROOT / "tests" / "data" / "intents_realworld10.jsonl"
DEV = ROOT / "tests" / "data" / "intents_realworld_dev.jsonl"
UNSEEN = ROOT / "tests" / "data" / "intents_unseen.jsonl"
# kinds whose right answer is no action at all
_DECLINE_KINDS = ("out_of_scope", "question", "multi_action", "multi_target")

Reader = Callable[[str], Intent]


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(rows: list[dict[str, Any]], read: Reader) -> dict[str, Any]:
    in_scope = right = pairs = pairs_right = exact = 0
    to_decline = declined = injections = changed = 0
    misses: list[str] = []
    for row in rows:
        intent = read(row["text"])
        if row["kind"] == "in_scope":
            in_scope += 1
            ok = intent.key == row["key"]
            right += ok
            pairs += len(row["entities"])
            if ok:
                pairs_right += sum(intent.entities.get(k) == v for k, v in row["entities"].items())
                exact += all(intent.entities.get(k) == v for k, v in row["entities"].items())
            if not ok:
                misses.append(f"  miss: {row['text'][:90]!r} -> {intent.key} (want {row['key']})")
        elif row["kind"] in _DECLINE_KINDS or row["key"] is None:
            to_decline += 1
            if intent.recognised:
                misses.append(f"  not declined: {row['text'][:90]!r} -> {intent.key}")
            else:
                declined += 1
        if row["kind"] == "injection":
            injections += 1
            changed += intent.recognised and intent.key != row["key"]
    return {
        "in_scope": in_scope,
        "action": round(right / in_scope, 4) if in_scope else None,
        "to_decline": to_decline,
        "declined": round(declined / to_decline, 4) if to_decline else None,
        "entity_pairs": pairs,
        "entities": round(pairs_right / pairs, 4) if pairs else None,
        "entities_exact": round(exact / in_scope, 4) if in_scope else None,
        "injection_changed_action": changed,
        "misses": misses,
    }


def readers(*, with_matcher: bool) -> tuple[dict[str, Reader], semantic.Matcher | None]:
    catalog = load_catalog(check_executors=False)
    found: dict[str, Reader] = {"rules": lambda text: rules.parse(text, catalog)}
    if not with_matcher:
        return found, None
    from opsgate.rag.minilm import MiniLMEmbedder

    matcher = semantic.Matcher(catalog, MiniLMEmbedder())
    found["rules+matcher"] = lambda text: semantic.parse(text, catalog, matcher)
    return found, matcher


def similarities(rows: list[dict[str, Any]], matcher: semantic.Matcher) -> None:
    """For calibrating on the dev set: each request's nearest entry, similarity and margin."""
    for row in rows:
        near = matcher.nearest(row["text"])
        if near is None:
            continue
        mark = "ok " if near.key == row["key"] else ("-- " if row["key"] is None else "BAD")
        print(f"  {mark} {near.similarity:.3f} +{near.margin:.3f} {near.key:34} {row['text'][:70]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], type=Path, help="another labelled JSONL set to score")
    parser.add_argument("--misses", action="store_true", help="print every request read wrong")
    parser.add_argument("--rules-only", action="store_true", help="leave the semantic matcher out")
    parser.add_argument("--dev", action="store_true", help="also the dev set (tuned on), with similarities")
    args = parser.parse_args()
    sets: dict[str, list[dict[str, Any]]] = {
        "realworld2": load(REALWORLD),
        "realworld3": load(REALWORLD3),
        "realworld4": load(REALWORLD4),
        "realworld5": load(REALWORLD5),
        "realworld6": load(REALWORLD6),
        "realworld7": load(REALWORLD7),
        "realworld8": load(REALWORLD8),
        "realworld9": load(REALWORLD9),
        "realworld10": load(REALWORLD10),
    }
    unseen = load(UNSEEN)
    sets["unseen_all"] = unseen
    for path in args.set:
        sets[path.stem] = load(path)
    if args.dev:
        sets["dev (tuned on)"] = load(DEV)
    figures: dict[str, Any] = {}
    found, matcher = readers(with_matcher=not args.rules_only)
    if args.dev and matcher is not None:
        print("dev set, nearest entry by example:")
        similarities(sets["dev (tuned on)"], matcher)
    for reader_name, read in found.items():
        for set_name, rows in sets.items():
            result = score(rows, read)
            misses = result.pop("misses")
            figures[f"{set_name}/{reader_name}"] = result
            print(f"{set_name} [{reader_name}]: {json.dumps(result)}")
            if args.misses:
                print("\n".join(misses))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
