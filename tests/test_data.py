"""Dataset loaders in a process that starts offline (HF_HUB_OFFLINE read by `datasets` at import)."""

import os, subprocess, sys, textwrap


def _run(code, env, cwd):
    return subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=120,
    )


def test_offline_missing_data_is_one_clear_error(tmp_path):
    env = dict(HF_HUB_OFFLINE='1', HF_HOME=str(tmp_path / 'hf'), CAPDISTILL_DATA=str(tmp_path / 'nodata'))
    r = _run(
        """
        from capdistill.tasks.data import load_dataset_spec, DataError
        for spec in ('gsm8k:train', 'math500', 'hub:capdistill-test/not-there:main:test'):
            try: load_dataset_spec(spec)
            except DataError as e: print('ERR', spec, '|', e)
        """,
        env,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [l for l in r.stdout.splitlines() if l.startswith('ERR')]
    assert len(lines) == 3, r.stdout
    gsm, math, hub = lines
    for s in (str(tmp_path / 'nodata' / 'gsm8k' / 'train.jsonl'), 'CAPDISTILL_DATA', 'openai/gsm8k', 'HF_HUB_OFFLINE'):
        assert s in gsm
    assert str(tmp_path / 'nodata' / 'math500' / 'test.jsonl') in math
    assert "'capdistill-test/not-there'" in hub and 'HF_HUB_OFFLINE is set' in hub


def test_loaders_ignore_the_cwd(tmp_path):
    r = _run(
        """
        from capdistill.tasks.data import load_dataset_spec
        print(*(len(load_dataset_spec(s)) for s in ('gsm8k:test', 'math500', 'humaneval')))
        """,
        {},
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ['1319', '500', '164']
