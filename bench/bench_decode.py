"""Does a static KV cache, or a static cache with a compiled decode step, pay on a CPU? Teacher decoding
(SmolLM2-135M-Instruct, greedy, 64 new tokens) as `core.models.generate` runs it — transformers' dynamic cache, which
grows by concatenation each step, oneDNN-prepacked fp32 weights where the fast path packs — against
`cache_implementation='static'` (preallocated, written in place) under the same packing, and against a static cache
with the model's forward compiled by inductor (`torch.compile`, weights frozen into oneDNN's packed layout:
`torch._inductor.config.freezing`). Interleaved repetitions in one process, median and spread; the cold compile
time is reported beside the steady state, with the steps it takes to pay back."""

import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ab_lines, ab_result, gsm8k_pairs, interleaved, machine_info


def decode(model, tok, enc, max_new, static: bool, pack: bool, forward=None):
    "Tokens/s and the greedy texts of one `model.generate` over the left-padded batch `enc` (with `forward`, if given)."
    from capdistill.core.fastpath import packed_linears

    kw = dict(max_new_tokens=max_new, do_sample=False, temperature=None, top_p=None, top_k=None,
              pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    if static:
        kw['cache_implementation'] = 'static'
    if forward is not None:
        model.forward = forward  # an instance attribute: what `model(...)` calls
    t0 = time.perf_counter()
    try:
        with packed_linears(model, pack):  # as `generate` does (a no-op when pack is False)
            out = model.generate(**enc, **kw)
    finally:
        vars(model).pop('forward', None)  # back to the class's forward
    dt = time.perf_counter() - t0
    new = out[:, enc['input_ids'].shape[1]:]  # (B, new)
    return int((new != tok.pad_token_id).sum()) / dt, tok.batch_decode(new, skip_special_tokens=True)


def main(batches=(8, 32), compile_batch=8, max_new=64, reps=3):
    import torch._inductor.config as icfg
    from capdistill.core.fastpath import fast_path, packs_linears
    from capdistill.core.models import chat_text, load_model

    bf16 = fast_path().bf16
    dtype = 'bfloat16' if bf16 else 'float32'  # as `teachers.spec` loads a teacher here: a static cache takes it
    model, tok = load_model('smollm2-135m-instruct', dtype=dtype, device='cpu')
    tok.padding_side = 'left'
    pool = [chat_text(tok, p) for p, _ in gsm8k_pairs(max(batches), seed=1)]
    pack = packs_linears('cpu', bf16) and not bf16
    res = {'fast_path': fast_path().dtype, 'packs': pack, 'max_new_tokens': max_new, 'reps': reps, 'by_batch': {}}
    print(f"teacher decoding, SmolLM2-135M-Instruct {dtype} weights, {max_new} new tokens, greedy,"
          f" oneDNN-packed weights {pack}"
          f" ({machine_info()})")
    eager = model.forward
    was = icfg.freezing
    try:
        return run_batches(model, tok, pool, res, batches, compile_batch, max_new, reps, pack, bf16, eager)
    finally:
        icfg.freezing = was  # run_all imports every bench into one process


def run_batches(model, tok, pool, res, batches, compile_batch, max_new, reps, pack, bf16, eager) -> dict:
    "Each batch size: the interleaved arms (the compiled one at `compile_batch`), printed and added to `res`."
    import torch

    for b in batches:
        enc = dict(tok(pool[:b], return_tensors='pt', padding=True, add_special_tokens=False))
        with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            for static in (False, True):  # warm up both caches
                decode(model, tok, {k: v[:2] for k, v in enc.items()}, 4, static, pack)
            sides = {'dynamic': lambda e=enc: decode(model, tok, e, max_new, False, pack),
                     'static': lambda e=enc: decode(model, tok, e, max_new, True, pack)}
            compiled = b == compile_batch
            if compiled:
                r_c = compile_arm(model, tok, enc, max_new, eager)
                sides['static_compiled'] = lambda e=enc: decode(model, tok, e, max_new, True, False, r_c['forward'])
            speed, texts = interleaved(sides, reps)
        r = ab_result(speed)
        r |= {f'{k}_vs_dynamic': r['tok_s'][k] / r['tok_s']['dynamic'] for k in sides if k != 'dynamic'}
        r['greedy_agreement'] = {k: sum(x == y for x, y in zip(texts['dynamic'], texts[k])) / b for k in sides}
        if compiled:
            r |= {k: v for k, v in r_c.items() if k != 'forward'}
        res['by_batch'][b] = r
        print(f" batch {b}:", *ab_lines(speed), sep='\n')
        for k in sides:
            if k != 'dynamic':
                print(f"  {k} / dynamic: {r[f'{k}_vs_dynamic']:.2f}x tokens/s; greedy texts identical for"
                      f" {r['greedy_agreement'][k]:.0%} of {b} prompts")
        if compiled:
            print(f"  static_compiled: first generate (compiles) {r['first_generate_s']:.0f} s, the next"
                  f" {r['second_generate_s']:.1f} s")
    print(json.dumps(res))
    return res


def compile_arm(model, tok, enc, max_new, eager) -> dict:
    """Compile the forward (inductor, weights frozen: its own oneDNN packing); time the first (compiling) and the
    second generate. The compiled forward is returned, not installed: each arm runs its own."""
    import torch
    import torch._inductor.config as icfg

    icfg.freezing = True  # read when a graph compiles: left on for the arm's recompilations, restored by main
    fwd = torch.compile(eager, dynamic=False)
    t = []
    for _ in range(2):
        t0 = time.perf_counter()
        decode(model, tok, enc, max_new, True, False, fwd)
        t.append(time.perf_counter() - t0)
    return {'first_generate_s': t[0], 'second_generate_s': t[1], 'forward': fwd}


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
