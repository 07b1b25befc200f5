"""Shared fixtures: the real Qwen3 tokenizer, tiny synthetic models, their GGUF files, references.

Everything slow is built once per session. Tests that need llama-cpp-python or the
reference stack skip cleanly where those are not installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

from local_rerank.tokenizer import Tokenizer
from tests.tolerances import ONNX_TOLERANCE, OPENVINO_TOLERANCE, TOLERANCE
from tools.tokenizer_fixture import qwen3_tokenizer_dir

try:  # the property tests' examples: the same ones every run in `make test`, many new ones in `make fuzz`
    from hypothesis import HealthCheck, settings

    settings.register_profile("default", max_examples=150, deadline=None, derandomize=True, database=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("fuzz", max_examples=20_000, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
except ImportError:
    pass


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Folder indexes go to a fresh directory per test, never the user's cache."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("LOCAL_RERANK_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def tokenizer_dir() -> Path:
    return qwen3_tokenizer_dir()


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path) -> Tokenizer:
    return Tokenizer.from_file(tokenizer_dir / "tokenizer.json")


@pytest.fixture(scope="session")
def hf_tokenizer(tokenizer_dir: Path):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(tokenizer_dir))


def _checkpoint(factory: pytest.TempPathFactory, tied: bool, seed: int) -> Path:
    pytest.importorskip("torch")
    from tools.synthetic_model import build_synthetic_model

    return build_synthetic_model(factory.mktemp(f"tiny-{'tied' if tied else 'untied'}"), "tiny", tied=tied, seed=seed)


@pytest.fixture(scope="session")
def tiny_tied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _checkpoint(tmp_path_factory, tied=True, seed=0)


@pytest.fixture(scope="session")
def tiny_untied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _checkpoint(tmp_path_factory, tied=False, seed=1)


@pytest.fixture(scope="session")
def sharp_untied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny layers, an untied head and sharp answers (yes-minus-no spread 8 instead of 1.5):
    a model on which 8-bit weights alone move a score by 0.07, beyond their bar of 0.03 (issue 23)."""
    pytest.importorskip("torch")
    from tools.synthetic_model import build_synthetic_model

    return build_synthetic_model(tmp_path_factory.mktemp("sharp-untied"), "tiny", tied=False, seed=0, layers=3,
                                 answer_std=8.0)


@pytest.fixture(scope="session")
def checkpoints(tiny_tied: Path, tiny_untied: Path) -> dict[str, Path]:
    return {"tied": tiny_tied, "untied": tiny_untied}


@pytest.fixture(scope="session")
def gguf_files(tmp_path_factory: pytest.TempPathFactory, checkpoints: dict[str, Path]) -> dict[tuple[str, str], Path]:
    """(head, quant) -> GGUF file, for tied/untied heads and f32/f16/q8_0 weights."""
    from local_rerank.convert.gguf_export import export_gguf

    folder = tmp_path_factory.mktemp("gguf")
    files = {}
    for head, checkpoint in checkpoints.items():
        for quant in TOLERANCE:
            files[head, quant] = folder / f"tiny-{head}-{quant}.gguf"
            export_gguf(checkpoint, files[head, quant], quant)
    return files


@pytest.fixture(scope="session")
def references(checkpoints: dict[str, Path]):
    """head -> ReferenceScorer (transformers, float32) with max_length 512."""
    from local_rerank.convert.reference import ReferenceScorer

    return {head: ReferenceScorer(path, max_length=512) for head, path in checkpoints.items()}


@pytest.fixture(scope="session")
def llama_cpp():
    """llama_cpp with its CPU kernels loaded, as the GGUF backend loads them."""
    module = pytest.importorskip("llama_cpp")
    from local_rerank.backends.gguf import _llama_cpp

    _llama_cpp()
    return module


