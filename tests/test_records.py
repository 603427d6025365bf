"""The one append-only JSONL record format (`core.rundir.append_record` / `read_records`) and its users: torn
tails at every byte, random truncation and garbage (hypothesis), the teacher generation cache, `distill --data`
errors with file and line, and a rerun into a run dir with another config (issue 14)."""

import json, tempfile, warnings
from pathlib import Path
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from capdistill.core.config import ConfigError
from capdistill.core.rundir import RunDir, append_record, read_records, record_line

RECS = [
    {'i': 0, 'text': 'plain'},
    {'i': 1, 'text': 'café naïve', 'nested': {'xs': [1, 2.5, None, True]}},
    {'i': 2, 'text': '中文 测试 🙂🚀', 'msgs': [{'role': 'user', 'content': 'é{'}]},
    {'i': 3, 'text': 'emoji 👩‍💻 and é', 'lp': [{'logprob': -0.5, 'token': '中'}]},
]


def _old_line(rec) -> bytes:
    "A record as older versions of the generation cache wrote it (UTF-8, non-ASCII unescaped)."
    return (json.dumps(rec, ensure_ascii=False) + '\n').encode()


def _complete_before(lines: list[bytes], cut: int) -> int:
    "How many records lie wholly (their JSON text; the newline may be missing) in the first `cut` bytes."
    end, n = 0, 0
    for line in lines:
        end += len(line)
        if cut < end - 1:
            break
        n += 1
    return n


def _read_quiet(p, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return read_records(p, **kw)


@pytest.mark.parametrize('encode', [record_line, _old_line], ids=['ascii', 'old-utf8'])
def test_cut_at_every_byte_of_last_two_records(tmp_path, encode):
    lines = [encode(r) for r in RECS]
    raw = b''.join(lines)
    p = tmp_path / 'log.jsonl'
    start = len(lines[0]) + len(lines[1])
    assert raw.isascii() if encode is record_line else len(raw.decode()) < len(raw)  # old lines: multi-byte chars
    for cut in range(start, len(raw) + 1):
        p.write_bytes(raw[:cut])
        n = _complete_before(lines, cut)
        assert _read_quiet(p) == RECS[:n], cut
        # the next append cuts a torn tail off (or ends a complete one), so nothing is lost or joined
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            append_record(p, {'i': 'next'})
        assert read_records(p) == RECS[:n] + [{'i': 'next'}], cut


def test_torn_tail_warns_and_middle_damage_names_line(tmp_path):
    p = tmp_path / 'log.jsonl'
    lines = [_old_line(r) for r in RECS]
    p.write_bytes(b''.join(lines)[:-4])  # cut inside the last record's multi-byte characters
    with pytest.warns(UserWarning, match='line 4 is a torn record'):
        assert read_records(p) == RECS[:3]
    p.write_bytes(lines[0] + lines[1][:9] + b'\n' + lines[2])
    with pytest.raises(ConfigError, match=r'log\.jsonl: line 2 is not valid JSON'):
        read_records(p)
    p.write_bytes(lines[0] + lines[2][:19] + b'\n' + lines[1])  # torn mid-character, then a newline: damage
    with pytest.raises(ConfigError, match=r'log\.jsonl: line 2 is not UTF-8'):
        read_records(p)
    p.write_bytes(lines[0] + b'[1, 2]\n')
    with pytest.raises(ConfigError, match=r'log\.jsonl: line 2 holds a JSON array, not an object'):
        read_records(p)


@pytest.mark.parametrize('cut', [1, 9, 14, 15, 30])
def test_fragment_then_record_on_one_line_keeps_the_record(tmp_path, cut):
    "Older writers did not seal a torn tail: the next record joined the fragment. It must not be lost."
    p = tmp_path / 'log.jsonl'
    lines = [_old_line(r) for r in RECS]
    p.write_bytes(lines[0] + lines[2][:cut] + lines[1] + lines[3])
    with pytest.warns(UserWarning, match='followed by a complete one'):
        assert read_records(p) == [RECS[0], RECS[1], RECS[3]]


# -- property tests --------------------------------------------------------------------------------------------
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
_values = st.recursive(_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c,
                                                                                      max_size=3), max_leaves=8)
