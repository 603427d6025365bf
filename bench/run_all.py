"""Run benchmarks and rewrite bench/RESULTS.md. `python bench/run_all.py [bench_kd bench_sft ...]` runs the named
benchmarks (default: all), stores each one's printed output and result in bench/results/<cpu kind>/<name>.json (with
the date and the machine's load average before and after: other jobs on a shared machine slow both sides of a
comparison, not always equally), then renders RESULTS.md from every stored result, one section per CPU kind
(`common.cpu_kind`: an Intel Xeon with AMX and an AMD EPYC are different machines, each with its own fast path).
Numbers in RESULTS.md only ever come from here.
"""

import contextlib, datetime, importlib, io, json, os, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import cpu_kind, machine_info

BENCHES = ['bench_matmul', 'bench_generation', 'bench_teacher_dtype', 'bench_prepack', 'bench_decode', 'bench_refill',
           'bench_serve', 'bench_sft', 'bench_fused_head', 'bench_packing', 'bench_scoring', 'bench_compile',
           'bench_profile', 'bench_kd', 'bench_kdjob', 'bench_onpolicy', 'bench_topk', 'bench_demo']
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
    (RES / cpu_kind()).mkdir(parents=True, exist_ok=True)
    (RES / cpu_kind() / f'{name}.json').write_text(json.dumps(out, indent=1, default=str))
    print(text, flush=True)
    return out


