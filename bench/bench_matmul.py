"""The machine's measured matmul FLOP/s (fp32 and bf16): the denominator of MFU, and the fast path's choice."""

import argparse, json, sys
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info
from capdistill.core.fastpath import choose_dtype, cpu_model, gemm_tflops, matmul_tflops


def matmul_flops(dtype, n=2048) -> float:
    "FLOP/s of an `n x n` matmul in `dtype` (at least 1 s of repetitions)."
    return matmul_tflops(dtype, n, min_seconds=1.0) * 1e12


# (M, K, N): square, and the pruned SmolLM2 student's own GEMMs at B8 T≤256 (~2k tokens: MLP up/down, LM head rows)
SHAPES = ((2048, 2048, 2048), (1024, 1024, 1024), (2048, 576, 1536), (2048, 1536, 576), (256, 576, 49152))


def peak_flops(dtype, shapes=SHAPES) -> tuple[float, tuple]:
    """`(FLOP/s, shape)`: the best matmul throughput in `dtype` over square and the training step's own shapes, the
    denominator of MFU (a square-only peak can sit below what the model's GEMMs reach: MFU above 100%)."""
    return max((gemm_tflops(dtype, *s, min_seconds=0.5) * 1e12, s) for s in shapes)


def main():
    res = {'fp32_tflops': matmul_flops(torch.float32) / 1e12, 'bf16_tflops': matmul_flops(torch.bfloat16) / 1e12}
    res |= {'fast_path_dtype': choose_dtype(res['fp32_tflops'], res['bf16_tflops']), 'cpu': cpu_model()}
    print(f"2048x2048 matmul ({machine_info()})")
    print(f"  fp32 {res['fp32_tflops']:.3f} TFLOP/s, bf16 {res['bf16_tflops']:.3f} TFLOP/s: fast path"
          f" {res['fast_path_dtype']} (bf16 when >= 1.2x fp32)")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
