"""`capdistill demo` end to end with the real embedded teacher and pruned student, via the installed CLI."""

import json
import yaml
from conftest import run_cli, ROOT
from capdistill.core.config import load_config
from capdistill.demo import DemoConfig


def _cfg(tmp_path, **kw):
    base = yaml.safe_load((ROOT / 'configs' / 'demo.yaml').read_text())
    base.update(
        prompts=['What is the capital of France?', 'What is 3 plus 4?', 'Name a fruit.', 'Say hello in Spanish.'],
        max_new_tokens=24,
        output_root=str(tmp_path / 'out'),
        **kw
    )
    p = tmp_path / 'demo.yaml'
    p.write_text(yaml.safe_dump(base))
    return p


def test_demo_runs_and_student_is_worse(tmp_path):
    r = run_cli('demo', '--config', _cfg(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'teacher ppl' in r.stdout and 'teacher:' in r.stdout
    res = json.loads((tmp_path / 'out' / 'seed_0' / 'results.json').read_text())
    man = json.loads((tmp_path / 'out' / 'seed_0' / 'manifest.json').read_text())
    assert man['status'] == 'completed' and man['versions']['torch'].startswith('2.13')
    assert len(res['rows']) == 4 and all(r['answer'].strip() for r in res['rows'])
    assert res['student_ppl'] > 2 * res['teacher_ppl']
    assert 'Paris' in res['rows'][0]['answer']


def test_demo_generation_budget_is_never_exceeded(tmp_path):
    r = run_cli('demo', '--config', _cfg(tmp_path, budget_gen_tokens=120))
    assert r.returncode == 0, r.stderr[-3000:]
    man = json.loads((tmp_path / 'out' / 'seed_0' / 'manifest.json').read_text())
    spent = man['ledger']['spent']
    assert 0 < spent['teacher_gen_prompt'] + spent['teacher_gen_completion'] <= 120
    assert 'generation budget reached' in r.stdout
    res = json.loads((tmp_path / 'out' / 'seed_0' / 'results.json').read_text())
    assert 1 <= len(res['rows']) < 4


def test_config_typo_is_one_clear_error_before_any_work(tmp_path):
    p = tmp_path / 'bad.yaml'
    p.write_text('student: smollm2-135m-pruned\nbudget_gen_tokns: 10\n')
    r = run_cli('demo', '--config', p)
    assert r.returncode == 2
    assert str(p) in r.stderr and "'budget_gen_tokns'" in r.stderr and "Did you mean 'budget_gen_tokens'" in r.stderr
    assert 'Traceback' not in r.stderr


def test_set_override_and_its_error(tmp_path):
    r = run_cli('demo', '--config', _cfg(tmp_path), '--set', 'teacher.generation.top_p=2')
    assert r.returncode == 2 and "--set teacher.generation.top_p=2: " in r.stderr
    assert "'teacher.generation.top_p' = 2.0 is out of range" in r.stderr
    assert 'Traceback' not in r.stderr


def test_shipped_configs_validate():
    assert load_config(ROOT / 'configs' / 'demo.yaml', DemoConfig).student == 'smollm2-135m-pruned'
