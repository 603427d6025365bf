"""Hostile configs, flags and budgets (issue #14): every bad input is ONE clear error naming its source (file,
`--set key=value` or flag), the key and the fix, raised before a model loads or a file is written; a budget of 0
is a budget of 0."""

import ast, json, os, subprocess, sys, textwrap, time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_cli
from capdistill.core.config import ConfigError, load_config, read_yaml


def _clean_error(r, *needles):
    "The command failed with one `error:` line naming every needle, and no traceback."
    assert r.returncode != 0, r.stdout[-2000:]
    assert 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert 'error: ' in r.stderr, r.stderr[-2000:]
    for n in needles:
        assert str(n) in r.stderr, (n, r.stderr[-2000:])
    return r.stderr


def _yaml(tmp_path, text, name='cfg.yaml'):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def _err(f) -> str:
    with pytest.raises(ConfigError) as e:
        f()
    return str(e.value)


# ---- 1. a budget of 0 is a budget of 0; negative is an error -------------------------------------------------

def _pairs(tmp_path) -> Path:
    p = tmp_path / 'pairs.jsonl'
    rows = [{'prompt': f'What is {i}+{i}?', 'response': str(2 * i)} for i in range(4)]
    p.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return p


def test_distill_budget_zero_trains_nothing(tmp_path):
    out = tmp_path / 'run'
    r = run_cli('distill', '--set', f'data={_pairs(tmp_path)}', '--set', 'budget_train_tokens=0',
                '--set', 'budget_scoring_tokens=0', '--output-dir', out,
                env={'OMP_NUM_THREADS': '1', 'CAPDISTILL_ROOT': str(ROOT)}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / 'manifest.json').read_text())
    assert m['ledger']['budgets'] == {'training': 0, 'scoring': 0}
    assert sum(m['ledger']['spent'].values()) == 0
    assert m['stats']['steps'] == 0


def test_generate_batch_budget_zero_generates_nothing(tmp_path):
    out = tmp_path / 'batch.jsonl'
    r = run_cli('generate-batch', '--set', f'output={out}', '--set', 'budget_gen_tokens=0',
                '--set', 'allocation={math: 1.0}', '--set', 'num_prompts=2',
                env={'OMP_NUM_THREADS': '1'}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert out.read_text() == ''
    assert 'generation                       0         0' in r.stdout


def test_no_budget_is_tested_for_truthiness():
    "`if cfg.budget_x:` reads a budget of 0 as no budget: budgets are compared with None, never tested for truth."
    bad = []
    for py in sorted((ROOT / 'capdistill').rglob('*.py')):
        for node in ast.walk(ast.parse(py.read_text())):
            tests = [node.test] if isinstance(node, (ast.If, ast.IfExp, ast.While)) else []
            tests += node.values if isinstance(node, ast.BoolOp) else []
            tests += [node.operand] if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) else []
            for t in tests:
                name = t.attr if isinstance(t, ast.Attribute) else t.id if isinstance(t, ast.Name) else ''
                if name.startswith('budget_'):
                    bad.append(f"{py.relative_to(ROOT)}:{t.lineno}: {name}")
    assert not bad, bad


@pytest.mark.parametrize('key', ['budget_train_tokens', 'budget_scoring_tokens'])
def test_negative_budget_is_a_clean_error(tmp_path, key):
    out = tmp_path / 'run'
    r = run_cli('distill', '--set', f'data={_pairs(tmp_path)}', '--set', f'{key}=-1', '--output-dir', out)
    _clean_error(r, f'--set {key}=-1', key, '>= 0')
    assert not out.exists()


def test_negative_generation_budget_is_a_clean_error(tmp_path):
    from capdistill.teachers.batch import GenerateBatchConfig
    m = _err(lambda: GenerateBatchConfig(output=str(tmp_path / 'b.jsonl'), allocation={'math': 1},
                                         budget_gen_tokens=-5))
    assert 'budget_gen_tokens' in m and '>= 0' in m


# ---- 2. empty, duplicate-key, non-UTF-8, directory and non-mapping YAML -------------------------------------

def test_empty_config_file_is_an_error_not_a_default_run(tmp_path):
    cfg, out = _yaml(tmp_path, ''), tmp_path / 'run'
    r = run_cli('read', '--config', cfg, '--output-dir', out)
    _clean_error(r, cfg, 'empty')
    assert not out.exists()
    assert 'empty' in _err(lambda: read_yaml(_yaml(tmp_path, '\n  \n', 'blank.yaml')))


