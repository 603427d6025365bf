"""The ReAD reference implementation's own files (tests/fixtures/read_reference, MIT) load in capdistill: its
read.yml mapped onto ReadConfig (each unit conversion pinned), its task cards, template pools and eval-hash file;
one tiny run."""

import hashlib, json, math, shutil, warnings
from pathlib import Path
import numpy as np
import pytest
import yaml
from conftest import ROOT
from capdistill.core.config import ConfigError, config_from_dict, read_yaml
from capdistill.read.compat import (
    ReferenceGapWarning,
    is_reference_read_config,
    load_read_config,
    materialize_task_cards,
    reference_read_config,
    reference_task_cards,
)
from capdistill.read.loop import ReadConfig
from capdistill.read.reward import read_reward
from capdistill.tasks.cards import CAPABILITIES, capability_vector, get_task_card, load_task_cards
from capdistill.tasks.leakage import LeakageIndex, read_prompt_hash
from capdistill.tasks.templates import load_pool, pool_sample

FIX = ROOT / 'tests' / 'fixtures' / 'read_reference'
READ_YML = FIX / 'configs' / 'read.yml'


def _mapped(tmp_path, d=None, base=FIX):
    gaps = []
    m = reference_read_config(d or read_yaml(READ_YML), 'read.yml', base=base, gaps=gaps, cards_dir=tmp_path)
    return config_from_dict(ReadConfig, m), gaps


def test_reference_read_yml_maps_with_each_conversion_pinned(tmp_path):
    ref = read_yaml(READ_YML)
    assert is_reference_read_config(ref) and not is_reference_read_config(read_yaml(ROOT / 'configs' / 'read.yaml'))
    cfg, gaps = _mapped(tmp_path)
    # models: hub ids stay hub ids (nothing is loaded by the mapping)
    assert (cfg.teacher.model, cfg.student) == ('meta-llama/Llama-3.3-70B-Instruct', 'meta-llama/Llama-3.1-8B-Instruct')
    assert (cfg.teacher.dtype, cfg.teacher.tensor_parallel_size) == ('float16', 4)
    # student.learning_rate -> sft.lr (YAML 1.1 reads 2e-5 as a string)
    assert ref['student']['learning_rate'] == '2e-5' and cfg.sft.lr == 2e-5
    assert (cfg.sft.weight_decay, cfg.sft.batch_size, cfg.sft.max_length) == (0.0, 1, 2048)
    # budgets
    assert (cfg.budget_total_tokens, cfg.budget_gen_tokens, cfg.budget_train_tokens) == (20000, 8000, 12000)
    # lambda_cost: per token there and here (cost_unit 1): the same cost for the same tokens
    assert (cfg.reward.lambda_cost, cfg.reward.cost_unit) == (1e-5, 1)
    for tokens in (1, 777, 20000):
        cost = read_reward(np.eye(8)[4], np.zeros(8), tokens, cfg.reward)[1]['cost']
        assert math.isclose(cost, ref['reward']['lambda_cost'] * tokens, rel_tol=1e-12)
    assert (cfg.reward.beta, cfg.reward.top_k) == (0.5, 3)  # spillover_top_k -> top_k
    # interval.train_tokens (fixed size, loop until spent): the same loop; num_intervals = the planned count
    assert cfg.num_intervals == 1 and cfg.interval_train_tokens == 50000 and cfg.interval_gen_tokens == 0
    assert _mapped(tmp_path, {**ref, 'interval': {'gen_tokens': 0, 'train_tokens': 5000}})[0].num_intervals == 3
    # compat: reference -- kappa_decay on a non-improving dev evaluation every eval.checkpoint_fraction, reward
    # calibration, one optimizer, generated tokens only
    assert cfg.bandit.kappa_decay == 0.7 and cfg.bandit.kappa == 1.0 and cfg.compat == 'reference'
    keys = ('kappa_schedule', 'reward_calibration', 'optimizer_scope', 'gen_count_prompt')
    assert [cfg.setting(k) for k in keys] == ['dev', True, 'run', False]
    assert (cfg.checkpoint_fraction, cfg.eval_every_intervals, cfg.dev_max_new_tokens) == (0.1, 0, 256)
    assert (cfg.bandit.num_models, cfg.bandit.lr, cfg.bandit.train_steps, cfg.bandit.warmup_steps) == (5, 0.001, 200, 5)
    assert (cfg.allocation.max_candidates, cfg.allocation.include_one_hot, cfg.allocation.top_k) == (50, False, 3)
    assert (cfg.max_new_tokens, cfg.gen_batch_size, cfg.teacher.generation.temperature) == (256, 4, 0.2)
    assert (cfg.probes.n_per_capability, cfg.probes.max_new_tokens, cfg.probes.batch_size) == (32, 256, 8)
    assert (cfg.sft.count_prompt, cfg.sft.count_padding) == (True, False)
    assert cfg.templates.source == 'pools' and Path(cfg.templates.pools_dir) == FIX / 'data' / 'distill_prompts'
    # the reference generator's sampling rules (read_generate_batch.py defaults: read.yml has no key for them)
    t = cfg.templates
    assert t.difficulty_schedule == [{'until': 0.3, 'mix': {'easy': 0.1, 'medium': 0.8, 'hard': 0.1}},
                                     {'until': 0.7, 'mix': {'easy': 0.1, 'medium': 0.5, 'hard': 0.4}},
                                     {'until': 1.0, 'mix': {'easy': 0.05, 'medium': 0.2, 'hard': 0.75}}]
    assert (t.difficulty_from, t.difficulty_percentiles, t.difficulty_sample_size, t.pool_attempts) == (
        'score', [0.33, 0.66], 256, 50)
    assert (t.usage_window, t.usage_max_share, t.max_uses) == (128, 0.25, None)
    assert cfg.setting('template_rules') == 'reference'
    assert cfg.leakage_index is None  # the reference repo has no data/eval_prompt_hashes.json
    keys = {g.split(': ')[1].split('=')[0] for g in gaps}
    assert 'generation.temperature' in keys, keys
    for k in ('bandit.kappa_decay', 'interval.train_tokens', 'eval.checkpoint_fraction', 'student.learning_rate',
              'budget.gen_tokens', 'reward.lambda_cost', 'prompt_source_config'):  # implemented: no longer gaps
        assert k not in keys, (k, keys)
    assert all(g.startswith(('read.yml: ', str(FIX))) for g in gaps)


