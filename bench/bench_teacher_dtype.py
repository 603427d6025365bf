"""Teacher generation in the fast path's weights dtype (bf16 where bf16 matmuls pay) vs fp32 weights under bf16
autocast (capdistill's teacher before the fast path; TRL's and transformers' CPU default is fp32 weights): tokens/s,
interleaved A/B repetitions in one process, median and spread, and how often the greedy texts agree."""

import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ab_lines, ab_result, gsm8k_pairs, interleaved, machine_info


def timed(model, tok, prompts, max_new):
    from capdistill.core.models import generate

    t0 = time.perf_counter()
    texts, _, counts = generate(model, tok, prompts, max_new_tokens=max_new, batch_size=len(prompts))
    return sum(counts) / (time.perf_counter() - t0), texts


def main(batch=8, max_new=48, reps=3):
    from capdistill.core.fastpath import fast_path
    from capdistill.core.models import load_model

    fp = fast_path()
    models = {'fp32+autocast': load_model('smollm2-135m-instruct', dtype='float32', device='cpu'),
              f'{fp.dtype} weights': load_model('smollm2-135m-instruct', dtype=fp.dtype, device='cpu')}
    prompts = [p for p, _ in gsm8k_pairs(batch, seed=1)]
    for m, tok in models.values():
        timed(m, tok, prompts[:2], 4)  # warm up
    sides = {k: lambda m=m, tok=tok: timed(m, tok, prompts, max_new) for k, (m, tok) in models.items()}
    speed, texts = interleaved(sides, reps)
    a, b = models
    res = ab_result(speed)
    res |= {'ratio': res['tok_s'][b] / res['tok_s'][a], 'fast_path': fp.dtype,
            'greedy_agreement': sum(x == y for x, y in zip(texts[a], texts[b])) / batch,
            'torch_dtype': str(models[b][0].dtype), 'batch': batch, 'max_new_tokens': max_new, 'reps': reps}
    print(f"teacher generation, SmolLM2-135M-Instruct, batch {batch}, {max_new} new tokens, greedy ({machine_info()})")
    print(*ab_lines(speed), sep='\n')
    print(f"  {b} / {a}: {res['ratio']:.2f}x tokens/s; greedy texts identical for {res['greedy_agreement']:.0%}"
          f" of {batch} prompts")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
