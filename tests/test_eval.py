"""`capdistill eval` on the embedded models: accuracy vs capability from real samples, divergences, profile,
leakage report."""

import json, time
from test_sweep import cli
from capdistill.eval.evaluation import load_eval_items


def test_eval_cli_end_to_end(tmp_path):
    items = load_eval_items('general_knowledge', limit=4, seed=5)
    train = tmp_path / 'train.jsonl'
    train.write_text(
        json.dumps({'prompt': items[0]['prompt'], 'response': 'x'})
        + '\n'
        + json.dumps({'prompt': 'Write a haiku about autumn leaves falling on a quiet pond.', 'response': 'y'})
        + '\n'
    )
    t0 = time.time()
    r = cli(
        'eval',
        '--set', 'model=smollm2-135m-pruned',
        '--set', 'task=general_knowledge',
        '--set', 'limit=4',
        '--set', 'ks=[1, 2]',
        '--set', 'seed=5',
        '--set', 'max_new_tokens=16',
        '--set', 'teacher.model=smollm2-135m-instruct',
        '--set', 'profile=true',
        '--set', 'probes_per_capability=1',
        '--set', f'train_data={train}',
        '--output-dir', tmp_path,
        env={'OMP_NUM_THREADS': '1'},
    )  # one thread: several times faster than 2 when the CI box's cores are shared
    out = tmp_path / 'smollm2-135m-pruned_general_knowledge.json'
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    print(f"eval: {time.time() - t0:.0f} s")
    res = json.loads(out.read_text())
    assert res['n_items'] == 4 and res['n_samples'] == 2 and len(res['items']) == 4
    avc = res['accuracy_vs_capability']
    assert abs(avc['1']['capability'] - res['accuracy']) < 1e-12 and avc['2']['capability'] >= avc['1']['capability']
    n_correct = sum(i['n_correct'] for i in res['items'])
    assert abs(res['accuracy'] - n_correct / 8) < 1e-12  # mean success probability over 4 x 2 samples
    assert sum(d['n_questions'] for d in avc['2']['per_difficulty'].values()) == 4
    d = res['divergences']
    assert d['kl'] > 0 and 0 < d['js'] < 0.7 and 0 < d['cosine'] <= 1 and d['n_positions'] > 0
    assert (
        set(res['profile']) == {'smollm2-135m-pruned', 'smollm2-135m-instruct'}
        and len(res['profile']['smollm2-135m-pruned']) == 8
    )
    assert res['leakage']['n_train'] == 2 and res['leakage']['n_leaked'] == 1
    assert res['ledger']['spent']['eval'] > 0 and res['versions']['torch'] and 'git_sha' in res
    assert out.with_suffix('.png').exists() and (tmp_path / f'{out.stem}_profile.png').exists()
    assert 'capability (pass@2)' in r.stdout and '1/2 training prompts overlap' in r.stdout


def test_eval_cli_errors(tmp_path):
    r = cli('eval', '--set', 'task=general_knowlege', '--output-dir', tmp_path)
    assert r.returncode == 2 and "Did you mean 'general_knowledge'" in r.stderr
    r = cli('eval', '--set', 'ks=[8]', '--set', 'n_samples=4', '--output-dir', tmp_path)
    assert r.returncode == 2 and 'n_samples=4 < max(ks)=8' in r.stderr and not list(tmp_path.glob('*.json'))
