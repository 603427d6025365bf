"""Logit-KD as a whole job: 3 epochs over the same 64 GSM8K examples, teacher scoring included, forward KL, pruned
SmolLM2 student, SmolLM2 teacher, B8 T≤256, bf16; each side in a fresh process, wall time from the loaded models to
the trained student. capdistill runs as `capdistill distill` does with `teacher_cache: auto`: it scores the data once
into a top-k cache (the job's `cache_topk` + tail, `cache_values`), frees the teacher and trains every epoch from
the cache. The peer is TRL's GKDTrainer(lmbda=0, beta=0: forward KL on the fixed data, the live teacher every step);
TRL 1.16's DistillationTrainer only trains on-policy (it generates from prompts), so it has no fixed-dataset job to
compare (its on-policy step is `bench_onpolicy`)."""

import gc, json, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import bench_cli, gsm8k_pairs, machine_info, peak_rss_mb, run_isolated

B, T, LR, N, EPOCHS = 8, 256, 5e-5, 64, 3


def _pairs(tok):
    from capdistill.core.models import encode_chat

    pool = gsm8k_pairs(N * 3, seed=4)  # examples that fit T untruncated (TRL's GKD collator requires it)
    return [pr for pr in pool if len(encode_chat(tok, *pr)[0]) <= T][:N]


def ours(student, teacher, tok, pairs) -> dict:
    import dataclasses
    from capdistill.distill.job import DistillConfig
    from capdistill.distill.kd import KDConfig, build_topk_cache, kd_train

    job = {f.name: f.default for f in dataclasses.fields(DistillConfig)}  # the cache a `distill` job builds
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        idx = build_topk_cache(teacher, tok, pairs, d, k=job['cache_topk'], max_length=T, values=job['cache_values'])
        scoring = time.perf_counter() - t0
        del teacher
        gc.collect()
        st = kd_train(student, None, tok, pairs, KDConfig(lr=LR, batch_size=B, max_length=T, kind='forward_kl',
                                                          epochs=EPOCHS), topk_cache=d, progress=False)
    return {'scoring_s': scoring, 'steps': st['steps'], 'cache_bytes': idx['bytes'], 'last_loss': st['losses'][-1]}


def trl(student, teacher, tok, pairs) -> dict:
    from datasets import Dataset
    from trl.experimental.gkd import GKDConfig, GKDTrainer

    ds = Dataset.from_list(
        [{'messages': [{'role': 'user', 'content': p}, {'role': 'assistant', 'content': r}]} for p, r in pairs])
    with tempfile.TemporaryDirectory() as d:
        args = GKDConfig(output_dir=d, per_device_train_batch_size=B, num_train_epochs=EPOCHS, max_length=T,
                         learning_rate=LR, bf16=True, use_cpu=True, logging_steps=1, save_strategy='no', report_to=[],
                         lmbda=0.0, beta=0.0, temperature=1.0, seq_kd=False, dataloader_num_workers=0,
                         lr_scheduler_type='constant', warmup_steps=0)
        tr = GKDTrainer(model=student, teacher_model=teacher, args=args, train_dataset=ds, processing_class=tok)
        out = tr.train()
    return {'steps': out.global_step, 'last_loss': [h['loss'] for h in tr.state.log_history if 'loss' in h][-1]}


def worker(which: str):
    from capdistill.core.models import load_model

    student, tok = load_model('smollm2-135m-pruned', device='cpu')
    # each side loads the teacher as it documents: capdistill in bf16 weights (the fast path), TRL fp32 + autocast
    teacher, _ = load_model('smollm2-135m-instruct', device='cpu', dtype='bfloat16' if which == 'capdistill' else None)
    pairs = _pairs(tok)
    t0 = time.perf_counter()
    res = (ours if which == 'capdistill' else trl)(student, teacher, tok, pairs)
    print(json.dumps({'which': which, 'job_s': time.perf_counter() - t0, 'peak_rss_mb': peak_rss_mb(),
                      'examples': len(pairs), **res}))


def main():
    res = {k: run_isolated('bench_kdjob.py', k, timeout=3600) for k in ('capdistill', 'trl')}
    res |= {'speedup': res['trl']['job_s'] / res['capdistill']['job_s'],
            'rss_ratio': res['capdistill']['peak_rss_mb'] / res['trl']['peak_rss_mb']}
    print(f"logit-KD job, {res['capdistill']['examples']} examples x {EPOCHS} epochs, forward KL, pruned SmolLM2"
          f" student + SmolLM2 teacher, B{B} T≤{T}, bf16 ({machine_info()})")
    for k in ('capdistill', 'trl'):
        r = res[k]
        extra = f", teacher scoring {r['scoring_s']:.0f} s once" if 'scoring_s' in r else ', live teacher every step'
        print(f"  {k:<11} {r['job_s']:.0f} s for {r['steps']} steps{extra}, peak RSS {r['peak_rss_mb']:.0f} MB")
    print(f"  capdistill vs TRL GKDTrainer(lmbda=0): {res['speedup']:.2f}x faster (target >= 2x),"
          f" {res['rss_ratio']:.2f}x peak RSS (target <= 0.5x)")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    bench_cli(__doc__, worker, main, (str,))
