"""`report_to` (#15): a tiny `distill`, `read` and `rl --method reward_loop` with `report_to=tensorboard` write event
files whose scalars carry the shared names (`train/loss`, `ledger/<category>`, `read/allocation/<capability>`, ...)
and agree with the run's own records."""

import json
import pytest
from conftest import run_cli
from capdistill.core.ledger import CATEGORIES
from capdistill.core.rundir import read_records
from capdistill.core.tracking import read_tensorboard
from capdistill.tasks.cards import CAPABILITIES


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    from capdistill.core.models import tiny_model

    d = tmp_path_factory.mktemp('track')
    for name, seed in (('teacher', 1), ('student', 2)):
        m, tok = tiny_model(n_layers=1, hidden=64, seed=seed)
        m.save_pretrained(d / name)
        tok.save_pretrained(d / name)
    pairs = [(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") for a in range(4) for b in range(4)]
    (d / 'data.jsonl').write_text(''.join(json.dumps({'prompt': p, 'response': r}) + '\n' for p, r in pairs))
    return d


def _run(*args, out):
    r = run_cli(*args, '--set', 'report_to=tensorboard', '--output-dir', out, env={'OMP_NUM_THREADS': '1'},
                timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((out / 'manifest.json').read_text())


def test_distill_streams_loss_lr_and_ledger(tiny, tmp_path):
    m = _run('distill', '--set', 'method=kd', '--set', f"data={tiny / 'data.jsonl'}",
             '--set', f"student={tiny / 'student'}",
             '--set', f"teacher.model={tiny / 'teacher'}", '--set', 'train.batch_size=4', out=tmp_path / 'run')
    tb = read_tensorboard(tmp_path / 'run' / 'tb')
    losses = [v for _, v in tb['train/loss']]
    assert len(losses) == m['stats']['steps'] == 4 and losses == pytest.approx(m['losses'], rel=1e-5)
    assert {f'ledger/{c}' for c in CATEGORIES} <= set(tb) and 'train/learning_rate' in tb
    assert tb['ledger/student_train_label'][-1][1] == m['ledger']['spent']['student_train_label']


def test_read_streams_reward_allocation_and_profile(tiny, tmp_path):
    out = tmp_path / 'run'
    _run('read', '--set', f"student={tiny / 'student'}", '--set', f"teacher.model={tiny / 'teacher'}",
         '--set', 'budget_total_tokens=2000', '--set', 'budget_gen_tokens=800', '--set', 'budget_train_tokens=1200',
         '--set', 'num_intervals=2', '--set', 'max_new_tokens=16', '--set', 'probes.n_per_capability=1',
         '--set', 'probes.max_new_tokens=8', '--set', 'max_intervals=2', '--set', 'dev_limit=2',
         '--set', 'dev_max_new_tokens=8', out=out)
    tb = read_tensorboard(out / 'tb')
    s = json.loads((out / 'summary.json').read_text())
    assert [st for st, _ in tb['read/reward']] == [1, 2] and len(s['allocations']) == 2
    assert 'eval/dev_utility' in tb  # the default preset evaluates the dev split each 10% of the budget
    assert {f'read/allocation/{c}' for c in CAPABILITIES} <= set(tb) and 'read/profile/math' in tb
    first = [tb[f'read/allocation/{c}'][0][1] for c in CAPABILITIES]
    assert first == pytest.approx([s['allocations'][0][c] for c in CAPABILITIES])


def test_reward_loop_streams_reward_and_ledger(tiny, tmp_path):
    out = tmp_path / 'run'
    _run('rl', '--method', 'reward_loop', '--set', f"student={tiny / 'student'}", '--set',
         f"teacher.model={tiny / 'teacher'}", '--set', 'max_steps=3', '--set', 'batch_size=2', '--set',
         'max_new_tokens=8', '--set', 'teacher_max_new_tokens=8', '--set', 'questions.n_train=4', '--set',
         'questions.n_heldout=1', '--set', 'eval_max_new_tokens=4', out=out)
    tb = read_tensorboard(out / 'tb')
    rows = read_records(out / 'steps.jsonl')
    assert [st for st, _ in tb['train/reward']] == [1, 2, 3]
    assert [v for _, v in tb['train/reward']] == pytest.approx([r['reward_mean'] for r in rows])
    assert 'rl/accuracy' in tb and 'ledger/teacher_gen_completion' in tb


def test_grpo_and_rcl_hand_report_to_to_trl(tmp_path):
    from capdistill.rl.common import grpo_args_from
    from capdistill.rl.grpo import GRPORunConfig
    from capdistill.rl.rcl import RCLConfig

    assert grpo_args_from(GRPORunConfig(report_to='tensorboard'), tmp_path, 8).report_to == ['tensorboard']
    assert grpo_args_from(RCLConfig(report_to=['tensorboard']), tmp_path, 8).report_to == ['tensorboard']
    assert grpo_args_from(GRPORunConfig(), tmp_path, 8).report_to in ([], 'none', ['none'])


def test_an_unknown_tracker_is_one_clean_error_before_anything_runs(tmp_path):
    r = run_cli('read', '--set', 'report_to=tensorbord', '--output-dir', tmp_path / 'run')
    assert r.returncode != 0 and 'Traceback' not in r.stderr
    assert "--set report_to=tensorbord" in r.stderr and "unknown tracker 'tensorbord'" in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / 'run').exists()


def test_wandb_offline_when_installed(tiny, tmp_path):
    "`report_to=wandb` (the optional `.[tracking]` extra) in offline mode: a local wandb run holds the same names."
    pytest.importorskip('wandb')
    out = tmp_path / 'run'
    r = run_cli('distill', '--set', 'method=sft', '--set', f"data={tiny / 'data.jsonl'}", '--set',
                f"student={tiny / 'student'}", '--set', 'train.batch_size=4', '--set', 'report_to=wandb',
                '--output-dir', out, env={'OMP_NUM_THREADS': '1', 'WANDB_MODE': 'offline', 'WANDB_DIR': str(tmp_path),
                                          'WANDB_SILENT': 'true'}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    logs = list((tmp_path / 'wandb').glob('offline-run-*/run-*.wandb'))  # the run's records (protobuf)
    assert len(logs) == 1
    raw = logs[0].read_bytes()
    assert all(name in raw for name in (b'train/loss', b'train/learning_rate', b'ledger/student_train_label'))
