"""The GGUF backend against the float32 transformers reference, on tiny synthetic models."""

from __future__ import annotations

import ctypes
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from local_rerank import BackendOptions, Reranker
from local_rerank.backends.gguf import interrupts_after_native_code
from local_rerank.convert.parity import count_inversions
from local_rerank.errors import BackendUnavailableError
from local_rerank.recipe import format_prompt
from tests.backends.cases import CUSTOM_INSTRUCTION, DOCUMENTS, MAX_LENGTH, QUERY, assert_batch_invariant
from tests.tolerances import TOLERANCE

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("llama_cpp")]


def _backend(path: Path, scoring_path: str | None = None):
    from local_rerank.backends.gguf import GgufBackend

    return GgufBackend(path, max_length=MAX_LENGTH, scoring_path=scoring_path)  # type: ignore[arg-type]


@pytest.mark.parametrize("instruction", [None, CUSTOM_INSTRUCTION])
@pytest.mark.parametrize("quant", sorted(TOLERANCE))
@pytest.mark.parametrize("head", ["tied", "untied"])
def test_scores_match_the_reference(gguf_files, references, head: str, quant: str, instruction: str | None) -> None:
    expected = references[head].score(QUERY, DOCUMENTS, instruction)
    with Reranker(_backend(gguf_files[head, quant]), MAX_LENGTH) as reranker:
        actual = reranker.score(QUERY, DOCUMENTS, instruction)
    np.testing.assert_allclose(actual, expected, atol=TOLERANCE[quant], rtol=0)
    assert count_inversions(expected, actual, margin=2 * TOLERANCE[quant]) == 0
    assert np.ptp(expected) > 0.1, "the synthetic model must spread its scores for this test to mean anything"


@pytest.mark.parametrize("head", ["tied", "untied"])
def test_rank_pooling_path_gives_the_causal_paths_scores(gguf_files, head: str) -> None:
    path = gguf_files[head, "f16"]
    with Reranker(_backend(path, "causal"), MAX_LENGTH) as causal, Reranker(_backend(path, "rank"), MAX_LENGTH) as rank:
        np.testing.assert_allclose(causal.score(QUERY, DOCUMENTS), rank.score(QUERY, DOCUMENTS),
                                   atol=TOLERANCE["f16"], rtol=0)


def test_llama_cpp_converter_layout_scores_through_rank_pooling(gguf_variants, references) -> None:
    with Reranker(_backend(gguf_variants["llama_cpp_untied"]), MAX_LENGTH) as reranker:
        assert reranker.backend.scoring_path == "rank"
        actual = reranker.score(QUERY, DOCUMENTS)
    np.testing.assert_allclose(actual, references["untied"].score(QUERY, DOCUMENTS), atol=TOLERANCE["f16"], rtol=0)


def test_plain_causal_file_scores_from_last_position_logits(gguf_variants, references) -> None:
    with Reranker(_backend(gguf_variants["plain_causal"]), MAX_LENGTH) as reranker:
        actual = reranker.score(QUERY, DOCUMENTS)
    np.testing.assert_allclose(actual, references["tied"].score(QUERY, DOCUMENTS), atol=TOLERANCE["f16"], rtol=0)


def test_a_documents_score_does_not_depend_on_its_batch(gguf_files) -> None:
    with Reranker(_backend(gguf_files["tied", "q8_0"]), MAX_LENGTH) as reranker:
        assert_batch_invariant(reranker, atol=1e-4)


def test_batches_split_by_token_limit_give_the_same_scores(gguf_files) -> None:
    from local_rerank.backends.gguf import GgufBackend

    documents = [f"document number {i}: " + "text " * (i * 7) for i in range(40)]
    larger = GgufBackend(gguf_files["tied", "q8_0"], BackendOptions(max_batch_tokens=2048), max_length=MAX_LENGTH)
    with Reranker(larger, MAX_LENGTH) as large, Reranker(_backend(gguf_files["tied", "q8_0"]), MAX_LENGTH) as default:
        assert len(list(large.backend._batches([[0] * 100] * 40))) == 2
        np.testing.assert_allclose(large.score(QUERY, documents), default.score(QUERY, documents), atol=1e-4, rtol=0)


def test_rank_orders_by_score_and_honours_top_k(gguf_files) -> None:
    with Reranker(_backend(gguf_files["tied", "q8_0"]), MAX_LENGTH) as reranker:
        scores = reranker.score(QUERY, DOCUMENTS)
        ranked = reranker.rank(QUERY, DOCUMENTS, top_k=3)
        everything = reranker.rank(QUERY, DOCUMENTS)
    assert [r.index for r in ranked] == list(np.argsort(scores)[::-1][:3])
    assert [r.text for r in ranked] == [DOCUMENTS[r.index] for r in ranked]
    assert ranked[0].score >= ranked[1].score >= ranked[2].score
    assert {r.index for r in everything if r.truncated} == {len(DOCUMENTS) - 1}