def test_comment_only_preset_overrides_nothing(tmp_path):
    "A file of comments only (like configs/read.yaml) is a deliberate preset that keeps every default."
    from capdistill.read.loop import ReadConfig
    test = load_config(_yaml(tmp_path, '# the defaults\n'), ReadConfig)
    assert test == ReadConfig()


def test_duplicate_yaml_keys_name_file_key_and_lines(tmp_path):
    from capdistill.read.loop import ReadConfig
    p = _yaml(tmp_path, 'seed: 1\nnum_intervals: 2\nseed: 3\n')
    m = _err(lambda: load_config(p, ReadConfig))
    assert str(p) in m and "'seed'" in m and 'line 1' in m and 'line 3' in m
    nested = _yaml(tmp_path, 'sft:\n  lr: 0.1\n  lr: 0.2\n', 'nested.yaml')
    m = _err(lambda: load_config(nested, ReadConfig))
    assert str(nested) in m and "'lr'" in m and 'line 3' in m
    r = run_cli('read', '--config', p, '--output-dir', tmp_path / 'run')
    _clean_error(r, p, "'seed'")
    assert not (tmp_path / 'run').exists()


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    p = _yaml(tmp_path, 'base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n')
    assert read_yaml(p)['other'] == {'x': 1, 'y': 3}


def test_non_utf8_config_is_a_clean_error(tmp_path):
    p = tmp_path / 'latin1.yaml'
    p.write_bytes('seed: 1\ntask_name: caf\xe9\n'.encode('latin-1'))
    m = _err(lambda: read_yaml(p))
    assert str(p) in m and 'UTF-8' in m and 'line 2' in m
    r = run_cli('read', '--config', p)
    _clean_error(r, p, 'UTF-8')


def test_config_path_that_is_a_directory_is_a_clean_error(tmp_path):
    r = run_cli('read', '--config', tmp_path, '--output-dir', tmp_path / 'run')
    _clean_error(r, tmp_path, 'directory')
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('text', ['- seed: 1\n- seed: 2\n', '42\n', 'just a string\n'])
def test_top_level_not_a_mapping_is_a_clean_error(tmp_path, text):
    p = _yaml(tmp_path, text)
    m = _err(lambda: read_yaml(p))
    assert str(p) in m and 'mapping' in m


def test_top_level_list_through_the_cli(tmp_path):
    p = _yaml(tmp_path, '- seed: 1\n')
    _clean_error(run_cli('toy', '--config', p), p, 'mapping')


# ---- 3. --set: unparsable values, and errors blamed on the --set that caused them ---------------------------

def test_unparsable_set_value_is_a_clean_error(tmp_path):
    r = run_cli('toy', '--set', 'policies=[read, greedy', '--set', f"output={tmp_path / 'toy'}")
    _clean_error(r, '--set', 'policies=[read, greedy')
    assert not (tmp_path / 'toy').exists()


def test_set_errors_are_blamed_on_the_set_not_the_file(tmp_path):
    from capdistill.cli import build_config
    from capdistill.read.loop import ReadConfig
    cfg = _yaml(tmp_path, 'seed: 2\n')
    r = run_cli('read', '--config', cfg, '--set', 'num_intervals=0', '--output-dir', tmp_path / 'run')
    err = _clean_error(r, '--set num_intervals=0', "'num_intervals'", '>= 1')
    assert str(cfg) not in err
    m = _err(lambda: build_config(ReadConfig, cfg, ['seed=3', 'nonsense_key=1']))
    assert m.startswith('--set nonsense_key=1: ') and str(cfg) not in m and 'Valid keys' in m
    m = _err(lambda: build_config(ReadConfig, cfg, ['sft.lr=fast']))
    assert m.startswith("--set sft.lr=fast: key 'sft.lr'"), m
    # two --set that only together break a cross-field rule: both named
    m = _err(lambda: build_config(ReadConfig, cfg, ['budget_gen_tokens=30000', 'budget_train_tokens=30000']))
    assert '--set budget_gen_tokens=30000' in m and '--set budget_train_tokens=30000' in m and str(cfg) not in m


