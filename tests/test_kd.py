"""Logit KD, on-policy GKD and KD from a top-k cache with the real teacher (SmolLM2-135M-Instruct) and the pruned
student: each, on a 1200-token training budget (about 5 steps of 4), raises the student's log-likelihood of held-out
teacher responses; KD also raises the probe-profile log-likelihood."""

import copy, time
import numpy as np
import pytest
from capdistill.core.models import load_model, generate, score_responses
from capdistill.core.ledger import TokenLedger
from capdistill.distill.kd import KDConfig, kd_train, gkd_train, build_topk_cache
from capdistill.read.probes import ProbeConfig, build_probes, profile, profile_vector
from capdistill.teachers.engines import HFEngine

pytestmark = pytest.mark.xdist_group('kd')  # one worker runs the file: its module fixture is built once

PROMPTS = [
    'What is the capital of France?',
    'Name three primary colors.',
    'What is 12 plus 7?',
    'Give a synonym for happy.',
    'What do bees make?',
    'How many days are in a week?',
    'Write one sentence about the moon.',
    'What is the boiling point of water?',
    'Name a large ocean.',
    'What is 9 times 3?',
    'Say hello in Spanish.',
    'What color is the sky on a clear day?',
    'What is the largest planet?',
    'Name a fruit that is yellow.',
    'What is 15 minus 4?',
    'Who wrote Romeo and Juliet?',
]
BUDGET = 1200


@pytest.fixture(scope='module')
def setup():
    teacher, tok = load_model('smollm2-135m-instruct', device='cpu')
    student, _ = load_model('smollm2-135m-pruned', device='cpu')
    texts, _, _ = generate(teacher, tok, PROMPTS, max_new_tokens=32)
    pairs = list(zip(PROMPTS, texts))
    train, held = pairs[:12], pairs[12:]
    base = float(np.mean(score_responses(student, tok, [p for p, _ in held], [r for _, r in held])))
    return teacher, student, tok, train, held, base


def _cfg(**kw):
    return KDConfig(lr=1e-4, batch_size=4, max_length=128, epochs=20, **kw)


def _heldout(model, tok, held):
    return float(np.mean(score_responses(model, tok, [p for p, _ in held], [r for _, r in held])))


@pytest.mark.parametrize('method', ['kd', 'gkd', 'topk'])
def test_distillation_improves_heldout_loglik(setup, method, tmp_path):
    teacher, student0, tok, train, held, base = setup
    student = copy.deepcopy(student0)
    led = TokenLedger(budgets={'training': BUDGET})
    probes = None
    if method == 'kd':
        probes = build_probes(
            HFEngine(teacher, tok, 'smollm2-135m-instruct'),
            ProbeConfig(n_per_capability=2, max_new_tokens=24),
            capabilities=('general_knowledge', 'math'),
            progress=False,
        )
        prof0 = profile(student, tok, probes)
    t0 = time.time()
    if method == 'kd':
        st = kd_train(student, teacher, tok, train, _cfg(), ledger=led, progress=False)
        assert led.spent['teacher_scoring'] > 0
    elif method == 'gkd':
        st = gkd_train(
            student,
            teacher,
            tok,
            train,
            _cfg(kind='jsd', beta=0.5),
            ledger=led,
            lmbda=0.5,
            max_new_tokens=32,
            progress=False,
        )
        assert st['on_policy_batches'] > 0 and st['student_generated']['completion'] > 0
    else:
        led_cache = TokenLedger()
        idx = build_topk_cache(teacher, tok, train, tmp_path / 'topk', k=32, max_length=128, ledger=led_cache)
        assert led_cache.spent['teacher_scoring'] == idx['teacher_scoring'] > 0
        assert idx['bytes'] * 50 < idx['dense_bytes_fp16']
        st = kd_train(student, None, tok, train, _cfg(), ledger=led, topk_cache=tmp_path / 'topk', progress=False)
        assert led.spent['teacher_scoring'] == 0
    after = _heldout(student, tok, held)
    print(
        f"{method}: {st['steps']} steps in {time.time() - t0:.0f} s, spent {led.spent_in('training')}; "
        f"held-out loglik {base:.3f} -> {after:.3f}"
    )
    assert st['stopped_by_budget'] and led.spent_in('training') <= BUDGET
    assert after > base
    if probes is not None:
        prof1 = profile(student, tok, probes)
        v0, v1 = profile_vector(prof0), profile_vector(prof1)
        print(f"probe loglik {np.nanmean(v0):.3f} -> {np.nanmean(v1):.3f}")
        assert np.nanmean(v1) > np.nanmean(v0)


@pytest.mark.parametrize('method', ['kd', 'gkd'])
def test_distill_from_a_served_teacher(setup, tmp_path, method):
    """`capdistill distill --set method=kd|gkd` with `teacher.engine: openai`: the teacher (the real embedded SmolLM2)
    runs behind capdistill's OpenAI-compatible test server on loopback, which answers vLLM's `prompt_logprobs` (vLLM
    itself needs a GPU, so it cannot serve here). kd caches the served top-k once, gkd asks batch by batch (the
    student's own samples); both charge it as teacher scoring, and the student's held-out log-likelihood rises as with
    the local teacher."""
    import json
    from conftest import run_cli
    from capdistill.core.models import load_model
    from capdistill.teachers.engines import HFEngine, serve_openai_compatible

    teacher, _, tok, train, held, base = setup
    data = tmp_path / 'pairs.jsonl'
    data.write_text(''.join(json.dumps({'prompt': p, 'response': r}) + '\n' for p, r in train))
    srv = serve_openai_compatible(HFEngine(teacher, tok, 'smollm2-135m-instruct'))
    try:
        sets = [f'method={method}', f'data={data}', 'teacher.engine=openai', f'teacher.endpoint={srv.url}',
                'teacher.model=smollm2-135m-instruct', 'teacher_topk=20', 'train.lr=1e-4', 'train.batch_size=4',
                'train.max_length=128', 'train.epochs=20', f'budget_train_tokens={BUDGET}']
        r = run_cli('distill', *(a for s in sets for a in ('--set', s)), '--output-dir', tmp_path / 'run',
                    env={'OMP_NUM_THREADS': '1'}, timeout=900)
    finally:
        srv.shutdown()
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / 'run' / 'manifest.json').read_text())
    spent = m['ledger']['spent']
    assert spent['teacher_scoring'] > 0 and spent['student_train_prompt'] + spent['student_train_label'] <= BUDGET
    if method == 'kd':
        idx = json.loads((tmp_path / 'run' / 'teacher_topk' / 'index.json').read_text())
        assert spent['teacher_scoring'] == idx['teacher_scoring'] and idx['k'] == 20 and len(idx['examples']) == 12
    else:
        assert m['stats']['on_policy_batches'] > 0 and not (tmp_path / 'run' / 'teacher_topk').exists()
    student, _ = load_model(str(tmp_path / 'run' / 'student'), device='cpu')
    after = _heldout(student, tok, held)
    print(f"served {method}: {m['stats']['steps']} steps; held-out loglik {base:.3f} -> {after:.3f}")
    assert after > base
