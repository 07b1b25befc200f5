"""The evaluation as text: a table of metrics per stage and a chart of score distributions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from local_rerank.eval.runner import StageResult

_BARS = " ▏▎▍▌▋▊▉█"


def metrics_table(results: Mapping[str, StageResult]) -> str:
    """One row per stage: its metrics and mean milliseconds per query."""
    names = list(next(iter(results.values())).metrics)
    width = max(18, *(len(stage) + 1 for stage in results))
    lines = [f"{'stage':<{width}}" + "".join(f"{name:>11}" for name in names) + f"{'ms/query':>11}"]
    for stage, result in results.items():
        lines.append(f"{stage:<{width}}" + "".join(f"{result.metrics[name]:>11.3f}" for name in names)
                     + f"{result.seconds * 1000:>11.1f}")
    return "\n".join(lines)


def score_chart(relevant: Sequence[float], others: Sequence[float], bins: int = 10, width: int = 30) -> str:
    """A terminal histogram of p(yes) in ``bins`` bins from 0 to 1: relevant and non-relevant
    candidates side by side, each bar as a share of its own group."""
    lines = [f"{'p(yes)':<11}{'relevant':<{width + 9}}non-relevant"]
    counts = [_histogram(relevant, bins), _histogram(others, bins)]
    for b in range(bins):
        cells = [f"{_bar(group[b] / max(sum(group), 1), width)} {group[b]:>6}" for group in counts]
        lines.append(f"{b / bins:.1f}–{(b + 1) / bins:.1f}   " + "  ".join(cells))
    return "\n".join(lines)


def _histogram(values: Sequence[float], bins: int) -> list[int]:
    counts = [0] * bins
    for value in values:
        counts[min(int(value * bins), bins - 1)] += 1
    return counts


def _bar(share: float, width: int) -> str:
    eighths = round(share * width * 8)
    return ("█" * (eighths // 8) + (_BARS[eighths % 8] if eighths % 8 else "")).ljust(width)
