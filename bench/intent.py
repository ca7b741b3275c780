"""Intent benchmark: accuracy of the rule parser on the labelled set, its throughput, and the
wall time of ``opsgate parse --jsonl`` over the whole set.

Each split is reported apart. ``tune``/``heldout`` (``intents.jsonl``) were written by the parser's
author; the ``unseen*`` splits (``intents_unseen.jsonl``) were written without looking at the
parser's vocabulary, so they are the better estimate of accuracy on requests nobody has seen.

Speed is measured twice in one run: the rules alone (the baseline), and with the semantic matcher
over the catalog's examples (the offline MiniLM embedder; only requests the rules are unsure of
or find nothing in are embedded, and nothing is cached per request). ``--no-semantic`` leaves the
second out. Real-world first-encounter figures are ``bench/realworld.py``'s.

Run: ``PYTHONPATH=operator python bench/intent.py``. Ends with one JSON line of figures.
Calibration: requests are bucketed by confidence; each bucket's accuracy is printed next to its
mean confidence, and the expected calibration error (ECE) is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsgate.catalog import Catalog, load_catalog
from opsgate.intent import Intent
from opsgate.parsing import rules, semantic

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "intents.jsonl"
UNSEEN = ROOT / "tests" / "data" / "intents_unseen.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def accuracy(rows: list[dict[str, Any]], catalog: Catalog) -> dict[str, float]:
    triple = entities = in_scope = in_scope_triple = injection = injection_changed = 0
    true_unrec = predicted_unrec = actual_unrec = multi = multi_declined = targets = targets_declined = 0
    for row in rows:
        intent = rules.parse(row["text"], catalog)
        triple += intent.key == row["key"]
        entities += intent.key == row["key"] and intent.entities == row["entities"]
        actual_unrec += row["key"] is None
        predicted_unrec += not intent.recognised
        true_unrec += row["key"] is None and not intent.recognised
        in_scope += row["kind"] == "in_scope"
        in_scope_triple += row["kind"] == "in_scope" and intent.key == row["key"]
        injection += row["kind"] == "injection"
        # declining an injection attempt is safe; naming another action is not
        injection_changed += row["kind"] == "injection" and intent.recognised and intent.key != row["key"]
        # several changes in one request must be declined, never read as one of them
        multi += row["kind"] == "multi_action"
        multi_declined += row["kind"] == "multi_action" and intent.declined is not None
        # so must one change over several named targets: acting on the first alone is not what was asked
        targets += row["kind"] == "multi_target"
        targets_declined += row["kind"] == "multi_target" and intent.declined is not None
    figures: dict[str, float] = {
        "n": len(rows),
        "triple": round(triple / len(rows), 4),
        "entities_exact": round(entities / len(rows), 4),
        "unrecognised_precision": round(true_unrec / predicted_unrec, 4) if predicted_unrec else 1.0,
        "unrecognised_recall": round(true_unrec / actual_unrec, 4) if actual_unrec else 1.0,
        "in_scope_triple": round(in_scope_triple / in_scope, 4) if in_scope else 1.0,
        "injection_changed_action": injection_changed,
    }
    if multi:
        figures["multi_action_declined"] = round(multi_declined / multi, 4)
    if targets:
        figures["multi_target_declined"] = round(targets_declined / targets, 4)
    return figures


def calibration(rows: list[dict[str, Any]], catalog: Catalog) -> float:
    buckets: dict[float, list[tuple[float, bool]]] = {}
    for row in rows:
        intent = rules.parse(row["text"], catalog)
        if intent.recognised:
            buckets.setdefault(round(intent.confidence, 1), []).append((intent.confidence, intent.key == row["key"]))
    total = sum(len(b) for b in buckets.values())
    ece = 0.0
    for edge in sorted(buckets):
        items = buckets[edge]
        conf = sum(c for c, _ in items) / len(items)
        acc = sum(ok for _, ok in items) / len(items)
        ece += len(items) / total * abs(conf - acc)
        print(f"  confidence ~{edge:.1f}: n={len(items):3d} mean confidence {conf:.2f} accuracy {acc:.2f}")
    return round(ece, 4)


def throughput(texts: list[str], read: Callable[[str], Intent], *, seconds: float = 2.0) -> float:
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in texts:
            read(text)
        count += len(texts)
    return round(count / (time.perf_counter() - start), 1)


def latency_ms(texts: list[str], read: Callable[[str], Intent]) -> dict[str, float]:
    """p50/p95 of one request's parse, in milliseconds."""
    times = []
    for text in texts:
        start = time.perf_counter()
        read(text)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50": round(times[len(times) // 2], 3), "p95": round(times[int(len(times) * 0.95)], 3)}


def cli_wall_time(rows: list[dict[str, Any]]) -> float:
    stdin = "\n".join(r["text"] for r in rows) + "\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    env.pop("OLLAMA_HOST", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "opsgate", "parse", "--jsonl"],
        input=stdin, capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    assert len(done.stdout.splitlines()) == len(rows)
    return round(elapsed, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-semantic", action="store_true", help="measure the rules alone")
    args = parser.parse_args()
    catalog = load_catalog(check_executors=False)
    rows = load(DATA)
    unseen = load(UNSEEN)
    figures: dict[str, Any] = {}
    for split in ("heldout", "tune"):
        figures[split] = accuracy([r for r in rows if r["split"] == split], catalog)
        print(f"{split}: {figures[split]}")
    figures["all"] = accuracy(rows, catalog)
    print(f"all: {figures['all']}")
    for split in sorted({r["split"] for r in unseen}):
        figures[split] = accuracy([r for r in unseen if r["split"] == split], catalog)
        print(f"{split}: {figures[split]}")
    print("calibration (all rows recognised by the rules):")
    figures["ece"] = calibration(rows, catalog)
    texts = [r["text"] for r in rows] + [r["text"] for r in unseen]
    figures["rules_requests_per_s"] = throughput(texts, lambda text: rules.parse(text, catalog))
    figures["rules_latency_ms"] = latency_ms(texts, lambda text: rules.parse(text, catalog))
    print(f"rule parser: {figures['rules_requests_per_s']} requests/s, latency {figures['rules_latency_ms']}")
    if not args.no_semantic:
        from opsgate.rag.minilm import MiniLMEmbedder

        started = time.perf_counter()
        matcher = semantic.Matcher(catalog, MiniLMEmbedder())
        figures["semantic_start_s"] = round(time.perf_counter() - started, 2)
        compared = sum(semantic.compared(text, catalog) for text in texts)
        figures["semantic_compared_share"] = round(compared / len(texts), 4)
        figures["semantic_requests_per_s"] = throughput(texts, lambda text: semantic.parse(text, catalog, matcher))
        figures["semantic_latency_ms"] = latency_ms(texts, lambda text: semantic.parse(text, catalog, matcher))
        print(
            f"rules + semantic matcher: {figures['semantic_requests_per_s']} requests/s, latency "
            f"{figures['semantic_latency_ms']} ({figures['semantic_compared_share']:.0%} of requests embedded; "
            f"embedder and examples ready in {figures['semantic_start_s']} s)"
        )
    figures["cli_jsonl_seconds"] = cli_wall_time(rows)
    print(f"opsgate parse --jsonl over {len(rows)} requests: {figures['cli_jsonl_seconds']} s (incl. start-up)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
