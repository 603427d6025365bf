"""Batched vs sequential teacher generation (tokens/s), SmolLM2-135M-Instruct, greedy, 64 new tokens."""

import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import bench_bf16, gsm8k_pairs, machine_info, precision


def main(n_seq=8, n_batch=32, max_new=64):
    from capdistill.core.models import load_model, generate

    model, tok = load_model('smollm2-135m-instruct', device='cpu')
    prompts = [p for p, _ in gsm8k_pairs(n_batch, seed=1)]
    generate(model, tok, prompts[:2], max_new_tokens=8)  # warm up
    t0 = time.perf_counter()
    _, _, c1 = generate(model, tok, prompts[:n_seq], max_new_tokens=max_new, batch_size=1)
    t1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, _, c2 = generate(model, tok, prompts, max_new_tokens=max_new, batch_size=n_batch)
    t2 = time.perf_counter() - t0
    res = {'sequential_tok_s': sum(c1) / t1, 'batched_tok_s': sum(c2) / t2, 'batch_size': n_batch}
    res['ratio'] = res['batched_tok_s'] / res['sequential_tok_s']
    print(f"generation, SmolLM2-135M-Instruct, {max_new} new tokens, greedy, {precision(bench_bf16())}"
          f" ({machine_info()})")
    print(
        f"  batch 1: {res['sequential_tok_s']:.1f} tok/s   batch {n_batch}: {res['batched_tok_s']:.1f} tok/s   ratio"
        f" {res['ratio']:.1f}x (target >= 8x)"
    )
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
