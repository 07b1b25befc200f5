"""local-rerank: an offline, quantized Qwen3-Reranker for your own machine.

    from local_rerank import Reranker
    with Reranker.load("models/qwen3-reranker-0.6b-q8_0.gguf") as reranker:
        for result in reranker.rank("how do I copy a folder", documents, top_k=5):
            print(result.score, result.text)
"""

from local_rerank.backends.base import BackendOptions
from local_rerank.errors import (
    BackendUnavailableError,
    ConversionError,
    DeviceFallbackWarning,
    InputError,
    LocalRerankError,
    ModelError,
)
from local_rerank.recipe import DEFAULT_INSTRUCTION, DEFAULT_MAX_LENGTH
from local_rerank.reranker import RankResult, Reranker

__all__ = [
    "BackendOptions",
    "BackendUnavailableError",
    "ConversionError",
    "DEFAULT_INSTRUCTION",
    "DeviceFallbackWarning",
    "DEFAULT_MAX_LENGTH",
    "InputError",
    "LocalRerankError",
    "ModelError",
    "RankResult",
    "Reranker",
]
