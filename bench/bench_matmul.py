"""The machine's measured matmul FLOP/s (fp32 and bf16): the denominator of MFU."""

import argparse, json, time
import torch


def matmul_flops(dtype, n=2048, reps=10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def main():
    res = {'fp32_tflops': matmul_flops(torch.float32) / 1e12, 'bf16_tflops': matmul_flops(torch.bfloat16) / 1e12}
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
