"""Teacher decoding with oneDNN-prepacked fp32 weights (`core.fastpath.packed_linears`, what `generate` does on a CPU
whose fast path is fp32) vs the same model with its weights as loaded (MKL's GEMM on the module's weight): tokens/s
at two batch sizes (ReAD's generation rounds and probes run from a few prompts to 64), interleaved A/B repetitions in
one process, median and spread, and how often the greedy texts agree. SmolLM2-135M-Instruct in fp32, no autocast (on
a bf16 fast path `generate` does not pack: autocast runs oneDNN's bf16 kernels already)."""

import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ab_lines, ab_result, gsm8k_pairs, interleaved, machine_info


def timed(model, tok, prompts, max_new, prepack):
    from capdistill.core.models import generate

    t0 = time.perf_counter()
    texts, _, counts = generate(model, tok, prompts, max_new_tokens=max_new, batch_size=len(prompts), autocast=False,
                                prepack=prepack)
    return sum(counts) / (time.perf_counter() - t0), texts


def main(batches=(8, 32), max_new=64, reps=3):
    from capdistill.core.fastpath import fast_path, packs_linears
    from capdistill.core.models import load_model

    model, tok = load_model('smollm2-135m-instruct', dtype='float32', device='cpu')
    pool = [p for p, _ in gsm8k_pairs(max(batches), seed=1)]
    timed(model, tok, pool[:2], 8, True)  # warm up
    res = {'fast_path': fast_path().dtype, 'packs_by_default': packs_linears('cpu', fast_path().bf16),
           'max_new_tokens': max_new, 'reps': reps, 'by_batch': {}}
    print(f"teacher decoding, SmolLM2-135M-Instruct fp32, {max_new} new tokens, greedy ({machine_info()})")
    for b in batches:
        prompts = pool[:b]
        arms = (('plain', False), ('prepacked', True))
        sides = {k: lambda p=p, ps=prompts: timed(model, tok, ps, max_new, p) for k, p in arms}
        speed, texts = interleaved(sides, reps)
        r = ab_result(speed)
        r |= {'ratio': r['tok_s']['prepacked'] / r['tok_s']['plain'],
              'greedy_agreement': sum(x == y for x, y in zip(texts['plain'], texts['prepacked'])) / b}
        res['by_batch'][b] = r
        print(f" batch {b}:", *ab_lines(speed), sep='\n')
        print(f"  prepacked / plain: {r['ratio']:.2f}x tokens/s; greedy texts identical for"
              f" {r['greedy_agreement']:.0%} of {b} prompts")
    print(f"  generate packs by default here: {res['packs_by_default']} (fast path {res['fast_path']})")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
