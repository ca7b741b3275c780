"""Retrieval benchmark: quality per search mode, indexing throughput, query latency at 1k and 20k.

    PYTHONPATH=operator python bench/rag.py [--quick]

1. Indexes the repository's own corpus (docs/, playbooks/, terraform/, policies/, README.md) with
   the offline MiniLM embedder into an on-disk embedded Qdrant (the default setup), three times,
   reporting chunks/s end to end and for embedding alone, against the shipped model run as is.
2. Recall@5 and MRR for dense, sparse and hybrid on tests/data/retrieval.jsonl.
3. Query latency p50/p95 at 1,000 and 20,000 chunks in the embedded store, for the in-process
   strategy (the embedded default) and Qdrant's own prefetch + RRF query, without and with a type
   filter. Extra chunks are the real ones perturbed (noise on the dense vector, terms dropped from
   the sparse one) so score distributions stay realistic; they live in an in-memory local store
   (local mode searches in memory either way; only upserts touch the disk).
Ends with one JSON line holding the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "operator"))

from opsgate.rag.sparse import SparseVector  # noqa: E402

from opsgate.rag import chunking, evaluation, indexer, minilm  # noqa: E402
from opsgate.rag.embedding import collection_name  # noqa: E402
from opsgate.rag.minilm import MiniLMEmbedder  # noqa: E402
from opsgate.rag.retriever import Mode, Retriever, Strategy  # noqa: E402
from opsgate.rag.store import Store, StoredPoint  # noqa: E402

CASES = REPO / "tests" / "data" / "retrieval.jsonl"
SIZES = (1_000, 20_000)
QUERIES_PER_RUN = 30
SEED = 7
INDEX_RUNS = 3
BATCH_WARM_UP = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Only the 1k size (a smoke run).")
    args = parser.parse_args()
    embedder = MiniLMEmbedder()
    figures: dict[str, object] = {"load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}

    texts = [chunk.embedding_text() for chunk in _corpus_chunks()]
    embedder.embed(texts[:BATCH_WARM_UP])  # first runs allocate; a real index run amortises that
    sources = [Path(source) for source in indexer.DEFAULT_SOURCES]
    rates = []
    for _ in range(INDEX_RUNS):
        with tempfile.TemporaryDirectory() as scratch:
            fresh = Store.open(path=scratch)
            summary = indexer.index(sources, root=REPO, store=fresh, embedder=embedder)
            fresh.close()
        rates.append(summary.chunks_per_second)
    index_rate = statistics.median(rates)
    print(
        f"indexed {summary.indexed} files into {summary.chunks} chunks, {INDEX_RUNS} times into a fresh on-disk "
        f"embedded store: {', '.join(f'{rate:.1f}' for rate in rates)} chunks/s end to end (median {index_rate:.1f})"
    )
    embed_rate = _rate(embedder.embed, texts)
    shipped = onnxruntime.InferenceSession(str(minilm.model_file()), providers=["CPUExecutionProvider"])
    tokenizer = minilm.load_tokenizer()
    step = minilm.BATCH
    baseline_rate = _rate(
        lambda batch: [minilm.run(shipped, tokenizer, batch[n : n + step]) for n in range(0, len(batch), step)], texts
    )
    print(
        f"embedding alone: {embed_rate:.1f} chunks/s ({embedder.name}, {embedder.dim}-d); the shipped model as is: "
        f"{baseline_rate:.1f} chunks/s (x{embed_rate / baseline_rate:.2f})"
    )
    figures |= {
        "corpus_chunks": summary.chunks,
        "index_chunks_per_s": round(index_rate, 1),
        "embed_chunks_per_s": round(embed_rate, 1),
        "embed_shipped_model_chunks_per_s": round(baseline_rate, 1),
    }

    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(path=folder)
        indexer.index(sources, root=REPO, store=store, embedder=embedder)
        retriever = Retriever.open(embedder=embedder, store=store)
        cases = evaluation.load_cases(CASES)
        quality: dict[str, dict[str, float]] = {}
        for mode in Mode:
            scores = evaluation.evaluate(cases, lambda query, mode=mode: retriever.search(query, k=20, mode=mode))
            quality[mode.value] = {"recall_at_5": round(scores.recall_at_k, 3), "mrr": round(scores.mrr, 3)}
            shown = f"recall@5 {scores.recall_at_k:.3f}  MRR {scores.mrr:.3f}"
            print(f"{mode.value:>6}: {shown}  ({len(cases)} queries)")
        figures["quality"] = quality
        real = list(store.points(collection_name(embedder)))
        store.close()

    queries = [case.query for case in cases][:QUERIES_PER_RUN]
    latency: dict[str, dict[str, float]] = {}
    for size in SIZES[:1] if args.quick else SIZES:
        latency[str(size)] = _latency_at(size, real, queries, embedder)
    figures["latency_ms"] = latency
    started = time.perf_counter()
    embedder.embed(queries)
    figures["query_embed_ms"] = round((time.perf_counter() - started) * 1000 / len(queries), 1)
    print(f"query embedding alone: {figures['query_embed_ms']} ms per query")
    print(json.dumps(figures, sort_keys=True))


def _rate(embed: Callable[[list[str]], object], texts: list[str]) -> float:
    started = time.perf_counter()
    embed(texts)
    return len(texts) / (time.perf_counter() - started)


def _corpus_chunks() -> list[chunking.Chunk]:
    files = indexer.discover([Path(source) for source in indexer.DEFAULT_SOURCES], root=REPO)
    chunks: list[chunking.Chunk] = []
    for file in files:
        try:
            chunks.extend(chunking.chunk_file(indexer.relative(file, root=REPO), file.read_bytes()))
        except chunking.ChunkingError:
            continue
    return chunks


def _latency_at(size: int, real: list[StoredPoint], queries: list[str], embedder: MiniLMEmbedder) -> dict[str, float]:
    store = Store.in_memory()
    collection = collection_name(embedder)
    store.ensure(collection, dim=embedder.dim)
    started = time.perf_counter()
    store.upsert_points(collection, _synthesize(real, size))
    print(f"\n{size} chunks: upserted in {time.perf_counter() - started:.1f}s (in-memory local store)")
    result: dict[str, float] = {}
    for strategy in Strategy:
        retriever = Retriever.open(embedder=embedder, store=store, strategy=strategy)
        started = time.perf_counter()
        retriever.search(queries[0])  # the first search loads the in-process view
        result[f"{strategy.value}_first_search_ms"] = round((time.perf_counter() - started) * 1000, 1)
        for label, types in (("", None), ("_type_filter", ["playbook"])):
            timings = _timed(lambda query, r=retriever, t=types: r.search(query, k=5, types=t), queries)
            p50, p95 = _percentiles(timings)
            result[f"{strategy.value}{label}_p50"], result[f"{strategy.value}{label}_p95"] = p50, p95
            shown = f"{strategy.value}{label}"
            print(f"  hybrid search (incl. query embedding), {shown:<20}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    store.close()
    return result


def _synthesize(real: list[StoredPoint], size: int) -> list[StoredPoint]:
    """The real points plus perturbed copies up to ``size``."""
    rng = random.Random(SEED)
    noise = np.random.default_rng(SEED)
    points = list(real[:size])
    while len(points) < size:
        base = real[rng.randrange(len(real))]
        dense = np.asarray(base.dense, dtype=np.float32) + noise.normal(0, 0.03, len(base.dense)).astype(np.float32)
        dense /= np.linalg.norm(dense)
        kept = [(i, v) for i, v in zip(base.sparse.indices, base.sparse.values, strict=True) if rng.random() > 0.2]
        n = len(points)
        payload = dict(base.payload) | {"path": f"synthetic/{n}/{base.payload['path']}", "index": 0}
        points.append(
            StoredPoint(
                id=f"00000000-0000-4000-8000-{n:012d}",
                dense=dense.tolist(),
                sparse=SparseVector(indices=[i for i, _ in kept], values=[v for _, v in kept]),
                payload=payload,
            )
        )
    return points


def _timed(call: Callable[[str], object], queries: list[str]) -> list[float]:
    timings = []
    for query in queries:
        started = time.perf_counter()
        call(query)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _percentiles(timings: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(timings, n=20, method="inclusive")
    return round(statistics.median(timings), 1), round(cuts[18], 1)


if __name__ == "__main__":
    main()
