"""Logit-KD as a whole job: 3 epochs over the same 64 GSM8K examples, teacher scoring included, forward KL, pruned
SmolLM2 student, SmolLM2 teacher, B8 T≤256, the fast path's precision; each side in a fresh process, wall time from
the loaded models to the trained student. capdistill runs as `capdistill distill` does with `teacher_cache: auto`: it
scores the data once into a top-k cache (the job's `cache_topk` + tail, `cache_values`), frees the teacher and trains
every epoch from the cache, its batches packed (the default `packing: null` for a model that passes
`core.packing.packs`; scoring packs too). The peer is TRL's GKDTrainer(lmbda=0, beta=0: forward KL on the fixed
data, the live teacher every step); TRL 1.16's DistillationTrainer only trains on-policy (it generates from
prompts), so it has no fixed-dataset job to compare (its on-policy step is `bench_onpolicy`).
capdistill runs twice: as the first job on a machine (no compile record, fresh inductor cache: its 24 steps stay
eager by `COMPILE_MIN_STEPS`) and as a later job, after two short compiled runs of the same model left a compile
record and a warm inductor cache (`compile: null` then decides from the record, `core.fastpath.compile_pays`)."""

import gc, json, os, shutil, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import bench_bf16, bench_cli, gsm8k_pairs, machine_info, peak_rss_mb, precision, run_isolated

B, T, LR, N, EPOCHS = 8, 256, 5e-5, 64, 3


def _pairs(tok):
    from capdistill.core.models import encode_chat

    pool = gsm8k_pairs(N * 3, seed=4)  # examples that fit T untruncated (TRL's GKD collator requires it)
    return [pr for pr in pool if len(encode_chat(tok, *pr)[0]) <= T][:N]


class PhasePeaks:
    "Peak RSS (MB) per phase of the job, sampled every 20 ms by a thread: `.phase = name` starts a phase."

    def __init__(self):
        import psutil, threading

        self.phase, self.peaks, self._p = 'loaded', {}, psutil.Process()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            rss = self._p.memory_info().rss / 2**20
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), round(rss))
            time.sleep(0.02)


def ours(student, held, tok, pairs, compile=None, epochs=EPOCHS) -> dict:
    import dataclasses
    from capdistill.distill.job import DistillConfig
    from capdistill.distill.kd import KDConfig, build_topk_cache, kd_train

    job = {f.name: f.default for f in dataclasses.fields(DistillConfig)}  # the cache a `distill` job builds
    peaks = PhasePeaks()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        peaks.phase = 'scoring'
        idx = build_topk_cache(held['teacher'], tok, pairs, d, k=job['cache_topk'], max_length=T,
                               values=job['cache_values'])
        scoring = time.perf_counter() - t0
        held.clear()  # the only reference: the teacher is freed, as `capdistill distill` frees it after scoring
        gc.collect()
        peaks.phase = 'training'
        cfg = KDConfig(lr=LR, batch_size=B, max_length=T, kind='forward_kl', epochs=epochs, compile=compile)
        st = kd_train(student, None, tok, pairs, cfg, topk_cache=d, progress=False)
    return {'scoring_s': scoring, 'steps': st['steps'], 'cache_bytes': idx['bytes'], 'last_loss': st['losses'][-1],
            'compiled': st['compiled_layers'] > 0, 'rss_phases_mb': peaks.peaks}


def fresh_home() -> str:
    "A new CAPDISTILL_HOME sharing the built models only: no fast-path or compile records, no inductor cache."
    home = Path(tempfile.mkdtemp(prefix='capdistill-home-'))
    from capdistill.core.config import capdistill_home

    (home / 'models').symlink_to(capdistill_home() / 'models')
    os.environ['CAPDISTILL_HOME'] = str(home)
    os.environ['TORCHINDUCTOR_CACHE_DIR'] = str(home / 'inductor')
    return str(home)


