"""Retrieval quality on the repository's own corpus and the labelled set ``tests/data/retrieval.jsonl``.

Rule for "hybrid beats either alone": hybrid's recall@5 is at least each single mode's, its MRR
is no more than MRR_MARGIN below (one query moving by one rank shifts MRR by about 0.01 on this
set), and recall@5 + MRR is strictly higher than each single mode's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsgate.rag import evaluation, indexer
from opsgate.rag.embedding import collection_name
from opsgate.rag.hits import Hit
from opsgate.rag.minilm import MiniLMEmbedder
from opsgate.rag.retriever import Mode, Retriever
from opsgate.rag.server_store import ServerStore
from opsgate.rag.store import Store

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "data" / "retrieval.jsonl"
MRR_MARGIN = 0.02
# Hybrid on the previous store (its own numpy index, BM25 and RRF): recall@5 1.0, MRR 0.743.
# The engine's BM25 with our fusion must hold that (1.0 and 0.758 in every run: ties are ordered).
PREVIOUS_HYBRID = (1.0, 0.743)
ROTATE_PLAYBOOK = "playbooks/security/rotate-secret.yml"
pytestmark = pytest.mark.skipif(
    not (REPO / ROTATE_PLAYBOOK).is_file(), reason="the playbooks corpus is not in this checkout"
)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def repo_retriever(embedder: MiniLMEmbedder) -> Iterator[Retriever]:
    store = Store.in_memory()  # the embedded engine in a temporary folder
    sources = [Path(source) for source in indexer.DEFAULT_SOURCES]
    summary = indexer.index(sources, root=REPO, store=store, embedder=embedder)
    assert summary.failures == []
    found = Retriever.open(embedder=embedder, store=store)
    yield found
    found.close()


def test_the_embedded_engine_and_a_qdrant_server_rank_the_retrieval_set_alike(
    repo_retriever: Retriever, embedder: MiniLMEmbedder
) -> None:
    # The server side is qdrant-client's local mode (its API contract; no Qdrant server here),
    # loaded with the very points the embedded store holds.
    embedded, _ = repo_retriever.connect()
    collection = collection_name(embedder)
    server = ServerStore.local()
    server.ensure(collection, dim=embedder.dim)
    server.upsert_points(collection, list(embedded.points(collection)))
    remote = Retriever.open(embedder=embedder, store=server)
    differ = []
    try:
        for case in evaluation.load_cases(CASES):
            for mode in Mode:
                ours = repo_retriever.search(case.query, k=5, mode=mode)
                theirs = remote.search(case.query, k=5, mode=mode)
                if _ranked(ours) != _ranked(theirs):
                    differ.append((case.query, mode.value, _ranked(ours), _ranked(theirs)))
    finally:
        remote.close()
    # Fusion is ours in both (store.fuse): exactly tied passages share a rank and come by point id,
    # so the same rankings give the same hits in the same order, whichever engine ranked them.
    assert differ == []


def _ranked(hits: list[Hit]) -> list[tuple[str, float]]:
    return [(hit.source, round(hit.score, 4)) for hit in hits]


def test_the_retrieval_set_has_at_least_forty_queries_whose_gold_sources_exist() -> None:
    cases = evaluation.load_cases(CASES)
    assert len(cases) >= 40
    assert [case.gold for case in cases if not (REPO / case.gold).is_file()] == []


def test_hybrid_beats_dense_and_sparse_alone(repo_retriever: Retriever) -> None:
    cases = evaluation.load_cases(CASES)
    scores = {
        mode: evaluation.evaluate(cases, lambda query, mode=mode: repo_retriever.search(query, k=20, mode=mode))
        for mode in Mode
    }
    hybrid = scores[Mode.HYBRID]
    assert (hybrid.recall_at_k, round(hybrid.mrr, 3)) >= PREVIOUS_HYBRID
    for single in (Mode.DENSE, Mode.SPARSE):
        alone = scores[single]
        assert hybrid.recall_at_k >= alone.recall_at_k, single
        assert hybrid.mrr >= alone.mrr - MRR_MARGIN, single
        assert hybrid.recall_at_k + hybrid.mrr > alone.recall_at_k + alone.mrr, single


def test_rotating_payments_secrets_brings_the_rotate_secret_playbook_into_the_top_sources(
    repo_retriever: Retriever,
) -> None:
    hits = repo_retriever.search("rotate the vault secrets for payments in staging", k=5)
    assert ROTATE_PLAYBOOK in [hit.path for hit in hits]
    assert any(entry["source"].startswith(ROTATE_PLAYBOOK + "#") for entry in (h.to_status() for h in hits))
