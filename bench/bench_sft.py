"""SFT step: capdistill's token-budgeted loop vs TRL's SFTTrainer on the same model, data and batch (B8, ≤T256,
the fast path's precision, completion-only loss), each in a fresh process; prints tokens/s, peak RSS and the ratios,
plus MFU.
capdistill compiles its decoder layers (`compile: true`, as its default does for a run of >= 40 steps) and packs its
batches (`packing: null`, its default, for a model that passes `core.packing.packs`); TRL runs as documented (padded
batches, no compile) and with `torch_compile=True`. tokens/s counts real tokens (no padding) on both sides."""

import argparse, json, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import (run_isolated, peak_rss_mb, gsm8k_pairs, train_flops_per_token, machine_info, StepTimer, bench_bf16,
                    precision)

B, T, LR = 8, 256, 5e-5


def worker(which: str, steps: int, warmup: int):
    from capdistill.core.models import load_model, encode_chat

    model, tok = load_model('smollm2-135m-pruned', device='cpu')
    pairs = gsm8k_pairs(B * (steps + warmup) * 2)
    enc = [encode_chat(tok, p, r, T) for p, r in pairs]
    tokens_per_ex = sum(len(ids) for ids, _ in enc) / len(enc)
    labels_per_ex = sum(len(ids) - n_p for ids, n_p in enc) / len(enc)
    timer, bf16 = StepTimer(), bench_bf16()
    if which == 'capdistill':
        from capdistill.distill.sft import SFTConfig, sft_train

        sft_train(
            model.train(),
            tok,
            pairs[: B * (steps + warmup + 1)],
            SFTConfig(lr=LR, batch_size=B, max_length=T, bf16=bf16, compile=True),  # as a run of >= 40 steps
            progress=False,
            on_step=timer,
        )
    else:
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer

        ds = Dataset.from_list(
            [
                {'prompt': [{'role': 'user', 'content': p}], 'completion': [{'role': 'assistant', 'content': r}]}
                for p, r in pairs
            ]
        )
        with tempfile.TemporaryDirectory() as d:
            args = SFTConfig(
                output_dir=d,
                per_device_train_batch_size=B,
                max_steps=steps + warmup + 1,
                max_length=T,
                learning_rate=LR,
                bf16=bf16,
                use_cpu=True,
                logging_steps=10**6,
                save_strategy='no',
                report_to=[],
                completion_only_loss=True,
                packing=False,
                dataloader_num_workers=0,
                lr_scheduler_type='constant',
                warmup_steps=0,
                max_grad_norm=1.0,
                torch_compile=which == 'trl_compiled',
            )
            SFTTrainer(
                model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[timer.trl_callback()]
            ).train()
    times = timer.window(warmup, steps)
    step = sum(times) / len(times)
    print(
        json.dumps(
            {
                'which': which,
                'step_s': step,
                'tokens_per_s': B * tokens_per_ex / step,
                'peak_rss_mb': peak_rss_mb(),
                'flops_per_token': train_flops_per_token(model),
                'head_flops_per_token': 6.0 * model.get_output_embeddings().weight.numel(),
                'tokens_per_step': B * tokens_per_ex,
                'label_share': labels_per_ex / tokens_per_ex,
            }
        )
    )


def main(steps=6, warmup=3):
    from bench_matmul import peak_flops
    import torch

    bf16 = bench_bf16()
    dtype = torch.bfloat16 if bf16 else torch.float32  # MFU of the dtype in use
    before = peak_flops(dtype)  # measured before and after the sides: the better of the two
    ours = run_isolated('bench_sft.py', 'capdistill', steps, warmup)
    trl = run_isolated('bench_sft.py', 'trl', steps, warmup)
    trl_c = run_isolated('bench_sft.py', 'trl_compiled', steps, warmup)
    peak, peak_shape = max(before, peak_flops(dtype))
    res = {
        'capdistill': ours,
        'trl': trl,
        'trl_compiled': trl_c,
        'speed_ratio_vs_trl_compiled': ours['tokens_per_s'] / trl_c['tokens_per_s'],
        'speed_ratio': ours['tokens_per_s'] / trl['tokens_per_s'],
        'rss_ratio': ours['peak_rss_mb'] / trl['peak_rss_mb'],
        'peak_tflops': peak / 1e12,
        'peak_dtype': 'bf16' if bf16 else 'fp32',
        'peak_shape': list(peak_shape),
        'mfu_capdistill': ours['tokens_per_s'] * ours['flops_per_token'] / peak,
        'mfu_trl': trl['tokens_per_s'] * trl['flops_per_token'] / peak,
        'mfu_trl_compiled': trl_c['tokens_per_s'] * trl_c['flops_per_token'] / peak,
        # executed FLOPs: our fused loss runs the LM head at label positions only, TRL's at every position
        'hfu_capdistill': ours['tokens_per_s'] * (ours['flops_per_token'] - (1 - ours['label_share'])
                                                  * ours['head_flops_per_token']) / peak,
    }
    print(f"SFT step, pruned SmolLM2 student, B{B} T≤{T}, {precision(bf16)}; capdistill with compile: true (what a run"
          f" of >= 40 steps does), TRL as documented and with torch_compile=True; first {warmup} steps (compilation)"
          f" not timed ({machine_info()})")
    for k in ('capdistill', 'trl', 'trl_compiled'):
        print(
            f"  {k:<11} {res[k]['step_s']:.2f} s/step  {res[k]['tokens_per_s']:.0f} tok/s  peak RSS"
            f" {res[k]['peak_rss_mb']:.0f} MB  MFU {res['mfu_' + k]:.1%}"
        )
    shape = 'x'.join(map(str, res['peak_shape']))
    print(f"  MFU of the measured {res['peak_dtype']} matmul peak ({res['peak_tflops']:.2f} TFLOP/s, the best of square"
          f" and the step's own GEMM shapes before and after the runs: {shape}) counts 6 x"
          f" parameters per token (the tied head included, as the standard definition); capdistill's"
          f" fused loss runs the head at label positions only ({ours['label_share']:.0%} of tokens), so of the FLOPs"
          f" it executes it uses {res['hfu_capdistill']:.1%} of the peak")
    print(f"  capdistill / TRL: {res['speed_ratio']:.2f}x tokens/s (target >= 2x), {res['rss_ratio']:.2f}x peak RSS"
          f" (target <= 1x); / TRL compiled: {res['speed_ratio_vs_trl_compiled']:.2f}x tokens/s")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--worker', nargs='*')
    ap.add_argument('--steps', type=int, default=6)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker[0], int(a.worker[1]), int(a.worker[2]))
    else:
        main(a.steps)
