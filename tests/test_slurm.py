"""The sweep's Slurm path on a real Slurm: a one-node cluster (Debian's `slurm-wlm` + `munge`: munged, slurmctld,
slurmd started here as root, all state in tmp dirs) runs the array script that `capdistill sweep --set slurm=true`
writes, unmodified. Every grid point's results JSON appears and equals the one a local sweep of the same grid writes
(same keys, parameters, metrics, curves); the script written after the array finished is a no-op when submitted.

The grid is the toy ReAD simulator (no model, seconds per run): what is tested is the cluster plumbing, not a model.
CI installs the packages (`.ci/run`); where they are absent the test is skipped."""

import getpass, json, os, shutil, socket, subprocess, tempfile, time
from pathlib import Path
import pytest, yaml
from conftest import run_cli, stop_process_group

pytestmark = pytest.mark.xdist_group('slurm')

BINARIES = ('munged', 'slurmctld', 'slurmd', 'sbatch', 'sinfo', 'scancel')
UP_TIMEOUT_S = 60
JOB_TIMEOUT_S = 600
GRID = dict(
    template='toy_read.ipynb',
    workers=2,
    parameters={'method': ['read', 'uniform']},
    fixed={'seed': 1, 'steps': 6},
    slurm={'gres': '', 'cpus-per-task': 1, 'mem': '200M', 'time': '00:10:00'},  # fits the one small node
)
RUNS = ('method-read', 'method-uniform')


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path='/usr/sbin:/usr/bin:/sbin:/bin')


def _skip_reason() -> str | None:
    missing = [b for b in BINARIES if not _which(b)]
    if missing:
        return f"Slurm/munge not installed (missing {', '.join(missing)}): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return 'slurmd must run as root to start jobs; run as root (CI does)'
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _slurm_conf(d: Path, munge_socket: Path, host: str) -> str:
    "A one-node cluster on loopback: this host is controller and compute node, every file under `d`."
    lines = [
        'ClusterName=capdistill',
        f'SlurmctldHost={host}(127.0.0.1)',
        f'SlurmctldPort={_free_port()}',
        f'SlurmdPort={_free_port()}',
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        f'AuthInfo=socket={munge_socket}',
        f'StateSaveLocation={d / "state"}',
        f'SlurmdSpoolDir={d / "spool"}',
        f'SlurmctldPidFile={d / "slurmctld.pid"}',
        f'SlurmdPidFile={d / "slurmd.pid"}',
        f'SlurmctldLogFile={d / "slurmctld.log"}',
        f'SlurmdLogFile={d / "slurmd.log"}',
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_CPU',
        'MpiDefault=none',
        'ReturnToService=2',
        'AccountingStorageType=accounting_storage/none',
        'JobAcctGatherType=jobacct_gather/none',
        'JobCompType=jobcomp/none',
        'MailProg=/bin/true',
        f'NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} RealMemory=1024 State=UNKNOWN',
        f'PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP',
    ]
    return '\n'.join(lines) + '\n'


def _start(cmd: list, log: Path, env: dict) -> subprocess.Popen:
    "A daemon in the foreground, in its own process group, output into `log`."
    with open(log, 'wb') as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _tails(*paths: Path) -> str:
    return '\n'.join(f"--- {p}:\n{p.read_text(errors='replace')[-2000:]}" for p in paths if p.exists())


def _start_munged(d: Path, env: dict) -> subprocess.Popen:
    "munged with its own key; its socket's directory must be searchable by all (pytest's tmp dirs are 0700)."
    key = d / 'munge.key'
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    sock = d / 'munge.sock'
    cmd = [_which('munged'), '--foreground', f'--socket={sock}', f'--key-file={key}', f"--log-file={d / 'munged.log'}",
           f"--pid-file={d / 'munged.pid'}", f"--seed-file={d / 'munged.seed'}"]
    proc = _start(cmd, d / 'munged.out', env)
    t0 = time.monotonic()
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() - t0 > UP_TIMEOUT_S:
            pytest.fail(f"munged did not come up:\n{_tails(d / 'munged.out', d / 'munged.log')}")
        time.sleep(0.2)
    return proc


def _wait_idle(env: dict, procs: list, logs: list):
    "Until `sinfo` shows the node idle (the daemons found each other and munge works)."
    t0 = time.monotonic()
    while True:
        r = subprocess.run([_which('sinfo'), '-h', '-N', '-o', '%t'], capture_output=True, text=True, env=env)
        if r.stdout.strip() == 'idle':
            return
        if any(p.poll() is not None for p in procs) or time.monotonic() - t0 > UP_TIMEOUT_S:
            pytest.fail(f"the Slurm node did not become idle (sinfo: {r.stdout!r} {r.stderr!r}):\n{_tails(*logs)}")
        time.sleep(0.5)


