"""Issue #14, sandbox: reads are confined (bubblewrap or Landlock), native writes and environment leaks are contained,
and with no confining layer the sandbox refuses to run unless the weaker sandbox is allowed explicitly."""

import subprocess
from pathlib import Path
import pytest
import capdistill.tasks.sandbox as sb
from capdistill.core.config import project_root
from capdistill.tasks.sandbox import ALLOW_WEAK_ENV, SandboxConfig, SandboxError, bwrap_path, landlock_abi, run_python

SECRETS = ('PLANTED-SECRET', 'ENV-SECRET', 'root:')


def _layer(name: str) -> SandboxConfig:
    "A config with `name` as the only layer confining reads (Python guards off), or skip naming the missing layer."
    if name == 'landlock':
        if not landlock_abi():
            pytest.skip('layer Landlock: this kernel has none')
        return SandboxConfig(python_guards=False, bwrap='never')
    if name == 'bwrap':
        if not bwrap_path():
            pytest.skip('layer bubblewrap: no working bwrap on PATH (apt-get install bubblewrap)')
        return SandboxConfig(python_guards=False, kernel_guards=False, bwrap='always')
    return SandboxConfig()  # 'default': every layer this machine has


@pytest.fixture
def planted(tmp_path):
    "A secret file in a host folder outside the sandbox's temp dir."
    p = tmp_path / 'secret.txt'
    p.write_text('PLANTED-SECRET-5b1c')
    return p


@pytest.fixture
def env_secret(monkeypatch):
    "A secret in this process's environment, and the pid of a live process that has it in its /proc environ."
    monkeypatch.setenv('CAPDISTILL_TEST_SECRET', 'ENV-SECRET-8f3a')
    helper = subprocess.Popen(['sleep', '60'])
    yield helper.pid
    helper.kill()
    helper.wait()


def _dotfile() -> Path:
    home = Path.home()
    return next((p for p in (home / '.bashrc', home / '.profile') if p.is_file()), home / '.bashrc')


@pytest.mark.parametrize('layer', ['default', 'landlock', 'bwrap'])
def test_secret_files_cannot_be_read(layer, planted, env_secret):
    cfg = _layer(layer)
    files = ['/etc/shadow', '/etc/hostname', _dotfile(), planted, project_root() / 'settings.ini',
             f'/proc/{env_secret}/environ']
    for f in files:
        r = run_python(f'print(open({str(f)!r}, "rb").read())', cfg)
        assert r.status in ('failed', 'blocked') and r.stdout == '', (f, r.status, r.stdout[:200])
        assert not any(s in r.stdout + r.stderr for s in SECRETS), f
        assert 'PermissionError' in r.stderr or 'FileNotFoundError' in r.stderr, (f, r.stderr[-300:])


@pytest.mark.parametrize('layer', ['default', 'landlock', 'bwrap'])
def test_parent_environment_does_not_leak(layer, env_secret):
    r = run_python('import os; print(sorted(os.environ.items()))', _layer(layer))
    assert r.status == 'passed' and 'ENV-SECRET' not in r.stdout and 'CAPDISTILL_TEST_SECRET' not in r.stdout


@pytest.mark.parametrize('layer', ['default', 'landlock', 'bwrap'])
@pytest.mark.parametrize('how', ['sqlite', 'sqlite_uri', 'ctypes'])
def test_native_writes_outside_tempdir_are_contained(tmp_path, layer, how):
    target = tmp_path / 'pwned.db'
    create = '.execute("create table t(x)")'
    code = {
        'sqlite': f'import sqlite3; sqlite3.connect({str(target)!r}){create}',
        'sqlite_uri': f'import sqlite3; sqlite3.connect("file:{target}?mode=rwc", uri=True){create}',
        'ctypes': f'import ctypes; print(ctypes.CDLL(None).open({str(target).encode()!r}, 0o101, 0o644))',
    }[how]
    r = run_python(code, _layer(layer))
    assert r.stdout in ('', '-1\n') and not target.exists() and list(tmp_path.iterdir()) == [], (r.status, r.stderr)


def test_sqlite_inside_tempdir_still_works():
    r = run_python('import sqlite3; c = sqlite3.connect("ok.db"); c.execute("create table t(x)"); print("ok")')
    assert (r.status, r.stdout) == ('passed', 'ok\n'), r.stderr


def test_interpreter_still_works_with_reads_confined():
    "numpy, stdlib imports, threads, tracebacks (they read the source) under the default layers."
    r = run_python('import numpy, json, decimal, threading, zoneinfo\nprint(int(numpy.arange(4).sum()))\n1/0')
    assert r.status == 'failed' and r.stdout == '6\n' and 'ZeroDivisionError' in r.stderr and '1/0' in r.stderr


def test_refuses_without_bwrap_and_landlock(monkeypatch):
    monkeypatch.delenv(ALLOW_WEAK_ENV, raising=False)
    monkeypatch.setattr(sb, 'landlock_abi', lambda: 0)  # a kernel without Landlock
    with pytest.raises(SandboxError, match=r"bubblewrap \(bwrap='never'\) and Landlock \(kernel .* has none"):
        run_python('print(1)', SandboxConfig(bwrap='never'))
    with pytest.raises(SandboxError, match=r'Landlock \(kernel_guards=False\)'):
        run_python('print(1)', SandboxConfig(bwrap='never', kernel_guards=False))
    if not bwrap_path():
        with pytest.raises(SandboxError, match='no working `bwrap` on PATH: apt-get install bubblewrap'):
            run_python('print(1)')


def test_weak_sandbox_runs_only_when_allowed(monkeypatch):
    monkeypatch.delenv(ALLOW_WEAK_ENV, raising=False)
    monkeypatch.setattr(sb, 'landlock_abi', lambda: 0)
    r = run_python('print(1)', SandboxConfig(bwrap='never', allow_weak_sandbox=True))
    assert (r.status, r.stdout) == ('passed', '1\n') and 'bwrap' not in r.guards
    monkeypatch.setenv(ALLOW_WEAK_ENV, '1')
    assert run_python('print(1)', SandboxConfig(bwrap='never', kernel_guards=False)).stdout == '1\n'


def test_child_refuses_when_landlock_fails_to_apply():
    "The host saw Landlock but the child cannot apply it (a rule on a pipe fails): no code runs."
    if not landlock_abi():
        pytest.skip('layer Landlock: this kernel has none')
    cfg = SandboxConfig(bwrap='never', read_paths=['/proc/self/fd/1'])  # the child's stdout: a pipe
    with pytest.raises(SandboxError, match='refusing to run untrusted code.*Landlock'):
        run_python('open("ran.txt", "w").write("x")', cfg)
    cfg = SandboxConfig(bwrap='never', read_paths=['/proc/self/fd/1'], allow_weak_sandbox=True)
    with pytest.warns(RuntimeWarning, match='landlock failed'):
        r = run_python('print(1)', cfg)
    assert r.stdout == '1\n'


def test_bwrap_mounts_only_the_read_roots():
    if not bwrap_path():
        pytest.skip('layer bubblewrap: no working bwrap on PATH (apt-get install bubblewrap)')
    r = run_python('import os; print(sorted(os.listdir("/")), os.path.exists("/etc/shadow"))', _layer('bwrap'))
    assert r.status == 'passed' and 'False' in r.stdout and "'home'" not in r.stdout, r.stdout