def _summary(r: dict) -> list[str]:
    rows = []
    kd, sft = r.get('bench_kd', {}).get('res'), r.get('bench_sft', {}).get('res')
    onp = r.get('bench_onpolicy', {}).get('res')
    td = r.get('bench_teacher_dtype', {}).get('res')
    sv, pk = r.get('bench_serve', {}).get('res'), r.get('bench_packing', {}).get('res')
    pp, fh = r.get('bench_prepack', {}).get('res'), r.get('bench_fused_head', {}).get('res')
    if kd:
        ok = kd['speedup'] >= 1.5
        rows.append(
            f"| logit-KD step, live teacher (JSD β=0.5) vs TRL GKDTrainer(lmbda=0), B8 T≤256 |"
            f" {kd['capdistill']['step_s']:.2f} s/step,"
            f" {kd['capdistill']['peak_rss_mb']:.0f} MB | {kd['trl']['step_s']:.2f} s/step,"
            f" {kd['trl']['peak_rss_mb']:.0f} MB | **{kd['speedup']:.2f}x** faster, **{kd['rss_ratio']:.2f}x** peak RSS"
            f" | ≥ 1.5x (live teacher) | {'yes' if ok else 'no'} |"
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
    for b, x in (pp or {}).get('by_batch', {}).items():
        rows.append(
            f"| teacher decoding with oneDNN-prepacked fp32 weights vs the weights as loaded, B{b},"
            f" {pp['max_new_tokens']} new tokens (generate packs by default here: {pp['packs_by_default']}) |"
            f" {x['tok_s']['prepacked']:.1f} tok/s | {x['tok_s']['plain']:.1f} tok/s (peer: our unpacked path) |"
            f" **{x['ratio']:.2f}x** tok/s, greedy texts identical {x['greedy_agreement']:.0%} | > 1x |"
            f" {'yes' if x['ratio'] > 1 else 'no'} |"
        )
    if fh:
        rows.append(
            f"| fused LM-head loss (SFT cross-entropy, {fh['rows']} rows, 49152 x 576 head, fwd + bwd) with the head"
            f" prepacked by oneDNN vs the weight as is (packs here: {fh['packs_here']}) |"
            f" {fh['s']['prepacked'] * 1e3:.0f} ms | {fh['s']['plain'] * 1e3:.0f} ms (peer: our unpacked path) |"
            f" **{fh['ratio']:.2f}x** faster, grad W diff {fh['max_diff']['grad_W']:.0e} | > 1x |"
            f" {'yes' if fh['ratio'] > 1 else 'no'} |"
        )
    if sv:
        rows.append(
            f"| teacher generation in process (batched) vs `transformers serve --continuous-batching`,"
            f" {sv['n_prompts']}"
            f" prompts x {sv['max_new_tokens']} tokens, {sv['dtype']} | {sv['tok_s']['capdistill']:.1f} tok/s |"
            f" {sv['tok_s']['serve']:.1f} tok/s (peer: transformers serve) | **{sv['ratio']:.2f}x** tok/s | keep the"
            f" faster as default | {'yes' if sv['ratio'] >= 1 else 'no'} |"
        )
    dc = r.get('bench_decode', {}).get('res') or {}
    for b, x in dc.get('by_batch', {}).items():
        for k, how in (('static', 'a static KV cache'), ('static_compiled', 'a static cache + compiled decode step')):
            if k in x['tok_s']:
                ratio = x[f'{k}_vs_dynamic']
                cold = f", after a {x['first_generate_s']:.0f} s first (compiling) call" if 'compiled' in k else ''
                rows.append(
                    f"| teacher decoding with {how} vs our dynamic cache, B{b}, {dc['max_new_tokens']} new tokens |"
                    f" {x['tok_s'][k]:.1f} tok/s | {x['tok_s']['dynamic']:.1f} tok/s (peer: our default) |"
                    f" **{ratio:.2f}x** tok/s{cold} | adopt if ≥ 1.05x |"
                    f" {_adopt(ratio, 'pays')} |")
    rows += _refill_rows(r.get('bench_refill', {}).get('res'))
    sc = r.get('bench_scoring', {}).get('res')
    if sc:
        rows.append(
            f"| scoring responses (probes, perplexities): head on the response rows only vs the full logits,"
            f" {sc['n']} GSM8K responses, batches of {sc['batch']} | {sc['s']['capdistill']:.1f} s,"
            f" {sc['peak_rss_mb']['capdistill']:.0f} MB | {sc['s']['plain']:.1f} s, {sc['peak_rss_mb']['plain']:.0f} MB"
            f" (peer: logits + log-softmax) | **{sc['ratio']:.2f}x** faster, {sc['rss_ratio']:.2f}x peak RSS,"
            f" diff {sc['max_abs_diff']:.0e} | > 1x | {'yes' if sc['ratio'] > 1 else 'no'} |")
    if pk:
        rows.append(
            f"| SFT step, padding-free packing (attention per example) vs padded batches, B8 T≤256"
            f" ({pk['padding_share']:.0%} padding) |"
            f" {pk['tok_s']['packed']:.0f} tok/s | {pk['tok_s']['padded']:.0f} tok/s (peer: our padded path) |"
            f" **{pk['ratio']:.2f}x** tok/s, loss diff ≤ {pk['max_loss_diff']:.4f} | > 1x | "
            f"{'yes' if pk['ratio'] > 1 else 'no'} |"
        )
    rows += _more_rows(r)
    if not rows:
        return []
    return [
        "### Summary (from the stored results below)\n",
        "| benchmark | capdistill | peer (TRL unless named) | ratio | target (#16) | met |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def _mfu_target(machine: str) -> tuple[float, str]:
    "#16's training-MFU target of the CPU kind that `machine` names."
    if 'amx_bf16' in machine:
        return 0.25, 'Intel AMX'
    return (0.45, 'AMD EPYC') if 'AMD' in machine else (0.25, 'this CPU')


def _more_rows(r: dict) -> list[str]:
    "Summary rows of the compile, KD-job, top-k cache, MFU and demo targets."
    rows = []
    cp, kj = r.get('bench_compile', {}).get('res'), r.get('bench_kdjob', {}).get('res')
    tk, dm, sft = r.get('bench_topk', {}).get('res'), r.get('bench_demo', {}).get('res'), r.get('bench_sft', {})
    if cp:
        rows.append(
            f"| SFT step, compiled decoder layers vs eager (both fused AdamW), B8 T≤256 |"
            f" {cp['tok_s']['compiled, fused AdamW']:.0f} tok/s | {cp['tok_s']['eager, fused AdamW']:.0f} tok/s (peer:"
            f" our eager path) | **{cp['ratio_compile']:.2f}x** tok/s after a {cp['compile_s']:.0f} s cold compile"
            f" (paid back in {cp['break_even_steps']:.0f} steps); fused / foreach AdamW {cp['ratio_fused_adamw']:.2f}x"
            f" | > 1x where it pays | {'yes' if cp['ratio_compile'] > 1 else 'no'} |")
    for k, how in (('first', 'first job on the machine (eager)'), ('later', 'a later job')) if kj else ():
        if k not in kj:  # results from before the first/later split
            k, how = 'capdistill', 'eager'
        j = kj[k]
        speed, rss = kj['trl']['job_s'] / j['job_s'], j['peak_rss_mb'] / kj['trl']['peak_rss_mb']
        ok = speed >= 2 and rss <= 0.5
        how = f"{how}{', compiled' if j.get('compiled') and k == 'later' else ''}"
        rows.append(
            f"| logit-KD job, {j['examples']} examples x 3 epochs, teacher scoring included, forward KL; {how}"
            f" | {j['job_s']:.0f} s, {j['peak_rss_mb']:.0f} MB |"
            f" {kj['trl']['job_s']:.0f} s, {kj['trl']['peak_rss_mb']:.0f} MB (TRL GKDTrainer lmbda=0) |"
            f" **{speed:.2f}x** faster, **{rss:.2f}x** peak RSS | ≥ 2x, ≤ 0.5x | {'yes' if ok else 'no'} |")
        if k == 'capdistill':
            break
    if tk:
        met = [x for x in tk['k'].values() if x['met']]
        b = max(met or tk['k'].values(), key=lambda x: x['ratio'] if met else -x['rel_err'])  # else the most exact
        rows.append(
            f"| top-k teacher cache (k={b['k']}, {b['values']} values) vs dense fp16 logits |"
            f" {b['bytes'] / 1e6:.2f} MB, KL error {b['rel_err']:.2%} | {tk['dense_bytes'] / 1e6:.1f} MB (dense) |"
            f" **{b['ratio']:.0f}x** smaller"
            f" | ≥ 500x at ≤ 2% | {'yes' if b['met'] else 'no'} |")
    if sft.get('res'):
        target, kind = _mfu_target(sft.get('machine', ''))
        res = sft['res']
        mfu, peak = res['mfu_capdistill'], res.get('peak_tflops', res.get('bf16_peak_tflops'))
        rows.append(
            f"| training MFU of the measured {res.get('peak_dtype', 'bf16')} matmul peak ({kind}), SFT step B8 T≤256 |"
            f" {mfu:.1%} | TRL {res['mfu_trl']:.1%} | {peak:.2f} TFLOP/s peak | ≥ {target:.0%} |"
            f" {'yes' if target <= mfu <= 1 else 'no' if mfu < target else 'unknown: the in-run peak measured low'} |")
    if dm:
        rows.append(
            f"| `make demo` without the install, 2 cores{_demo_split(dm)} | {dm['total_s'] / 60:.1f} min | | |"
            f" ≤ 5 min | {'yes' if dm['total_s'] <= 300 else 'no'} |")
    return rows


def _adopt(ratio: float, yes: str) -> str:
    "The verdict on an arm to adopt if it is >= 1.05x its peer: `yes`, within noise (> 0.95x) or slower."
    return yes if ratio >= 1.05 else 'no: within noise' if ratio > 0.95 else 'no: slower'


def _refill_rows(rf: dict | None) -> list[str]:
    "bench_refill: one batch (what a refilled pass approaches) and transformers' continuous batching vs ReAD's rounds."
    if not rf:
        return []
    what = (f"an interval's teacher generation, {rf['prompts']} ReAD prompts x ≤ {rf['max_new_tokens']} tokens,"
            f" vs ReAD's rounds of {'/'.join(map(str, rf['rounds']))} prompts")
    base = f"{rf['tok_s']['rounds']:.1f} tok/s (peer: our rounds)"
    cb = rf['transformers_cb_vs_rounds']
    x = rf.get('refill_vs_rounds')
    ours = [f"| {what}: our refill (`HFEngine.generate_refill`: each prompt starts in a freed slot once the ledger has"
            f" room for its worst case) | {rf['tok_s']['refill']:.1f} tok/s | {base} | **{x:.2f}x** tok/s |"
            f" adopt if ≥ 1.05x | {_adopt(x, 'yes: the default (`gen_refill`)')} |"] if x else []
    return [f"| {what}: the same prompts in one batch (a refilled pass's ceiling) | {rf['tok_s']['one_batch']:.1f}"
            f" tok/s | {base} | **{rf['one_batch_vs_rounds']:.2f}x** tok/s | what a refill can win | measured |",
            *ours,
            f"| {what}: transformers' in-process continuous batching | {rf['tok_s']['transformers_cb']:.1f} tok/s |"
            f" {base} | **{cb:.2f}x** tok/s | build the refill on it if ≥ 1.05x |"
            f" {_adopt(cb, 'yes')} |"]


def _demo_split(dm: dict) -> str:
    "Where the demo's ReAD run spends its time (results from before bench_demo recorded it: nothing)."
    rd = dm.get('read')
    if not rd:
        return ''
    steps = ', '.join(f"{k} {v:.0f} s" for k, v in rd['step_s'].items() if v >= 1)
    return f" (ReAD run: setup {rd['setup_and_summary_s']:.0f} s; {rd['intervals']} intervals: {steps})"


def _standing(r: dict) -> list[str]:
    "Where the unmet targets stand and the next steps, with the stored numbers."
    cp, pf, kj, sft = (r.get(k, {}).get('res') for k in ('bench_compile', 'bench_profile', 'bench_kdjob', 'bench_sft'))
    if not (cp and pf and kj and sft and 'later' in kj):
        return _partial_standing(r)
    share = {t['op']: t['share'] for t in pf['top']}
    sdpa = share.get('aten::_scaled_dot_product_flash_attention_for_cpu_backward', 0)
    first, later, trl = kj['first'], kj['later'], kj['trl']
    train_peak = later.get('rss_phases_mb', {}).get('training', later['peak_rss_mb'])
    return [
        "Where the targets stand. **SFT**: a run of a plain causal LM takes its loss from the final hidden states and",
        "the head weight at the label positions only (`distill.fused_head.fused_ce_loss`: no B×T×V logits, no head on",
        f"prompt positions) and a long run compiles its decoder layers ({cp['ratio_compile']:.2f}x over eager,",
        f"`bench_compile`): {sft['speed_ratio']:.2f}x TRL's tokens/s. **Training MFU** is"
        f" {sft['mfu_capdistill']:.1%} by the standard count (6 x parameters per token; of the FLOPs the fused loss",
        f"executes, {sft.get('hfu_capdistill', float('nan')):.1%}). The compiled step spends"
        f" {pf['matmul_share']:.0%} of its op time in matmul kernels, and the CPU flash-attention",
        f"backward alone {sdpa:.0%} (`bench_profile`): that kernel runs far below the matmul peak, so the next step",
        "is a faster attention backward, then larger batches.",
        f"**KD job**: {trl['job_s'] / later['job_s']:.2f}x TRL's wall time at"
        f" {later['peak_rss_mb'] / trl['peak_rss_mb']:.2f}x its peak RSS as a later job on the machine (compiled:",
        "`compile: null` found this model's compile record, `core.fastpath.compile_pays`), and"
        f" {trl['job_s'] / first['job_s']:.2f}x as the first job",
        f"(eager: no record, {first['steps']} planned steps below `COMPILE_MIN_STEPS`). The teacher scores the data"
        f" once ({later['scoring_s']:.0f} s); the rest is {later['steps']} student steps. The peak RSS is set in"
        f" training ({train_peak} MB):",
        "the student's fp32 weights, gradients and AdamW state (1.7 GB for the pruned SmolLM2) plus the activations",
        "of B8 x T<=256 over 22 layers; the teacher is freed before training. Next step: a faster attention backward.",
        _KD_MEMORY,
        *_generation_standing(r),
    ]


def _generation_standing(r: dict) -> list[str]:
    "The demo and the on-policy step, both bound by decoding: where their time goes, what was tried, what is next."
    dm, dc, gn, onp, rf = (r.get(k, {}).get('res') for k in ('bench_demo', 'bench_decode', 'bench_generation',
                                                             'bench_onpolicy', 'bench_refill'))
    if not (dm and dm.get('read') and dc and gn):
        return []
    st, b = dm['read']['step_s'], min(dc['by_batch'], key=int)
    x = dc['by_batch'][b]
    onp_txt = (f" The on-policy step ({onp['speedup']:.2f}x TRL) is bound the same way: both sides spend it sampling"
               f" 64 tokens per example." if onp else '')
    return ["",
            f"**`make demo`** ({dm['total_s'] / 60:.1f} min): of the ReAD run, the teacher's answers take"
            f" {st.get('generate', 0):.0f} s, the student's probe scoring {st.get('probe', 0):.0f} s, training"
            f" {st.get('train', 0):.0f} s, the dev evaluation (greedy generation) {st.get('reward', 0):.0f} s, setup"
            f" (models, the teacher's probe answers, the first profile) {dm['read']['setup_and_summary_s']:.0f} s."
            f" Decoding {'dominates and runs' if st.get('generate', 0) >= max(st.values()) else 'runs'} far below the"
            f" matmul peak: at batch 1 ({gn['sequential_tok_s']:.1f} tok/s) a"
            f" step costs about one read of the weights, and batch {gn['batch_size']} gains only"
            f" {gn['ratio']:.1f}x ({gn['batched_tok_s']:.1f} tok/s)."
            f"{_decode_tried(x, b, st.get('generate', 0) or float('nan'), dc['fast_path'])} In-process batching stays"
            f" the default over `transformers serve` (`bench_serve`)."
            f"{_next_decode_step(dm, gn, rf, dc['fast_path'])}{onp_txt}",
            ""]


def _decode_tried(x: dict, b, gen_s: float, dtype: str) -> str:
    "bench_decode at batch `b`: the static cache, and the static cache with a compiled decode step, against ours."
    sc, first = x.get('static_compiled_vs_dynamic', float('nan')), x.get('first_generate_s', float('nan'))
    txt = (f" Tried (`bench_decode`, B{b}): a static KV cache {x['static_vs_dynamic']:.2f}x (not adopted), a static"
           f" cache with an inductor-compiled decode step {sc:.2f}x after a {first:.0f} s compiling call")
    if not sc >= 1.05:
        return f"{txt} (not adopted)."
    same = x.get('greedy_agreement', {}).get('static_compiled', float('nan'))
    return (f"{txt}: faster once compiled, but the compiling call alone is {first / gen_s:.1f}x the demo's whole"
            f" generate step ({gen_s:.0f} s), and {same:.0%} of its greedy texts match ours ({dtype}); an opt-in for"
            " long generation runs is a next step.")


def _next_decode_step(dm: dict, gn: dict, rf: dict | None = None, dtype: str = 'float32') -> str:
    """The next step for the demo's decoding. An interval's generation rounds decode one after another, each until its
    longest answer ends; refilling finished rows would decode at about the rate of one full batch (`bench_generation`):
    the next step when that saves a tenth of the demo or more."""
    smaller = ("smaller weights in decode (int8 storage changes the teacher's numbers: a user's choice, not a default)."
               if dtype == 'bfloat16' else "smaller weights in decode (bf16 or int8 storage changes the teacher's"
               " numbers: a user's choice, not a default).")
    tok, gen_s = dm['read'].get('gen_tokens'), dm['read']['step_s'].get('generate', 0)
    if not tok or not gen_s:
        return f" Next step: {smaller}"
    rate, ceiling = tok['completion'] / gen_s, gn['batched_tok_s']
    done = f" The generate step decoded {tok['completion']} completion tokens at {rate:.1f} tok/s"
    if dm['read'].get('gen_refill'):
        ratio = (rf or {}).get('refill_vs_rounds')
        x = f"; `bench_refill`: {ratio:.2f}x the rounds' tokens/s" if ratio else ''
        return (f"{done}, refilling its batch as answers end (`gen_refill`{x}; {dm['read']['answers']} answers)."
                f" Next: {smaller}")
    if rate >= ceiling:
        return f"{done}, at or above the rate of one batch of {gn['batch_size']} ({ceiling:.1f} tok/s). Next: {smaller}"
    saved = gen_s - tok['completion'] / ceiling
    est = (f"{done}, in rounds that each run until their longest answer ends; refilling finished rows with the next"
           f" round's prompts would save about {saved:.0f} s (estimated at the rate of one full batch of"
           f" {gn['batch_size']}, {ceiling:.1f} tok/s).")
    if saved < 0.1 * dm['total_s']:
        return f"{est} Under a tenth of the demo: next step, {smaller}"
    on = (f" on our batched generate (`bench_refill`: {rf['prompts']} ReAD prompts decode"
          f" {rf['one_batch_vs_rounds']:.2f}x faster in one batch than in the rounds; transformers' continuous batching"
          f" runs {rf['transformers_cb_vs_rounds']:.2f}x the rounds)" if rf else '')
    return (f"{est} That refill (rows admitted as the ledger frees their worst case) is the default since these were"
            f" measured (`gen_refill`: `core.refill`, `teachers.engines.Admission`){on}: re-run `bench_refill` and"
            f" `bench_demo` on this CPU kind. Then {smaller}")


def _partial_standing(r: dict) -> list[str]:
    "For a CPU kind measured in part: which benchmarks are stored and which are still to run here."
    have = [b for b in BENCHES if b in r]
    if not have:
        return []
    todo = [b for b in BENCHES if b not in r]
    kd = [_KD_MEMORY + "\n"] if 'bench_kdjob' in r else []
    return kd + [f"Measured on this CPU kind so far: {', '.join(have)}; still to run here: {', '.join(todo) or 'none'}"
                 " (`python bench/run_all.py NAME ...`).\n"]


_KD_MEMORY = (
    "For the KD job's RSS, eager training recomputes the MLP's silu(gate)·up and the RMSNorms' rows in backward since"
    " 989ed6a, and since a3752d4 the projections reading a norm's output recompute it instead of keeping it"
    " (`capdistill.core.recompute`; results measured before either do not have it); the top-k loss works in one N×V"
    " buffer per chunk. Compiled layers leave what to save to inductor, which peaks higher. Run-to-run, one job's"
    " wall time on these shared machines moves by 10% or more (on AMD EPYC AVX2 the compiled job took 327 s and"
    " 362 s in two runs of the same code): compare the ratios of one run. Next for the compiled job: inductor's"
    " `torch._functorch.config.activation_memory_budget` (a 6-step probe, one run each: 0.65 -> -277 MB at the"
    " peak, +4% step time; 0.5 -> -480 MB, +15%), to be measured as a whole job before it becomes a default.")


KINDS_WANTED = {'intel-amx_bf16': 'Intel Xeon with AMX', 'amd-avx512_bf16': 'AMD EPYC Zen 4 (AVX-512 bf16)'}
INTRO = """Written by `python bench/run_all.py` from `bench/results/<cpu kind>/*.json`, one section per CPU kind: the
machines this project runs on differ (Intel Xeon with AMX, AMD EPYC with or without AVX-512 bf16), and each picks its
own fast path (`capdistill.core.fastpath`: bf16 autocast where bf16 matmuls pay, fp32 where they would be emulated;
every benchmark runs both sides in that precision). In every comparison capdistill and the peer (TRL unless named)
ran in the same invocation, each in a fresh process (clean peak RSS), on the same model, data and batch; ratios are
capdistill / peer, comparable within a CPU kind. Each benchmark names when it was measured and the machine's load
average (1/5/15 min) before and after: these are shared 2-core machines, and a load above ~2 means other jobs were
competing for the cores.

How the KD comparison runs: capdistill uses its default path (fused loss taking hidden states and LM-head weights,
logits per chunk at label positions only; teacher in the fast path's weights dtype under inference mode; the training
loop sets glibc's mmap/trim thresholds and arena count, see `capdistill.distill.sft.release_freed_memory`). TRL's
GKDTrainer runs as documented (lmbda=0, teacher in fp32 weights, under autocast where the fast path is bf16), with no
allocator settings. How the on-policy comparison runs: capdistill's GKD loop with λ=1 (every batch the student's own
samples, scored by the teacher) against TRL's stable `DistillationTrainer` (on-policy by design), the same prompts,
batch, 64 sampled new tokens, JSD β=0.5, precision and threads; gradient checkpointing off on both sides (TRL turns it
on by default). A step is generation + teacher scoring + update; sampled lengths differ run to run.
No GPU was lent to this task, so the ~1B random-init Llama MFU run on a GPU is still to do.
"""


def _kind_section(kind: str, r: dict) -> list[str]:
    "One CPU kind's summary, standing and stored outputs."
    cpu = next((e['machine'].split(',')[0] for e in r.values() if e.get('machine', '').count('[')), kind)
    out = [f"## {cpu} (`bench/results/{kind}/`)\n", *_summary(r), *_standing(r)]
    for name in BENCHES:
        if name not in r:
            continue
        e, load = r[name], r[name].get('load')
        out += [
            f"### {name}\n",
            f"Measured {e['measured']}"
            + (f" on {e['machine']}" if e.get('machine') else '')
            + (f"; load average before {load['before']}, after {load['after']}." if load else '.'),
            "", "```", e['text'], "```\n",
        ]
    return out


def render():
    kinds = sorted(d.name for d in RES.iterdir() if d.is_dir())
    out = ["# Benchmark results\n", INTRO]
    missing = [v for k, v in KINDS_WANTED.items() if k not in kinds]
    if missing:
        out.append(f"Not measured yet: {', '.join(missing)} (`python bench/run_all.py` on such a machine).\n")
    for kind in kinds:
        out += _kind_section(kind, {p.stem: json.loads(p.read_text()) for p in sorted((RES / kind).glob('*.json'))})
    (HERE / 'RESULTS.md').write_text('\n'.join(out) + '\n')


def main(only=None):
    for name in only or BENCHES:
        if (HERE / f'{name}.py').exists():
            run(name)
    render()


if __name__ == '__main__':
    main(sys.argv[1:] or None)
