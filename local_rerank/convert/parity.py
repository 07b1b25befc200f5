"""The export's own parity check: a converted file against the float32 reference.

A fixed check set (English, Chinese, code, emoji, CRLF, near-empty and over-length
documents, default and custom instructions) is scored by the reference and by the new
file. The check passes when every score is within the quantization's tolerance and no
pair of documents whose reference scores differ by more than twice that tolerance swaps
places: rankings are the product.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

# Absolute tolerance on p("yes") per weight type, GGUF and ONNX. Measured worst cases on
# this check set (tiny synthetic model / 0.6B shape twin; README, "Accuracy"), with margin.
TOLERANCES = {
    "f32": 1e-3,  # llama.cpp keeps its KV cache in f16
    "f16": 3e-3,
    "bf16": 3e-2,  # measured 7.2e-3 (tiny untied model), 2.2e-3 (0.6B twin)
    "q8_0": 3e-2,  # llama.cpp also quantizes activations to 8 bits
    "fp32": 1e-4,  # onnxruntime, float32 throughout
    "fp16": 1e-2,
    "int8": 3e-2,
    "int8-a8": 3e-2,  # int8 weights and activations per block of 32, like q8_0
    "int8-dynamic": 0.1,
}
LOW_BIT_TOLERANCE = 0.15  # k-quants, int4 and other 2-6 bit types: a coarse sanity bound

CHECK_MAX_LENGTH = 512


@dataclass(frozen=True)
class CheckCase:
    query: str
    documents: tuple[str, ...]
    instruction: str | None = None


CHECK_SET: tuple[CheckCase, ...] = (
    CheckCase(
        "how do I copy a folder recursively on Linux",
        (
            "Use cp -r source/ dest/ to copy a directory and everything inside it.",
            "```bash\nrsync -a src/ dst/\n```\nrsync keeps permissions and can resume.",
            "The Great Barrier Reef is the world's largest coral reef system.",
            ".",
            "Windows users can drag the folder while holding Ctrl.\r\nOr run xcopy /E.",
            "Folders 📁 are copied with cp -R 🙂 on macOS too.",
        ),
    ),
    CheckCase(
        "什么是机器学习？",
        (
            "机器学习是人工智能的一个分支，让计算机从数据中学习规律。",
            "今天的天气很好，我们去公园散步吧。",
            "Machine learning lets computers learn patterns from data.",
            "def train(model, data):\n    for x, y in data:\n        model.fit(x, y)",
        ),
    ),
    CheckCase(
        "find the function that parses dates",
        (
            "def parse_date(text: str) -> date:\n    return datetime.strptime(text, '%Y-%m-%d').date()",
            "def add(a, b):\n    return a + b",
            "Dates are parsed by the calendar module. " * 200,  # longer than the budget: truncated
        ),
        instruction="Given a code search query, retrieve the code snippet that answers it",
    ),
)


def tolerance_for(quantization: str) -> float:
    """The absolute score tolerance for a weight type."""
    return TOLERANCES.get(quantization, LOW_BIT_TOLERANCE)


def count_inversions(reference: Sequence[float], candidate: Sequence[float], margin: float) -> int:
    """Pairs whose reference scores differ by more than ``margin`` but swap order in ``candidate``."""
    inversions = 0
    for i, j in combinations(range(len(reference)), 2):
        if abs(reference[i] - reference[j]) > margin and (reference[i] - reference[j]) * (candidate[i] - candidate[j]) < 0:
            inversions += 1
    return inversions


Scorer = Callable[[str, Sequence[str], "str | None"], Sequence[float]]


def compare(reference: Scorer, candidate: Scorer, quantization: str) -> dict[str, Any]:
    """Score the check set with both and report errors, inversions and the verdict."""
    tolerance = tolerance_for(quantization)
    errors: list[float] = []
    inversions = 0
    for case in CHECK_SET:
        expected = np.asarray(reference(case.query, case.documents, case.instruction))
        actual = np.asarray(candidate(case.query, case.documents, case.instruction))
        errors.extend(np.abs(expected - actual).tolist())
        inversions += count_inversions(expected, actual, 2 * tolerance)
    max_error = float(max(errors))
    return {
        "reference": "transformers float32, official recipe",
        "pairs": len(errors),
        "max_abs_error": max_error,
        "mean_abs_error": float(np.mean(errors)),
        "rank_inversions": inversions,
        "tolerance": tolerance,
        "passed": max_error <= tolerance and inversions == 0,
    }


def check_parity(model: Path, checkpoint: Path, quantization: str, backend: str) -> dict[str, Any]:
    """Parity of a converted model against the reference on the check set."""
    from local_rerank.convert.reference import ReferenceScorer
    from local_rerank.reranker import Reranker

    reference = ReferenceScorer(checkpoint, max_length=CHECK_MAX_LENGTH)
    with Reranker.load(model, backend=backend, max_length=CHECK_MAX_LENGTH) as reranker:
        return compare(reference.score, reranker.score, quantization)
