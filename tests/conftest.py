import http.client, inspect, os, signal, socket, subprocess, sys, time
from pathlib import Path
from typing import NamedTuple
import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVE_START_TIMEOUT_S = 120  # `transformers serve` of a 135M model on CPU is up in ~5 s


def pytest_configure(config):
    """Under `--dist loadgroup`, refuse a pytest / pytest-xdist pair that drops the `xdist_group` marks: xdist 3.8 tags
    a grouped test by rewriting `item._nodeid`, which pytest 9.2 no longer reads (pytest-xdist#1386), and every grouped
    module's expensive fixture was then silently built on each worker."""
    if getattr(config.option, 'dist', 'no') != 'loadgroup':  # xdist workers run with dist 'no'
        return
    try:
        import xdist.remote

        xdist_writes = '_nodeid' in inspect.getsource(xdist.remote)
        pytest_reads = '_nodeid' in inspect.getsource(pytest.Item.nodeid.fget)
    except (OSError, TypeError, AttributeError):  # no sources installed: nothing to tell
        return
    if xdist_writes and not pytest_reads:
        raise pytest.UsageError(f"pytest {pytest.__version__} breaks pytest-xdist's --dist loadgroup (xdist_group "
                                "marks are dropped): install the pinned pair, "
                                "`pip install -c constraints.txt pytest pytest-xdist`")


@pytest.fixture
def tmp_home(tmp_path, monkeypatch):
    "An empty CAPDISTILL_HOME: models get built from the embedded GGUF into it."
    home = tmp_path / 'home'
    monkeypatch.setenv('CAPDISTILL_HOME', str(home))
    return home


@pytest.fixture(scope='session')
def tiny_pair(tmp_path_factory) -> dict:
    """A tiny random-init Llama teacher (2 layers) and student (1 layer) saved as checkpoint dirs, with the real SmolLM2
    tokenizer: for CLI tests whose assertions are about plumbing (files, ledger, resume), not about what is learnt."""
    from capdistill.core.models import tiny_model

    d = tmp_path_factory.mktemp('tiny_pair')
    shapes = {'teacher': dict(n_layers=2, hidden=64, seed=1), 'student': dict(n_layers=1, hidden=64, seed=2)}
    for name, kw in shapes.items():
        m, tok = tiny_model(**kw)
        m.save_pretrained(d / name)
        tok.save_pretrained(d / name)
    return {'teacher': d / 'teacher', 'student': d / 'student'}


def run_cli(*args, env=None, timeout=1800):
    "Run the installed `capdistill` entry point as a user would."
    exe = Path(sys.executable).parent / 'capdistill'
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)


class ServedTeacher(NamedTuple):
    "A running `transformers serve`: the OpenAI base URL, the `model` name requests must carry, its log, start time."

    base_url: str
    model: str
    log: Path
    start_s: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    "GET /health on loopback, straight through (no proxy settings apply)."
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=2)
    try:
        c.request('GET', '/health')
        return c.getresponse().status == 200
    except OSError:
        return False
    finally:
        c.close()


def stop_process_group(proc: subprocess.Popen, timeout: float = 15):
    "SIGTERM the process group of `proc` (a server, a daemon), SIGKILL if it lingers."
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope='session')
def served_teacher(tmp_path_factory):
    "`transformers serve` of the embedded SmolLM2-135M-Instruct: CPU, 127.0.0.1 only, offline (HF_HUB_OFFLINE=1)."
    from capdistill.core.models import ensure_cached

    model = str(ensure_cached('smollm2-135m-instruct'))  # pinned model: requests must name exactly this string
    tmp, port = tmp_path_factory.mktemp('serve'), _free_port()
    log = tmp / 'serve.log'
    cmd = [str(Path(sys.executable).parent / 'transformers'), 'serve', model,
           '--device', 'cpu', '--host', '127.0.0.1', '--port', str(port)]
    # one CPU thread unless set: on a busy machine OpenMP spin-waits make a request 5-20x slower
    env = {'OMP_NUM_THREADS': '1', **os.environ, 'HF_HUB_OFFLINE': '1', 'HF_HUB_DISABLE_UPDATE_CHECK': '1',
           'HF_HUB_DISABLE_TELEMETRY': '1'}
    t0 = time.monotonic()
    with open(log, 'wb') as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=tmp, start_new_session=True)
    try:
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() - t0 > SERVE_START_TIMEOUT_S:
                why = f'exited with {proc.returncode}' if proc.poll() is not None else 'no answer'
                pytest.fail(f"`{' '.join(cmd)}` did not come up ({why} after {time.monotonic() - t0:.0f} s); "
                            f"log tail:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield ServedTeacher(f'http://127.0.0.1:{port}/v1', model, log, time.monotonic() - t0)
    finally:
        stop_process_group(proc)