def test_file_errors_stay_blamed_on_the_file(tmp_path):
    from capdistill.cli import build_config
    from capdistill.read.loop import ReadConfig
    cfg = _yaml(tmp_path, 'num_intervals: 0\n')
    m = _err(lambda: build_config(ReadConfig, cfg, ['seed=3']))
    assert m.startswith(f"{cfg}: key 'num_intervals'"), m
    assert build_config(ReadConfig, cfg, ['num_intervals=2']).num_intervals == 2  # the --set fixes the file


def test_errors_raised_inside_validate_name_their_source(tmp_path):
    "A ConfigError from a validate() (here: a capability weight) still names the --set that caused it."
    r = run_cli('generate-batch', '--set', f"output={tmp_path / 'b.jsonl'}", '--set', 'allocation={math: -1}')
    _clean_error(r, '--set allocation={math: -1}', 'math', '>= 0')
    assert not (tmp_path / 'b.jsonl').exists()


# ---- 4. validation gaps ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('grid', [[0.25, 5.0, -1], [0.0, 0.5], [0.5, 1.0], [0.5, float('nan')]])
def test_weight_grid_outside_0_1_is_an_error(tmp_path, grid):
    from capdistill.read.loop import AllocationConfig, ReadConfig
    p = _yaml(tmp_path, yaml.safe_dump({'allocation': {'weight_grid': grid}}))
    m = _err(lambda: load_config(p, ReadConfig))
    assert str(p) in m and 'weight_grid' in m and '(0, 1)' in m
    assert 'weight_grid' in _err(lambda: AllocationConfig(weight_grid=grid))


@pytest.mark.parametrize('mix', [{'easy': 1.0, 'hard': -0.5}, {'easy': 0.0}, {'extreme': 1.0},
                                 {'easy': float('inf')}])
def test_bad_difficulty_mix_fails_at_config_validation(tmp_path, mix):
    from capdistill.rl.common import QuestionConfig
    from capdistill.rl.grpo import GRPORunConfig
    from capdistill.rl.rcl import RCLConfig
    from capdistill.rl.reward_loop import RewardLoopConfig
    assert 'difficulty_mix' in _err(lambda: GRPORunConfig(difficulty_mix=mix))
    assert 'difficulty_mix' in _err(lambda: RCLConfig(difficulty_mix=mix))
    assert 'difficulty_mix' in _err(lambda: QuestionConfig(difficulty_mix=mix))
    p = _yaml(tmp_path, yaml.safe_dump({'questions': {'difficulty_mix': mix}}))
    m = _err(lambda: load_config(p, RewardLoopConfig))
    assert str(p) in m and 'questions: difficulty_mix' in m


def test_negative_difficulty_mix_fails_before_the_model_loads(tmp_path):
    out = tmp_path / 'run'
    r = run_cli('rl', '--method', 'grpo', '--set', 'difficulty_mix={easy: 1.0, hard: -0.5}', '--output-dir', out,
                timeout=300)
    _clean_error(r, '--set difficulty_mix={easy: 1.0, hard: -0.5}', 'difficulty_mix', 'hard')
    assert not out.exists()


_CARD = """
my_task:
  description: a task
  eval_type: exact
  requirements: {REQ}
"""


@pytest.mark.parametrize('req', ['{math: 0, code: 0}', '{math: -1, code: 2}', '{math: .nan}', '{math: .inf}'])
def test_bad_card_requirement_weights_name_file_and_task(tmp_path, req):
    from capdistill.tasks.cards import load_task_cards
    p = _yaml(tmp_path, _CARD.replace('{REQ}', req), 'cards.yaml')
    m = _err(lambda: load_task_cards(p))
    assert str(p) in m and "'my_task'" in m and 'requirements' in m


def test_card_body_that_is_a_list_names_file_and_task(tmp_path):
    from capdistill.tasks.cards import load_task_cards
    p = _yaml(tmp_path, 'my_task:\n  - description: a task\n', 'cards.yaml')
    m = _err(lambda: load_task_cards(p))
    assert str(p) in m and "'my_task'" in m and 'mapping' in m


def test_task_cards_reject_duplicate_tasks(tmp_path):
    from capdistill.tasks.cards import load_task_cards
    body = _CARD.replace('{REQ}', '{math: 1}')
    p = _yaml(tmp_path, body + body, 'cards.yaml')
    m = _err(lambda: load_task_cards(p))
    assert str(p) in m and "'my_task'" in m and 'twice' in m


