"""Masking personal data before an external LLM: what it costs, what it lets through, what it hides.

Over every request text of the parser's data sets (tests/data/intents*.jsonl), with the real
catalog's system prompt as the words that are not names:

* time to mask one request (p50/p95, microseconds);
* leaks: requests where an e-mail or IPv4 address is still in the masked text (must be 0);
* entity values: of the expected entity values written in the request, how many the model no
  longer sees (masked: e-mails, DNS record IPs…) and how many of those come back exactly when
  the reply carries the placeholder the masked text had - a masked value that could not be
  restored would be a parameter lost to masking;
* one parse through the OpenAI-compatible parser and through the Ollama parser against their
  test servers on loopback (p50 ms), so the masking's share of a call is visible.

    .venv/bin/python bench/masking.py
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "operator"), str(ROOT)]

from tests.fakes.ollama_server import FakeOllama  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

from opsgate.adapters.ollama_parser import OllamaParser  # noqa: E402
from opsgate.adapters.openai_parser import ApiKey, OpenAIParser  # noqa: E402
from opsgate.catalog import load_catalog  # noqa: E402
from opsgate.parsing import masking, prompt  # noqa: E402

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
PARSES = 30


def _cases() -> list[dict[str, object]]:
    cases = []
    for path in sorted((ROOT / "tests" / "data").glob("intents*.jsonl")):
        cases += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return cases


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _parse_p50(parser: OllamaParser | OpenAIParser, texts: list[str]) -> float:
    times = []
    for text in texts:
        started = time.perf_counter()
        await parser.parse(text)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    catalog = load_catalog(check_executors=False)
    known = masking.words_of(prompt.messages("x", catalog=catalog)[0]["content"])
    cases = _cases()
    times: list[float] = []
    leaks = values = masked_values = restored = 0
    for case in cases:
        text = str(case["text"])
        started = time.perf_counter()
        mask = masking.Mask(known_words=known)
        masked = mask.text(text)
        times.append((time.perf_counter() - started) * 1e6)
        leaks += bool(EMAIL.search(masked) or IPV4.search(masked))
        entities = case.get("entities") or {}
        assert isinstance(entities, dict)
        for value in entities.values():
            if not isinstance(value, str) or value not in text:
                continue
            values += 1
            if value in masked:
                continue
            masked_values += 1
            # the reply a model gives for it: the placeholder the masked text carries
            placeholder = next((p for p, v in mask.originals.items() if v.lower() == value.lower()), "")
            restored += mask.restore(placeholder).lower() == value.lower()
    texts = [str(c["text"]) for c in cases[:PARSES]]
    with FakeOpenAI(api_key="k") as openai_server, FakeOllama() as ollama_server:
        openai = OpenAIParser(base_url=openai_server.url, model="gpt-4o-mini", catalog=catalog, api_key=ApiKey("k"))
        ollama = OllamaParser(host=ollama_server.url, model="llama3.1:8b", catalog=catalog)
        openai_ms = asyncio.run(_parse_p50(openai, texts))
        ollama_ms = asyncio.run(_parse_p50(ollama, texts))
        leaked_to_server = len(openai_server.leaks)
    figures = {
        "requests": len(cases),
        "mask_p50_us": round(_percentile(times, 0.5), 1),
        "mask_p95_us": round(_percentile(times, 0.95), 1),
        "leaks": leaks,
        "leaks_seen_by_test_server": leaked_to_server,
        "entity_values": values,
        "entity_values_masked": masked_values,
        "entity_values_restored": restored,
        "openai_parse_p50_ms": round(openai_ms, 2),
        "ollama_parse_p50_ms": round(ollama_ms, 2),
    }
    print(f"masked {len(cases)} requests: p50 {figures['mask_p50_us']} µs, p95 {figures['mask_p95_us']} µs")
    print(f"e-mail/IPv4 left in a masked text: {leaks}; refused by the test server: {leaked_to_server}")
    print(f"expected entity values in the text: {values}; masked: {masked_values}; restored from the reply: {restored}")
    print(f"one parse on loopback (p50 of {PARSES}): OpenAI-compatible {openai_ms:.2f} ms, Ollama {ollama_ms:.2f} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
