"""The export's own parity check: a converted file against the float32 reference.

A fixed check set (English, Chinese, code, emoji, CRLF, near-empty and over-length
documents, default and custom instructions) is scored by the reference and by the new
file. Rankings are the product, so rank agreement comes first: no pair of documents whose
reference scores differ by more than twice the bar (or twice what the format reaches on the
model, where that is more) may swap places; then every score must be within the tolerance.

The tolerance is fair to the model: each weight type has a fixed fidelity bar (``TOLERANCES``),
and where the format's rounding can be simulated (:mod:`local_rerank.convert.reach`), the gate
also measures what the format reaches on this very model and allows ``REACH_MARGIN`` times
that, up to ``LOW_BIT_TOLERANCE``. A wide or sharp model whose every faithful conversion moves
scores further than the bar is not refused for it; the report says the file is not
``faithful`` (beyond the bar), and a broken file (wrong prompt, wrong head) is still refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from local_rerank.backends.openvino import bf16_products_here, eight_bit_activations_here
from local_rerank.convert.onnx_export import int8_activations_here
from local_rerank.convert.reach import FORMAT_ROUNDING, round_model
from local_rerank.convert.reference import ReferenceScorer
from local_rerank.formats import LOW_BIT_TOLERANCE, tolerances
from local_rerank.reranker import Reranker

# Absolute tolerance on p("yes") per weight type (local_rerank/formats.py), GGUF and ONNX.
TOLERANCES = tolerances()
# How much further than the simulated format a file may be: the simulation rounds as the format
# does but does not repeat each runtime's accumulation order, f16 KV cache or padding. Measured
# file / simulation ratios on the synthetic models: docs/how-it-works.md "The export gate".
REACH_MARGIN = 2.0

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


def tolerance_for(quantization: str, reach: float | None = None) -> float:
    """The absolute score tolerance for a weight type: its fidelity bar, widened to ``REACH_MARGIN``
    times what the format reaches on the model (when measured), never beyond ``LOW_BIT_TOLERANCE``."""
    bar = TOLERANCES.get(quantization, LOW_BIT_TOLERANCE)
    if reach is None:
        return bar
    return max(bar, min(REACH_MARGIN * reach, LOW_BIT_TOLERANCE))


def count_inversions(reference: Sequence[float] | np.ndarray, candidate: Sequence[float] | np.ndarray,
                     margin: float) -> int:
    """Pairs whose reference scores differ by more than ``margin`` but swap order in ``candidate``."""
    inversions = 0
    for i, j in combinations(range(len(reference)), 2):
        if (abs(reference[i] - reference[j]) > margin
                and (reference[i] - reference[j]) * (candidate[i] - candidate[j]) < 0):
            inversions += 1
    return inversions


Scorer = Callable[[str, Sequence[str], "str | None"], Sequence[float]]
CheckScores = list[np.ndarray]  # one array of scores per case of CHECK_SET


def score_check_set(scorer: Scorer) -> CheckScores:
    """The check set's scores by ``scorer``, case by case."""
    return [np.asarray(scorer(case.query, case.documents, case.instruction), dtype=np.float64) for case in CHECK_SET]


def _errors(expected: CheckScores, actual: CheckScores) -> np.ndarray:
    return np.abs(np.concatenate(expected) - np.concatenate(actual))


def _max_error(errors: np.ndarray) -> float:
    """The largest score difference; infinite where a score is not a number (never a pass)."""
    return float(errors.max()) if np.isfinite(errors).all() else float("inf")


def _inversions(expected: CheckScores, actual: CheckScores, margin: float) -> int:
    return sum(count_inversions(e, a, margin) for e, a in zip(expected, actual))


def judge(expected: CheckScores, actual: CheckScores, quantization: str,
          reached: CheckScores | None = None) -> dict[str, Any]:
    """The verdict on a file's check-set scores (``actual``) against the reference's (``expected``);
    ``reached``: the reference's scores with the format's rounding, where it can be simulated."""
    reach = _max_error(_errors(expected, reached)) if reached is not None else None
    reach = reach if reach is None or np.isfinite(reach) else None  # a simulation gone wrong widens nothing
    tolerance = tolerance_for(quantization, reach)
    bar = tolerance_for(quantization)
    errors = _errors(expected, actual)
    max_error = _max_error(errors)
    # Rank agreement first: pairs the reference separates by more than twice the bar (or twice what
    # the format itself reaches) keep their order, even where each score is within the tolerance.
    inversions = _inversions(expected, actual, 2 * max(bar, reach or 0.0))
    passed = inversions == 0 and max_error <= tolerance
    return {
        "reference": "transformers float32, official recipe",
        "pairs": sum(len(scores) for scores in expected),
        "max_abs_error": max_error,
        "mean_abs_error": float(np.nanmean(errors)),
        "rank_inversions": inversions,
        "format_reach": reach,
        "fidelity_bar": bar,
        "tolerance": tolerance,
        "passed": passed,
        "faithful": passed and max_error <= bar,  # then no pair apart by more than 2 x bar can swap
    }


# What a runtime does on this CPU that changes what a weight type reaches: probed once per gate,
# recorded in the verdict under this name; where it is False the simulation rounds no activations.
NATIVE_PROBES: dict[tuple[str, str], tuple[str, Callable[[], bool]]] = {
    ("openvino", "int8"): ("int8_activations", eight_bit_activations_here),  # where the CPU has VNNI
    ("openvino", "bf16"): ("bf16_products", bf16_products_here),  # where it has AVX512-BF16 or AMX
    ("onnx", "int8-a8"): ("int8_activations", int8_activations_here),  # onnxruntime's accuracy level 4
}


def check_parity(model: Path, checkpoint: Path, quantization: str, backend: str) -> dict[str, Any]:
    """Parity of a converted model against the reference on the check set; for the weight types of
    ``NATIVE_PROBES``, also what the runtime does on this CPU (``int8_activations``, ``bf16_products``)."""
    reference = ReferenceScorer(checkpoint, max_length=CHECK_MAX_LENGTH)
    expected = score_check_set(reference.score)
    with Reranker.load(model, backend=backend, max_length=CHECK_MAX_LENGTH) as reranker:
        actual = score_check_set(reranker.score)
    verdict = judge(expected, actual, quantization)
    recorded, probe = NATIVE_PROBES.get((backend, quantization), (None, None))
    native = probe() if probe is not None else None
    rounding = FORMAT_ROUNDING.get((backend, quantization))
    if not verdict["faithful"] and rounding is not None:  # beyond the bar: judged against what the format reaches
        if native is False:
            rounding = replace(rounding, activations=None)
        round_model(reference.model, rounding, (reference.token_true_id, reference.token_false_id))
        verdict = judge(expected, actual, quantization, score_check_set(reference.score))
    if recorded is not None:
        verdict[recorded] = native
    return verdict
