"""What each model format is, in one place: the formats and their weight types.

A :class:`Format` says how a model of that format is laid out, which runtime runs it (and whether
that runtime has a CUDA build), its default weight type and what its conversion records; a
:class:`WeightType` says how faithful one of its weight types must be (the export gate's bar), how
it rounds a model (the gate's reach simulation) and where the selector ranks it on a CPU and a GPU.
The backends' opener, the converter, the gate, the selector, the store and doctor read these; a
new weight type of a known format is a descriptor here (and its exporter's support); a new format
is also a backend module, an exporter, and its name in the opener's and the converter's dispatch.

The ranks come from measurements: on the CPU, fidelity first, then the speed measured on the 0.6B
shape twin (docs/speed.md: bf16 2.5x the reference where the CPU has AVX512-BF16, int8-a8 2.3x, q8_0
2.25x, f16 2.1x; ONNX int8 and fp32 from the loaded runs). OpenVINO bf16 comes first: measured by
hand (issue 23, the fp32 IR compiled with the bf16 hint) at 5.7x the reference on an AMX Xeon and
6.0x on an AVX512-BF16 Zen 5, about 4x GGUF bf16, at bf16's error; without native bf16 it runs
bf16-stored weights in float32 and the selector puts it last (selector.cpu_order). OpenVINO int8 is
as fast as GGUF bf16 but on the outlier twin its error is twice Q8_0's and over the gate
(docs/how-it-works.md "Honest twins"): a named option, behind every faithful type. int8-dynamic is
fast but 3x less faithful, and its operators have no CUDA kernels. On an H100
(tools/gpu_benchmark.py, 0.6B twin, 100 documents of 256 tokens): GGUF bf16 404 ms at 2.1e-3 from
the reference, f16 543 ms at 1.5e-3, q8_0 523 ms at 1.2e-2; onnxruntime-gpu is not measured yet, so
the measured types come first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Format:
    """One model format: its layout, the runtime that runs it, and its conversion's defaults."""

    name: str
    title: str  # as people write it: "GGUF"
    layout: Literal["file", "folder"]  # a GGUF is one file (its manifest beside it); exports are folders
    runtime: str  # the distribution that runs it on the CPU
    extra: str  # the pip extra that installs the runtime
    probe_installed: str  # the HardwareProbe field saying the runtime is installed
    probe_cuda: str | None  # the HardwareProbe field saying it has CUDA; None: CPU only
    cuda_runtime: str | None  # the distribution with CUDA
    no_cuda_hint: str  # why this format cannot use a GPU that is there
    default_quant: str
    converter_libraries: tuple[str, ...]  # whose versions the conversion manifest records
    suggested: bool  # doctor suggests installing its runtime even where no model of it is at hand


AnswerRows = Literal["rows", "difference", "exact"]  # how a file stores the answer rows (Rounding.head)


@dataclass(frozen=True)
class Rounding:
    """How a weight type rounds a model, by name (convert/reach.py turns the names into arithmetic):
    its stored weights, the inputs of its matrix products, whether the embedding table is stored in
    the type too, and how the answer rows are: ``"rows"`` the yes and no rows of the output matrix
    each in the type (GGUF), ``"difference"`` one yes-minus-no row in the type (the ONNX export's
    score row), ``"exact"`` kept in float32 (OpenVINO's one-column head)."""

    weights: str
    activations: str | None = None
    embedding: bool = True
    head: AnswerRows = "rows"


@dataclass(frozen=True)
class WeightType:
    """One weight type of a format, as the gate and the selector see it."""

    format: str
    quant: str
    tolerance: float  # the export gate's fidelity bar: max |Δp("yes")| against the float32 reference
    rounding: Rounding | None = None  # None: no honest simulation; the bar alone judges it
    cpu_rank: int | None = None  # place in the CPU order (0 first); None: not run on the CPU by choice
    cpu_faithful: bool = False  # at least as faithful as Q8_0, also with activation outliers
    gpu_rank: int | None = None  # place in the GPU order; None: never chosen for a GPU

    @property
    def variant(self) -> tuple[str, str]:
        """(format, weight type), as the selector and the manifests name it."""
        return self.format, self.quant


GGUF = Format("gguf", "GGUF", "file", "llama-cpp-python", "gguf", "llama_cpp_installed", "llama_cpp_cuda",
              "llama-cpp-python",
              'llama-cpp-python was built without CUDA (reinstall with CMAKE_ARGS="-DGGML_CUDA=on")', "q8_0",
              ("gguf", "numpy", "llama_cpp_python", "tokenizers", "torch", "transformers"), suggested=True)
ONNX = Format("onnx", "ONNX", "folder", "onnxruntime", "onnx", "onnxruntime_installed", "onnxruntime_cuda",
              "onnxruntime-gpu",
              "onnxruntime has no CUDA provider (install onnxruntime-gpu instead of onnxruntime)", "int8",
              ("optimum", "optimum-onnx", "onnx", "onnxruntime", "onnxruntime-gpu", "torch", "transformers"),
              suggested=True)