def trl(student, held, tok, pairs) -> dict:
    from datasets import Dataset
    from trl.experimental.gkd import GKDConfig, GKDTrainer

    ds = Dataset.from_list(
        [{'messages': [{'role': 'user', 'content': p}, {'role': 'assistant', 'content': r}]} for p, r in pairs])
    with tempfile.TemporaryDirectory() as d:
        args = GKDConfig(output_dir=d, per_device_train_batch_size=B, num_train_epochs=EPOCHS, max_length=T,
                         learning_rate=LR, bf16=bench_bf16(), use_cpu=True, logging_steps=1, save_strategy='no',
                         report_to=[], lmbda=0.0, beta=0.0, temperature=1.0, seq_kd=False, dataloader_num_workers=0,
                         lr_scheduler_type='constant', warmup_steps=0)
        tr = GKDTrainer(model=student, teacher_model=held.pop('teacher'), args=args, train_dataset=ds,
                        processing_class=tok)
        out = tr.train()
    return {'steps': out.global_step, 'last_loss': [h['loss'] for h in tr.state.log_history if 'loss' in h][-1]}


def worker(which: str):
    "`first`: capdistill's first job on a machine; `prime`: a short compiled run; `later`: capdistill after it; `trl`."
    from capdistill.core.models import load_model

    home = fresh_home() if which == 'first' else None
    student, tok = load_model('smollm2-135m-pruned', device='cpu')
    # each side loads the teacher as it documents: capdistill in the fast path's weights dtype, TRL fp32 (+ autocast)
    dtype = 'bfloat16' if bench_bf16() and which != 'trl' else None
    teacher, _ = load_model('smollm2-135m-instruct', device='cpu', dtype=dtype)
    pairs = _pairs(tok)
    held = {'teacher': teacher}  # the side's function holds the only reference to the teacher
    del teacher
    t0 = time.perf_counter()
    if which == 'trl':
        res = trl(student, held, tok, pairs)
    elif which == 'prime':
        res = ours(student, held, tok, pairs[: 4 * B], compile=True, epochs=1)
    else:
        res = ours(student, held, tok, pairs)
    if home:
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps({'which': which, 'job_s': time.perf_counter() - t0, 'peak_rss_mb': peak_rss_mb(),
                      'examples': len(pairs), **res}))


def main():
    res = {'first': run_isolated('bench_kdjob.py', 'first', timeout=3600)}
    res['primes'] = [run_isolated('bench_kdjob.py', 'prime', timeout=3600) for _ in range(2)]
    res |= {k: run_isolated('bench_kdjob.py', k, timeout=3600) for k in ('later', 'trl')}
    res['capdistill'] = res['later']
    for k in ('first', 'later'):
        res[f'speedup_{k}'] = res['trl']['job_s'] / res[k]['job_s']
        res[f'rss_ratio_{k}'] = res[k]['peak_rss_mb'] / res['trl']['peak_rss_mb']
    res |= {'speedup': res['speedup_later'], 'rss_ratio': res['rss_ratio_later']}
    print(f"logit-KD job, {res['later']['examples']} examples x {EPOCHS} epochs, forward KL, pruned SmolLM2"
          f" student + SmolLM2 teacher, B{B} T≤{T}, {precision(bench_bf16())} ({machine_info()})")
    names = {'first': 'capdistill, first job on the machine', 'later': 'capdistill, a later job', 'trl': 'TRL'}
    for k in ('first', 'later', 'trl'):
        r = res[k]
        extra = f", teacher scoring {r['scoring_s']:.0f} s once" if 'scoring_s' in r else ', live teacher every step'
        how = '' if 'compiled' not in r else (', compiled' if r['compiled'] else ', eager')
        phases = ', '.join(f"{p} {v} MB" for p, v in r.get('rss_phases_mb', {}).items())
        print(f"  {names[k]:<38} {r['job_s']:.0f} s for {r['steps']} steps{extra}{how}, peak RSS"
              f" {r['peak_rss_mb']:.0f} MB{f' ({phases})' if phases else ''}")
    primes = ', '.join(f"{p['job_s']:.0f}" for p in res['primes'])
    print(f"  (between them, two compiled 4-step runs of the same model took {primes} s)")
    for k in ('first', 'later'):
        print(f"  {names[k]} vs TRL GKDTrainer(lmbda=0): {res[f'speedup_{k}']:.2f}x faster (target >= 2x),"
              f" {res[f'rss_ratio_{k}']:.2f}x peak RSS (target <= 0.5x)")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    bench_cli(__doc__, worker, main, (str,))
