"""Hostile code against capdistill.tasks.sandbox: each attack really runs, and the host is checked afterwards."""

import os, signal, socket, time
from pathlib import Path
import pytest
from capdistill.tasks.sandbox import SandboxConfig, SandboxError, bwrap_path, check_python_tests, run_python


def _stat_fields(pid: str):
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None


def group_procs(pgid: int) -> list:
    "Live processes whose process group or session is `pgid`."
    return [
        int(d)
        for d in os.listdir('/proc')
        if d.isdigit() and (f := _stat_fields(d)) and f[0] != 'Z' and pgid in (int(f[2]), int(f[3]))
    ]


def my_children() -> set:
    me = str(os.getpid())
    return {
        int(d) for d in os.listdir('/proc') if d.isdigit() and (f := _stat_fields(d)) and f[1] == me and f[0] != 'Z'
    }


def kernel_guards_here() -> bool:
    g = run_python('pass').guards
    return 'seccomp' in g and any(x.startswith('landlock') for x in g)


@pytest.fixture
def listener():
    "A TCP server really listening on 127.0.0.1 (non-blocking: accept() raises if nobody connected)."
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen()
    srv.setblocking(False)
    yield srv
    srv.close()


def assert_nobody_connected(srv):
    with pytest.raises(BlockingIOError):
        srv.accept()


def test_correct_program_passes():
    r = check_python_tests('def add(a, b):\n    return a + b\n', 'def check(f):\n    assert f(2, 3) == 5\n', 'add')
    assert (r.ok, r.status, r.returncode) == (True, 'passed', 0), r.stderr


def test_wrong_program_fails():
    r = check_python_tests('def add(a, b):\n    return a - b\n', 'def check(f):\n    assert f(2, 3) == 5\n', 'add')
    assert (r.ok, r.status) == (False, 'failed') and 'AssertionError' in r.stderr


def test_infinite_loop_times_out():
    t0 = time.monotonic()
    r = run_python('while True: pass', SandboxConfig(timeout_s=1))
    assert (r.ok, r.status) == (False, 'timeout') and time.monotonic() - t0 < 5
    assert group_procs(r.pid) == []


def test_sleeping_code_times_out():
    r = run_python('import time; time.sleep(60)', SandboxConfig(timeout_s=0.5))
    assert r.status == 'timeout' and r.duration_s < 3


def test_cpu_limit_kills_busy_loop():
    r = run_python('while True: pass', SandboxConfig(timeout_s=20, cpu_s=1))
    assert (r.status, r.returncode) == ('timeout', -signal.SIGXCPU) and r.duration_s < 15


def test_fork_bomb_is_blocked_and_leaves_no_process():
    before = my_children()
    r = run_python('import os\nwhile True: os.fork()')
    assert (r.ok, r.status) == (False, 'blocked') and 'os.fork' in r.violations
    assert group_procs(r.pid) == [] and my_children() - before == set()


def test_stubborn_fork_bomb_is_blocked_and_leaves_no_process():
    before = my_children()
    r = run_python('import os\nwhile True:\n    try: os.fork()\n    except OSError: pass', SandboxConfig(timeout_s=1))
    assert r.status == 'blocked' and group_procs(r.pid) == [] and my_children() - before == set()


@pytest.mark.parametrize(
    'code',
    [
        'import subprocess; subprocess.run(["true"])',
        'import multiprocessing as m; m.Process(target=print).start()',
        'import os; os.posix_spawn("/bin/true", ["true"], {})',
        'import os; os.execv("/bin/true", ["true"])',
    ],
)
def test_process_creation_is_blocked(code):
    assert run_python(code).status == 'blocked'


def test_10gb_allocation_is_memory_error_quickly():
    r = run_python('x = bytearray(10 * 1024**3)')
    assert (r.ok, r.status) == (False, 'memory') and r.duration_s < 3


@pytest.mark.parametrize('how', ['open', 'pathlib', 'os.open', 'symlink'])
def test_write_outside_tempdir_is_blocked(tmp_path, how):
    target = tmp_path / 'pwned.txt'
    code = {
        'open': f'open({str(target)!r}, "w").write("x")',
        'pathlib': f'import pathlib; pathlib.Path({str(target)!r}).write_text("x")',
        'os.open': f'import os; os.open({str(target)!r}, os.O_CREAT | os.O_WRONLY)',
        'symlink': f'import os; os.symlink({str(tmp_path)!r}, "l"); open("l/pwned.txt", "w").write("x")',
    }[how]
    r = run_python(code)
    assert (r.ok, r.status) == (False, 'blocked')
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_network_connection_is_blocked(listener):
    port = listener.getsockname()[1]
    for code in [
        f'import socket; socket.create_connection(("127.0.0.1", {port}), timeout=2)',
        f'import socket; s = socket.socket(); s.connect(("127.0.0.1", {port}))',
    ]:
        r = run_python(code)
        assert (r.ok, r.status) == (False, 'blocked'), code
    assert_nobody_connected(listener)