@pytest.fixture
def slurm(tmp_path):
    "A running one-node cluster: the environment (SLURM_CONF) its clients need; every daemon is stopped after."
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    d = tmp_path / 'slurm'
    (d / 'state').mkdir(parents=True)
    (d / 'spool').mkdir()
    mdir = Path(tempfile.mkdtemp(prefix='capdistill-munge-'))  # short and searchable: a unix socket lives here
    mdir.chmod(0o711)
    env = {**os.environ, 'SLURM_CONF': str(d / 'slurm.conf'), 'OMP_NUM_THREADS': '1'}
    procs = []
    try:
        procs.append(_start_munged(mdir, env))
        host = socket.gethostname().split('.')[0]
        (d / 'slurm.conf').write_text(_slurm_conf(d, mdir / 'munge.sock', host))
        procs.append(_start([_which('slurmctld'), '-D'], d / 'slurmctld.out', env))
        procs.append(_start([_which('slurmd'), '-D', '-N', host], d / 'slurmd.out', env))
        logs = [d / n for n in ('slurmctld.out', 'slurmctld.log', 'slurmd.out', 'slurmd.log')]
        _wait_idle(env, procs, logs)
        yield env
    finally:
        if len(procs) == 3:
            subprocess.run([_which('scancel'), '--user', getpass.getuser()], env=env, capture_output=True, timeout=30)
        for p in reversed(procs):
            stop_process_group(p, timeout=20)
        shutil.rmtree(mdir, ignore_errors=True)


def _grid(tmp: Path) -> Path:
    p = tmp / 'toy.yaml'
    p.write_text(yaml.safe_dump({**GRID, 'output_dir': str(tmp / 'slurm_out')}))
    return p


def _sbatch_wait(script: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([_which('sbatch'), '--wait', str(script)], capture_output=True, text=True, env=env,
                          timeout=JOB_TIMEOUT_S)


def _written_script(grid: Path, env: dict) -> Path:
    "`capdistill sweep --set grid=GRID --set slurm=true`: the path of the script it wrote."
    r = run_cli('sweep', '--set', f'grid={grid}', '--set', 'slurm=true', env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return grid.parent / 'slurm_out' / 'toy.sbatch'


def _comparable(p: Path) -> dict:
    "A results JSON without what legitimately differs between two runs of one grid point."
    res = json.loads(p.read_text())
    return {k: v for k, v in res.items() if k not in ('versions', 'git_sha')}


def test_sweep_slurm_array_runs_on_real_slurm(slurm, tmp_path):
    grid = _grid(tmp_path)
    out = tmp_path / 'slurm_out'
    script = _written_script(grid, slurm)
    assert '#SBATCH --array=0-1%2' in script.read_text() and '#SBATCH --gres' not in script.read_text()
    t0 = time.monotonic()
    r = _sbatch_wait(script, slurm)
    logs = [*out.glob('slurm-*.out'), *out.glob('*.log')]
    assert r.returncode == 0, r.stdout + r.stderr + _tails(*logs)
    print(f"Slurm array of {len(RUNS)}: {time.monotonic() - t0:.0f} s")
    assert len(list(out.glob('slurm-*_*.out'))) == len(RUNS)  # one Slurm output per array task
    # the same grid swept locally: the same files, the same results
    r = run_cli('sweep', '--set', f'grid={grid}', '--output-dir', tmp_path / 'local_out', timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    for name in RUNS:
        assert (out / f'{name}.ipynb').exists() and (out / f'{name}.log').exists()
        assert set(json.loads((out / f'{name}.json').read_text())) == set(
            json.loads((tmp_path / 'local_out' / f'{name}.json').read_text())
        )
        assert _comparable(out / f'{name}.json') == _comparable(tmp_path / 'local_out' / f'{name}.json')
    # resume: every run finished, so the script written now has none; submitting it changes nothing
    before = {p: p.stat().st_mtime for p in out.glob('*.json')}
    script = _written_script(grid, slurm)
    assert '0 unfinished run(s)' in script.read_text()
    r = _sbatch_wait(script, slurm)
    assert r.returncode == 0, r.stdout + r.stderr + _tails(*out.glob('slurm-*.out'))
    assert {p: p.stat().st_mtime for p in out.glob('*.json')} == before