def test_gaps_are_warned_once_when_not_collected(tmp_path):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        cfg = load_read_config(READ_YML, {'seed': 4}, cards_dir=tmp_path)
    assert [type(x.message) for x in w] == [ReferenceGapWarning] and cfg.seed == 4
    assert 'generation.temperature' in str(w[0].message)


def test_reference_task_cards_load_in_our_loader(tmp_path):
    d = read_yaml(FIX / 'configs' / 'task_cards.yaml')
    cards = load_task_cards(materialize_task_cards(FIX / 'configs' / 'task_cards.yaml', tmp_path, []))
    assert list(cards) == list(d['tasks'])
    want = {'humaneval_pass@1': 'code', 'gsm8k_exact': 'gsm8k', 'logprob': 'exact'}
    for name, raw in d['tasks'].items():
        c = cards[name]
        assert c.eval_type == want[raw['eval_type']]
        assert c.exemplars == [{'prompt': e['input'], 'answer': e['output']} for e in raw['exemplars']]
        assert np.allclose(c.r_tau, capability_vector(raw['requirement_vector']))
    assert cards['math_gsm8k'].test == {'source': 'gsm8k', 'split': 'test'}
    # the one-hot `capability` fallback when requirement_vector is missing: the reference's smoothed vector
    no_vec = {'tasks': {'t': {'capability': 'tool_use', 'description': 'x'}}}
    r = capability_vector(reference_task_cards(no_vec, gaps=[])['t']['requirements'])
    theirs = np.array([1.0 if c == 'tool_use' else 1e-3 for c in CAPABILITIES])
    assert np.allclose(r, theirs / theirs.sum(), atol=1e-12, rtol=0)


def test_every_reference_pool_loads_with_its_ids(tmp_path):
    rng = np.random.default_rng(0)
    pools = FIX / 'data' / 'distill_prompts'
    for cap in CAPABILITIES:
        rows = [json.loads(line) for line in (pools / cap / 'templates.jsonl').read_text().splitlines() if line.strip()]
        pool = load_pool(cap, pools)
        assert [t.id for t in pool] == [r['id'] for r in rows]
        assert [t.template for t in pool] == [r['prompt'] for r in rows]
        for _ in range(10):
            s = pool_sample(rng, cap, 'medium', pools)
            assert '{' not in s.prompt and s.meta['template_id'] in {r['id'] for r in rows}


