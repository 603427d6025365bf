"""`capdistill distill` killed mid-run (SIGKILL of the process) and rerun resumes from its newest checkpoint: the
consumed example sequence, the ledger and the final weights equal an uninterrupted run's (tiny random-init models)."""

import json, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import ROOT

EXE = Path(sys.executable).parent / 'capdistill'


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from capdistill.core.models import tiny_model

    d = tmp_path_factory.mktemp('resume')
    for name, kw in (
        ('teacher', dict(n_layers=2, hidden=64, seed=1)),
        ('student', dict(n_layers=1, hidden=64, seed=2)),
    ):
        m, tok = tiny_model(**kw)
        m.save_pretrained(d / name)
        tok.save_pretrained(d / name)
    pairs = [(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") for a in range(6) for b in range(4)]
    (d / 'data.jsonl').write_text(''.join(json.dumps({'prompt': p, 'response': r}) + '\n' for p, r in pairs))
    return d


def _args(d, out, save_every):
    sets = [
        'method=kd',
        f"data={d / 'data.jsonl'}",
        f"student={d / 'student'}",
        f"teacher.model={d / 'teacher'}",
        'train.batch_size=4',
        'train.epochs=1',
        'train.lr=1e-3',
        'train.seed=7',
        'budget_train_tokens=1000',
        f'save_every={save_every}',
    ]
    return [str(EXE), 'distill', *(a for kv in sets for a in ('--set', kv)), '--output-dir', str(out)]


def _run(args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_kill_and_resume(setup):
    from safetensors.torch import load_file

    d = setup
    _run(_args(d, d / 'full', 0))
    full = json.loads((d / 'full' / 'manifest.json').read_text())
    # the same run, killed with SIGKILL as soon as its first checkpoint is on disk
    p = subprocess.Popen(_args(d, d / 'killed', 1), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    t0 = time.time()
    while not list((d / 'killed' / 'checkpoints').glob('step_*/state.json')):
        assert p.poll() is None and time.time() - t0 < 120, 'the run ended before writing a checkpoint'
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    m = json.loads((d / 'killed' / 'manifest.json').read_text())
    assert m['status'] == 'running' and not (d / 'killed' / 'student').exists()  # really killed mid-run
    r = _run(_args(d, d / 'killed', 1))
    res = json.loads((d / 'killed' / 'manifest.json').read_text())
    assert '(resumed)' in r.stdout and res['status'] == 'completed' and res['stats']['resumed_from']
    print(
        f"killed after the checkpoint {Path(res['stats']['resumed_from']).name}; {res['stats']['steps']} steps in all"
    )
    fs, rs = full['stats'], res['stats']
    assert (
        rs['consumed'] == fs['consumed'] and len(fs['consumed']) > 12
    )  # same examples, same order: none twice, none lost
    assert res['ledger'] == full['ledger'] and rs['charged'] == fs['charged'] and fs['stopped_by_budget']
    assert sum(res['ledger']['spent'][c] for c in ('student_train_prompt', 'student_train_label')) <= 1000
    assert res['losses'] == pytest.approx(full['losses'], abs=1e-5)
    a, b = load_file(str(d / 'full' / 'student' / 'model.safetensors')), load_file(
        str(d / 'killed' / 'student' / 'model.safetensors')
    )
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max() < 1e-5 for k in a)
    # a completed run is not trained again
    r = _run(_args(d, d / 'killed', 1))
    assert 'already completed' in r.stdout
