"""On-policy distillation step: capdistill's GKD loop (λ=1: every batch is the student's own samples, scored by the
teacher) vs TRL's stable `DistillationTrainer` (TRL ≥ 1.11; on-policy by design), pruned SmolLM2 student, SmolLM2
teacher, the same GSM8K prompts, batch (B8), completion length (64 new tokens, sampled at temperature 1), loss
(generalized JSD β=0.5), precision (the fast path's) and thread count, each in a fresh process. Gradient
checkpointing is off on both sides (TRL's default turns it on; capdistill does not use it): the same compute per step.
Prints the step time (generation + teacher scoring + update), peak RSS and the ratios."""

import sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import (bench_bf16, bench_cli, gsm8k_pairs, machine_info, peer_comparison, precision, worker_result,
                    StepTimer)

B, NEW, T, LR = 8, 64, 256, 5e-5


def _ours(student, teacher, tok, pairs, timer):
    from capdistill.distill.kd import KDConfig, gkd_train

    cfg = KDConfig(lr=LR, batch_size=B, max_length=T, bf16=bench_bf16(), kind='jsd', beta=0.5, temperature=1.0)
    gkd_train(student, teacher, tok, pairs, cfg, lmbda=1.0, max_new_tokens=NEW, progress=False, on_step=timer)


def _trl(student, teacher, tok, pairs, timer, n_steps):
    from datasets import Dataset
    from trl import DistillationConfig, DistillationTrainer

    ds = Dataset.from_list([{'prompt': [{'role': 'user', 'content': p}]} for p, _ in pairs])
    tok.padding_side = 'left'
    with tempfile.TemporaryDirectory() as d:
        args = DistillationConfig(
            output_dir=d, per_device_train_batch_size=B, max_steps=n_steps, max_completion_length=NEW,
            learning_rate=LR, bf16=bench_bf16(), use_cpu=True, logging_steps=10**6, save_strategy='no', report_to=[],
            beta=0.5, temperature=1.0, gradient_checkpointing=False, dataloader_num_workers=0,
            lr_scheduler_type='constant', warmup_steps=0,
        )
        DistillationTrainer(model=student, teacher_model=teacher, args=args, train_dataset=ds, processing_class=tok,
                            callbacks=[timer.trl_callback()]).train()


def worker(which: str, steps: int, warmup: int):
    from capdistill.core.models import load_model

    student, tok = load_model('smollm2-135m-pruned', device='cpu')
    # each side loads the teacher as its docs do: capdistill in the fast path's weights dtype, TRL in fp32 (+ autocast)
    dtype = 'bfloat16' if bench_bf16() and which == 'capdistill' else None
    teacher, _ = load_model('smollm2-135m-instruct', device='cpu', dtype=dtype)
    pairs = gsm8k_pairs(B * (steps + warmup + 1))
    timer = StepTimer()
    if which == 'capdistill':
        _ours(student, teacher, tok, pairs, timer)
    else:
        _trl(student, teacher, tok, pairs, timer, steps + warmup + 1)
    worker_result(which, timer.window(warmup, steps))


def main(steps=4, warmup=1):
    import trl as trl_pkg

    title = (f"on-policy distillation step (GKD λ=1, JSD β=0.5), pruned SmolLM2 student + SmolLM2 teacher, B{B},"
             f" {NEW} new tokens, {precision(bench_bf16())} ({machine_info()})")
    verdict = lambda r: (f"  capdistill vs TRL {r['trl_version']} DistillationTrainer: {r['speedup']:.2f}x faster"
                         f" (target >= 1.5x), {r['rss_ratio']:.2f}x peak RSS")
    return peer_comparison('bench_onpolicy.py', steps, warmup, title, verdict, trl_version=trl_pkg.__version__)


if __name__ == '__main__':
    bench_cli(__doc__, worker, main)
