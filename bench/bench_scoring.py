"""Scoring responses (mean token log-likelihood given the prompt: ReAD's capability probes, perplexities) with the
head on the response rows only, chunk by chunk (`core.models.score_responses` -> `distill.fused_head.label_logprobs`),
against the plain path: the model's B×T×V logits, log-softmax, gather (what `score_responses` did before, and what a
transformers user writes). Pruned SmolLM2 student, GSM8K prompts with their reference solutions, batches of 16 sorted
by length (as `read.probes.profile` runs them); interleaved repetitions in one process, median and spread; peak RSS of
each side in a fresh process."""

import json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ab_result, bench_cli, bench_bf16, gsm8k_pairs, interleaved, machine_info, peak_rss_mb, run_isolated

N, BATCH = 64, 16


def plain_scores(model, tok, prompts, responses, batch_size=BATCH, autocast=False):
    "The peer: full logits -> log-softmax -> the response tokens' mean (prompt tokens masked)."
    import torch
    from capdistill.core.models import encode_chat

    out = []
    for i in range(0, len(prompts), batch_size):
        enc = [encode_chat(tok, p, r, 512) for p, r in zip(prompts[i : i + batch_size], responses[i : i + batch_size])]
        T = max(len(ids) for ids, _ in enc)
        x = torch.tensor([ids + [tok.pad_token_id] * (T - len(ids)) for ids, _ in enc])
        y = torch.tensor([[-100] * n_p + ids[n_p:] + [-100] * (T - len(ids)) for ids, n_p in enc])[:, 1:]
        att = torch.tensor([[1] * len(ids) + [0] * (T - len(ids)) for ids, _ in enc])
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=x, attention_mask=att).logits[:, :-1].float()  # (B, T-1, V)
        lp = logits.log_softmax(-1).gather(-1, y.clamp(min=0)[..., None])[..., 0]  # (B, T-1)
        mask = (y != -100).float()
        out += ((lp * mask).sum(1) / mask.sum(1).clamp(min=1)).tolist()
    return out


def setup():
    from capdistill.core.models import load_model

    model, tok = load_model('smollm2-135m-pruned', device='cpu')
    pairs = sorted(gsm8k_pairs(N, seed=3), key=lambda p: len(p[0]) + len(p[1]))  # length-bucketed, as profile()
    return model, tok, [p for p, _ in pairs], [r for _, r in pairs]


def side_fn(side, model, tok, prompts, responses):
    from capdistill.core.models import score_responses

    bf16 = bench_bf16()
    if side == 'capdistill':
        return lambda: score_responses(model, tok, prompts, responses, batch_size=BATCH, autocast=bf16)
    return lambda: plain_scores(model, tok, prompts, responses, autocast=bf16)


def worker(side: str, *_):
    "One side once in a fresh process: its peak RSS."
    model, tok, prompts, responses = setup()
    side_fn(side, model, tok, prompts, responses)()
    print(json.dumps({'peak_rss_mb': peak_rss_mb()}))


def main(reps=3):
    model, tok, prompts, responses = setup()
    fns = {s: side_fn(s, model, tok, prompts, responses) for s in ('plain', 'capdistill')}

    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        return 1.0 / (time.perf_counter() - t0), out  # passes per second

    speed, out = interleaved({k: (lambda f=f: timed(f)) for k, f in fns.items()}, reps)
    r = ab_result(speed)
    res = {'n': N, 'batch': BATCH, 's': {k: 1 / v for k, v in r['tok_s'].items()},
           'spread_s': {k: [1 / b, 1 / a] for k, (a, b) in r['spread'].items()},
           'max_abs_diff': max(abs(a - b) for a, b in zip(out['plain'], out['capdistill']))}
    res['ratio'] = res['s']['plain'] / res['s']['capdistill']
    res['peak_rss_mb'] = {s: run_isolated('bench_scoring.py', s)['peak_rss_mb'] for s in ('plain', 'capdistill')}
    print(f"scoring {N} GSM8K responses, pruned SmolLM2 student, batches of {BATCH} ({machine_info()})")
    for k in ('plain', 'capdistill'):
        a, b = res['spread_s'][k]
        print(f"  {k:<10} {res['s'][k]:.1f} s (range {a:.1f}-{b:.1f}, {reps} reps), peak RSS"
              f" {res['peak_rss_mb'][k]:.0f} MB")
    res['rss_ratio'] = res['peak_rss_mb']['capdistill'] / res['peak_rss_mb']['plain']
    print(f"  capdistill / plain: {res['ratio']:.2f}x faster, {res['rss_ratio']:.2f}x peak RSS; mean log-likelihoods"
          f" differ by at most {res['max_abs_diff']:.1e}")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    bench_cli(__doc__, worker, main, arg_types=(str,))
