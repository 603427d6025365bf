"""Run benchmarks and rewrite bench/RESULTS.md. `python bench/run_all.py [bench_kd bench_sft ...]` runs the named
benchmarks (default: all), stores each one's printed output and result in bench/results/<name>.json (with the date
and the machine's load average before and after: other jobs on a shared machine slow both sides of a comparison,
not always equally), then renders RESULTS.md from every stored result. Numbers in RESULTS.md only ever come from here.
"""

import contextlib, datetime, importlib, io, json, os, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info

BENCHES = ['bench_matmul', 'bench_generation', 'bench_teacher_dtype', 'bench_serve', 'bench_sft', 'bench_packing',
           'bench_profile', 'bench_kd', 'bench_onpolicy', 'bench_topk']
HERE = Path(__file__).parent
RES = HERE / 'results'


def _load() -> str:
    return ' '.join(f"{x:.2f}" for x in os.getloadavg())


def run(name):
    before = _load()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        res = importlib.import_module(name).main()
    text = '\n'.join(l for l in buf.getvalue().splitlines() if not l.startswith('{'))
    out = {
        'bench': name,
        'measured': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='minutes'),
        'machine': machine_info(),
        'load': {'before': before, 'after': _load()},
        'text': text,
        'res': res,
    }
    RES.mkdir(exist_ok=True)
    (RES / f'{name}.json').write_text(json.dumps(out, indent=1, default=str))
    print(text, flush=True)
    return out


