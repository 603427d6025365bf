"""collect-gphi -> train-identifier -> a task card that points at the learned identifier. The pipeline's plumbing
(rows, budgets, resume, the identifier file) runs on tiny random-init Llamas with the real tokenizer; the embedded
models run it in `nbs/50_read/52_interventions.ipynb`."""

import json
from conftest import run_cli
from capdistill.tasks.cards import CAPABILITIES, TaskCard
from capdistill.read.identifier import resolve_requirements


def test_collect_train_and_use_identifier(tmp_path, tiny_pair):
    rows_path, model_path = tmp_path / 'interventions.jsonl', tmp_path / 'gphi.pt'
    cfg = tmp_path / 'gphi.yaml'
    cfg.write_text('interventions:\n  n_dev: 4\n  max_new_tokens: 32\n  num_interventions: 2\n'
                   '  budget_gen_tokens: 600\n  budget_train_tokens: 700\n')
    who = ('--set', f"teacher.model={tiny_pair['teacher']}", '--set', f"student={tiny_pair['student']}")
    r = run_cli('collect-gphi', '--config', cfg, '--set', 'tasks=[word_problem_format, tool_call_format]',
                '--set', f'output={rows_path}', *who)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(l) for l in rows_path.read_text().splitlines()]
    assert len(rows) == 4 and {r['task'] for r in rows} == {'word_problem_format', 'tool_call_format'}
    for row in rows:
        spent = row['ledger']['spent']
        assert spent['teacher_gen_prompt'] + spent['teacher_gen_completion'] <= 600
        assert 0 < spent['student_train_prompt'] + spent['student_train_label'] <= 700
        assert row['after'] != row['before']  # the intervention really trained the student
    r = run_cli('collect-gphi', '--config', cfg, '--set', 'tasks=[word_problem_format]', '--set', f'output={rows_path}',
                *who)
    assert r.returncode == 0 and len(rows_path.read_text().splitlines()) == 4  # resumed: nothing redone
    r = run_cli('train-identifier', '--set', f'train_jsonl={rows_path}', '--set', f'output={model_path}')
    assert r.returncode == 0, r.stderr[-3000:]
    card = TaskCard(
        name='x',
        description='Short arithmetic word problems answered in a strict format.',
        requirement_model=str(model_path),
    )
    v = resolve_requirements(card)
    assert v.shape == (len(CAPABILITIES),) and abs(v.sum() - 1) < 1e-6 and (v > 0).all()


def test_bad_inputs_are_one_clear_error(tmp_path):
    r = run_cli('collect-gphi', '--set', 'tasks=[word_problem_fromat]', '--set', f"output={tmp_path / 'x.jsonl'}")
    assert (
        r.returncode == 2
        and "no task card 'word_problem_fromat'" in r.stderr
        and "Did you mean 'word_problem_format'" in r.stderr
    )
    r = run_cli('train-identifier', '--set', f"train_jsonl={tmp_path / 'missing.jsonl'}",
                '--set', f"output={tmp_path / 'g.pt'}")
    assert r.returncode == 2 and 'capdistill collect-gphi' in r.stderr
    r = run_cli('build-eval-hashes', '--set', f"output={tmp_path / 'h.json'}", '--set', 'datasets=[gsm8k:test]')
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / 'h.json').read_text())['count'] == 1319


def test_build_probes_cli(tmp_path):
    out = tmp_path / 'probes.jsonl'
    r = run_cli('build-probes', '--set', f'output={out}', '--set', 'probes.n_per_capability=1',
                '--set', 'probes.max_new_tokens=8')
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert sorted(p['capability'] for p in rows) == sorted(CAPABILITIES) and all(
        len(p['prompt_sha256']) == 64 for p in rows
    )
