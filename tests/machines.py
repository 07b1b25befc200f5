"""Fake machines for the selector and doctor tests: plain HardwareProbe data."""

from dataclasses import replace

from local_rerank.hardware import Gpu, HardwareProbe

VNNI_LAPTOP = HardwareProbe(cpu_model="laptop", physical_cores=8, logical_cores=16, free_ram_mib=16000,
                            cpu_features=frozenset({"avx2", "fma", "avx_vnni"}), llama_cpp_installed=True,
                            onnxruntime_installed=True, openvino_installed=True)
AVX2_DESKTOP = replace(VNNI_LAPTOP, cpu_features=frozenset({"avx2", "fma"}), physical_cores=4)
OLD_CPU = replace(VNNI_LAPTOP, cpu_features=frozenset(), physical_cores=2)
SMALL_GPU = replace(VNNI_LAPTOP, gpus=(Gpu("GeForce GTX 1650", 4096, 3500, "7.5"),), llama_cpp_cuda=True,
                    onnxruntime_cuda=True)
LARGE_GPU = replace(SMALL_GPU, gpus=(Gpu("RTX 4090", 24564, 23000, "8.9"), Gpu("GT 710", 2048, 1900, "3.5")))
H100 = replace(SMALL_GPU, gpus=(Gpu("NVIDIA H100 80GB HBM3", 81559, 81076, "9.0"),))
GPU_WITHOUT_CUDA_BUILDS = replace(SMALL_GPU, llama_cpp_cuda=False, onnxruntime_cuda=False)
# CPU generations, for the order of formats on the CPU (no GPU):
AVX2_ONLY = replace(VNNI_LAPTOP, cpu_features=frozenset({"avx2", "fma", "f16c"}))
AVX_VNNI = VNNI_LAPTOP  # Alder Lake and later desktops: AVX-VNNI on 256-bit vectors
AVX512_VNNI = replace(VNNI_LAPTOP, cpu_features=frozenset({"avx2", "fma", "f16c", "avx512f", "avx512_vnni"}))
AVX512_BF16 = replace(AVX512_VNNI, cpu_features=AVX512_VNNI.cpu_features | {"avx512_bf16"})  # Zen 4/5
AMX = replace(AVX512_BF16, cpu_features=AVX512_BF16.cpu_features | {"amx_int8", "amx_bf16"})  # Sapphire Rapids