OPENVINO = Format("openvino", "OpenVINO", "folder", "openvino", "openvino", "openvino_installed", None, None,
                  "OpenVINO models run on the CPU only", "int8",
                  ("openvino", "optimum", "optimum-onnx", "onnx", "torch", "transformers"), suggested=False)
FORMATS = {fmt.name: fmt for fmt in (GGUF, ONNX, OPENVINO)}
FORMAT_NAMES = tuple(FORMATS)

# Tolerances: measured worst cases on the check set (tiny synthetic model / 0.6B shape twin;
# docs/how-it-works.md "Accuracy"), with margin.
WEIGHT_TYPES = (
    # OpenVINO bf16: weights stored in bf16 (widened to f32 in the graph, which the CPU plugin folds
    # into bf16 kernels); compiled with the bf16 precision hint where the CPU multiplies bf16 natively
    # (backends/openvino.py), so activations are bf16 there too. The one-column head stays float32.
    WeightType("openvino", "bf16", 3e-2, Rounding("bfloat16", "bfloat16", head="exact"),
               cpu_rank=0, cpu_faithful=True),
    # llama.cpp: f16/bf16 weights multiply f16/bf16 activations; Q8_0 weights multiply Q8_0 activations.
    WeightType("gguf", "bf16", 3e-2, Rounding("bfloat16", "bfloat16"),  # measured 7.2e-3 (tiny untied), 2.2e-3 (0.6B)
               cpu_rank=1, cpu_faithful=True, gpu_rank=0),
    # MatMulNBits: int8 weights in blocks of 32 along each input row, the embedding table in float32;
    # int8-a8 also rounds each product's inputs to int8 per block of 32 where onnxruntime does
    # (accuracy level 4; the gate probes it). The score row (yes minus no) is quantized too.
    WeightType("onnx", "int8-a8", 3e-2, Rounding("int8-nbits-32", "int8-blocks-32", embedding=False, head="difference"),
               cpu_rank=2, cpu_faithful=True),
    WeightType("gguf", "q8_0", 3e-2, Rounding("q8_0", "q8_0"), cpu_rank=3, cpu_faithful=True, gpu_rank=2),
    WeightType("onnx", "int8", 3e-2, Rounding("int8-nbits-32", None, embedding=False, head="difference"),
               cpu_rank=4, cpu_faithful=True, gpu_rank=4),
    WeightType("gguf", "f16", 3e-3, Rounding("float16", "float16"), cpu_rank=5, cpu_faithful=True, gpu_rank=1),
    WeightType("onnx", "fp32", 1e-4, None, cpu_rank=6, cpu_faithful=True, gpu_rank=5),  # float32 throughout
    WeightType("openvino", "fp32", 1e-4, None, cpu_rank=7, cpu_faithful=True),
    WeightType("gguf", "f32", 1e-3, None, cpu_rank=8, cpu_faithful=True, gpu_rank=6),  # llama.cpp's KV cache is f16
    # u8 weights in groups of 32 with a zero point; 8-bit activations per group of 32 on VNNI CPUs
    # (elsewhere OpenVINO keeps float activations, so the file lands nearer the reference).
    WeightType("openvino", "int8", 3e-2, Rounding("u8-groups-32", "int8-blocks-32", head="exact"), cpu_rank=9),
    # quantize_dynamic: 7-bit weights per output channel (reduce_range: full 8-bit weights times u8
    # activations saturate int16 sums on CPUs without VNNI), the score row (yes minus no) one channel,
    # u8 activations with one range per tensor. Its embedding table is stored as u8 with one range,
    # which the simulation does not repeat (it rounds the table per row in 7 bits).
    WeightType("onnx", "int8-dynamic", 0.1, Rounding("int7-channels", "u8-tensor", head="difference"), cpu_rank=10),
    WeightType("onnx", "fp16", 1e-2, None, gpu_rank=3),
)
LOW_BIT_TOLERANCE = 0.15  # k-quants, int4 and other 2-6 bit types: a coarse sanity bound


def weight_type(fmt: str, quant: str) -> WeightType | None:
    """The descriptor of ``quant`` in ``fmt``; None for a type not described (k-quants, int4 ...)."""
    return next((w for w in WEIGHT_TYPES if w.variant == (fmt, quant)), None)


def tolerances() -> dict[str, float]:
    """The gate's bar by weight-type name (a name means the same precision in every format)."""
    return {w.quant: w.tolerance for w in WEIGHT_TYPES}


def cpu_order() -> tuple[tuple[str, str], ...]:
    """The (format, weight type) pairs the selector runs on a CPU, best first."""
    ranked = sorted((w for w in WEIGHT_TYPES if w.cpu_rank is not None), key=lambda w: w.cpu_rank or 0)
    return tuple(w.variant for w in ranked)


def gpu_order() -> tuple[tuple[str, str], ...]:
    """The (format, weight type) pairs the selector runs on a GPU, best first."""
    ranked = sorted((w for w in WEIGHT_TYPES if w.gpu_rank is not None), key=lambda w: w.gpu_rank or 0)
    return tuple(w.variant for w in ranked)
