"""LLM benchmark: the real Ollama path against the rule parser, on the same requests in one run.

    PYTHONPATH=operator python bench/llm.py [--n 20] [--host URL --model NAME] [--data FILE]

Without ``--host`` it starts a real ``ollama serve`` with SmolLM2-135M (``hack/build-ollama.sh``,
``hack/fetch-smollm2.sh``; see tests/real_ollama.py) on a random loopback port. It takes ``--n``
requests spread evenly over tests/data/intents.jsonl and parses each with the rule parser alone and
with ``parse_request`` (rules + LLM, reconciled), then prints p50/p95 latency per path and their
ratio, how often the model's own reading agreed with the rules, how often the fallback was used
(and why), and each path's accuracy against the labels. ``--data`` takes another labelled set
(e.g. tests/data/intents_realworld.jsonl; ``--n 0`` for all of it); ``model_own_accuracy`` is the
model's own reading against the labels, over the requests it was asked. Figures only, no
assertions. Ends with one JSON line holding the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "operator"), str(REPO)]

from tests import real_ollama  # noqa: E402

from opsgate.catalog import Catalog, load_catalog  # noqa: E402
from opsgate.intent import Intent  # noqa: E402
from opsgate.parsing import LlmError, parse_request, rules  # noqa: E402

DATA = REPO / "tests" / "data" / "intents.jsonl"


def sample(n: int, data: Path = DATA) -> list[dict[str, Any]]:
    """``n`` rows spread evenly over the file (all of them for 0), so every kind of request shows up."""
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    if n <= 0:
        return rows
    return [rows[i * len(rows) // n] for i in range(min(n, len(rows)))]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(rows: list[dict[str, Any]], *, host: str, model: str, catalog: Catalog, limit_s: float) -> dict[str, Any]:
    llm = real_ollama.RecordingParser(host=host, model=model, catalog=catalog, timeout=limit_s)
    clock = time.perf_counter()
    # the first call loads the model into the runner; time it apart from the steady state
    await parse_request("create namespace warmup", catalog=catalog, llm=llm)
    load_s = time.perf_counter() - clock
    llm.readings.clear()

    rule_s: list[float] = []
    llm_s: list[float] = []
    asked_s: list[float] = []
    agreed = changed = rule_right = llm_right = own_right = 0
    failures: collections.Counter[str] = collections.Counter()
    for row in rows:
        clock = time.perf_counter()
        rule_intent = rules.parse(row["text"], catalog)
        rule_s.append(time.perf_counter() - clock)
        before = len(llm.readings)
        clock = time.perf_counter()
        final = await parse_request(row["text"], catalog=catalog, llm=llm)
        llm_s.append(time.perf_counter() - clock)
        # declined requests and questions never reach the model; the rest leave one reading
        reading = llm.readings[-1][1] if len(llm.readings) > before else None
        if reading is not None:
            asked_s.append(llm_s[-1])
        if isinstance(reading, LlmError):
            failures[reading.reason.value] += 1
        elif isinstance(reading, Intent):
            agreed += reading.key == rule_intent.key
            own_right += reading.key == row["key"]
        changed += final.key != rule_intent.key
        rule_right += rule_intent.key == row["key"]
        llm_right += final.key == row["key"]
        shown = "not asked" if reading is None else str(reading) if isinstance(reading, LlmError) else reading.key
        print(f"  {llm_s[-1]:6.2f}s  rules={rule_intent.key}  model={shown}  final={final.key}  {row['text'][:50]!r}")

    return {
        "n": len(rows),
        "model": model,
        "model_load_s": round(load_s, 2),
        "rules_p50_ms": round(percentile(rule_s, 0.5) * 1e3, 3),
        "rules_p95_ms": round(percentile(rule_s, 0.95) * 1e3, 3),
        "llm_path_p50_s": round(percentile(llm_s, 0.5), 2),
        "llm_path_p95_s": round(percentile(llm_s, 0.95), 2),
        "llm_asked_p50_s": round(percentile(asked_s, 0.5), 2) if asked_s else None,
        "ratio_p50": round(percentile(llm_s, 0.5) / percentile(rule_s, 0.5)),
        "asked": len(asked_s),
        "llm_agreed_with_rules": agreed,  # the model's own reading named the rules' action (or none)
        "fallback": sum(failures.values()),
        "fallback_reasons": dict(failures),
        "final_differs_from_rules": changed,  # after reconciling: where the model's reading won
        "rules_accuracy": round(rule_right / len(rows), 3),
        "llm_path_accuracy": round(llm_right / len(rows), 3),
        "model_own_accuracy": round(own_right / len(asked_s), 3) if asked_s else None,
        "llm_time_total_s": round(sum(llm_s), 1),
        "mean_s_per_asked": round(statistics.fmean(asked_s), 2) if asked_s else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="requests to parse (each LLM call takes seconds)")
    parser.add_argument("--host", help="an Ollama already running (default: start one with SmolLM2-135M)")
    parser.add_argument("--model", default=real_ollama.MODEL)
    parser.add_argument("--timeout", type=float, default=20.0, help="the LLM parser's timeout in seconds")
    parser.add_argument("--data", type=Path, default=DATA, help="a labelled JSONL set")
    args = parser.parse_args()
    catalog = load_catalog(check_executors=False)
    rows = sample(args.n, args.data)
    if args.host:
        figures = asyncio.run(run(rows, host=args.host, model=args.model, catalog=catalog, limit_s=args.timeout))
    else:
        binary, gguf = real_ollama.binary(), real_ollama.gguf()
        if binary is None or gguf is None:
            sys.exit(f"the ollama binary or the SmolLM2 model is missing: {real_ollama.SETUP_HINT}")
        with real_ollama.serve(binary, gguf) as server:
            figures = asyncio.run(run(rows, host=server.url, model=server.model, catalog=catalog, limit_s=args.timeout))
    print(
        f"rules p50 {figures['rules_p50_ms']} ms, p95 {figures['rules_p95_ms']} ms; "
        f"rules+LLM p50 {figures['llm_path_p50_s']} s, p95 {figures['llm_path_p95_s']} s "
        f"(x{figures['ratio_p50']} at p50)"
    )
    print(
        f"model asked {figures['asked']}/{figures['n']}: agreed with the rules {figures['llm_agreed_with_rules']}, "
        f"fallback {figures['fallback']} {figures['fallback_reasons']}; "
        f"final intent differs from the rules' in {figures['final_differs_from_rules']}"
    )
    print(
        f"accuracy vs labels: rules {figures['rules_accuracy']}, rules+LLM {figures['llm_path_accuracy']}, "
        f"the model alone (where asked) {figures['model_own_accuracy']}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
