"""An interval's teacher generation, scheduled four ways on the same prompts (the question behind `make demo`'s
generate step): ReAD's rounds as they run now (batches of 22, 9 and 4 prompts one after another: each round's size
is what the ledger lets it reserve, each decodes until its longest answer ends), the same prompts in one batch (what
refilling finished rows could at best approach: the ledger reserves every prompt's worst case, so only the first
round fits at once), our refill (`HFEngine.generate_refill`: one continuous batch whose finished rows are replaced by
the next prompts as the ledger frees their worst case, within a budget that pays for exactly these answers), and
transformers' in-process continuous batching (`model.generate_batch`, all prompts at once:
the existing engine a refill could have sat on). 35 of ReAD's template prompts, 96 new tokens, greedy, the fast path's
precision; interleaved repetitions, median completion tokens/s."""

import argparse, json, sys
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ab_lines, ab_result, interleaved, machine_info

ROUNDS, NEW = (22, 9, 4), 96
ALLOCATION = {'reasoning': 0.4, 'math': 0.3, 'steerability': 0.2, 'general_knowledge': 0.1}


def ours(model, tok, groups: list) -> tuple[float, list[int]]:
    "`(completion tokens/s, completion lengths)` of `core.models.generate` on each group in turn."
    import time
    from capdistill.core.models import generate

    t0, lens = time.perf_counter(), []
    for g in groups:
        lens += generate(model, tok, g, max_new_tokens=NEW, batch_size=len(g))[2]
    return sum(lens) / (time.perf_counter() - t0), lens


def refill(model, tok, prompts: list, budget: int) -> tuple[float, list[int]]:
    """`(completion tokens/s, completion lengths)` of `HFEngine.generate_refill` on `prompts` within a generation
    budget of `budget` tokens: each prompt starts once the ledger has room for its worst case, in a freed slot."""
    import time
    from capdistill.core.ledger import TokenLedger
    from capdistill.teachers.engines import GenerationConfig, HFEngine

    led = TokenLedger(budgets={'generation': budget})
    t0 = time.perf_counter()
    gens = HFEngine(model, tok, 'bench').generate_refill(prompts, GenerationConfig(max_new_tokens=NEW, batch_size=64),
                                                         ledger=led, progress=False)
    dt = time.perf_counter() - t0
    lens = [g.completion_tokens for g in gens if g is not None]
    return sum(lens) / dt, lens


def transformers_cb(model, tok, prompts: list) -> tuple[float, list[int]]:
    "`(completion tokens/s, completion lengths)` of transformers' continuous batching on all `prompts` at once."
    import time
    from transformers import GenerationConfig
    from capdistill.core.models import chat_text

    ids = [tok(chat_text(tok, p), add_special_tokens=False).input_ids for p in prompts]
    gc = GenerationConfig(max_new_tokens=NEW, do_sample=False, eos_token_id=tok.eos_token_id,
                          pad_token_id=tok.pad_token_id)
    t0 = time.perf_counter()
    out = model.generate_batch(inputs=ids, generation_config=gc, warmup=False)
    dt = time.perf_counter() - t0
    lens = [len(o.generated_tokens) for o in out.values()]
    return sum(lens) / dt, lens


def ledger_room(model, tok, prompts: list) -> int:
    """A generation budget that pays for exactly these prompts' answers plus one worst case (measured by one greedy
    pass): the refill arm answers all of them, starting each as the ledger frees room, as in a ReAD interval."""
    from capdistill.core.models import generate

    _, n_prompt, n_new = generate(model, tok, prompts, max_new_tokens=NEW, batch_size=len(prompts))
    return sum(n_prompt) + sum(n_new) + max(n_prompt) + NEW


def main(reps: int = 2) -> dict:
    from capdistill.core.fastpath import fast_path
    from capdistill.core.models import load_model
    from capdistill.tasks.templates import sample_batch

    model, tok = load_model('smollm2-135m-instruct', device='cpu')
    prompts = [s.prompt for s in sample_batch(ALLOCATION, sum(ROUNDS), seed=5)[0]]
    cut = [0, *accumulate(ROUNDS)]
    rounds = [prompts[a:b] for a, b in zip(cut, cut[1:])]
    print(f"an interval's teacher generation, SmolLM2-135M-Instruct, {len(prompts)} ReAD template prompts, {NEW} new"
          f" tokens, greedy, {fast_path().dtype} ({machine_info()})")
    budget = ledger_room(model, tok, prompts)
    sides = {'rounds': lambda: ours(model, tok, rounds), 'one_batch': lambda: ours(model, tok, [prompts]),
             'refill': lambda: refill(model, tok, prompts, budget),
             'transformers_cb': lambda: transformers_cb(model, tok, prompts)}
    speed, lens = interleaved(sides, reps)
    res = ab_result(speed) | {'prompts': len(prompts), 'rounds': list(ROUNDS), 'max_new_tokens': NEW, 'reps': reps,
                              'completion_tokens': {k: sum(v) for k, v in lens.items()}}
    res |= {f'{k}_vs_rounds': res['tok_s'][k] / res['tok_s']['rounds'] for k in sides if k != 'rounds'}
    print(*ab_lines(speed), sep='\n')
    print(f"  completion tokens per arm: {res['completion_tokens']}")
    for k in ('one_batch', 'refill', 'transformers_cb'):
        print(f"  {k} / rounds: {res[f'{k}_vs_rounds']:.2f}x tokens/s")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
