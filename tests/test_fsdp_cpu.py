"""Sharded `capdistill distill --set parallel=fsdp2` under `torchrun` with two CPU processes (gloo).

accelerate's FSDP plugin refuses CPU ("no available devices"), so `parallel: fsdp2` shards the student with torch
FSDP2 (`fully_shard` per decoder layer, then the root) itself. The run completes; each rank held about half the
parameter elements; the ledger is global (equal on both ranks and to an independent recount of what the ranks
trained on); both ranks end with the same full weights, which moved and which the saved student and the final
checkpoint hold; the loss fell. A second launch resumes a copy of the run from an earlier checkpoint (rank 0 reads it
and broadcasts it into the shards) and ends with the same weights and ledger."""

import json, math, os, shutil, socket, subprocess, sys
from collections import Counter
from pathlib import Path
from conftest import ROOT

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def torchrun_distill(tmp_path, out: Path):
    "Run the two-process FSDP2 sft job into `out`; the completed process."
    sets = ['method=sft', f"data={tmp_path / 'data.jsonl'}", f"student={tmp_path / 'student'}",
            'parallel=fsdp2', 'train.batch_size=2', 'train.epochs=2', 'train.lr=1e-3', 'save_every=2']
    cmd = [str(BIN / 'torchrun'), '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
           '--master_port', str(free_port()), '-m', 'capdistill.cli', 'distill',
           *(a for kv in sets for a in ('--set', kv)), '--output-dir', str(out)]
    env = {k: v for k, v in os.environ.items() if k != 'ACCELERATE_USE_CPU'}  # job_accelerator picks CPU itself
    env.update(OMP_NUM_THREADS='1', PATH=f"{BIN}:{os.environ['PATH']}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r


def weights(path) -> dict:
    "The saved student's state dict (float64), read back with transformers."
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(path)
    return {n: p.detach().double() for n, p in m.state_dict().items()}


def test_fsdp2_two_cpu_processes(tmp_path):
    from capdistill.core.models import tiny_model, encode_chat
    from safetensors.torch import load_file

    m, tok = tiny_model(n_layers=2, seed=2)
    m.save_pretrained(tmp_path / 'student')
    tok.save_pretrained(tmp_path / 'student')
    w0 = float(sum(q.detach().double().sum() for q in m.parameters()))
    pairs = [(f"What is {a} times {b}?", f"{a} times {b} is {a * b}.") for a in range(4) for b in range(2)]
    (tmp_path / 'data.jsonl').write_text(''.join(json.dumps({'prompt': p, 'response': r}) + '\n' for p, r in pairs))
    out = tmp_path / 'run'
    torchrun_distill(tmp_path, out)
    man = json.loads((out / 'manifest.json').read_text())
    ranks = [json.loads((out / f'rank{i}.json').read_text()) for i in range(2)]
    assert man['status'] == 'completed' and man['config']['parallel'] == 'fsdp2'
    assert man['stats']['steps'] == 2 * len(pairs) // 4
    # sharded: each rank held a part of the parameter elements, together all of them
    full = sum(p.numel() for p in m.parameters())
    assert all(r['param_numel']['full'] == full and r['param_numel']['local'] < 0.6 * full for r in ranks)
    assert sum(r['param_numel']['local'] for r in ranks) == full
    # the ledger is global: the same on both ranks and in the manifest, and equal to a recount of what was trained
    assert ranks[0]['ledger'] == ranks[1]['ledger'] == man['ledger']
    seen = ranks[0]['consumed_local'] + ranks[1]['consumed_local']
    assert Counter(seen) == Counter({i: 2 for i in range(len(pairs))})
    enc = [encode_chat(tok, p, r_, 256) for p, r_ in pairs]
    spent = man['ledger']['spent']
    assert spent['student_train_prompt'] == sum(enc[i][1] for i in seen)
    assert spent['student_train_label'] == sum(len(enc[i][0]) - enc[i][1] for i in seen)
    # the full weights agree across ranks, moved, and are what the saved student and the final checkpoint hold
    ws = [r['weights_sum'] for r in ranks]
    assert abs(ws[0] - ws[1]) <= 1e-6 * abs(ws[0]) and abs(ws[0] - w0) > 1e-3
    saved = weights(out / 'student')
    assert abs(float(sum(v.sum() for n, v in saved.items() if n != 'lm_head.weight')) - ws[0]) <= 1e-6 * abs(ws[0])
    ck = load_file(str(out / 'checkpoints' / 'step_000004' / 'model.safetensors'))
    assert all(ck[n].double().equal(v) for n, v in saved.items() if n in ck) and 'model.embed_tokens.weight' in ck
    losses = man['losses']
    assert all(math.isfinite(x) for x in losses) and sum(losses[-2:]) / 2 < losses[0]
    # resume: a copy of the run as if killed after step 2 (its checkpoint kept) continues to the same end
    again = tmp_path / 'resumed'
    shutil.copytree(out, again)
    shutil.rmtree(again / 'checkpoints' / 'step_000004')
    shutil.rmtree(again / 'student')
    for i in range(2):
        (again / f'rank{i}.json').unlink()
    man2 = json.loads((again / 'manifest.json').read_text())
    (again / 'manifest.json').write_text(json.dumps({**man2, 'status': 'running'}))
    torchrun_distill(tmp_path, again)
    man2 = json.loads((again / 'manifest.json').read_text())
    ranks2 = [json.loads((again / f'rank{i}.json').read_text()) for i in range(2)]
    assert man2['status'] == 'completed' and man2['stats']['resumed_from'].endswith('step_000002')
    assert ranks2[0]['ledger'] == ranks2[1]['ledger'] == man2['ledger'] == man['ledger']
    assert all(abs(r['weights_sum'] - ws[0]) <= 1e-6 * abs(ws[0]) for r in ranks2)
    saved2 = weights(again / 'student')
    assert all((saved2[n] - v).abs().max() <= 1e-6 for n, v in saved.items())