def test_typed_slots_are_filled_and_ids_kept(tmp_path):
    (tmp_path / 'math').mkdir()
    rows = [
        {'id': 'mt_typed', 'prompt': 'A shop sells {n} pens at ${p} each; in {unit}, what do they cost?',
         'slots': [{'name': 'n', 'type': 'int', 'min': 2, 'max': 12}, {'name': 'p', 'type': 'float', 'min': 0.5,
                   'max': 3, 'format': '.2f'}, {'name': 'unit', 'type': 'choice', 'values': ['cents', 'dollars']}]},
        {'template_id': 'mt_str', 'prompt': 'Name {thing}.', 'slots': [{'name': 'thing'}]},
    ]
    (tmp_path / 'math' / 'templates.jsonl').write_text('\n'.join(json.dumps(r) for r in rows))
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(40):
        s = pool_sample(rng, 'math', 'medium', tmp_path)
        assert '{' not in s.prompt, s.prompt
        seen.add(s.meta['template_id'])
        if s.meta['template_id'] == 'mt_typed':
            n, p = s.prompt.split(' pens at $')
            assert 2 <= int(n.split()[-1]) <= 12 and len(p.split(' ')[0]) == 4
    assert seen == {'mt_typed', 'mt_str'}


def test_reference_hash_file_is_read_by_the_leakage_index(tmp_path):
    rules = read_yaml(FIX / 'configs' / 'distill_prompt_sources.yaml')['hash_policy']['normalize']
    prompt = load_pool('math', FIX / 'data' / 'distill_prompts')[0].template
    p = tmp_path / 'eval_prompt_hashes.json'
    p.write_text(json.dumps({'hash_method': 'sha256', 'normalize': rules, 'counts': {}, 'tasks': [],
                             'hashes': [hashlib.sha256(' '.join(prompt.split()).lower().encode()).hexdigest()]}))
    idx = LeakageIndex.load(p)
    assert idx.is_blocked('  ' + prompt.upper())[0] and not idx.is_blocked('Solve 2x = 4.')[0]
    assert read_prompt_hash(prompt, rules) in idx.read_hashes


def test_really_wrong_keys_get_clear_errors(tmp_path):
    ref = read_yaml(READ_YML)
    cases = [
        ({**ref, 'bandit': {**ref['bandit'], 'kapa': 1}}, "Did you mean 'bandit.kappa'?"),
        ({**ref, 'buget': {}}, "Did you mean 'budget'?"),
        ({**ref, 'student': {**ref['student'], 'learning_rate': 'fast'}}, "(ReAD key 'student.learning_rate')"),
        ({**ref, 'budget': {**ref['budget'], 'total_tokens': 10}}, "budgets don't add up"),
        ({**ref, 'capabilities': ['math', 'coding']}, "unknown capability 'coding'"),
        ({**ref, 'task_cards': 'configs/none.yaml'}, 'task_cards: '),
    ]
    for d, msg in cases:
        with pytest.raises(ConfigError, match=None) as e:
            _mapped(tmp_path, d)
        assert msg in str(e.value) and 'read.yml' in str(e.value), str(e.value)
    cfg = tmp_path / 'configs' / 'read.yml'
    cfg.parent.mkdir()
    cfg.write_text(yaml.safe_dump({**ref, 'task_name': 'code_humanevl'}))
    for k in ('task_cards', 'prompt_source_config'):
        shutil.copy(FIX / ref[k], tmp_path / ref[k])
    shutil.copytree(FIX / 'data', tmp_path / 'data')
    with pytest.raises(ConfigError, match="Did you mean 'code_humaneval'"):
        load_read_config(cfg, cards_dir=tmp_path)
    cfg.write_text(yaml.safe_dump(ref))
    with pytest.raises(ConfigError, match="unknown key 'budget'"):  # overrides use our field names
        load_read_config(cfg, {'budget': {'total_tokens': 5}}, cards_dir=tmp_path)