def _summary(r: dict) -> list[str]:
    rows = []
    kd, sft = r.get('bench_kd', {}).get('res'), r.get('bench_sft', {}).get('res')
    onp = r.get('bench_onpolicy', {}).get('res')
    td = r.get('bench_teacher_dtype', {}).get('res')
    sv, pk = r.get('bench_serve', {}).get('res'), r.get('bench_packing', {}).get('res')
    if kd:
        ok = kd['speedup'] >= 2 and kd['rss_ratio'] <= 0.5
        rows.append(
            f"| logit-KD step (JSD β=0.5) vs TRL GKDTrainer, B8 T≤256 | {kd['capdistill']['step_s']:.2f} s/step,"
            f" {kd['capdistill']['peak_rss_mb']:.0f} MB | {kd['trl']['step_s']:.2f} s/step,"
            f" {kd['trl']['peak_rss_mb']:.0f} MB | **{kd['speedup']:.2f}x** faster, **{kd['rss_ratio']:.2f}x** peak RSS"
            f" | ≥ 2x, ≤ 0.5x | {'yes' if ok else 'no'} |"
        )
    if onp:
        ok = onp['speedup'] >= 1.5
        rows.append(
            f"| on-policy distillation step (GKD λ=1, JSD β=0.5) vs TRL {onp['trl_version']} DistillationTrainer, B8,"
            f" 64 new tokens | {onp['capdistill']['step_s']:.2f} s/step, {onp['capdistill']['peak_rss_mb']:.0f} MB"
            f" | {onp['trl']['step_s']:.2f} s/step, {onp['trl']['peak_rss_mb']:.0f} MB | **{onp['speedup']:.2f}x**"
            f" faster, {onp['rss_ratio']:.2f}x peak RSS | ≥ 1.5x (live teacher) | {'yes' if ok else 'no'} |"
        )
    if sft:
        rows.append(
            f"| SFT step vs TRL SFTTrainer, B8 T≤256 | {sft['capdistill']['tokens_per_s']:.0f} tok/s,"
            f" {sft['capdistill']['peak_rss_mb']:.0f} MB | {sft['trl']['tokens_per_s']:.0f} tok/s,"
            f" {sft['trl']['peak_rss_mb']:.0f} MB | **{sft['speed_ratio']:.2f}x** tok/s, {sft['rss_ratio']:.2f}x peak"
            f" RSS | ≥ 2x, ≤ 1x RSS |"
            f" {'yes' if sft['speed_ratio'] >= 2 and sft['rss_ratio'] <= 1 else 'no'} |"
        )
    if td:
        a, b = list(td['tok_s'])
        rows.append(
            f"| teacher generation, weights in the fast path's dtype ({b}) vs {a} (peer: fp32 weights), B{td['batch']},"
            f" {td['max_new_tokens']} new tokens | {td['tok_s'][b]:.1f} tok/s | {td['tok_s'][a]:.1f} tok/s |"
            f" **{td['ratio']:.2f}x** tok/s, greedy texts identical {td['greedy_agreement']:.0%} | > 1x | "
            f"{'yes' if td['ratio'] > 1 else 'no'} |"
        )
    if sv:
        rows.append(
            f"| teacher generation in process (batched) vs `transformers serve --continuous-batching`,"
            f" {sv['n_prompts']}"
            f" prompts x {sv['max_new_tokens']} tokens, {sv['dtype']} | {sv['tok_s']['capdistill']:.1f} tok/s |"
            f" {sv['tok_s']['serve']:.1f} tok/s (peer: transformers serve) | **{sv['ratio']:.2f}x** tok/s | keep the"
            f" faster as default | {'yes' if sv['ratio'] >= 1 else 'no'} |"
        )
    if pk:
        rows.append(
            f"| SFT step, padding-free packing vs padded batches, B8 T≤256 ({pk['padding_share']:.0%} padding) |"
            f" {pk['tok_s']['packed']:.0f} tok/s | {pk['tok_s']['padded']:.0f} tok/s (peer: our padded path) |"
            f" **{pk['ratio']:.2f}x** tok/s, loss diff ≤ {pk['max_loss_diff']:.4f} | > 1x | "
            f"{'yes' if pk['ratio'] > 1 else 'no'} |"
        )
    if not rows:
        return []
    return [
        "## Summary (from the stored results below)\n",
        "| benchmark | capdistill | peer (TRL unless named) | ratio | target (#16) | met |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def render():
    r = {p.stem: json.loads(p.read_text()) for p in sorted(RES.glob('*.json'))}
    out = [
        "# Benchmark results\n",
        (
            "Written by `python bench/run_all.py` from `bench/results/*.json`. In every comparison capdistill and the"
            " TRL peer ran"
        ),
        (
            "in the same invocation, each in a fresh process (clean peak RSS), on the same model, data and batch;"
            " ratios are"
        ),
        (
            "capdistill / peer. Each section names when it was measured and the machine's load average (1/5/15 min)"
            " before and"
        ),
        "after: this is a shared 2-core machine, and a load above ~2 means other jobs were competing for the cores.\n",
        *_summary(r),
        (
            "How the KD comparison runs: capdistill uses its default path (fused loss taking hidden states and LM-head"
            " weights,"
        ),
        (
            "logits per chunk at label positions only; teacher in bf16 weights under inference mode; the training loop"
            " sets"
        ),
        (
            "glibc's mmap/trim thresholds and arena count, see `capdistill.distill.sft.release_freed_memory`). TRL's"
            " GKDTrainer runs as"
        ),
        "documented (lmbda=0, β=0.5, bf16=True, teacher in fp32 weights under autocast), with no allocator settings.",
        (
            "Where the KD speed gap is: both sides spend most of a step in the student's forward and backward (the same"
            " model"
        ),
        "and batch); capdistill's savings are in the loss and the teacher's forward, which bounds the step-time ratio.",
        "How the on-policy comparison runs: capdistill's GKD loop with λ=1 (every batch the student's own samples,",
        "scored by the teacher) against TRL's stable `DistillationTrainer` (on-policy by design), the same prompts,",
        "batch, 64 sampled new tokens, JSD β=0.5, bf16 and threads; gradient checkpointing off on both sides (TRL",
        "turns it on by default). A step is generation + teacher scoring + update; sampled lengths differ run to run.",
        "No GPU was lent to this task, so the ~1B random-init Llama MFU run on a GPU is still to do.",
        "Why the SFT and MFU targets are not met (bench_profile): autocast casts the fp32 weights to bf16 at every",
        "forward and backward (aten::copy_ ~25% of op time), fp32 elementwise work (AdamW, RMSNorm) takes ~25%, the",
        "matmuls themselves ~25%. Next steps: hold bf16 weight copies across a step instead of per-op casts,",
        "fused AdamW (`fused=True` runs on CPU), then `torch.compile` of the step where a run is long enough to pay.\n",
    ]
    for name in BENCHES:
        if name not in r:
            continue
        e = r[name]
        load = e.get('load')
        out += [
            f"## {name}\n",
            f"Measured {e['measured']}"
            + (f" on {e['machine']}" if e.get('machine') else '')
            + (f"; load average before {load['before']}, after {load['after']}." if load else '.'),
            "",
            "```",
            e['text'],
            "```\n",
        ]
    (HERE / 'RESULTS.md').write_text('\n'.join(out) + '\n')


def main(only=None):
    for name in only or BENCHES:
        if (HERE / f'{name}.py').exists():
            run(name)
    render()


if __name__ == '__main__':
    main(sys.argv[1:] or None)