def test_llama_cpp_tokenizes_full_prompts_like_hugging_face(gguf_files, hf_tokenizer, llama_cpp) -> None:
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(gguf_files["tied", "q8_0"]).encode(), params)
    vocab = llama_cpp.llama_model_get_vocab(model)
    try:
        for document in DOCUMENTS[:6]:
            prompt = format_prompt(QUERY, document, CUSTOM_INSTRUCTION).encode()
            buffer = (llama_cpp.llama_token * (len(prompt) + 16))()
            count = llama_cpp.llama_tokenize(vocab, prompt, len(prompt), buffer, len(buffer), False, True)
            assert list(buffer[:count]) == hf_tokenizer.encode(prompt.decode(), add_special_tokens=False)
    finally:
        llama_cpp.llama_model_free(model)


def test_cuda_request_without_a_gpu_build_is_refused(gguf_files, llama_cpp) -> None:
    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python has GPU support")
    from local_rerank.backends.gguf import GgufBackend

    with pytest.raises(BackendUnavailableError, match="without GPU support"):
        GgufBackend(gguf_files["tied", "q8_0"], BackendOptions(device="cuda"), max_length=MAX_LENGTH)


@pytest.mark.gpu
def test_cuda_scores_match_cpu_scores(gguf_files, llama_cpp) -> None:
    if not llama_cpp.llama_supports_gpu_offload():
        pytest.skip("llama-cpp-python was built without CUDA")
    from local_rerank.backends.gguf import GgufBackend

    path = gguf_files["tied", "q8_0"]
    cpu = GgufBackend(path, BackendOptions(device="cpu"), max_length=MAX_LENGTH)
    gpu = GgufBackend(path, BackendOptions(device="cuda"), max_length=MAX_LENGTH)
    assert gpu.device == "cuda"
    with Reranker(cpu, MAX_LENGTH) as on_cpu, Reranker(gpu, MAX_LENGTH) as on_gpu:
        np.testing.assert_allclose(on_gpu.score(QUERY, DOCUMENTS), on_cpu.score(QUERY, DOCUMENTS),
                                   atol=TOLERANCE["q8_0"])


def _sort_calling_back(callback: Callable[[], None]) -> None:
    """Native code (libc's qsort) calling back into Python, as llama.cpp calls its log callback."""
    compare_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

    def compare(a: int, b: int) -> int:
        callback()
        return 0

    values = (ctypes.c_int * 4)(3, 1, 2, 0)
    ctypes.CDLL(None).qsort(values, 4, ctypes.sizeof(ctypes.c_int), compare_type(compare))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # ctypes' report of the bare case
def test_ctrl_c_inside_a_native_callback_is_raised_when_the_call_returns() -> None:
    calls: list[int] = []

    def interrupted() -> None:
        calls.append(1)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)

    _sort_calling_back(interrupted)  # bare, ctypes prints the KeyboardInterrupt and drops it
    assert len(calls) > 1, "the sort went on after the interrupt"
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        with interrupts_after_native_code():
            _sort_calling_back(interrupted)
    assert len(calls) > 1, "the native call ran to its end first"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as batch workers run: Ctrl+C is the parent's
    try:
        calls.clear()
        with interrupts_after_native_code():
            _sort_calling_back(interrupted)  # ignored, and stays ignored
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_profilers_callback_times_every_node_and_changes_no_score(gguf_files) -> None:
    """tools/profile_ops.py: llama.cpp computes each node on its own and reports it to our callback."""
    from tools.profile_ops import CountedGguf, group_of

    path = gguf_files["untied", "q8_0"]
    with Reranker.load(path, max_length=MAX_LENGTH) as plain:
        expected = plain.score(QUERY, DOCUMENTS)
    backend = CountedGguf(path, BackendOptions(threads=1), max_length=MAX_LENGTH)
    with Reranker(backend, MAX_LENGTH) as counted:
        backend.times.counting = True
        np.testing.assert_allclose(counted.score(QUERY, DOCUMENTS), expected, atol=1e-6, rtol=0)
    runs = {kernel: runs for (op, kernel), (_seconds, runs) in backend.times.totals.items() if op == "MUL_MAT"}
    assert backend.times.inferences >= 1 and runs["ffn_up"] > 0 and runs["ffn_up"] % 2 == 0  # once per layer, 2 layers
    assert {group_of(op, kernel) for op, kernel in backend.times.totals} == {"matrix products", "attention", "other"}
    assert sum(seconds for seconds, _runs in backend.times.totals.values()) > 0
