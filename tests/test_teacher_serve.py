"""The `openai` teacher engine against a real OpenAI-compatible server: `transformers serve` (fixture `served_teacher`,
tests/conftest.py) of the embedded SmolLM2-135M-Instruct on CPU, loopback only, offline. Few requests, 8 tokens each."""

from capdistill.core.config import ConfigError
from capdistill.core.ledger import TokenLedger
from capdistill.core.models import load_model, load_tokenizer
from capdistill.teachers.engines import GenerationConfig, HFEngine, OpenAIEngine
from capdistill.teachers.spec import TeacherConfig, make_teacher
import pytest
import torch

PROMPTS = ['What is 2+2?', 'Name a colour.']
GEN = GenerationConfig(max_new_tokens=8)


def _check_charged(gens, led: TokenLedger, tok):
    "Non-empty texts; the ledger holds the server's usage counts (its chat template counts prompts as ours does)."
    assert all(g.text.strip() for g in gens), [g.text for g in gens]
    assert [g.prompt_tokens for g in gens] == HFEngine(None, tok, '').count_prompt_tokens(PROMPTS)
    assert all(1 <= g.completion_tokens <= GEN.max_new_tokens for g in gens), [g.completion_tokens for g in gens]
    assert led.spent['teacher_gen_prompt'] == sum(g.prompt_tokens for g in gens)
    assert led.spent['teacher_gen_completion'] == sum(g.completion_tokens for g in gens)
    assert led.spent_in('generation') == sum(g.prompt_tokens + g.completion_tokens for g in gens)


def test_openai_engine_against_transformers_serve(served_teacher):
    tok = load_tokenizer(served_teacher.model)
    oe = OpenAIEngine(served_teacher.base_url, served_teacher.model, tokenizer=tok, max_retries=1, timeout_s=120)
    led = TokenLedger()
    gens = oe.generate(PROMPTS, GEN, ledger=led, progress=False)
    _check_charged(gens, led, tok)
    assert (oe.n_requests, oe.n_retries) == (2, 0)
    model, tok = load_model(served_teacher.model, device='cpu')  # the same weights in-process: same greedy text
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server runs: spin-waiting OpenMP threads crawl on a busy machine
    try:
        local = HFEngine(model, tok, 'local').generate(PROMPTS, GenerationConfig(max_new_tokens=8, batch_size=1),
                                                       progress=False)
    finally:
        torch.set_num_threads(n_threads)
    assert [g.text for g in gens] == [g.text for g in local]
    assert [(g.prompt_tokens, g.completion_tokens) for g in gens] == [
        (g.prompt_tokens, g.completion_tokens) for g in local]


def test_make_teacher_openai_against_transformers_serve(served_teacher):
    cfg = TeacherConfig(engine='openai', endpoint=served_teacher.base_url, model=served_teacher.model)
    teacher = make_teacher(cfg)
    assert isinstance(teacher.engine, OpenAIEngine) and teacher.tok is None
    with pytest.raises(ConfigError, match='keeps them elsewhere'):
        teacher.require_weights('logit KD')
    led = TokenLedger()
    gens = teacher.engine.generate(PROMPTS, GEN, ledger=led, progress=False)
    # no local tokenizer: only the server's usage can make these counts match the chat template's
    _check_charged(gens, led, load_tokenizer(served_teacher.model))


def test_generate_batch_cli_with_a_served_teacher(served_teacher, tmp_path):
    "The same teacher spec drives a command: `generate-batch` with `teacher.engine: openai`."
    import json
    from conftest import run_cli

    out = tmp_path / 'batch.jsonl'
    r = run_cli('generate-batch', '--set', 'teacher.engine=openai',
                '--set', f'teacher.endpoint={served_teacher.base_url}',
                '--set', f'teacher.model={served_teacher.model}',
                '--set', 'teacher.generation.max_new_tokens=8',
                '--set', 'allocation={general_knowledge: 1}', '--set', 'num_prompts=2', '--set', f'output={out}',
                env={'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(x['response'].strip() and x['completion_tokens'] <= 8 for x in rows)


def test_read_with_a_served_teacher(served_teacher, tmp_path):
    "`capdistill read` (tiny budget) with its teacher behind `transformers serve`: probes and data come over HTTP."
    import json
    from conftest import run_cli

    out = tmp_path / 'read'
    sets = [f'teacher.endpoint={served_teacher.base_url}', f'teacher.model={served_teacher.model}',
            f'teacher.tokenizer={served_teacher.model}', 'teacher.engine=openai', 'num_intervals=1',
            'budget_total_tokens=1000', 'budget_gen_tokens=400', 'budget_train_tokens=600', 'max_new_tokens=24',
            'gen_batch_size=4', 'gen_rounds=1', 'max_epochs=1', 'probes.n_per_capability=1', 'probes.max_new_tokens=8',
            'keep_only_correct=false']  # the 135M teacher may get every verifiable prompt drawn wrong: train anyway
    r = run_cli('read', *[a for s in sets for a in ('--set', s)], '--output-dir', out, env={'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    man = json.loads((out / 'manifest.json').read_text())
    spent = man['ledger']['spent']
    assert man['status'] == 'completed' and man['config']['teacher']['engine'] == 'openai'
    assert 0 < spent['teacher_gen_prompt'] + spent['teacher_gen_completion'] <= 400
    assert 0 < spent['student_train_prompt'] + spent['student_train_label'] <= 600
