"""GGUF models on llama.cpp, through llama-cpp-python's low-level API.

Token ids come from :mod:`local_rerank.recipe` (the high-level ``Llama.embed`` tokenizes
without parsing control tokens and misreads rank-pooled output, so it is not used).
Many documents go into one ``llama_decode`` as separate sequences sharing one KV cache.

Two scoring paths, chosen per file by :func:`local_rerank.gguf_file.read_gguf_model`:
``causal`` asks for logits at each sequence's last token only and reads the yes/no
entries; ``rank`` is llama.cpp's rank pooling (what llama-server does), which yields
softmax([yes, no]) per sequence but computes the output layer for every prompt token.
Both give the same scores; ``causal`` is much faster and is used whenever the file holds
a usable output matrix.

Shared prefix (``causal`` path): the system line, instruction and query are the same tokens
for every document of a query (:meth:`local_rerank.recipe.PromptEncoder.shared_length`).
They are decoded once into a holder sequence whose cells every document of the batch then
shares (llama.cpp's sequence copy), and the last one is kept for the next batch, so a
query's prefix is computed once however many batches its documents fill. Each document
decodes only its own tokens, whole in one micro-batch, so its score still does not depend
on its neighbours.
"""

from __future__ import annotations

import ctypes
import math
import signal
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from local_rerank.backends.base import Backend, BackendOptions
from local_rerank.backends.llama_kernels import LlamaKernels, load_kernels
from local_rerank.errors import BackendUnavailableError, LocalRerankError, ModelError
from local_rerank.gguf_file import ScoringPath, read_gguf_model
from local_rerank.hardware import available_cores
from local_rerank.recipe import DEFAULT_MAX_LENGTH, PromptEncoder, answer_ids

MAX_SEQUENCES = 64  # llama.cpp allows 256
# Documents are packed whole into decodes of at most this many tokens, one llama.cpp
# micro-batch each: a sequence split across micro-batches scores slightly differently
# (about 1e-3 with Q8_0), so packing whole keeps a score independent of its neighbours.
# Longer prompts (up to max_length) are decoded alone, split the same way every time.
DEFAULT_BATCH_TOKENS = 512
# On a GPU, decodes of many documents keep the device busy, but every token of a decode also
# attends over the whole batch's cells, so larger is not always faster. Measured on an H100
# (tools/gpu_benchmark.py, 0.6B Q8_0, 100 documents of 256 tokens): 512 tokens 961 ms,
# 2048 523 ms, 8192 640 ms, 16384 797 ms.
GPU_BATCH_TOKENS = 2048

# llama.cpp's CPU backend computes a decode of fewer than 64 tokens along another path, whose
# scores differ by up to 9e-3 (tiny Q8_0 model; measured). Shorter decodes (a short document
# after its shared prefix) are padded with a throwaway sequence, so that every decode takes
# the same path and a score does not depend on how many tokens were decoded beside it.
MIN_DECODE_TOKENS = 64
PAD_TOKEN = "<|endoftext|>"  # what the padding decodes: any token would do

Part = tuple[Sequence[int], int, int]  # token ids, position of the first one, sequence id

_llama: Any = None
_kernels: LlamaKernels | None = None
_recent_log: deque[str] = deque(maxlen=8)


def _llama_cpp() -> Any:
    """Import llama_cpp once, route its log into ``_recent_log``, load the CPU kernels for this CPU
    (:func:`local_rerank.backends.llama_kernels.load_kernels`) and initialise its backend."""
    global _llama, _kernels
    if _llama is None:
        try:
            import llama_cpp
        except ImportError as e:
            raise BackendUnavailableError(
                "the GGUF backend needs llama-cpp-python: pip install 'local-rerank[gguf]'"
            ) from e
        except (OSError, RuntimeError) as e:  # llama-cpp-python reports a library that does not load so
            raise BackendUnavailableError(f"llama-cpp-python is installed but its library does not load: {e}") from e
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p())
        _kernels = load_kernels(llama_cpp)
        llama_cpp.llama_backend_init()
        _llama = llama_cpp
    return _llama


def load_llama_cpp() -> tuple[Any, LlamaKernels]:
    """llama_cpp, ready to load models, and the CPU kernels it runs here (``doctor`` names them).

    Raises:
        BackendUnavailableError: llama-cpp-python is missing, or has no kernels for this CPU.
    """
    llama = _llama_cpp()
    assert _kernels is not None
    return llama, _kernels