# ---- 5. an unknown model name fails fast -------------------------------------------------------------------

def test_unknown_model_name_fails_fast_without_offline_flag(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')}
    env.update(HF_HUB_CACHE=str(tmp_path / 'hub'), HF_HOME=str(tmp_path / 'hf'), OMP_NUM_THREADS='1')
    code = textwrap.dedent("""
        import time
        from capdistill.core.models import ModelLoadError, load_model, load_tokenizer
        for f in (load_model, load_tokenizer):
            t0 = time.monotonic()
            try:
                f('capdistill-test/surely-not-a-model')
            except ModelLoadError as e:
                print('ERR', round(time.monotonic() - t0, 1), e)
    """)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr[-3000:]
    errs = [ln for ln in r.stdout.splitlines() if ln.startswith('ERR ')]
    assert len(errs) == 2, r.stdout
    assert all('capdistill-test/surely-not-a-model' in e for e in errs)
    assert all(float(e.split()[1]) < 10 for e in errs), (errs, took)


@pytest.mark.parametrize('cmd', [['read'], ['distill', '--set', 'data={data}']])
def test_unknown_student_fails_before_the_run_dir_is_written(tmp_path, cmd):
    out, data = tmp_path / 'run', tmp_path / 'pairs.jsonl'
    data.write_text('{"prompt": "What is 1 plus 1?", "response": "2"}\n')
    cmd = [c.format(data=data) for c in cmd]
    r = run_cli(*cmd, '--set', 'student=capdistill-test/surely-not-a-model', '--output-dir', out,
                env={'HF_HUB_OFFLINE': '1'}, timeout=300)
    _clean_error(r, 'student: ', 'capdistill-test/surely-not-a-model')
    assert not out.exists()


def test_unreachable_hub_still_loads_a_cached_hub_model(tmp_path):
    "No HF_HUB_OFFLINE, a hub that refuses connections: a model in the local HF cache loads from it, at once."
    from capdistill.core.models import tiny_model
    model, tok = tiny_model(seed=3)
    repo, sha = tmp_path / 'hub' / 'models--capdistill-test--cached-tiny', 'b' * 40
    model.save_pretrained(repo / 'snapshots' / sha)
    tok.save_pretrained(repo / 'snapshots' / sha)
    (repo / 'refs').mkdir(parents=True)
    (repo / 'refs' / 'main').write_text(sha)
    env = {k: v for k, v in os.environ.items() if k not in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')}
    env.update(HF_HUB_CACHE=str(tmp_path / 'hub'), HF_ENDPOINT='http://127.0.0.1:9', OMP_NUM_THREADS='1')
    code = textwrap.dedent("""
        import time
        from capdistill.core.models import ModelLoadError, hub_reachable, load_model
        assert not hub_reachable()
        t0 = time.monotonic()
        m, tok = load_model('capdistill-test/cached-tiny', device='cpu')
        print('OK', m.config.num_hidden_layers, round(time.monotonic() - t0, 1))
        try:
            load_model('capdistill-test/not-cached')
        except ModelLoadError as e:
            print('ERR', round(time.monotonic() - t0, 1), e)
    """)
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    ok, err = r.stdout.splitlines()[-2:]
    # hub retries would take >= 49 s; 40 s leaves room for a loaded machine (13.5 s measured with 4 jobs on 2 cores)
    assert ok.startswith('OK 2 ') and float(ok.split()[2]) < 40, r.stdout
    assert err.startswith('ERR ') and float(err.split()[1]) < 40 and 'unreachable' in err, r.stdout


def test_misspelt_builtin_model_gets_a_suggestion():
    from capdistill.core.models import ModelLoadError, load_model
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError) as e:
        load_model('smollm2-135m-prunned')
    assert "smollm2-135m-pruned" in str(e.value) and time.monotonic() - t0 < 10


# ---- 6. property: random mutations of every shipped config ------------------------------------------------

def _preset_classes() -> dict:
    "configs/<name>.yaml -> its config class, from the CLI's own command table."
    from capdistill.cli import COMMANDS, RL_METHODS
    out = {c.preset: c.load()[0] for c in COMMANDS.values() if c.preset}
    out.update({m: load()[0] for m, load in RL_METHODS.items()})
    return out


PRESETS = sorted(p.stem for p in (ROOT / 'configs').glob('*.yaml') if p.stem != 'task_cards')


def test_every_shipped_preset_has_a_config_class_and_loads():
    classes = _preset_classes()
    assert set(PRESETS) <= set(classes), set(PRESETS) - set(classes)
    for name in PRESETS:
        load_config(ROOT / 'configs' / f'{name}.yaml', classes[name])


_GARBAGE = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=6,
)
_NUMBERS = st.sampled_from([0, -1, -10**9, 10**12, 0.0, -0.5, 1.5, float('nan'), float('inf'), -float('inf')])


