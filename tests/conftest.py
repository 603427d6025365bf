import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tmp_home(tmp_path, monkeypatch):
    "An empty CAPDISTILL_HOME: models get built from the embedded GGUF into it."
    home = tmp_path / 'home'
    monkeypatch.setenv('CAPDISTILL_HOME', str(home))
    return home


def run_cli(*args, env=None, timeout=1800):
    "Run the installed `capdistill` entry point as a user would."
    exe = Path(sys.executable).parent / 'capdistill'
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)