TINY = {  # a tiny budget (the reference's own files otherwise); the test swaps in tiny random-init models
    'teacher': {'model': 'smollm2-135m-instruct', 'dtype': None, 'tensor_parallel_size': 1},
    'student': 'smollm2-135m-pruned',
    'budget_total_tokens': 3000,
    'budget_gen_tokens': 1200,
    'budget_train_tokens': 1800,
    'max_new_tokens': 48,
    'gen_batch_size': 8,
    'probes': {'n_per_capability': 2, 'max_new_tokens': 24},
    'sft': {'max_length': 256, 'batch_size': 4},
    'dev_limit': 2,
    'dev_max_new_tokens': 16,
}


def test_reference_files_run_through_read(tmp_path, tiny_pair):
    """configs/read.yml + task_cards.yaml + the pools (one typed template added) + a hash file, one tiny interval: the
    files' plumbing, on tiny random-init models with the real tokenizer."""
    from capdistill.read.loop import run_read

    ref = tmp_path / 'ref'
    shutil.copytree(FIX, ref)
    with (ref / 'data' / 'distill_prompts' / 'code' / 'templates.jsonl').open('a') as f:
        f.write(json.dumps({'id': 'cd_typed', 'prompt': 'Write `f(x)` returning x * {k} for {n} inputs {{a, b}}.',
                            'slots': [{'name': 'k', 'type': 'int', 'min': 2, 'max': 9},
                                      {'name': 'n', 'type': 'choice', 'values': ['3', '{1, 2}']}]}) + '\n')
    blocked = load_pool('code', FIX / 'data' / 'distill_prompts')[0]  # cd_001 is an "eval prompt" here
    (ref / 'data' / 'eval_prompt_hashes.json').write_text(json.dumps({
        'hash_method': 'sha256', 'normalize': {'strip': True, 'collapse_whitespace': True, 'lowercase': True},
        'hashes': [read_prompt_hash(blocked.template, {'lowercase': True})]}))
    tiny = {**TINY, 'teacher': {**TINY['teacher'], 'model': str(tiny_pair['teacher'])},
            'student': str(tiny_pair['student'])}
    cfg = load_read_config(ref / 'configs' / 'read.yml', tiny, cards_dir=tmp_path / 'cards')
    assert cfg.num_intervals == 1 and cfg.leakage_index == str(ref / 'data' / 'eval_prompt_hashes.json')
    assert np.allclose(get_task_card(cfg.task_name, cfg.task_cards).r_tau, np.eye(8)[CAPABILITIES.index('code')])
    s = run_read(cfg, tmp_path / 'run', progress=False)
    ex = [json.loads(line) for f in sorted((tmp_path / 'run' / 'examples').glob('*.jsonl'))
          for line in f.read_text().splitlines()]
    assert ex and s['n_examples'] and all('{' not in e['prompt'] or e['meta']['template_id'] == 'cd_typed' for e in ex)
    ids = {e['meta']['template_id'] for e in ex}
    assert ids and ids <= {r['id'] for cap in CAPABILITIES for r in map(json.loads, (
        ref / 'data' / 'distill_prompts' / cap / 'templates.jsonl').read_text().splitlines())}
    assert 'cd_001' not in ids  # blocked by the reference hash file
    for e in ex:
        if e['meta']['template_id'] == 'cd_typed':  # typed slots filled; a value's braces stay as written
            assert '{k}' not in e['prompt'] and '{n}' not in e['prompt'] and '{a, b}' in e['prompt']
    spent = s['ledger']['spent']
    assert spent['teacher_gen_completion'] <= 1200  # generated tokens only, as the reference counts them


def test_cli_config_loading_maps_the_reference_file(tmp_path, monkeypatch):
    "`capdistill read --config <their read.yml> --set ...` goes through the mapping (our own files do not)."
    from capdistill.cli import build_config

    monkeypatch.setenv('CAPDISTILL_HOME', str(tmp_path))  # materialized task cards go here
    with pytest.warns(Warning):
        cfg = build_config(ReadConfig, READ_YML, ['seed=5'])
    assert isinstance(cfg, ReadConfig) and cfg.seed == 5 and cfg.compat == 'reference'
    ours = build_config(ReadConfig, ROOT / 'configs' / 'read.yaml', ['seed=5'])
    assert ours.compat == 'capdistill' and ours.seed == 5
