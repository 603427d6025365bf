"""SFT step eager vs compiled decoder layers (`SFTConfig.compile`, `core.fastpath.compiled_layers`) and AdamW's
foreach vs fused kernel: the pruned SmolLM2 student, GSM8K pairs, B8 T≤256 (batch lengths vary: dynamic shapes),
the fast path's autocast; forward + backward + AdamW step. Each side runs in a fresh process (one model in memory,
clean caches), the sides in turn A B C A B C ..., the compiled one with an empty inductor cache each time (its
first step pays a cold compile); tokens/s after 2 warm-up steps, median and spread over every timed step, the compile
time and the steps after which compiling has paid for itself."""

import json, os, statistics, sys, tempfile, time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import bench_cli, ab_lines, ab_result, gsm8k_pairs, machine_info, run_isolated

B, T, WARMUP = 8, 256, 2
SIDES = {'eager, foreach AdamW': (False, False), 'eager, fused AdamW': (False, True),
         'compiled, fused AdamW': (True, True)}


def worker(side: str, steps: int, seed: int):
    import torch
    from capdistill.core.fastpath import compiled_layers, resolve_bf16
    from capdistill.core.models import encode_chat, load_model
    from capdistill.distill.fused_head import head_and_body
    from capdistill.distill.sft import sft_loss

    compile_, fused = SIDES[side]
    model, tok = load_model('smollm2-135m-pruned', device='cpu')
    model.train()
    body, head = head_and_body(model)  # the fused head, as sft_train runs a plain causal LM
    bf16 = resolve_bf16(None)
    pairs = gsm8k_pairs(B * (steps + WARMUP), seed=seed)
    batches = [[dict(ids=ids, n_p=n_p) for ids, n_p in (encode_chat(tok, p, r, T) for p, r in pairs[i:i + B])]
               for i in range(0, len(pairs), B)]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=fused)
    times, losses = [], []
    with compiled_layers(model) if compile_ else nullcontext():
        for rows in batches:
            t0 = time.perf_counter()
            loss, _ = sft_loss(model, rows, tok.pad_token_id, bf16=bf16, body=body, head=head)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t0)
            losses.append(loss.item())
    real = [sum(len(r['ids']) for r in rows) for rows in batches]
    print(json.dumps({'times': times, 'losses': losses, 'real': real, 'bf16': bf16}))


def main(rounds=2, steps=8):
    runs = {k: [] for k in SIDES}
    for r in range(rounds):
        for side in SIDES:
            with tempfile.TemporaryDirectory() as d:
                os.environ['TORCHINDUCTOR_CACHE_DIR'] = d  # a cold compile, as a machine's first run pays it
                try:
                    runs[side].append(run_isolated('bench_compile.py', side, steps, 10 + r, timeout=3600))
                finally:
                    os.environ.pop('TORCHINDUCTOR_CACHE_DIR')
    speed = {k: [n / t for w in v for n, t in zip(w['real'][WARMUP:], w['times'][WARMUP:])] for k, v in runs.items()}
    step = {k: statistics.mean([t for w in v for t in w['times'][WARMUP:]]) for k, v in runs.items()}
    res = ab_result(speed)
    e, c = 'eager, fused AdamW', 'compiled, fused AdamW'
    first = {k: statistics.mean([w['times'][0] for w in v]) for k, v in runs.items()}
    compile_s = first[c] - first[e]  # the first step's extra time
    res |= {'step_s': step, 'compile_s': compile_s, 'ratio_compile': res['tok_s'][c] / res['tok_s'][e],
            'ratio_fused_adamw': res['tok_s'][e] / res['tok_s']['eager, foreach AdamW'],
            'break_even_steps': compile_s / max(1e-9, step[e] - step[c]), 'bf16': runs[c][0]['bf16'],
            'rounds': rounds, 'steps': steps,
            'max_loss_rel_diff': max(abs(a / b - 1) for wc, we in zip(runs[c], runs[e])
                                     for a, b in zip(wc['losses'], we['losses']))}
    print(f"SFT step, compiled decoder layers and fused AdamW, pruned SmolLM2 student, B{B} T≤{T}, bf16 {res['bf16']}"
          f" ({machine_info()})")
    print('\n'.join(ab_lines(speed)))
    print(f"  compiled / eager: {res['ratio_compile']:.2f}x tokens/s; fused / foreach AdamW:"
          f" {res['ratio_fused_adamw']:.2f}x; cold compile {compile_s:.0f} s, paid back after"
          f" {res['break_even_steps']:.0f} steps; losses differ by at most {res['max_loss_rel_diff']:.2%}")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    bench_cli(__doc__, worker, main)
