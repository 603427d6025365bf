"""Hub ids go through the real `from_pretrained`; tested offline against a hub-layout cache."""

import os, subprocess, sys, textwrap
from pathlib import Path
from capdistill.core.models import tiny_model


def _fake_hub_cache(root: Path, repo_id: str) -> Path:
    "A Hugging Face hub cache entry (refs/main -> snapshots/<sha>) holding a tiny Llama and the real tokenizer."
    model, tok = tiny_model(seed=7)
    sha = 'a' * 40
    repo = root / ('models--' + repo_id.replace('/', '--'))
    snap = repo / 'snapshots' / sha
    model.save_pretrained(snap)
    tok.save_pretrained(snap)
    (repo / 'refs').mkdir(parents=True)
    (repo / 'refs' / 'main').write_text(sha)
    return snap


def _run(code, env, cwd):
    "Run `code` in a fresh interpreter inside `cwd` (a temp dir: the child writes nothing into the checkout)."
    return subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=300,
    )


def test_hub_id_loads_from_local_hub_cache_offline(tmp_path):
    _fake_hub_cache(tmp_path / 'hub', 'capdistill-test/tiny-llama')
    env = dict(HF_HUB_CACHE=str(tmp_path / 'hub'), HF_HUB_OFFLINE='1')
    r = _run(
        """
        import torch
        from capdistill.core.models import load_model
        m, tok = load_model('capdistill-test/tiny-llama', device='cpu')
        x = tok('hello world', return_tensors='pt').input_ids
        with torch.no_grad(): torch.save(m(x).logits, 'logits.pt')
        print('layers', m.config.num_hidden_layers, 'vocab', len(tok))
        """,
        env,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'layers 2 vocab 49152' in r.stdout


def test_unknown_hub_id_offline_is_one_clear_error(tmp_path):
    env = dict(HF_HUB_CACHE=str(tmp_path / 'empty'), HF_HUB_OFFLINE='1')
    r = _run(
        """
        from capdistill.core.models import load_model, ModelLoadError
        try: load_model('capdistill-test/not-there')
        except ModelLoadError as e: print('ERR', e)
        """,
        env,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'ERR' in r.stdout and 'HF_HUB_OFFLINE=1' in r.stdout and 'hf download capdistill-test/not-there' in r.stdout
