"""SFT step with padding-free packing (`SFTConfig.packing`) vs right-padded batches: the pruned SmolLM2 student,
GSM8K pairs, B8 T≤256, the fast path's autocast; forward + backward + AdamW step, interleaved A/B repetitions on the
same batches in one process; tokens/s over real tokens (padding excluded), median and spread."""

import argparse, copy, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ab_result, gsm8k_pairs, machine_info

B, T = 8, 256


def step(model, opt, rows, pad_id, bf16, packing):
    from capdistill.distill.sft import sft_loss

    t0 = time.perf_counter()
    loss, _ = sft_loss(model, rows, pad_id, bf16=bf16, packing=packing)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0, loss.item()


def main(reps=4):
    import torch
    from capdistill.core.fastpath import resolve_bf16
    from capdistill.core.models import encode_chat, load_model

    base, tok = load_model('smollm2-135m-pruned', device='cpu')
    bf16 = resolve_bf16(None)
    pairs = gsm8k_pairs(B * (reps + 1), seed=2)
    batches = [[dict(ids=ids, n_p=n_p) for ids, n_p in (encode_chat(tok, p, r, T) for p, r in pairs[i:i + B])]
               for i in range(0, len(pairs), B)]
    models = {k: copy.deepcopy(base).train() for k in ('padded', 'packed')}
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-5) for k, m in models.items()}
    times, losses = {k: [] for k in models}, {k: [] for k in models}
    for i, rows in enumerate(batches):  # batch 0 warms up both sides
        for k in models:
            dt, loss = step(models[k], opts[k], rows, tok.pad_token_id, bf16, k == 'packed')
            if i:
                times[k].append(dt)
            losses[k].append(loss)
    real = [sum(len(r['ids']) for r in rows) for rows in batches[1:]]
    padded = [len(rows) * max(len(r['ids']) for r in rows) for rows in batches[1:]]
    res = ab_result({k: [n / t for n, t in zip(real, v)] for k, v in times.items()})
    tok_s = res['tok_s']
    res |= {'step_s': {k: [min(v), max(v)] for k, v in times.items()},
            'ratio': tok_s['packed'] / tok_s['padded'], 'padding_share': 1 - sum(real) / sum(padded),
            'max_loss_diff': max(abs(a - b) for a, b in zip(losses['packed'], losses['padded'])), 'bf16': bf16,
            'reps': reps}
    print(f"SFT step, packed vs padded, pruned SmolLM2 student, B{B} T≤{T}, bf16 {bf16} ({machine_info()})")
    for k in models:
        print(f"  {k:<7} {tok_s[k]:.0f} tok/s (step {min(times[k]):.2f}-{max(times[k]):.2f} s, {reps} reps)")
    print(f"  packed / padded: {res['ratio']:.2f}x tokens/s; padding was {res['padding_share']:.0%} of the padded"
          f" batches; losses differ by at most {res['max_loss_diff']:.4f}")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
