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
