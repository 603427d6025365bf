"""ReAD as the reference implementation runs it (`compat: reference`), each rule pinned: per-token cost, kappa decay
only on a non-improving dev evaluation, reward calibration, one optimizer across intervals (resume included),
generated-token counting, budget-driven intervals."""

import json
from dataclasses import replace
import numpy as np
import pytest
import torch
from capdistill.core.config import config_from_dict
from capdistill.core.models import tiny_model
from capdistill.read.bandit import kappa_after_eval
from capdistill.read.loop import ReadConfig, planned_intervals, run_read
from capdistill.read.reward import RewardConfig, calibrate_reward_scale, read_reward


def tiny_cfg(d, **kw) -> ReadConfig:
    "Tiny random teacher and student (the real tokenizer) under `d`, and a two-interval config for them."
    tt, tok = tiny_model(seed=1)
    ts, _ = tiny_model(seed=2)
    for name, m in (('teacher', tt), ('student', ts)):
        m.save_pretrained(d / name)
        tok.save_pretrained(d / name)
    over = dict(teacher={'model': str(d / 'teacher')}, student=str(d / 'student'), num_intervals=2, max_new_tokens=16,
                budget_gen_tokens=1200, budget_train_tokens=800, budget_total_tokens=2000, dev_limit=2,
                dev_max_new_tokens=8, probes={'n_per_capability': 2, 'max_new_tokens': 8}, sft={'lr': 1e-3})
    return config_from_dict(ReadConfig, {**over, **kw})


def test_cost_is_per_token():
    r = np.eye(8)[0]
    for tokens in (1, 777, 20000):
        assert np.isclose(read_reward(r, np.zeros(8), tokens, RewardConfig(lambda_cost=1e-5))[1]['cost'], 1e-5 * tokens)
    assert RewardConfig().cost_unit == 1 and np.isclose(read_reward(r, np.zeros(8), 1000)[1]['cost'], 1e-3)


def test_kappa_decays_only_without_improvement():
    k, hist = 1.0, []
    for u, last in [(0.5, None), (0.6, 0.5), (0.6, 0.6), (0.4, 0.6), (0.9, 0.4)]:
        k = kappa_after_eval(k, 0.5, u, last)
        hist.append(k)
    assert hist == [1.0, 1.0, 0.5, 0.25, 0.25]


def test_reward_calibration_slope_on_a_hand_built_history():
    proxy, utility = [0.0, 0.2, 0.5, 0.9], [0.10, 0.18, 0.33, 0.46]
    assert np.isclose(calibrate_reward_scale(proxy, utility), np.polyfit(proxy, utility, 1)[0], atol=1e-6)
    assert calibrate_reward_scale(proxy[:1], utility[:1], 3.0) == 3.0  # one point: unchanged
    assert calibrate_reward_scale(proxy, utility[::-1], 3.0) == 3.0  # negative slope: unchanged


def test_reference_preset_and_overrides(tmp_path):
    c = tiny_cfg(tmp_path, compat='reference')
    assert [c.setting(k) for k in ('kappa_schedule', 'reward_calibration', 'optimizer_scope', 'gen_count_prompt')] == [
        'dev', True, 'run', False]
    assert c.setting('interval_train_tokens') == 400 and planned_intervals(c) == 2
    assert replace(c, kappa_schedule='step').setting('kappa_schedule') == 'step'  # an explicit field wins
    assert c.setting('template_rules') == 'reference' and c.setting('gen_refill') is False  # the reference's rounds
    ours = tiny_cfg(tmp_path)  # the default: the reference's rules, prompt tokens charged too, refill (deliberate)
    keys = ('kappa_schedule', 'reward_calibration', 'optimizer_scope', 'interval_train_tokens', 'gen_count_prompt',
            'template_rules', 'gen_refill')
    assert [ours.setting(k) for k in keys] == ['dev', True, 'run', 400, True, 'reference', True]
    legacy = tiny_cfg(tmp_path, compat='legacy')  # earlier versions' default
    assert [legacy.setting(k) for k in keys] == ['step', False, 'interval', 0, True, 'fixed', False]


class Killed(Exception):
    pass


def _kill_after_first(i, info):
    if i == 0:
        raise Killed


def test_one_optimizer_across_intervals_and_resume(tmp_path):
    cfg = tiny_cfg(tmp_path, optimizer_scope='run', keep_all_checkpoints=True)
    s = run_read(cfg, tmp_path / 'run', progress=False)
    steps = [json.loads((tmp_path / 'run' / 'intervals' / f'interval_{i:03d}.json').read_text())['sft']['steps']
             for i in range(len(s['allocations']))]
    opts = [torch.load(tmp_path / 'run' / 'ckpt' / f'interval_{i + 1:03d}' / 'optimizer.pt', weights_only=False)
            for i in range(len(steps))]
    step_of = lambda o: int(next(iter(o['optimizer']['state'].values()))['step'])
    # one AdamW: its step count runs on over the intervals (a fresh one per interval would restart at 0)
    assert [step_of(o) for o in opts] == list(np.cumsum(steps)) and opts[-1]['scheduler']['last_epoch'] == sum(steps)
    with pytest.raises(Killed):
        run_read(cfg, tmp_path / 'killed', progress=False, on_step=_kill_after_first)
    s2 = run_read(cfg, tmp_path / 'killed', progress=False)  # resumed: the optimizer comes back from the checkpoint
    o2 = torch.load(tmp_path / 'killed' / 'ckpt' / f'interval_{len(steps):03d}' / 'optimizer.pt', weights_only=False)
    a, b = opts[-1]['optimizer']['state'], o2['optimizer']['state']
    assert a.keys() == b.keys() and all(torch.equal(a[k][n], b[k][n]) for k in a for n in a[k])
    for k in ('allocations', 'rewards', 'profiles', 'ledger'):
        assert s2[k] == s[k], k


def test_generated_tokens_only_and_budget_driven_intervals(tmp_path):
    cfg = tiny_cfg(tmp_path, compat='reference', interval_train_tokens=300)
    s = run_read(cfg, tmp_path / 'run', progress=False)
    sp = s['ledger']['spent']
    assert s['ledger']['budgets'] == {'teacher_gen_completion': 1200, 'training': 800}
    assert sp['teacher_gen_prompt'] > 0 and sp['teacher_gen_completion'] <= 1200  # prompts recorded, not charged
    infos = [json.loads(f.read_text()) for f in sorted((tmp_path / 'run' / 'intervals').glob('*.json'))]
    assert len(infos) >= 3 and all(i['ledger']['budgets']['training'] <= 300 for i in infos)
    for info in infos:  # the cost counts generated + training tokens, per token
        led = info['ledger']['spent']
        n = led['teacher_gen_completion'] + led['student_train_prompt'] + led['student_train_label']
        assert np.isclose(info['reward_parts']['cost'], cfg.reward.lambda_cost * n)
        assert np.isclose(info['reward'], info['reward_parts']['reward_raw'] * info['reward_parts']['reward_scale'])
    evals = infos[-1]['dev']['evals']
    assert evals and len(evals) <= len(infos)  # at most one dev evaluation per interval, every 10% of the budget