def test_rm_rf_is_blocked_and_canary_survives(tmp_path):
    canary = tmp_path / 'canary'
    canary.mkdir()
    (canary / 'keep.txt').write_text('still here')
    for code in [
        f'import os; os.system("rm -rf {canary}")',
        "import os; os.system('rm -rf ~')",
        f'import shutil; shutil.rmtree({str(canary)!r})',
        f'import os; os.unlink({str(canary / "keep.txt")!r})',
    ]:
        r = run_python(code)
        assert (r.ok, r.status) == (False, 'blocked'), code
    assert (canary / 'keep.txt').read_text() == 'still here'


def test_home_inside_sandbox_is_its_temp_dir():
    r = run_python('import os; print(os.path.expanduser("~") == os.getcwd() == os.environ["TMPDIR"])')
    assert r.stdout == 'True\n'


def test_signalling_the_host_is_blocked():
    r = run_python(f'import os, signal; os.kill({os.getpid()}, signal.SIGTERM)')
    assert r.status == 'blocked'


def test_output_flood_is_capped():
    r = run_python(
        'import sys\nwhile True: sys.stdout.write("y" * 4096)', SandboxConfig(timeout_s=0.5, max_output_bytes=100)
    )
    assert r.status == 'timeout' and len(r.stdout) < 200 and 'truncated' in r.stdout


@pytest.mark.parametrize('attack', ['fork', 'exec', 'write', 'dir_fd', 'net', 'kill'])
def test_kernel_layer_alone(tmp_path, listener, attack):
    if not kernel_guards_here():
        pytest.skip('no seccomp + Landlock on this machine')
    code = {
        'fork': 'import posix\nif posix.fork() == 0: posix._exit(0)\nprint("forked")',
        'exec': 'import os; os.execv("/bin/true", ["true"])',
        'write': f'open({str(tmp_path / "x")!r}, "w").write("x")',
        'dir_fd': (
            f'import os; d = os.open({str(tmp_path)!r}, os.O_RDONLY); os.open("x", os.O_CREAT | os.O_WRONLY, dir_fd=d)'
        ),
        'net': f'import socket; socket.create_connection(("127.0.0.1", {listener.getsockname()[1]}))',
        'kill': f'import os; os.kill({os.getpid()}, 0); print("could signal the host")',
    }[attack]
    r = run_python(code, SandboxConfig(python_guards=False))
    assert (r.status, r.stdout) == ('failed', '') and 'Error' in r.stderr
    assert list(tmp_path.iterdir()) == []
    assert_nobody_connected(listener)


@pytest.mark.parametrize('attack', ['fork', 'exec', 'write', 'net', 'kill'])
def test_python_layer_alone(tmp_path, listener, attack):
    code = {
        'fork': 'import os\nwhile True: os.fork()',
        'exec': 'import os; os.execv("/bin/true", ["true"])',
        'write': f'open({str(tmp_path / "x")!r}, "w").write("x")',
        'net': f'import socket; socket.create_connection(("127.0.0.1", {listener.getsockname()[1]}))',
        'kill': f'import os; os.kill({os.getpid()}, 0)',
    }[attack]
    # the Python layer alone confines no reads: the weak sandbox must be allowed explicitly
    r = run_python(code, SandboxConfig(kernel_guards=False, bwrap="never", allow_weak_sandbox=True))
    assert r.status == 'blocked'
    assert list(tmp_path.iterdir()) == []
    assert_nobody_connected(listener)


def test_bwrap_when_available():
    if not bwrap_path():
        with pytest.raises(SandboxError, match='apt-get install bubblewrap'):
            run_python('pass', SandboxConfig(bwrap='always'))
        pytest.skip('no working bwrap on PATH')
    r = run_python(
        'import os; print(os.listdir("/tmp") == [os.path.basename(os.getcwd())])', SandboxConfig(bwrap='always')
    )
    assert (r.status, r.stdout, 'bwrap' in r.guards) == ('passed', 'True\n', True)
    assert run_python('import os\nwhile True: os.fork()', SandboxConfig(bwrap='always')).status == 'blocked'
