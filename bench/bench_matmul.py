"""The machine's measured matmul FLOP/s (fp32 and bf16): the denominator of MFU, and the fast path's choice."""

import argparse, json, sys
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info
from capdistill.core.fastpath import choose_dtype, cpu_model, matmul_tflops


def matmul_flops(dtype, n=2048) -> float:
    "FLOP/s of an `n x n` matmul in `dtype` (at least 1 s of repetitions)."
    return matmul_tflops(dtype, n, min_seconds=1.0) * 1e12


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
