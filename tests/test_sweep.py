"""`capdistill sweep` on the smoke grid (real samples of the embedded models), rerun skips, errors, Slurm,
`capdistill figures`."""

import json, os, subprocess, time
from pathlib import Path
import pytest, yaml
from conftest import run_cli, ROOT

pytestmark = pytest.mark.xdist_group('sweep')  # one worker runs the file: its module fixture is built once


def cli(*args, timeout=900, env=None):
    return run_cli(*args, timeout=timeout, env=env)


def sweep(grid, *args, timeout=900):
    "`capdistill sweep --set grid=GRID ...`"
    return cli('sweep', '--set', f'grid={grid}', *args, timeout=timeout)


def _grid(tmp: Path, name: str, base: str = 'smoke.yaml', **over) -> Path:
    g = yaml.safe_load((ROOT / 'papermill_runs' / 'grids' / base).read_text())
    g['output_dir'] = str(tmp / 'out' / name)
    for k, v in over.items():
        if v is None:
            g.pop(k, None)
        else:
            g[k] = v
    p = tmp / f'{name}.yaml'
    p.write_text(yaml.safe_dump(g))
    return p


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('sweep')
    grid = _grid(tmp, 'smoke')
    t0 = time.time()
    r = sweep(grid)
    dt = time.time() - t0
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    print(f"smoke sweep: {dt:.0f} s")
    return tmp, grid, r


def test_smoke_sweep_writes_notebooks_results_and_logs(smoke):
    tmp, grid, r = smoke
    out = tmp / 'out' / 'smoke'
    names = [f'model-{m}_seed-{s}' for m in ('smollm2-135m-instruct', 'smollm2-135m-pruned') for s in (1, 2)]
    for n in names:
        assert (out / f'{n}.ipynb').exists() and (out / f'{n}.log').exists()
        res = json.loads((out / f'{n}.json').read_text())
        assert res['template'] == 'capability_eval' and res['parameters']['seed'] in (1, 2)
        assert {'versions', 'git_sha', 'ledger', 'curves'} <= set(res) and res['ledger']['spent']['eval'] > 0
        pk = [res['curves']['pass@k'][k] for k in ('1', '2', '4')]
        assert pk == sorted(pk) and abs(pk[0] - res['metrics']['accuracy']) < 1e-12
        nb = json.loads((out / f'{n}.ipynb').read_text())
        assert any('injected-parameters' in c['metadata'].get('tags', []) for c in nb['cells'])
        assert any(
            o.get('output_type') == 'display_data' and 'image/png' in o.get('data', {})
            for c in nb['cells']
            for o in c.get('outputs', [])
        )
    # computed from real samples of the embedded models: the teacher answers some general-knowledge questions
    teacher = [json.loads((out / f'{n}.json').read_text()) for n in names[:2]]
    assert max(t['metrics']['capability@4'] for t in teacher) > 0
    assert '4 to run' in r.stdout


def test_rerun_skips_finished_runs(smoke):
    tmp, grid, _ = smoke
    out = tmp / 'out' / 'smoke'
    before = {p: p.stat().st_mtime for p in out.glob('*.ipynb')}
    t0 = time.time()
    r = sweep(grid)
    assert (
        r.returncode == 0 and '4 finished already, 0 to run' in r.stdout and '0 done, 4 skipped, 0 failed' in r.stdout
    )
    assert {p: p.stat().st_mtime for p in out.glob('*.ipynb')} == before and time.time() - t0 < 60


def test_figures_aggregate_results(smoke):
    tmp, _, _ = smoke
    r = cli('figures', '--set', f"results_dir={tmp / 'out'}", '--output-dir', tmp / 'figs')
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp / 'figs' / 'capability_eval.png').stat().st_size > 10000
    md = (tmp / 'figs' / 'results.md').read_text()
    assert '### capability_eval' in md and '| smollm2-135m-instruct |' in md and '(2) |' in md


def test_unknown_parameter_and_missing_template_fail_clearly(tmp_path):
    bad = _grid(tmp_path, 'bad', fixed={'task': 'general_knowledge', 'num_samples': 8})
    r = sweep(bad)
    assert r.returncode == 2
    assert (
        f"grid {bad}: key 'fixed.num_samples': unknown parameter 'num_samples' for template capability_eval.ipynb"
        in r.stderr
    )
    assert 'declares: model, task, seed, limit, ks' in r.stderr
    missing = _grid(tmp_path, 'missing', template='no_such_template.ipynb')
    r = sweep(missing)
    assert (
        r.returncode == 2
        and "template 'no_such_template.ipynb' not found" in r.stderr
        and 'Known templates:' in r.stderr
    )
    assert 'capability_eval.ipynb' in r.stderr and not (tmp_path / 'out').exists()


