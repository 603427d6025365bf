"""Logit-KD step: capdistill's chunked KD loop vs TRL's GKDTrainer (lmbda=0: offline data, generalized JSD β=0.5),
pruned SmolLM2 student, SmolLM2 teacher, same data and batch (B8, ≤T256, the fast path's precision), each in a
fresh process. Prints step time, peak RSS and the ratios (target with a live teacher: >= 1.5x faster). capdistill
runs its default path: fused hidden-states-in KD loss, teacher in the fast path's weights dtype, glibc allocator
thresholds set by the training loop."""

import sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import (bench_bf16, bench_cli, gsm8k_pairs, machine_info, peer_comparison, precision, worker_result,
                    StepTimer)

B, T, LR = 8, 256, 5e-5


def worker(which: str, steps: int, warmup: int):
    from capdistill.core.models import load_model

    student, tok = load_model('smollm2-135m-pruned', device='cpu')
    # each side loads the teacher as its own docs do: capdistill in the fast path's weights dtype
    # (KDConfig.teacher_bf16, as `capdistill distill` does), TRL in fp32 weights (under its autocast)
    bf16 = bench_bf16()
    dtype = 'bfloat16' if bf16 and which == 'capdistill' else None
    teacher, _ = load_model('smollm2-135m-instruct', device='cpu', dtype=dtype)
    from capdistill.core.models import encode_chat

    pool = gsm8k_pairs(B * (steps + warmup + 1) * 3)  # examples that fit T untruncated (TRL's GKD collator requires it)
    pairs = [pr for pr in pool if len(encode_chat(tok, *pr)[0]) <= T][: B * (steps + warmup + 1)]
    timer = StepTimer()
    if which == 'capdistill':
        from capdistill.distill.kd import KDConfig, kd_train

        kd_train(
            student,
            teacher,
            tok,
            pairs,
            KDConfig(lr=LR, batch_size=B, max_length=T, bf16=bf16, kind='jsd', beta=0.5, temperature=1.0),
            progress=False,
            on_step=timer,
        )
    else:
        from datasets import Dataset
        from trl.experimental.gkd import GKDConfig, GKDTrainer

        ds = Dataset.from_list(
            [{'messages': [{'role': 'user', 'content': p}, {'role': 'assistant', 'content': r}]} for p, r in pairs]
        )
        with tempfile.TemporaryDirectory() as d:
            args = GKDConfig(
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
                lmbda=0.0,
                beta=0.5,
                temperature=1.0,
                seq_kd=False,
                dataloader_num_workers=0,
                lr_scheduler_type='constant',
                warmup_steps=0,
            )
            GKDTrainer(
                model=student,
                teacher_model=teacher,
                args=args,
                train_dataset=ds,
                processing_class=tok,
                callbacks=[timer.trl_callback()],
            ).train()
    worker_result(which, timer.window(warmup, steps))


def main(steps=5, warmup=2):
    title = (f"logit-KD step (JSD β=0.5), pruned SmolLM2 student + SmolLM2 teacher, B{B} T≤{T},"
             f" {precision(bench_bf16())} ({machine_info()})")
    verdict = lambda r: (f"  capdistill vs TRL GKDTrainer: {r['speedup']:.2f}x faster (target >= 1.5x with a live "
                         f"teacher), {r['rss_ratio']:.2f}x peak RSS")
    return peer_comparison('bench_kd.py', steps, warmup, title, verdict)


if __name__ == '__main__':
    bench_cli(__doc__, worker, main)
