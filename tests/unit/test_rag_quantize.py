"""The int8 build of the offline embedder's model: graph rewrites checked by running them in
onnxruntime, the build of the real model from its wheel, and the cache around it."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime  # type: ignore[import-untyped]
import pytest
from onnx import TensorProto, helper, numpy_helper

from opsgate.rag import minilm, quantize


def _run(model: onnx.ModelProto, **inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    result: npt.NDArray[np.float32] = session.run(None, inputs)[0]
    return result


def _model(nodes: list[onnx.NodeProto], constants: dict[str, float]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
        initializer=[
            numpy_helper.from_array(np.array(value, dtype=np.float32), key) for key, value in constants.items()
        ],
    )
    return helper.make_model(
        graph, ir_version=10, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )


def _gelu_as_exported(half: float = 0.5) -> onnx.ModelProto:
    return _model(
        [
            helper.make_node("Div", ["x", "sqrt2"], ["scaled"]),
            helper.make_node("Erf", ["scaled"], ["erf"]),
            helper.make_node("Add", ["erf", "one"], ["plus_one"]),
            helper.make_node("Mul", ["half", "plus_one"], ["halved"]),
            helper.make_node("Mul", ["x", "halved"], ["y"]),
        ],
        {"sqrt2": math.sqrt(2), "one": 1.0, "half": half},
    )


X = np.linspace(-4, 4, 10, dtype=np.float32).reshape(2, 5)


def test_gelu_is_fused_into_one_node_that_computes_the_same_values() -> None:
    model = _gelu_as_exported()
    expected = _run(model, x=X)
    assert quantize.fuse_gelu(model.graph) == 1
    assert [node.op_type for node in model.graph.node] == ["Gelu"]
    np.testing.assert_allclose(_run(model, x=X), expected, atol=1e-5)


def test_a_lookalike_of_gelu_with_another_constant_is_left_alone() -> None:
    model = _gelu_as_exported(half=0.25)
    assert quantize.fuse_gelu(model.graph) == 0
    assert len(model.graph.node) == 5


def test_the_softmax_nan_guard_goes_and_the_scores_stay_the_same() -> None:
    model = _model(
        [
            helper.make_node("Softmax", ["x"], ["scores"], axis=-1),
            helper.make_node("IsNaN", ["scores"], ["nan"]),
            helper.make_node("Where", ["nan", "zero", "scores"], ["guarded"]),
            helper.make_node("Identity", ["guarded"], ["y"]),
        ],
        {"zero": 0.0},
    )
    expected = _run(model, x=X)
    assert quantize.drop_softmax_nan_guards(model.graph) == 1
    assert [node.op_type for node in model.graph.node] == ["Softmax", "Identity"]
    np.testing.assert_allclose(_run(model, x=X), expected)


def test_a_where_that_is_not_a_nan_guard_is_kept() -> None:
    model = _model(
        [
            helper.make_node("Softmax", ["x"], ["scores"], axis=-1),
            helper.make_node("IsNaN", ["scores"], ["nan"]),
            helper.make_node("Where", ["nan", "scores", "zero"], ["y"]),  # keeps NaNs, zeroes the rest
        ],
        {"zero": 0.0},
    )
    assert quantize.drop_softmax_nan_guards(model.graph) == 0
    assert len(model.graph.node) == 3


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("model") / "minilm-int8.onnx"
    quantize.build(minilm.model_file(), target)
    return target


def test_the_build_of_the_shipped_model_computes_in_int8_without_the_guards(built: Path) -> None:
    ops = Counter(node.op_type for node in onnx.load(str(built)).graph.node)
    assert ops["MatMulInteger"] >= 36  # Q, K, V, output and both feed-forward products in 6 layers
    assert ops["Gelu"] == 6
    assert ops["IsNaN"] == ops["Erf"] == 0


def test_the_build_agrees_with_the_shipped_model_on_texts_it_was_not_checked_with(built: Path) -> None:
    texts = ["open port 443 on the edge firewall", "how do I rotate vault secrets?", "banana bread"]
    original, derived = (
        minilm.run(
            onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]), minilm.load_tokenizer(), texts
        )
        for path in (minilm.model_file(), built)
    )
    assert (original * derived).sum(axis=1).min() > quantize.MIN_AGREEMENT


def test_a_model_that_is_not_the_expected_export_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "other.onnx"
    onnx.save(_model([helper.make_node("Relu", ["x"], ["y"])], {}), str(source))
    with pytest.raises(quantize.ModelBuildError, match="not the expected BERT export"):
        quantize.build(source, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_the_build_is_cached_per_source_and_reused(tmp_path: Path) -> None:
    first = quantize.fast_model(minilm.model_file(), folder=tmp_path)
    assert isinstance(first, Path)
    assert first.parent == tmp_path / "models"
    stamp = first.stat().st_mtime_ns
    again = quantize.fast_model(minilm.model_file(), folder=tmp_path)
    assert again == first
    assert again.stat().st_mtime_ns == stamp
    assert [path.name for path in first.parent.iterdir()] == [first.name]  # no partial file left behind
    assert first.stat().st_mode & 0o044 == 0o044  # readable by an image's unprivileged user


def test_without_a_writable_cache_the_model_is_built_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    model = quantize.fast_model(minilm.model_file(), folder=blocker / "cache")
    assert isinstance(model, bytes)
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    assert [output.name for output in session.get_outputs()] == ["last_hidden_state"]


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(quantize.ENV_CACHE_DIR, str(tmp_path / "opsgate-cache"))
    assert quantize.cache_dir() == tmp_path / "opsgate-cache"
    monkeypatch.delenv(quantize.ENV_CACHE_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert quantize.cache_dir() == tmp_path / "xdg" / "opsgate"


def _cache_with_the_tokenizer_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """An empty cache folder but for the tokenizer (fetched once at setup; no download in a test)."""
    tokenizer = minilm.fetch_tokenizer()
    monkeypatch.setenv(quantize.ENV_CACHE_DIR, str(folder))
    minilm.tokenizer_file().parent.mkdir(parents=True)
    minilm.tokenizer_file().write_bytes(tokenizer.read_bytes())


def test_without_onnx_the_shipped_model_runs_under_a_name_of_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What a plain `pip install opsgate` gets: onnx is a build-time extra, and no build is cached.
    _cache_with_the_tokenizer_only(monkeypatch, tmp_path)
    monkeypatch.setattr(quantize, "can_build", lambda: False)
    shipped = minilm.MiniLMEmbedder()
    vector = shipped.embed(["rotate the vault secrets"])[0]
    assert shipped.name == minilm.NAME_SHIPPED != minilm.NAME  # its vectors get a collection of their own
    assert math.isclose(sum(value * value for value in vector), 1.0, rel_tol=1e-4)
    assert not any(path.suffix == ".onnx" for path in tmp_path.rglob("*"))  # nothing was built


def test_the_cached_tokenizer_is_the_pinned_file() -> None:
    data = minilm.fetch_tokenizer().read_bytes()
    assert hashlib.sha256(data).hexdigest() == minilm.TOKENIZER_SHA256
    assert minilm.load_tokenizer().encode("rotate the vault secrets").tokens[:3] == ["[CLS]", "rotate", "the"]


def test_a_damaged_cached_model_is_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _cache_with_the_tokenizer_only(monkeypatch, tmp_path)
    cached = quantize.fast_model(minilm.model_file())
    assert isinstance(cached, Path)
    cached.write_bytes(cached.read_bytes()[:1000])
    vector = minilm.MiniLMEmbedder().embed(["rotate the vault secrets"])[0]
    assert math.isclose(sum(value * value for value in vector), 1.0, rel_tol=1e-4)
    assert cached.stat().st_size > 1_000_000
