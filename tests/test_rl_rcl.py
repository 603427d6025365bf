"""RCL adaptive teacher end to end with the real embedded models through the CLI: SFT warm-up, GRPO on the teacher,
teacher weights change, APG/NDR/TES logged, ledger within budgets and equal to a recount, data errors name file+column.
"""

import json
import torch
from conftest import ROOT, run_cli
from capdistill.core.models import load_model, encode_chat
from capdistill.rl.rcl import teacher_messages, sft_target

PRESET = ROOT / 'configs' / 'rcl.yaml'
FACTS = [
    ('What is the capital of France?', 'Paris'),
    ('What is the capital of Japan?', 'Tokyo'),
    ('How many days are in a week?', '7'),
    ('What planet do we live on?', 'Earth'),
]


def test_rcl_run_trains_the_teacher_within_budget(tmp_path):
    data = tmp_path / 'items.jsonl'
    data.write_text(
        ''.join(
            json.dumps(
                dict(
                    question=q + ' Answer briefly.',
                    solution=a,
                    reasoning_trace=f'The student only needs the fact: {a}.',
                )
            )
            + '\n'
            for q, a in FACTS
        )
    )
    out = tmp_path / 'rcl'
    # warm-up, then 2 GRPO steps of 1 item x 2 teachings (beta = 0: no reference model), to keep CI time down
    sets = dict(
        data=str(data),
        num_items=2,
        sft_epochs=1,
        probe_max_tokens=8,
        teaching_max_tokens=16,
        answer_max_tokens=8,
        max_steps=2,
        num_generations=2,
        per_device_train_batch_size=2,
        beta=0.0,
        num_eval_items=1,
        budget_total_tokens=6000,
        budget_eval_tokens=12000,
    )
    r = run_cli(
        'rl',
        '--method',
        'rcl',
        '--config',
        PRESET,
        *[a for k, v in sets.items() for a in ('--set', f'{k}={v}')],
        '--output-dir',
        out,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / 'summary.json').read_text())
    assert s['steps'] == 2 and s['sft_warmup']['steps'] >= 1
    # method metrics per step, and the final with/without evaluation
    steps = [m for m in map(json.loads, (out / 'metrics.jsonl').read_text().splitlines()) if 'reward' in m]
    assert len(steps) == 2 and all(k in steps[0] for k in ('apg', 'ndr', 'tes', 'reward_std', 'frac_reward_zero_std'))
    assert s['final_eval']['n'] == 1 and 0 <= s['final_eval']['ndr'] <= 1
    # ledger: within budgets, equal to a recount from the run's files
    spent = s['ledger']['spent']
    items = [json.loads(l) for l in (out / 'items.jsonl').read_text().splitlines()]
    rolls = [json.loads(l) for l in (out / 'rollouts.jsonl').read_text().splitlines()]
    assert len(rolls) == 2 * 2
    assert spent['teacher_gen_prompt'] + spent['teacher_gen_completion'] == sum(
        r['prompt_tokens'] + r['completion_tokens'] for r in rolls
    )
    assert (
        spent['eval']
        == sum(i['student_tokens'] for i in items)
        + sum(r['student_tokens'] for r in rolls)
        + s['final_eval']['eval_tokens']
    )
    _, tok = load_model('smollm2-135m-instruct', device='cpu')
    sft_tokens = sum(
        len(
            encode_chat(
                tok,
                teacher_messages(i['question'], i['solution'], i['outline']),
                sft_target(f"The student only needs the fact: {i['solution']}.", i['solution']),
                256,
            )[0]
        )
        for i in items
    )
    assert spent['student_train_prompt'] + spent['student_train_label'] == sft_tokens
    total = sum(v for k, v in spent.items() if k != 'eval')
    assert 0 < total <= 6000 and 0 < spent['eval'] <= 12000
    # the teacher changed: by the warm-up, and by GRPO after it
    t0, _ = load_model('smollm2-135m-instruct', device='cpu')
    t_sft, _ = load_model(str(out / 'teacher_sft'), device='cpu')
    t1, _ = load_model(str(out / 'teacher'), device='cpu')
    sd0, sd_sft, sd1 = t0.state_dict(), t_sft.state_dict(), t1.state_dict()
    assert any(not torch.equal(sd0[k], sd_sft[k]) for k in sd0) and any(not torch.equal(sd_sft[k], sd1[k]) for k in sd0)


def test_rcl_data_without_solution_column_fails_clearly(tmp_path):
    data = tmp_path / 'bad.jsonl'
    data.write_text('{"question": "What is 2+2?", "answer": "4"}\n')
    r = run_cli('rl', '--method', 'rcl', '--config', PRESET, '--set', f'data={data}', '--output-dir', tmp_path / 'x')
    assert r.returncode == 2 and str(data) in r.stderr and "column 'solution' is missing" in r.stderr
