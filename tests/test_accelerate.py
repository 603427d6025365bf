"""Data-parallel `capdistill distill` under `accelerate launch` with two CPU processes (gloo): the ledger is global
(equal on both ranks and to an independent recount of what the two ranks trained on), the ranks saw disjoint
examples covering the data, and their weights stayed in sync. (`accelerate launch --cpu --num_processes 2` needs
`mpirun`; `ACCELERATE_USE_CPU=1 ... --multi_gpu` starts the processes with torchrun instead, on CPU.)"""

import json, os, subprocess, sys
from collections import Counter
from pathlib import Path
from conftest import ROOT

BIN = Path(sys.executable).parent


def test_two_process_kd_ledger_is_global(tmp_path):
    from capdistill.core.models import tiny_model, encode_chat

    for name, kw in (('teacher', dict(n_layers=2, seed=1)), ('student', dict(n_layers=1, seed=2))):
        m, tok = tiny_model(**kw)
        m.save_pretrained(tmp_path / name)
        tok.save_pretrained(tmp_path / name)
    w0 = float(sum(q.detach().double().sum() for q in m.parameters()))  # the student's initial weights
    pairs = [(f"What is {a} times {b}?", f"{a} times {b} is {a * b}.") for a in range(4) for b in range(4)]
    (tmp_path / 'data.jsonl').write_text(''.join(json.dumps({'prompt': p, 'response': r}) + '\n' for p, r in pairs))
    out = tmp_path / 'run'
    cmd = [
        str(BIN / 'accelerate'),
        'launch',
        '--multi_gpu',
        '--num_processes',
        '2',
        '--num_machines',
        '1',
        '--mixed_precision',
        'no',
        '--dynamo_backend',
        'no',
        '--main_process_port',
        '29517',
        '--no_python',
        str(BIN / 'capdistill'),
        'distill',
        *(
            a
            for kv in (
                'method=kd',
                f"data={tmp_path / 'data.jsonl'}",
                f"student={tmp_path / 'student'}",
                f"teacher.model={tmp_path / 'teacher'}",
                'train.batch_size=2',
                'train.epochs=2',
                'train.lr=1e-3',
                'save_every=0',
                'teacher_cache=never',  # the live teacher scores every batch: its charges are what this test counts
            )
            for a in ('--set', kv)
        ),
        '--output-dir',
        str(out),
    ]
    r = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, 'ACCELERATE_USE_CPU': '1', 'OMP_NUM_THREADS': '1', 'PATH': f"{BIN}:{os.environ['PATH']}"},
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    man = json.loads((out / 'manifest.json').read_text())
    ranks = [json.loads((out / f'rank{i}.json').read_text()) for i in range(2)]
    # every rank charged the same global counts, and the manifest holds them
    assert ranks[0]['ledger'] == ranks[1]['ledger'] == man['ledger']
    # the two ranks trained on disjoint halves of each step, together every example once per epoch
    seen = ranks[0]['consumed_local'] + ranks[1]['consumed_local']
    assert len(ranks[0]['consumed_local']) == len(ranks[1]['consumed_local']) == len(pairs)
    assert Counter(seen) == Counter({i: 2 for i in range(len(pairs))})
    assert sorted(man['stats']['consumed']) == sorted(seen)
    # independent recount: the tokens the ranks trained on (prompt + response; the teacher read the same)
    enc = [encode_chat(tok, p, r_, 256) for p, r_ in pairs]
    spent = man['ledger']['spent']
    assert spent['student_train_prompt'] == sum(enc[i][1] for i in seen)
    assert spent['student_train_label'] == sum(len(enc[i][0]) - enc[i][1] for i in seen)
    assert spent['teacher_scoring'] == sum(len(enc[i][0]) for i in seen)
    # gradients were all-reduced: both ranks end with the same weights, which moved
    assert abs(ranks[0]['weights_sum'] - ranks[1]['weights_sum']) < 1e-6 * abs(ranks[0]['weights_sum'])
    assert abs(ranks[0]['weights_sum'] - w0) > 1e-3
    assert man['stats']['steps'] == 2 * len(pairs) // 4


def test_shipped_configs_parse():
    """The ZeRO-3 and FSDP configs load with this accelerate and turn into the launcher's environment (GPUs needed to
    run them)."""
    from accelerate.commands.launch import launch_command_parser, _validate_launch_command
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    def env_of(name):
        args = launch_command_parser().parse_args(
            ['--config_file', str(ROOT / 'configs' / 'accelerate' / name), 'x.py']
        )
        args, defaults, _ = _validate_launch_command(args)
        if not args.use_deepspeed:
            return prepare_multi_gpu_env(args)
        args.deepspeed_fields_from_accelerate_config = ','.join(defaults.deepspeed_config)
        return prepare_deepspeed_cmd_env(args)[1]

    ds, fsdp = env_of('deepspeed_zero3.yaml'), env_of('fsdp.yaml')
    assert (
        ds['ACCELERATE_USE_DEEPSPEED'] == 'true'
        and ds['ACCELERATE_DEEPSPEED_ZERO_STAGE'] == '3'
        and ds['ACCELERATE_MIXED_PRECISION'] == 'bf16'
    )
    assert fsdp['ACCELERATE_USE_FSDP'] == 'true' and fsdp['FSDP_TRANSFORMER_CLS_TO_WRAP'] == 'LlamaDecoderLayer'
    assert fsdp['FSDP_AUTO_WRAP_POLICY'] == 'TRANSFORMER_BASED_WRAP' and fsdp['ACCELERATE_MIXED_PRECISION'] == 'bf16'
