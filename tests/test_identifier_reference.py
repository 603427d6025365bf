"""The identifier's `reference` objective (ReAD's fit of r·Δs to Δu plus an entropy term): end to end from card text
through the offline MiniLM encoder to a recovered requirement vector, and through the CLI on Dirichlet-mixed
interventions collected with probes (tiny random-init Llamas: plumbing, not learning)."""

import json
import numpy as np
import pytest
from conftest import run_cli
from capdistill.core.config import ConfigError, config_from_dict
from capdistill.tasks.cards import CAPABILITIES, TaskCard, capability_vector
from capdistill.read.identifier import (IdentifierConfig, TrainIdentifierConfig, load_identifier, resolve_requirements,
                                        run_train_identifier, train_identifier)
from capdistill.read.interventions import sample_allocation

TEXTS = {
    'gsm': 'Grade-school math word problems solved by arithmetic.',
    'tools': 'Turn a request into a JSON function call for the given tools.',
}
R_TRUE = {
    'gsm': capability_vector({'math': 0.6, 'reasoning': 0.4}),
    'tools': capability_vector({'tool_use': 0.7, 'steerability': 0.3}),
}


def synthetic_rows(seed: int, per_task: int = 48) -> list[dict]:
    "Rows as collect-gphi writes them, with Δs = 2·(Dirichlet mix) + noise and delta = r*·Δs + noise."
    rng = np.random.default_rng(seed)
    rows = []
    for task, r in R_TRUE.items():
        for i in range(per_task):
            ds = 2.0 * sample_allocation(2, 1.0, rng) + rng.normal(0, 0.05, len(CAPABILITIES))  # (C,)
            rows.append(dict(task=task, index=i, text=TEXTS[task], delta_s=ds.tolist(),
                             delta=float(r @ ds + rng.normal(0, 0.01))))
    return rows


def test_reference_objective_recovers_r_from_card_text():
    for seed in range(3):
        model, st = train_identifier(synthetic_rows(seed), IdentifierConfig(objective='reference', prior=0, seed=seed))
        assert st['objective'] == 'reference' and st['n_rows'] == 96 and st['tasks'] == ['gsm', 'tools']
        p = model.predict(list(TEXTS.values()))  # (2, C)
        l1 = np.abs(p - np.stack(list(R_TRUE.values()))).sum(-1)
        assert (l1 < 0.15).all(), (seed, l1)


def test_train_identifier_reference_cli(tmp_path, tiny_pair):
    probes, rows_path, model_path = tmp_path / 'probes.jsonl', tmp_path / 'gphi.jsonl', tmp_path / 'gphi.pt'
    probes.write_text(''.join(json.dumps(dict(capability=c, prompt=f'Say something about {c}.',
                                              response=f'Here is something about {c}.')) + '\n'
                              for c in ('math', 'code', 'tool_use')))
    r = run_cli('collect-gphi', '--set', 'tasks=[word_problem_format]', '--set', f'output={rows_path}',
                '--set', f'probes={probes}', '--set', 'interventions.allocation=dirichlet',
                '--set', 'interventions.num_interventions=2', '--set', 'interventions.n_dev=4',
                '--set', 'interventions.max_new_tokens=8', '--set', 'interventions.budget_gen_tokens=1000',
                '--set', 'interventions.budget_train_tokens=300',
                '--set', f"teacher.model={tiny_pair['teacher']}", '--set', f"student={tiny_pair['student']}")
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(l) for l in rows_path.read_text().splitlines()]
    assert len(rows) == 2 and all(len(x['delta_s']) == len(CAPABILITIES) and len(x['allocation']) == 8 for x in rows)
    r = run_cli('train-identifier', '--set', f'train_jsonl={rows_path}', '--set', f'output={model_path}',
                '--set', 'identifier.objective=reference', '--set', 'identifier.epochs=20')
    assert r.returncode == 0, r.stderr[-3000:]
    assert '(reference)' in r.stdout
    assert load_identifier(model_path).cfg.objective == 'reference'
    v = resolve_requirements(TaskCard(name='x', description=TEXTS['gsm'], requirement_model=str(model_path)))
    assert v.shape == (len(CAPABILITIES),) and abs(v.sum() - 1) < 1e-6


def test_reference_objective_needs_delta_s(tmp_path):
    rows_path = tmp_path / 'single.jsonl'
    rows_path.write_text(json.dumps(dict(task='t', index=0, text='x', capability='math', delta=0.1)) + '\n')
    cfg = dict(train_jsonl=str(rows_path), output=str(tmp_path / 'g.pt'), identifier={'objective': 'reference'})
    with pytest.raises(ConfigError, match=r"missing 'delta_s'.*--set probes="):
        run_train_identifier(config_from_dict(TrainIdentifierConfig, cfg))
    with pytest.raises(ConfigError, match='objective'):
        config_from_dict(TrainIdentifierConfig, {**cfg, 'identifier': {'objective': 'paper'}})