_records = st.lists(st.dictionaries(st.text(max_size=8), _values, max_size=5), min_size=1, max_size=6)
_PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPS
@given(recs=_records, old=st.booleans(), data=st.data())
def test_property_any_truncation_returns_the_complete_records(recs, old, data):
    lines = [(_old_line if old else record_line)(r) for r in recs]
    raw = b''.join(lines)
    cut = data.draw(st.integers(0, len(raw)))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / 'r.jsonl'
        p.write_bytes(raw[:cut])
        got = _read_quiet(p)
        assert got == recs[: _complete_before(lines, cut)]


def _expect_tail(g: bytes):
    "What a reader makes of a last line `g` without a newline: ('skip'|'torn'|'record'|'error', value)."
    if not g.strip():
        return 'skip', None
    try:
        v = json.loads(g.decode('utf-8'))
    except (ValueError, RecursionError):
        return 'torn', None
    return ('record', v) if isinstance(v, dict) else ('error', None)


@_PROPS
@given(recs=_records, garbage=st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_property_garbage_tail_is_dropped_kept_or_a_clear_error(recs, garbage):
    base = b''.join(record_line(r) for r in recs)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / 'r.jsonl'
        p.write_bytes(base + garbage)
        try:
            got = _read_quiet(p)
        except ConfigError as e:
            assert 'r.jsonl: line ' in str(e)
            return
        assert got[: len(recs)] == recs  # the complete records always come back first
        if b'\n' not in garbage:
            kind, v = _expect_tail(garbage)
            assert kind != 'error'
            assert got == recs + ([v] if kind == 'record' else [])
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                append_record(p, {'after': 1})
            assert read_records(p) == got + [{'after': 1}]


@_PROPS
@given(recs=_records, frag=st.data())
def test_property_record_after_a_torn_fragment_is_never_lost(recs, frag):
    lines = [_old_line(r) for r in recs]
    j = frag.draw(st.integers(0, len(recs) - 1))
    cut = frag.draw(st.integers(1, len(lines[j]) - 2))  # a strict, non-empty prefix of record j's JSON
    torn = lines[j][:cut]
    rest = recs[:j] + recs[j + 1:]
    raw = b''.join(lines[:j]) + torn + b''.join(lines[j + 1:])
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / 'r.jsonl'
        p.write_bytes(raw)
        assert _read_quiet(p) == rest  # a torn tail, or a fragment joined to the next record, which is kept


# -- the generation cache ----------------------------------------------------------------------------------------
def _gen_rec(k: int, text: str) -> dict:
    return dict(key=f'k{k}', engine='e', prompt=[{'role': 'user', 'content': f'q{k} é'}], text=text,
                prompt_tokens=3, completion_tokens=2, logprobs=None, time=0.0)


def test_generation_cache_reloads_after_a_torn_tail(tmp_path):
    from capdistill.teachers.engines import Generation, GenerationCache

    p = tmp_path / 'gen.jsonl'
    recs = [_gen_rec(k, t) for k, t in enumerate(['a', 'é 中', '🙂 emoji 中文'])]
    lines = [_old_line(r) for r in recs]  # a cache written by an older version (UTF-8, unescaped)
    raw = b''.join(lines)
    for cut in range(len(lines[0]), len(raw) + 1):
        p.write_bytes(raw[:cut])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            c = GenerationCache(p)
            n = _complete_before(lines, cut)
            assert sorted(c.records) == [f'k{k}' for k in range(n)], cut
            c.put('new', Generation('p', 'né 中', 1, 1))
        again = GenerationCache(p)  # no warning now: the torn tail was cut off by the append
        assert len(again) == n + 1 and again.get('new').text == 'né 中' and again.get('k0').text == 'a'
    assert p.read_bytes().endswith(b'}\n')


def test_generation_cache_rejects_non_records_with_file_and_line(tmp_path):
    from capdistill.teachers.engines import GenerationCache

    p = tmp_path / 'gen.jsonl'
    good = _old_line(_gen_rec(0, 'a'))
    for bad, msg in [(b'{"text": "no key"}\n', r"line 2 is not a generation record \(it lacks \['key'"),
                     (b'["a", "list"]\n', 'line 2 holds a JSON array'),
                     (b'{"key": 5, "prompt": "p", "text": "t", "prompt_tokens": 1, "completion_tokens": 1}\n',
                      'line 2 is not a generation record')]:
        p.write_bytes(good + bad + good)
        with pytest.raises(ConfigError, match=r'gen\.jsonl: ' + msg):
            GenerationCache(p)


# -- distill --data ------------------------------------------------------------------------------------------------
def test_load_pairs_errors_name_file_and_line(tmp_path):
    from capdistill.distill.job import load_pairs

    p = tmp_path / 'data.jsonl'
    ok = b'{"prompt": "a", "response": "b \xc3\xa9"}\n'
    for body, msg in [(ok + b'{"prompt": "a", "resp\n' + ok, 'line 2 is not valid JSON'),
                      (ok + b'{"prompt": "a", "response": "\xff"}\n', 'line 2 is not UTF-8'),
                      (ok + b'\n["a", "b"]\n', 'line 3 holds a JSON array'),
                      (ok + b'{"prompt": "a", "resp', 'line 2 is not valid JSON'),  # a whole file: no torn tail
                      (b'', 'no rows to train on'),
                      (b'{"prompt": "a", "response": "b", "kept": false}\n', 'no rows to train on')]:
        p.write_bytes(body)
        with pytest.raises(ConfigError, match=r'data\.jsonl: ' + msg):
            load_pairs(p)
    p.write_bytes(ok * 2)
    assert load_pairs(p) == [('a', 'b é')] * 2


def _cli_fails(*args) -> str:
    from conftest import run_cli

    r = run_cli('distill', *args, env={'OMP_NUM_THREADS': '1'}, timeout=600)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    return r.stderr


def test_distill_cli_data_errors_before_any_model(tmp_path):
    data, out = tmp_path / 'data.jsonl', tmp_path / 'run'
    data.write_bytes(b'{"prompt": "a", "response": "b"}\n{"prompt": "a", "response": "b"\n{"prompt": "c"}\n')
    err = _cli_fails('--set', f'data={data}', '--output-dir', out)
    assert f'{data}: line 2 is not valid JSON' in err and not out.exists()
    data.write_bytes(b'')
    err = _cli_fails('--set', f'data={data}', '--output-dir', out)
    assert 'no rows to train on' in err and not out.exists()


def test_rerun_with_another_config_is_one_clear_error(tmp_path):
    data, out = tmp_path / 'data.jsonl', tmp_path / 'run'
    data.write_bytes(b'{"prompt": "a", "response": "b"}\n')
    from capdistill.distill.job import DistillConfig

    RunDir(out, DistillConfig(data=str(data), train={'seed': 3}), kind='distill')  # an earlier run's manifest
    err = _cli_fails('--set', f'data={data}', '--set', 'train.seed=4', '--output-dir', out)
    assert "keys differ: ['train.seed']" in err and '3 in the run, 4 now' in err and '--fresh' in err
    RunDir(tmp_path / 'api', {'lr': 1, 'train': {'seed': 1, 'bs': 4}})
    with pytest.raises(ConfigError, match=r"keys differ: \['lr', 'train.seed'\]; lr: 1 in the run, 2 now"):
        RunDir(tmp_path / 'api', {'lr': 2, 'train': {'seed': 2, 'bs': 4}})