@pytest.fixture(scope="session")
def gguf_variants(tmp_path_factory: pytest.TempPathFactory, gguf_files) -> dict[str, Path]:
    """Files other tools make, derived from ours (see tests/gguf_variants.py)."""
    from tests.gguf_variants import write_variant

    folder = tmp_path_factory.mktemp("variants")
    tied, untied = gguf_files["tied", "f16"], gguf_files["untied", "f16"]
    rank_fields = ("qwen3.pooling_type", "qwen3.classifier.output_labels")
    return {
        # llama.cpp's converter keeps only the 2-row head of an untied model.
        "llama_cpp_untied": write_variant(untied, folder / "llama-cpp-untied.gguf", drop_tensors=["output.weight"]),
        # A plain Qwen3 causal-LM conversion: no rank pooling, no classifier head.
        "plain_causal": write_variant(tied, folder / "plain.gguf", drop_fields=rank_fields,
                                      drop_tensors=["cls.output.weight"]),
        "no_head": write_variant(tied, folder / "no-head.gguf", drop_tensors=["cls.output.weight"]),
        "wrong_labels": write_variant(tied, folder / "labels.gguf",
                                      set_fields={"qwen3.classifier.output_labels": ["relevant", "irrelevant"]}),
        "mean_pooling": write_variant(tied, folder / "mean.gguf", set_fields={"qwen3.pooling_type": 1},
                                      drop_fields=["qwen3.classifier.output_labels"],
                                      drop_tensors=["cls.output.weight"]),
        "llama_arch": write_variant(tied, folder / "llama.gguf", set_fields={"general.architecture": "llama"}),
    }


@pytest.fixture(scope="session")
def onnxruntime():
    return pytest.importorskip("onnxruntime")


@pytest.fixture(scope="session")
def onnx_exports(tmp_path_factory: pytest.TempPathFactory, checkpoints, onnxruntime) -> dict[tuple[str, str], Path]:
    """(head, variant) -> ONNX export folder (with manifest), for tied/untied heads."""
    return _export_folders(tmp_path_factory, checkpoints, "onnx", ONNX_TOLERANCE)


@pytest.fixture(scope="session")
def openvino():
    return pytest.importorskip("openvino")


@pytest.fixture(scope="session")
def openvino_exports(tmp_path_factory: pytest.TempPathFactory, checkpoints, openvino) -> dict[tuple[str, str], Path]:
    """(head, variant) -> OpenVINO export folder (with manifest), for tied/untied heads."""
    return _export_folders(tmp_path_factory, checkpoints, "openvino", OPENVINO_TOLERANCE)


def _export_folders(factory: pytest.TempPathFactory, checkpoints: dict[str, Path], fmt: str,
                    variants: Iterable[str]) -> dict[tuple[str, str], Path]:
    """Each checkpoint converted to each variant of ``fmt`` (an export folder), without the parity check."""
    pytest.importorskip("optimum.exporters.onnx")
    from local_rerank.convert.pipeline import convert_checkpoint

    folder = factory.mktemp(fmt)
    exports = {}
    for head, checkpoint in checkpoints.items():
        for quant in variants:
            exports[head, quant] = folder / f"tiny-{head}-{quant}"
            convert_checkpoint(checkpoint, exports[head, quant], fmt=fmt, quant=quant, check_parity=False)
    return exports


@pytest.fixture(scope="session")
def twin_06b_gguf() -> Path:
    """A Q8_0 GGUF with the exact shape of Qwen3-Reranker-0.6B (random weights, no head calibration:
    it costs what the real model costs, which is what timing-sensitive tests need). Built once
    into the developer cache (about a minute), then reused."""
    pytest.importorskip("llama_cpp")
    from local_rerank.convert.gguf_export import export_gguf
    from tools.synthetic_model import build_synthetic_model
    from tools.tokenizer_fixture import dev_cache_dir

    folder = dev_cache_dir() / "twins" / "0.6b-uncalibrated"
    model = folder / "0.6b-q8_0.gguf"
    if not model.is_file():
        checkpoint = build_synthetic_model(folder / "checkpoint", "0.6b", dtype="bf16", calibrate=False)
        export_gguf(checkpoint, folder / "partial.gguf", "q8_0")
        (folder / "partial.gguf").rename(model)
        shutil.rmtree(checkpoint)
    return model
