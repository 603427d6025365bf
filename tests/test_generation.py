"""Teacher generation through the persistent cache with the real teacher: the rerun is free and identical."""

from capdistill.teachers.engines import HFEngine, GenerationConfig, GenerationCache, CachedEngine
from capdistill.core.ledger import TokenLedger
from capdistill.core.models import load_model

TEACHER = 'smollm2-135m-instruct'
PROMPTS = [
    'What is the capital of France?',
    'What is 7 times 6?',
    'Name a primary colour.',
    'Write one word meaning happy.',
]


def test_real_teacher_through_cache_twice(tmp_path):
    model, tok = load_model(TEACHER)
    cfg = GenerationConfig(max_new_tokens=16, batch_size=4)
    led1 = TokenLedger(budgets={'generation': 10_000})
    first = CachedEngine(HFEngine(model, tok, TEACHER), GenerationCache(tmp_path / 'gen.jsonl')).generate(
        PROMPTS, cfg, ledger=led1, progress=False
    )
    assert [g.prompt for g in first] == PROMPTS and not any(g.cached for g in first)
    assert 'Paris' in first[0].text
    assert all(0 < g.completion_tokens <= 16 for g in first)
    assert led1.spent['teacher_gen_prompt'] == sum(g.prompt_tokens for g in first)
    assert led1.spent['teacher_gen_completion'] == sum(g.completion_tokens for g in first)

    led2 = TokenLedger(budgets={'generation': 10_000})  # a new process would reopen the file: so do we
    again = CachedEngine(HFEngine(model, tok, TEACHER), GenerationCache(tmp_path / 'gen.jsonl')).generate(
        PROMPTS, cfg, ledger=led2, progress=False
    )
    assert all(g.cached for g in again)
    assert [g.text for g in again] == [g.text for g in first]
    assert led2.spent_in('generation') == 0
    assert len((tmp_path / 'gen.jsonl').read_text().splitlines()) == 4


def test_generate_batch_cli_uses_cache_and_budget(tmp_path, tiny_pair):
    "The CLI's cache and budget plumbing (a tiny random-init teacher: what it says does not matter here)."
    import json
    from conftest import run_cli

    out = tmp_path / 'batch.jsonl'
    args = ('generate-batch', '--set', 'allocation={math: 0.5, general_knowledge: 0.5}', '--set', 'num_prompts=6',
            '--set', f"teacher.model={tiny_pair['teacher']}",
            '--set', 'teacher.generation.max_new_tokens=24', '--set', 'budget_gen_tokens=2000',
            '--set', f'output={out}')
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert (
        len(rows) == 6
        and {x['capability'] for x in rows} == {'math', 'general_knowledge'}
        and not any(x['cached'] for x in rows)
    )
    assert sum(x['prompt_tokens'] + x['completion_tokens'] for x in rows) <= 2000
    r = run_cli(*args)  # rerun: everything from the cache
    assert r.returncode == 0 and all(json.loads(l)['cached'] for l in out.read_text().splitlines())
    r = run_cli('generate-batch', '--set', 'allocation={maths: 1}', '--set', f'output={out}')
    assert r.returncode == 2 and "Did you mean 'math'" in r.stderr


def test_distill_cli_sft_and_kd(tmp_path, tiny_pair):
    """generate-batch -> distill (sft, kd) end to end; budgets respected, students saved. Tiny random-init models:
    that distillation from the embedded teacher helps is tested in tests/test_kd.py."""
    import json
    from conftest import run_cli

    data = tmp_path / 'batch.jsonl'
    who = ('--set', f"teacher.model={tiny_pair['teacher']}")
    r = run_cli('generate-batch', '--set', 'allocation={general_knowledge: 1}', '--set', 'num_prompts=8',
                '--set', 'teacher.generation.max_new_tokens=24', '--set', f'output={data}', *who)
    assert r.returncode == 0, r.stderr[-2000:]
    for method in ('sft', 'kd'):
        out = tmp_path / method
        r = run_cli('distill', '--set', f'method={method}', '--set', f'data={data}', '--set', 'budget_train_tokens=600',
                    '--set', 'train.lr=1e-4', '--set', f"student={tiny_pair['student']}", *who, '--output-dir', out)
        assert r.returncode == 0, r.stderr[-2000:]
        m = json.loads((out / 'manifest.json').read_text())
        spent = m['ledger']['spent']
        assert m['status'] == 'completed' and 0 < spent['student_train_prompt'] + spent['student_train_label'] <= 600
        assert (spent['teacher_scoring'] > 0) == (method == 'kd') and (out / 'student' / 'config.json').exists()
