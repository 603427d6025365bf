"""Intrinsic-reward distillation end to end with the real embedded models: the teacher SmolLM2-135M-Instruct
scores the pruned student's sampled answers to general-knowledge questions; its logits, read as a soft Q-function,
give the token rewards. Two PPO steps with LoRA (checkpointed every step) change the student's weights, log the
method's metrics (intrinsic reward, KL to the reference, cache hit rate, student–teacher KL/JS/cosine), stay within
the budget, and the ledger equals a recount."""

import json, time
import torch
from transformers import AutoModelForCausalLM
from capdistill.core.config import config_from_dict, load_config, project_root
from capdistill.core.ledger import TokenLedger
from capdistill.core.models import ensure_cached
from capdistill.rl.intrinsic import IntrinsicConfig, run_intrinsic, ledger_recount

BUDGET = 4000


def test_intrinsic_real_models(tmp_path):
    preset = load_config(project_root() / 'configs' / 'intrinsic.yaml', IntrinsicConfig)
    cfg = config_from_dict(
        IntrinsicConfig,
        dict(
            teacher=preset.teacher,
            student=preset.student,
            questions={'capability': 'general_knowledge', 'n_train': 2, 'n_heldout': 1},
            max_steps=2,
            batch_size=2,
            max_new_tokens=16,
            eval_max_new_tokens=8,
            lr=1e-4,
            lora_r=8,
            ppo_epochs=2,
            adaptive_weights=True,
            checkpoint_every=1,
            budget_total_tokens=BUDGET,
            budget_scoring_tokens=1000,
        ),
        source='test',
    )
    t0 = time.time()
    s = run_intrinsic(cfg, tmp_path / 'run', progress=False)
    print(
        f"intrinsic: {s['steps']} steps in {time.time() - t0:.0f} s; "
        + ', '.join(
            f"{k}={s[k]}"
            for k in (
                'accuracy',
                'mean_intrinsic_reward',
                'final_kl_to_reference',
                'cache',
                'eval_before',
                'eval_after',
                'size_ratio',
            )
        )
    )
    rows = [json.loads(l) for l in (tmp_path / 'run' / 'steps.jsonl').read_text().splitlines()]
    assert len(rows) == s['steps'] == 2
    for k in (
        'intrinsic_reward',
        'correct_reward',
        'w_intrinsic',
        'w_correct',
        'kl',
        'clip_frac',
        'cache_hit_rate',
        'teacher_scored_tokens',
    ):
        assert k in rows[-1]
    for k in ('kl', 'js', 'cosine', 'accuracy'):
        assert k in s['eval_before'] and k in s['eval_after']
    assert s['eval_after']['kl'] > 0 and 0 < s['eval_after']['cosine'] <= 1
    assert s['cache']['hits'] + s['cache']['misses'] == 4
    # the student's weights changed (LoRA merged into the final model)
    w0 = AutoModelForCausalLM.from_pretrained(ensure_cached(cfg.student)).state_dict()
    w1 = AutoModelForCausalLM.from_pretrained(tmp_path / 'run' / 'final').state_dict()
    assert any(not torch.equal(w0[k], w1[k]) for k in w0)
    # budget and recount
    led = TokenLedger.from_dict(s['ledger'])
    assert 0 < led.spent_in('total') <= BUDGET and led.spent['teacher_scoring'] <= 1000
    assert led.spent['teacher_scoring'] > 0 and led.spent['student_train_label'] > 0 and led.spent['eval'] > 0
    assert ledger_recount(tmp_path / 'run') == led.spent
