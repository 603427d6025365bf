"""GRPO RLVR end to end with the real embedded pruned student through the CLI: weights change, metrics,
ledger = recount."""

import json
import torch
from conftest import ROOT, run_cli
from capdistill.core.models import load_model
from capdistill.rl.grpo import prompt_token_count

PRESET = ROOT / 'configs' / 'grpo.yaml'
# 2 steps of 2 prompts x 2 generations x 12 tokens (the smallest real GRPO run), beta > 0: TRL's reference model is
# built too
SMALL = [
    '--config',
    PRESET,
    '--set',
    'max_steps=2',
    '--set',
    'num_prompts=4',
    '--set',
    'tasks=[general_knowledge]',
    '--set',
    'max_completion_length=12',
    '--set',
    'num_generations=2',
    '--set',
    'per_device_train_batch_size=4',
    '--set',
    'budget_total_tokens=3000',
]


def test_grpo_run_changes_the_student_within_budget(tmp_path):
    out = tmp_path / 'grpo'
    r = run_cli('rl', '--method', 'grpo', *SMALL, '--output-dir', out)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / 'summary.json').read_text())
    assert s['steps'] == 2 and json.loads((out / 'manifest.json').read_text())['status'] == 'completed'
    # method metrics, one row per step (+ TRL's train summary)
    rows = [json.loads(l) for l in (out / 'metrics.jsonl').read_text().splitlines()]
    steps = [m for m in rows if 'reward' in m]
    assert len(steps) == 2 and all(
        k in steps[0] for k in ('reward', 'reward_std', 'frac_reward_zero_std', 'kl', 'accuracy')
    )
    # ledger: within budget, equal to a recount from the logged completions and to TRL's own token count
    spent = s['ledger']['spent']
    total = spent['student_train_prompt'] + spent['student_train_label']
    assert 0 < total <= 3000 and sum(spent.values()) == total
    comps = [json.loads(l) for l in (out / 'completions.jsonl').read_text().splitlines()]
    assert len(comps) == 2 * 4
    _, tok = load_model('smollm2-135m-pruned', device='cpu')
    assert spent['student_train_prompt'] == sum(prompt_token_count(tok, c['prompt']) for c in comps)
    assert spent['student_train_label'] == sum(len(c['completion_ids']) for c in comps)
    assert total == steps[-1]['num_tokens']
    # the student's weights changed
    m0, _ = load_model('smollm2-135m-pruned', device='cpu')
    m1, _ = load_model(str(out / 'student'), device='cpu')
    sd0, sd1 = m0.state_dict(), m1.state_dict()
    assert sd0.keys() == sd1.keys() and any(not torch.equal(sd0[k], sd1[k]) for k in sd0)


def test_grpo_bad_config_is_one_clear_line(tmp_path):
    r = run_cli(
        'rl', '--method', 'grpo', '--config', PRESET, '--set', 'num_generations=3', '--output-dir', tmp_path / 'x'
    )
    assert r.returncode == 2 and 'must be a multiple of num_generations' in r.stderr
    assert '--set num_generations=3' in r.stderr  # blamed on the flag that causes it, not on the preset
    assert not (tmp_path / 'x').exists()