def test_slurm_script(tmp_path):
    grid = _grid(tmp_path, 'slurm')
    r = sweep(grid, '--set', 'slurm=true')
    assert r.returncode == 0, r.stderr[-2000:]
    script = (tmp_path / 'out' / 'slurm' / 'slurm.sbatch').read_text()
    assert (
        '#SBATCH --array=0-3%2' in script
        and 'papermill' in script
        and not list((tmp_path / 'out' / 'slurm').glob('*.ipynb'))
    )
    assert subprocess.run(['bash', '-n'], input=script, text=True).returncode == 0
    assert len(list((tmp_path / 'out' / 'slurm').glob('*.params.yaml'))) == 4


def test_toy_read_template_and_resume(tmp_path):
    grid = _grid(
        tmp_path,
        'toy',
        base='toy_read.yaml',
        parameters={'method': ['read', 'uniform'], 'seed': [1, 2]},
        fixed={'steps': 6},
    )
    r = sweep(grid)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    out = tmp_path / 'out' / 'toy'
    res = [json.loads(p.read_text()) for p in sorted(out.glob('method-*.json'))]
    assert len(res) == 4 and all(len(x['curves']['utility']) == 6 and 'final_utility' in x['metrics'] for x in res)
    (out / 'method-uniform_seed-2.json').unlink()  # one unfinished run: only it runs again
    before = {p: p.stat().st_mtime for p in out.glob('*.ipynb')}
    r = sweep(grid)
    assert r.returncode == 0 and '1 done, 3 skipped, 0 failed' in r.stdout, r.stdout + r.stderr[-2000:]
    assert [p.name for p in before if p.stat().st_mtime != before[p]] == ['method-uniform_seed-2.ipynb']


@pytest.mark.skipif(not os.environ.get('CAPDISTILL_SLOW_TESTS'), reason='minutes on CPU: set CAPDISTILL_SLOW_TESTS=1')
def test_read_vs_baselines_template(tmp_path):
    grid = tmp_path / 'rvb.yaml'
    grid.write_text(
        yaml.safe_dump(
            dict(
                template='read_vs_baselines.ipynb',
                output_dir=str(tmp_path / 'out'),
                workers=2,
                parameters={'method': ['read', 'uniform']},
                fixed={'seed': 1},
            )
        )
    )
    r = sweep(grid, timeout=3600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    for m in ('read', 'uniform'):
        res = json.loads((tmp_path / 'out' / f'method-{m}.json').read_text())
        assert res['metrics']['tokens_generation'] + res['metrics']['tokens_training'] <= res['parameters']['budget']
        assert set(res['curves']['pass@k']) == {'1', '2', '4'}


@pytest.mark.skipif(not os.environ.get('CAPDISTILL_SLOW_TESTS'), reason='minutes on CPU: set CAPDISTILL_SLOW_TESTS=1')
@pytest.mark.parametrize('template,methods,fixed', [
    ('rl_vs_distillation.ipynb', ['sft', 'kd', 'gkd', 'grpo'], {'max_steps': 100, 'epochs': 50}),
    ('reward_loop.ipynb', ['reward_loop', 'sft'], {'budget': 3000, 'n_train': 6, 'n_heldout': 3}),
])
def test_equal_budget_templates(tmp_path, template, methods, fixed):
    "Every method of a template runs and its ledger is stopped by the same budget (within one batch)."
    grid = tmp_path / 'g.yaml'
    grid.write_text(yaml.safe_dump(dict(template=template, output_dir=str(tmp_path / 'out'),
                                        parameters={'method': methods}, fixed={'seed': 1, **fixed})))
    r = sweep(grid, timeout=3600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    res = {m: json.loads((tmp_path / 'out' / f'method-{m}.json').read_text()) for m in methods}
    budget = res[methods[0]]['parameters']['budget']
    spent = {m: x['metrics']['tokens_spent'] for m, x in res.items()}
    assert all(0.8 * budget <= s <= budget for s in spent.values()), spent