@contextmanager
def interrupts_after_native_code() -> Iterator[None]:
    """Ctrl+C during the block is raised when the block ends, not inside it.

    llama.cpp calls :func:`_log_callback` from native code, and ctypes prints and drops an
    exception raised in a callback: a KeyboardInterrupt that lands there would be lost, and a
    conversion the user interrupted would go on to replace its output. SIGINT only sets a flag
    meanwhile, where it would raise KeyboardInterrupt: in the main thread, with Python's own handler.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # SIGINT ignored (batch workers), or handled by someone else: theirs to keep
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


@ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
def _log_callback(level: int, text: bytes, _: ctypes.c_void_p) -> None:
    line = text.decode("utf-8", "replace").strip() if text else ""
    if line:
        _recent_log.append(line)


def _last_log_line() -> str:
    errors = [line for line in _recent_log if "error" in line.lower() or "failed" in line.lower()]
    return (errors or list(_recent_log) or ["no details"])[-1]


class GgufBackend(Backend):
    """A Qwen3-Reranker GGUF file scored by llama.cpp on the CPU or a CUDA GPU.

    Args:
        path: the GGUF file, validated before llama.cpp opens it.
        options: device, threads, and the token limit for packing documents into a decode.
        max_length: the longest prompt this backend must take (the recipe's token budget).
        scoring_path: "causal" or "rank"; by default the fastest one the file allows.
        share_prefix: compute each query's shared prefix once (``causal`` path only).

    Raises:
        ModelError: the file is not a usable Qwen3-Reranker GGUF.
        BackendUnavailableError: llama-cpp-python is missing, or CUDA was asked for
            and this build has none.
    """

    name = "gguf"
    _model: Any = None
    _ctx: Any = None
    _batch: Any = None

    def __init__(self, path: Path, options: BackendOptions = BackendOptions(), *,
                 max_length: int = DEFAULT_MAX_LENGTH, scoring_path: ScoringPath | None = None,
                 share_prefix: bool = True) -> None:
        super().__init__()
        info = read_gguf_model(path)
        if scoring_path is not None and scoring_path not in info.scoring_paths:
            raise ModelError(f"{Path(path).name} cannot be scored with the {scoring_path} path")
        llama = _llama_cpp()
        self.tokenizer = info.tokenizer
        self.model_name = info.name
        self.scoring_path: ScoringPath = scoring_path or info.scoring_paths[0]
        self.device = _device(llama, options.device)
        self.max_batch_tokens = options.max_batch_tokens or (GPU_BATCH_TOKENS if self.device == "cuda"
                                                             else DEFAULT_BATCH_TOKENS)
        self.max_batch_sequences = MAX_SEQUENCES
        self._decode_tokens = max(self.max_batch_tokens, max_length)
        self.threads = options.threads or available_cores()
        self._yes, self._no = answer_ids(self.tokenizer)
        self._pad_id = self.tokenizer.token_id(PAD_TOKEN)
        sharing = share_prefix and self.scoring_path == "causal"
        self._prompts = PromptEncoder(self.tokenizer, max_length) if sharing else None
        self._kept: tuple[int, ...] = ()  # the shared prefix held in sequence max_batch_sequences
        # KV cells: room for the longest prompt (max_length) or a packed batch and, beside it, the
        # first of its shared prefixes (see _batches). On the CPU the context starts with room for
        # a packed batch and grows when a longer prompt comes: cells for the whole budget up front
        # cost ~1 GB on the 0.6B model (8192 tokens of f16 KV, and attention buffers sized by
        # them) where most batches use a tenth of that. On a GPU it is all taken at the start, so
        # that a GPU without room for it fails there, and the selector falls back to the CPU.
        beside = self.max_batch_tokens + MIN_DECODE_TOKENS if self._prompts else 0
        self._most_room = self._decode_tokens + beside
        self._room = self._most_room if self.device == "cuda" else self.max_batch_tokens + beside
        self._model = self._load_model(llama, Path(path))
        self._ctx = self._new_context(llama, self._room)
        self._batch = llama.llama_batch_init(self._decode_tokens, 0, 1)

    def _load_model(self, llama: Any, path: Path) -> Any:
        params = llama.llama_model_default_params()
        params.n_gpu_layers = 999 if self.device == "cuda" else 0
        params.use_extra_bufts = load_llama_cpp()[1].repack  # off where they would reach AMX
        with interrupts_after_native_code():
            model = llama.llama_model_load_from_file(str(path).encode(), params)
        if not model:
            raise ModelError(f"llama.cpp could not load {path.name}: {_last_log_line()}")
        return model

    def _new_context(self, llama: Any, cells: int) -> Any:
        params = llama.llama_context_default_params()
        params.n_batch = self._decode_tokens
        params.n_ctx = cells
        # Rank pooling needs each sequence in one micro-batch, and llama.cpp then keeps
        # logits for every token: n_batch x vocabulary floats (~5 GB at 8192 tokens).
        params.n_ubatch = self._decode_tokens if self.scoring_path == "rank" else self.max_batch_tokens
        params.n_seq_max = self.max_batch_sequences + 2  # the documents, the kept shared prefix, padding
        if self.scoring_path == "causal":  # one row of logits per sequence, not per token (~5 GB)
            params.n_outputs_max = params.n_seq_max  # llama.cpp reserves at least one per sequence
        params.kv_unified = True
        params.n_threads = params.n_threads_batch = self.threads
        params.embeddings = self.scoring_path == "rank"
        params.pooling_type = (llama.LLAMA_POOLING_TYPE_RANK if self.scoring_path == "rank"
                               else llama.LLAMA_POOLING_TYPE_NONE)
        self._tune_context(params)
        with interrupts_after_native_code():
            ctx = llama.llama_init_from_model(self._model, params)
        if not ctx:
            raise BackendUnavailableError(f"llama.cpp could not create a context: {_last_log_line()}")
        return ctx

    def _tune_context(self, params: Any) -> None:
        """Set more of a new context's parameters (tools/profile_ops.py: an evaluation callback)."""

    def _batches(self, sequences: Sequence[Sequence[int]]) -> Iterator[list[int]]:
        """Pack by the tokens a batch decodes: each document's own part, and the shared prefix
        of every query after the batch's first (which the context has room for beside it)."""
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        batch: list[int] = []
        prefixes: set[tuple[int, ...]] = set()
        tokens = 0
        for i in order:
            shared = self._shared_length(sequences[i])
            prefix = tuple(sequences[i][:shared])
            cost = len(sequences[i]) - (shared if not prefixes or prefix in prefixes else 0)
            if batch and (tokens + cost > self.max_batch_tokens or len(batch) == self.max_batch_sequences):
                yield batch
                batch, prefixes, tokens = [], set(), len(sequences[i]) - shared
            else:
                tokens += cost
            batch.append(i)
            prefixes.add(prefix)
        if batch:
            yield batch

    def _shared_length(self, ids: Sequence[int]) -> int:
        return self._prompts.shared_length(ids) if self._prompts else 0

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        llama = _llama
        shared = [self._shared_length(ids) for ids in sequences]
        groups: dict[tuple[int, ...], list[int]] = {}  # each shared prefix -> the sequences that have it
        for seq, (ids, n) in enumerate(zip(sequences, shared)):
            if n:
                groups.setdefault(tuple(ids[:n]), []).append(seq)
        self._make_room(sequences, shared, groups)
        self._prepare_prefixes(groups)
        lasts = self._decode([(ids[n:], n, seq) for seq, (ids, n) in enumerate(zip(sequences, shared))], outputs=True)
        if self.scoring_path == "rank":
            return np.array([llama.llama_get_embeddings_seq(self._ctx, s)[0] for s in range(len(sequences))])
        scores = []
        for last in lasts:
            logits = llama.llama_get_logits_ith(self._ctx, last)
            scores.append(1.0 / (1.0 + math.exp(logits[self._no] - logits[self._yes])))
        return np.array(scores)

    def _make_room(self, sequences: Sequence[Sequence[int]], shared: list[int],
                   groups: dict[tuple[int, ...], list[int]]) -> None:
        """Grow the context (at least twice its cells, at most the whole budget) when the batch's
        cells do not fit: each document's own tokens, each distinct shared prefix, the padding.
        It never shrinks: a process that met one long prompt keeps room for the next."""
        cells = (sum(len(ids) - n for ids, n in zip(sequences, shared)) + sum(map(len, groups))
                 + (MIN_DECODE_TOKENS if self._prompts else 0))
        if cells <= self._room:
            return
        room = min(self._most_room, max(cells, 2 * self._room))
        _llama.llama_free(self._ctx)  # first: the two together would need more than the budget's cells
        self._ctx, self._kept = None, ()
        try:
            self._ctx = self._new_context(_llama, room)
        except BackendUnavailableError:
            self._ctx = self._new_context(_llama, self._room)  # what worked before, for shorter prompts
            raise
        self._room = room

    def _prepare_prefixes(self, groups: dict[tuple[int, ...], list[int]]) -> None:
        """Leave the KV cache holding each shared prefix of the batch (``groups``: each one's
        sequences), copied to its documents.

        The prefix kept from the last batch is reused; everything else is forgotten (cells
        are released, not zeroed) and each new prefix is decoded alone: the first into the
        holder sequence (kept for the next batch), the others into their first document.
        """
        llama, memory = _llama, _llama.llama_get_memory(self._ctx)
        kept, self._kept = (self._kept if self._kept in groups else ()), ()
        if kept:
            llama.llama_memory_seq_keep(memory, self.max_batch_sequences)
        else:
            llama.llama_memory_clear(memory, False)
        prefixes = sorted(groups, key=lambda prefix: prefix != kept)  # the kept one stays in the first holder
        for k, prefix in enumerate(prefixes):
            holder = self.max_batch_sequences if k == 0 else groups[prefix][0]
            if prefix != kept:
                self._decode([(prefix, 0, holder)], outputs=False)
            for seq in groups[prefix]:
                if seq != holder:
                    llama.llama_memory_seq_cp(memory, holder, seq, -1, -1)
        self._kept = prefixes[0] if prefixes else ()

    def _decode(self, parts: Sequence[Part], outputs: bool) -> list[int]:
        """Decode the parts in one llama_decode; return each one's last index in the batch
        (where logits are asked for when ``outputs``)."""
        padding = MIN_DECODE_TOKENS - sum(len(ids) for ids, _, _ in parts) if self._prompts else 0
        filler = self.max_batch_sequences + 1
        if padding > 0:
            parts = [*parts, ([self._pad_id] * padding, 0, filler)]
        lasts = self._fill_batch(parts, outputs)
        with interrupts_after_native_code():
            status = _llama.llama_decode(self._ctx, self._batch)
        if status != 0:
            raise LocalRerankError(f"llama.cpp failed to decode a batch (status {status}): {_last_log_line()}")
        if padding > 0:
            _llama.llama_memory_seq_rm(_llama.llama_get_memory(self._ctx), filler, -1, -1)
            lasts.pop()
        return lasts

    def _fill_batch(self, parts: Sequence[Part], outputs: bool) -> list[int]:
        """Write the parts into the llama_batch; return the index of each one's last token."""
        batch = self._batch
        total = sum(len(ids) for ids, _, _ in parts)
        tokens = np.ctypeslib.as_array(batch.token, shape=(total,))
        positions = np.ctypeslib.as_array(batch.pos, shape=(total,))
        n_seq_id = np.ctypeslib.as_array(batch.n_seq_id, shape=(total,))
        wanted = np.ctypeslib.as_array(batch.logits, shape=(total,))
        lasts: list[int] = []
        start = 0
        for ids, first, seq in parts:
            end = start + len(ids)
            tokens[start:end] = ids
            positions[start:end] = np.arange(first, first + len(ids))
            for k in range(start, end):
                batch.seq_id[k][0] = seq
            lasts.append(end - 1)
            start = end
        n_seq_id[:] = 1
        wanted[:] = 0
        if outputs:
            wanted[lasts] = 1
        batch.n_tokens = total
        return lasts

    def _release(self) -> None:
        """Free the llama.cpp context, batch and model."""
        if _llama is None:
            return
        if self._batch is not None:
            _llama.llama_batch_free(self._batch)
        if self._ctx:
            _llama.llama_free(self._ctx)
        if self._model:
            _llama.llama_model_free(self._model)
        self._model = self._ctx = self._batch = None

    def __del__(self) -> None:
        self.close()


def _device(llama: Any, requested: str) -> str:
    gpu = bool(llama.llama_supports_gpu_offload())
    if requested == "cuda" and not gpu:
        raise BackendUnavailableError(
            "--device cuda: this llama-cpp-python was built without GPU support; reinstall it with "
            "CMAKE_ARGS=\"-DGGML_CUDA=on\" pip install --force-reinstall --no-cache-dir llama-cpp-python"
        )
    return "cuda" if gpu and requested != "cpu" else "cpu"
