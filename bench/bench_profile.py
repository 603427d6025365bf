"""Where an SFT step's time goes (the MFU and SFT-ratio targets are not met): `torch.profiler` over two steps of
capdistill's SFT loss + backward + AdamW on the pruned SmolLM2 student, B8 T≤256, as a long run trains (the fast
path's autocast, compiled decoder layers, fused AdamW; two warm-up steps compile); the ops with the most self CPU
time, and the share of the step in matmuls (aten::mm / addmm / bmm / sdpa; inductor's own kernels are the
`Torch-Compiled Region` / `graph_*` entries)."""

import argparse, json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import gsm8k_pairs, machine_info

B, T = 8, 256
MATMUL = ('aten::mm', 'aten::addmm', 'aten::bmm', 'aten::matmul', 'aten::linear',
          'aten::_scaled_dot_product_flash_attention_for_cpu',
          'aten::_scaled_dot_product_flash_attention_for_cpu_backward')


def main():
    import torch
    from torch.profiler import ProfilerActivity, profile
    from capdistill.core.fastpath import compiled_layers, resolve_bf16
    from capdistill.core.models import encode_chat, load_model
    from capdistill.distill.fused_head import head_and_body
    from capdistill.distill.sft import sft_loss

    model, tok = load_model('smollm2-135m-pruned', device='cpu')
    model.train()
    body, head = head_and_body(model)  # the fused head, as sft_train runs a plain causal LM
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    bf16 = resolve_bf16(None)
    pairs = gsm8k_pairs(4 * B, seed=4)
    batches = [[dict(ids=i, n_p=n) for i, n in (encode_chat(tok, p, r, T) for p, r in pairs[k:k + B])]
               for k in range(0, len(pairs), B)]

    def step(rows):
        loss, _ = sft_loss(model, rows, tok.pad_token_id, bf16=bf16, body=body, head=head)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    with compiled_layers(model):
        for rows in batches[:2]:  # warm up: compile
            step(rows)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for rows in batches[2:]:
                step(rows)
    ev = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ev)
    top = sorted(ev, key=lambda e: -e.self_cpu_time_total)[:12]
    mm = sum(e.self_cpu_time_total for e in ev if e.key in MATMUL)
    res = {'total_s': total / 1e6 / 2, 'matmul_share': mm / total,
           'top': [{'op': e.key, 'self_s': e.self_cpu_time_total / 1e6 / 2, 'share': e.self_cpu_time_total / total,
                    'calls': e.count // 2} for e in top]}
    print(f"SFT step profile, compiled layers + fused AdamW, pruned SmolLM2 student, B{B} T≤{T}, bf16 {bf16}"
          f" ({machine_info()})")
    print(f"  {res['total_s']:.2f} s of op self time per step; matmul kernels {res['matmul_share']:.0%} of it")
    for t in res['top']:
        print(f"  {t['op'][:60]:<60} {t['self_s']:.3f} s/step  {t['share']:.1%}  {t['calls']} calls")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
