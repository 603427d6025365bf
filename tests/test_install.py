"""What `make install` sets up besides the package: JupyterLab, and this environment registered as the Jupyter kernel
`capdistill` that every notebook declares (issue #15)."""

import json, subprocess, sys
from pathlib import Path
from conftest import ROOT


def test_the_capdistill_kernel_runs_this_environment():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec('capdistill')  # NoSuchKernel: run `make install`
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve(), spec.argv
    assert Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())  # inside the venv


def test_every_notebook_declares_the_capdistill_kernel():
    nbs = sorted(ROOT.glob('nbs/**/*.ipynb')) + sorted(ROOT.glob('papermill_runs/*.ipynb'))
    assert len(nbs) > 40
    kernels = {str(p.relative_to(ROOT)): json.loads(p.read_text())['metadata']['kernelspec']['name'] for p in nbs}
    bad = [p for p, k in kernels.items() if k != 'capdistill']
    assert not bad, bad


def test_jupyterlab_is_installed():
    r = subprocess.run([str(Path(sys.executable).parent / 'jupyter'), 'lab', '--version'], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip()[0].isdigit(), r.stderr[-2000:]


def test_make_lab_serves_the_notebooks_with_the_capdistill_kernel(tmp_path):
    "`make lab`, headless on a free loopback port: its REST API lists the `capdistill` kernel and the notebooks."
    import os, secrets, signal, socket, time, urllib.request

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(8)
    args = f'--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} --ServerApp.open_browser=False'
    env = {**os.environ, 'JUPYTER_RUNTIME_DIR': str(tmp_path / 'rt'), 'JUPYTER_CONFIG_DIR': str(tmp_path / 'cfg')}
    p = subprocess.Popen(['make', '-s', '-C', str(ROOT), 'lab', f'LAB_ARGS={args}', f'PY={sys.executable}',
                          f'BIN={Path(sys.executable).parent}'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=env, start_new_session=True)
    url = f'http://127.0.0.1:{port}/api'
    get = lambda path: json.loads(urllib.request.urlopen(f'{url}/{path}?token={token}', timeout=5).read())
    try:
        t0 = time.monotonic()
        while True:
            try:
                specs = get('kernelspecs')
                break
            except OSError:
                assert p.poll() is None and time.monotonic() - t0 < 120, p.stderr.read().decode()[-3000:]
                time.sleep(0.5)
        assert 'capdistill' in specs['kernelspecs'], sorted(specs['kernelspecs'])
        assert {'nbs', 'papermill_runs'} <= {c['name'] for c in get('contents')['content']}
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)


def test_import_capdistill_is_light_and_exposes_the_entry_points():
    code = ("import sys, time; t0 = time.perf_counter(); import capdistill as cd; dt = time.perf_counter() - t0; "
            "heavy = sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules); "
            "print(dt, heavy, cd.TokenLedger.__module__, cd.run_read.__module__, cd.RCLConfig.__name__)")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    dt, rest = r.stdout.split(' ', 1)
    assert float(dt) < 2.0 and rest.startswith('[] capdistill.core.ledger capdistill.read.loop RCLConfig'), r.stdout
    import capdistill

    missing = [n for n in capdistill.__all__ if n != '__version__' and not hasattr(capdistill, n)]
    assert not missing, missing
