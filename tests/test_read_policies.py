"""`capdistill read --policy uniform|proportional|single --seed N` on the default config (configs/read.yaml: its task,
template pools, allocation and bandit settings) completes for seeds 1-5, as a ReAD user runs the baselines. Each
policy and seed draws other templates and slot values: a baseline once died in its third interval on a code template
whose slot value holds braces (`print(len({1, 1, 2}))`). The teacher and student are the tiny random-init Llamas of
`tiny_pair` and the run is cut to 3 intervals of a small budget (these runs are about plumbing, not learning); the
real models run the same policies in the `read_vs_baselines_cpu` grid. Seed 1 goes through the command line, seeds
2-5 through the same config builder in this process (a CLI start costs more than a tiny run)."""

import json
import pytest
from conftest import ROOT, run_cli


def small_sets(tiny_pair) -> list[str]:
    return ['max_new_tokens=16', 'budget_total_tokens=1600', 'budget_gen_tokens=960', 'budget_train_tokens=640',
            'max_intervals=3', 'probes.n_per_capability=1', 'probes.max_new_tokens=8', 'dev_limit=2',
            'dev_max_new_tokens=8', f"teacher.model={tiny_pair['teacher']}", f"student={tiny_pair['student']}"]


def check_run(out, policy: str, seed: int) -> list[dict]:
    "The run's summary and budget; returns its example rows."
    s = json.loads((out / 'summary.json').read_text())
    assert (s['policy'], s['seed'], len(s['allocations'])) == (policy, seed, 3)
    spent = s['ledger']['spent']
    assert spent['student_train_prompt'] + spent['student_train_label'] <= 640
    rows = [json.loads(x) for f in sorted((out / 'examples').glob('*.jsonl')) for x in f.read_text().splitlines()]
    assert rows
    return rows


@pytest.mark.parametrize('policy', ['uniform', 'proportional', 'single'])
def test_baseline_policies_complete_for_seeds_1_to_5(policy, tiny_pair, tmp_path):
    from capdistill.cli import build_config
    from capdistill.read.loop import ReadConfig, run_read

    sets = small_sets(tiny_pair)
    r = run_cli('read', '--policy', policy, '--seed', 1, *[x for s in sets for x in ('--set', s)],
                '--output-dir', tmp_path / 'seed_1', timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = check_run(tmp_path / 'seed_1', policy, 1)
    for seed in range(2, 6):
        cfg = build_config(ReadConfig, ROOT / 'configs' / 'read.yaml', [*sets, f'policy={policy}', f'seed={seed}'])
        run_read(cfg, tmp_path / f'seed_{seed}', progress=False)
        rows += check_run(tmp_path / f'seed_{seed}', policy, seed)
    pool = [x for x in rows if x['source'].startswith('pool.')]
    assert pool and all(x['meta'].get('template_id') for x in pool)  # template prompts were drawn and kept their ids
