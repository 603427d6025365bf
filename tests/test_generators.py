"""Acceptance: every generator's reference answer passes its own checker on 1,000 samples; a wrong answer fails."""
import json
from concurrent.futures import ThreadPoolExecutor
import pytest
from capdistill.tasks.cards import CAPABILITIES
from capdistill.tasks.prompts import generate_samples, generate_task, verify, TASK_GENERATORS

N = 1000


def _key(s) -> str:
    "Everything the checker sees: equal keys get equal verdicts (the checkers are deterministic)."
    return json.dumps([s.checker, s.prompt, s.answer, s.meta], sort_keys=True, default=str)


def _check_all(samples):
    """Check every sample's reference (must pass) and wrong answer (must fail). Samples the generator repeated exactly
    are checked once: the code generators draw 1,000 samples from ~70 distinct programs, each a sandboxed run."""
    def one(s):
        return verify(s, s.answer), verify(s, s.meta['wrong'])

    distinct = list({_key(s): s for s in samples}.values())
    workers = 4 if samples[0].checker == 'code' else 1  # code runs in sandboxed subprocesses
    with ThreadPoolExecutor(workers) as ex:
        verdict = dict(zip(map(_key, distinct), ex.map(one, distinct)))
    res = [verdict[_key(s)] for s in samples]
    bad_ref = [s.prompt for s, (ok, _) in zip(samples, res) if not ok]
    bad_wrong = [s.prompt for s, (_, wrong_ok) in zip(samples, res) if wrong_ok]
    assert not bad_ref, f"{len(bad_ref)} references fail their checker, e.g. {bad_ref[:2]}"
    assert not bad_wrong, f"{len(bad_wrong)} wrong answers pass the checker, e.g. {bad_wrong[:2]}"


@pytest.mark.parametrize('capability', CAPABILITIES)
def test_capability_generator_1000(capability):
    samples = generate_samples(capability, N, seed=2024)
    assert len(samples) == N and {s.capability for s in samples} == {capability}
    assert {s.difficulty for s in samples} == {'easy', 'medium', 'hard'}
    _check_all(samples)


@pytest.mark.parametrize('task', list(TASK_GENERATORS))
def test_task_generator_1000(task):
    _check_all(generate_task(task, N, seed=2024))


def test_generators_are_diverse():
    for cap in CAPABILITIES:
        n_unique = len({s.prompt for s in generate_samples(cap, 200, seed=5)})
        assert n_unique >= 20, (cap, n_unique)
