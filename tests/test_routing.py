"""Multi-teacher routing (#15): `teachers:` routes each generated prompt to a teacher by capability (or teacher_id /
task), each teacher is charged to its own ledger lines (`<category>@<name>`) inside the run's shared generation
budget — through `capdistill generate-batch` and through a ReAD run. Tiny random-init teachers with the real SmolLM2
tokenizer: the assertions are about routing and accounting, not about what the teachers say."""

import json
import yaml
from conftest import run_cli


def test_generate_batch_routes_by_capability(tmp_path, tiny_pair):
    out = tmp_path / 'batch.jsonl'
    teacher = {'model': str(tiny_pair['teacher']), 'generation': {'max_new_tokens': 12}}
    cfg = dict(output=str(out), allocation={'math': 0.5, 'general_knowledge': 0.5}, num_prompts=8,
               budget_gen_tokens=4000, teacher=teacher,
               teachers=[{'name': 'calc', 'teacher': {'model': str(tiny_pair['student'])}, 'capabilities': ['math']}])
    (tmp_path / 'batch.yaml').write_text(yaml.safe_dump(cfg))
    r = run_cli('generate-batch', '--config', tmp_path / 'batch.yaml')
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {x['capability'] for x in rows} == {'math', 'general_knowledge'}
    assert all((x.get('teacher') == 'calc') == (x['capability'] == 'math') for x in rows)
    calc = sum(x['completion_tokens'] for x in rows if x.get('teacher') == 'calc')
    own = sum(x['completion_tokens'] for x in rows if 'teacher' not in x)
    lines = {ln.split()[0]: int(ln.split()[1]) for ln in r.stdout.splitlines() if ln.strip().startswith('teacher_gen')}
    assert lines['teacher_gen_completion@calc'] == calc and lines['teacher_gen_completion'] == calc + own
    assert sum(x['prompt_tokens'] + x['completion_tokens'] for x in rows) <= 4000


def test_read_routes_and_charges_each_teacher(tmp_path, tiny_pair):
    from capdistill.core.config import config_from_dict
    from capdistill.read.loop import ReadConfig, run_read

    over = dict(teacher={'model': str(tiny_pair['teacher'])}, student=str(tiny_pair['student']), num_intervals=2,
                max_new_tokens=12, budget_gen_tokens=1400, budget_train_tokens=600, budget_total_tokens=2000,
                dev_limit=2, dev_max_new_tokens=8, probes={'n_per_capability': 1, 'max_new_tokens': 8},
                allocation={'max_support': 1}, policy='uniform',
                teachers=[{'name': 'calc', 'teacher': {'model': str(tiny_pair['student'])}, 'capabilities': ['math']}])
    s = run_read(config_from_dict(ReadConfig, over), tmp_path / 'run', progress=False)
    rows = [json.loads(x) for f in sorted((tmp_path / 'run' / 'examples').glob('*.jsonl'))
            for x in f.read_text().splitlines()]
    math = [x for x in rows if x['capability'] == 'math']
    assert math and all(x.get('teacher') == 'calc' for x in math)
    assert all('teacher' not in x for x in rows if x['capability'] != 'math')
    spent = s['ledger']['spent']
    assert spent['teacher_gen_completion@calc'] == sum(x['completion_tokens'] for x in math)
    assert spent['teacher_gen_prompt@calc'] == sum(x['prompt_tokens'] for x in math)
    gen = sum(v for c, v in spent.items() if c.startswith('teacher_gen'))
    assert gen <= 1400


def test_unknown_route_model_fails_before_the_run_dir(tmp_path, tiny_pair):
    over = ['--set', f"teacher.model={tiny_pair['teacher']}", '--set', f"student={tiny_pair['student']}",
            '--set', "teachers=[{name: calc, teacher: {model: no-such-teacher}, capabilities: [math]}]"]
    r = run_cli('read', *over, '--output-dir', tmp_path / 'run')
    assert r.returncode == 2 and 'teachers[0].teacher.model' in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / 'run').exists()
