"""The teacher–student reward loop end to end with the real embedded models: teacher SmolLM2-135M-Instruct,
student the depth-pruned SmolLM2 (22 of 30 layers), general-knowledge questions (the teacher answers ~75% of them).
A few steps change the student's weights, log the method's metrics, stay within the token budget, and the ledger
equals a recount from the logged items."""

import json, time
import torch
from transformers import AutoModelForCausalLM
from capdistill.core.config import config_from_dict, load_config, project_root
from capdistill.core.ledger import TokenLedger
from capdistill.core.models import load_model, ensure_cached
from capdistill.rl.reward_loop import RewardLoopConfig, run_reward_loop, ledger_recount

BUDGET = 5000


def test_reward_loop_real_models(tmp_path):
    preset = load_config(project_root() / 'configs' / 'reward_loop.yaml', RewardLoopConfig)
    cfg = config_from_dict(
        RewardLoopConfig,
        dict(
            teacher=preset.teacher,
            student=preset.student,
            questions={'capability': 'general_knowledge', 'n_train': 2, 'n_heldout': 1},
            compare={'method': 'semantic', 'threshold': 0.3},  # loose: some sampled answers agree (PG), others get SFT
            max_steps=2,
            batch_size=2,
            teacher_max_new_tokens=20,
            max_new_tokens=16,
            eval_max_new_tokens=8,
            lr=2e-5,
            checkpoint_every=10,
            budget_total_tokens=BUDGET,
        ),
        source='test',
    )
    t0 = time.time()
    s = run_reward_loop(cfg, tmp_path / 'run', progress=False)
    print(
        f"reward_loop: {s['steps']} steps in {time.time() - t0:.0f} s; "
        + ', '.join(
            f"{k}={s[k]}"
            for k in (
                'answer_accuracy',
                'accuracy',
                'teacher_accuracy',
                'cumulative_reward',
                'knowledge_transfer_rate',
                'heldout_gain',
                'n_pg',
                'n_sft',
                'n_skip',
                'size_ratio',
            )
        )
    )
    # method metrics, per step and in the summary
    rows = [json.loads(l) for l in (tmp_path / 'run' / 'steps.jsonl').read_text().splitlines()]
    assert len(rows) == s['steps'] >= 1
    for k in (
        'agreement',
        'accuracy',
        'reward_mean',
        'cumulative_reward',
        'baseline',
        'transfer_rate',
        'n_pg',
        'n_sft',
    ):
        assert k in rows[0]
    for k in ('answer_accuracy', 'cumulative_reward', 'knowledge_transfer_rate', 'heldout_gain', 'size_ratio'):
        assert k in s
    assert 0.7 < s['size_ratio'] < 0.85  # 106.2M / 134.5M parameters
    assert s['teacher_accuracy'] > 0 and s['n_pg'] + s['n_sft'] > 0
    # the student's weights changed
    w0 = AutoModelForCausalLM.from_pretrained(ensure_cached(cfg.student)).state_dict()
    w1 = AutoModelForCausalLM.from_pretrained(tmp_path / 'run' / 'final').state_dict()
    assert any(not torch.equal(w0[k], w1[k]) for k in w0)
    # budget and recount
    led = TokenLedger.from_dict(s['ledger'])
    assert 0 < led.spent_in('total') <= BUDGET
    _, tok = load_model(cfg.student, device='cpu')
    assert ledger_recount(tmp_path / 'run', tok) == led.spent
    assert led.spent['teacher_gen_completion'] > 0 and led.spent['student_train_label'] > 0 and led.spent['eval'] > 0