def _paths(d, prefix=()):
    "Every key path of nested mapping `d`."
    for k, v in d.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from _paths(v, prefix + (k,))


def _full(cls) -> dict:
    "The preset's whole config as a dict (every field, nested ones too), to mutate."
    import dataclasses
    return json.loads(json.dumps(dataclasses.asdict(cls()), default=str))


@st.composite
def _mutated(draw):
    name = draw(st.sampled_from(PRESETS))
    cls = _preset_classes()[name]
    data = read_yaml(ROOT / 'configs' / f'{name}.yaml')
    base = {**_full(cls), **data} if draw(st.booleans()) else data
    d = json.loads(json.dumps(base, default=str))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(d))
        op = draw(st.sampled_from(['drop', 'garbage', 'number', 'unknown', 'nest', 'wrap'] if paths else ['unknown']))
        if op == 'unknown' or not paths:
            d[draw(st.text(min_size=1, max_size=8))] = draw(_GARBAGE)
            continue
        *parent, leaf = draw(st.sampled_from(paths))
        node = d
        for k in parent:
            node = node[k]
        if op == 'drop':
            del node[leaf]
        elif op == 'garbage':
            node[leaf] = draw(_GARBAGE)
        elif op == 'number':
            node[leaf] = draw(_NUMBERS)
        elif op == 'nest':
            node[leaf] = {draw(st.text(min_size=1, max_size=6)): draw(_GARBAGE)}
        else:
            node[leaf] = [node[leaf]]
    return name, cls, d


def _corrupt(draw, text: str) -> tuple[bytes, bool]:
    "The YAML `text` as bytes, maybe corrupted; True when the corruption must be an error (never a silent run)."
    raw = text.encode()
    op = draw(st.sampled_from(['none', 'none', 'truncate', 'badbyte', 'dupkey', 'empty']))
    if op == 'truncate':
        return raw[:draw(st.integers(0, len(raw)))], False
    if op == 'badbyte':
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.sampled_from([b'\xff', b'\xe9', b'\xc3'])) + b'\n' + raw[at:], True
    if op == 'empty':
        return draw(st.sampled_from([b'', b'\n', b'   \n\t\n'])), True
    keys = [k for k in yaml.safe_load(text) or {} if isinstance(k, str) and k.isidentifier()
            and any(ln.startswith(f'{k}:') for ln in text.splitlines())]
    if op == 'dupkey' and keys:
        return raw + f"{draw(st.sampled_from(keys))}: 12345\n".encode(), True
    return raw, False


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_mutated(), data=st.data())
def test_mutated_presets_give_a_valid_config_or_one_clean_error(tmp_path_factory, case, data):
    "Any mutation of a shipped preset, in its values or its bytes: a valid config, or a ConfigError naming the file."
    name, cls, d = case
    p = tmp_path_factory.mktemp('mut') / f'{name}.yaml'
    raw, must_fail = _corrupt(data.draw, yaml.safe_dump(d, allow_unicode=True))
    p.write_bytes(raw)
    try:
        cfg = load_config(p, cls)
    except ConfigError as e:
        assert str(e).startswith(str(p)) and len(str(e)) > len(str(p)) + 10, str(e)
        return
    assert not must_fail, raw[-200:]
    assert isinstance(cfg, cls)


@pytest.mark.parametrize('text', ['template: toy_read.ipynb\ntemplate: smoke.ipynb\n', '', '- template\n'])
def test_sweep_grids_go_through_the_strict_yaml_reader(tmp_path, text):
    from capdistill.eval.sweep import load_grid
    p = _yaml(tmp_path, text, 'grid.yaml')
    m = _err(lambda: load_grid(p))
    assert str(p) in m, m
