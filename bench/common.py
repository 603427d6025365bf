"""Shared helpers for the benchmarks: isolated subprocess runs, peak RSS, data, FLOP counting."""

import argparse, json, os, resource, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_cli(doc: str, worker, main, arg_types=(str, int, int)):
    "A benchmark's command line: `--worker ARGS` runs `worker(*ARGS)` (converted by `arg_types`), else `main()`."
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument('--worker', nargs='*')
    a = ap.parse_args()
    if a.worker:
        worker(*(t(x) for t, x in zip(arg_types, a.worker)))
    else:
        main()


def peak_rss_mb() -> float:
    """Peak resident set size of this process (MB): /proc's VmHWM where there is one (ru_maxrss also keeps the peak
    of the parent process this one was forked from, which a benchmark driver holding models would inflate)."""
    try:
        line = next(ln for ln in Path('/proc/self/status').read_text().splitlines() if ln.startswith('VmHWM:'))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_isolated(script: str, *args, timeout=1800) -> dict:
    "Run `script --worker ...` in a fresh interpreter (clean peak RSS, no shared caches) and parse its JSON line."
    r = subprocess.run(
        [sys.executable, str(Path(__file__).parent / script), '--worker', *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if r.returncode:
        raise RuntimeError(f"{script} {args} failed:\n{r.stderr[-3000:]}")
    return json.loads([l for l in r.stdout.splitlines() if l.startswith('{')][-1])


def gsm8k_pairs(n: int, seed: int = 0):
    "(question, reference solution) pairs from the local GSM8K train split: realistic prompt/response lengths."
    import random
    from capdistill.tasks.data import load_gsm8k, row_meta

    ds = load_gsm8k('train')
    idx = random.Random(seed).sample(range(len(ds)), n)
    return [(ds[i]['prompt'], row_meta(ds[i])['solution']) for i in idx]


def train_flops_per_token(model) -> float:
    "≈ 6 × (parameters doing matmuls): non-embedding weights plus the (tied) LM head; attention scores ignored."
    from capdistill.core.models import count_params

    return 6.0 * count_params(model)


def machine_info() -> str:
    "CPU model and ISA, cores, torch version, threads and the fast path's dtype: stamped on every benchmark result."
    import torch
    from capdistill.core.fastpath import cpu_model, fast_path

    return (f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads,"
            f" fast path {fast_path().dtype}")


def bench_bf16() -> bool:
    """bf16 autocast where this machine's fast path takes it (`core.fastpath.resolve_bf16`, as `bf16: null` does in a
    run), else fp32: both sides of a comparison use it, so a CPU without fast bf16 is not measured in emulated bf16."""
    from capdistill.core.fastpath import resolve_bf16

    return resolve_bf16(None)


def precision(bf16: bool) -> str:
    "How a benchmark title names its precision."
    return 'bf16 autocast' if bf16 else 'fp32'


def cpu_kind() -> str:
    """This CPU's kind, the folder its results live in (`bench/results/<kind>/`): the vendor and its best matmul ISA,
    e.g. `intel-amx_bf16`, `amd-avx512_bf16`, `amd-avx2`. Ratios are comparable within a kind, not across kinds."""
    from capdistill.core.fastpath import MATMUL_ISA, cpu_model

    m = cpu_model()
    vendor = next((v for v in ('intel', 'amd', 'arm') if v in m.lower()), 'other')
    isa = next((f for f in MATMUL_ISA if f in m.split('[', 1)[-1]), 'generic')
    return f"{vendor}-{isa}"


def worker_result(which: str, times: list[float]) -> dict:
    "One worker's measurement (mean step time, peak RSS, steps timed), printed as the JSON line `run_isolated` reads."
    res = {'which': which, 'step_s': sum(times) / len(times), 'peak_rss_mb': peak_rss_mb(), 'n_steps': len(times)}
    print(json.dumps(res))
    return res


def peer_comparison(script: str, steps: int, warmup: int, title: str, verdict, **extra) -> dict:
    """Run `script`'s capdistill and TRL workers in fresh interpreters, one after the other, in this one run; print
    `title`, each side's step time and peak RSS, `verdict(res)` and the JSON; return the results."""
    ours = run_isolated(script, 'capdistill', steps, warmup)
    trl = run_isolated(script, 'trl', steps, warmup)
    res = {'capdistill': ours, 'trl': trl, **extra,
           'speedup': trl['step_s'] / ours['step_s'], 'rss_ratio': ours['peak_rss_mb'] / trl['peak_rss_mb']}
    print(title)
    for k in ('capdistill', 'trl'):
        print(f"  {k:<11} {res[k]['step_s']:.2f} s/step  peak RSS {res[k]['peak_rss_mb']:.0f} MB")
    print(verdict(res))
    print(json.dumps(res))
    return res


class StepTimer:
    """Wall time between consecutive optimizer steps: call it as capdistill's `on_step`, or pass `.trl_callback()` to a
    TRL trainer."""

    def __init__(self):
        self.times, self._t = [], None

    def __call__(self, *_):
        now = time.perf_counter()
        if self._t is not None:
            self.times.append(now - self._t)
        self._t = now

    def trl_callback(self):
        from transformers import TrainerCallback

        timer = self

        class _Cb(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                timer()

        return _Cb()

    def window(self, warmup: int, steps: int) -> list[float]:
        return self.times[warmup : warmup + steps]


def interleaved(sides: dict, reps: int) -> tuple[dict, dict]:
    """`(tokens/s per side and round, each side's last output)` of `sides[name]() -> (tokens/s, output)`, run in
    turn A B A B ... for `reps` rounds, so load changes on a shared machine hit both sides."""
    speed, out = {k: [] for k in sides}, {}
    for _ in range(reps):
        for k, fn in sides.items():
            s, out[k] = fn()
            speed[k].append(s)
    return speed, out


def ab_result(speed: dict) -> dict:
    "Median tokens/s and range of each side of an A/B comparison: `{'tok_s': ..., 'spread': ...}`."
    return {'tok_s': {k: statistics.median(v) for k, v in speed.items()},
            'spread': {k: [min(v), max(v)] for k, v in speed.items()}}


def ab_lines(speed: dict) -> list[str]:
    "One printed line per side: median tokens/s, range and repetitions."
    w = max(map(len, speed))
    return [f"  {k:<{w}} {statistics.median(v):.1f} tok/s (range {min(v):.1f}-{max(v):.1f}, {len(v)} reps)"
            for k, v in speed.items()]
