"""`make demo` without the install: `capdistill demo` then `capdistill read --config configs/read.yaml --fresh` on the
embedded default teacher and pruned student, timed end to end in fresh processes (target #16: <= 5 min on 2 cores)."""

import argparse, json, os, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, machine_info

STEPS = [['demo'], ['read', '--config', 'configs/read.yaml', '--fresh']]


def main():
    exe = Path(sys.executable).with_name('capdistill')
    res = {'steps': {}}
    for args in STEPS:
        t0 = time.perf_counter()
        r = subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, env=os.environ.copy())
        if r.returncode:
            raise RuntimeError(f"capdistill {' '.join(args)} failed:\n{r.stderr[-3000:]}")
        res['steps'][' '.join(args)] = time.perf_counter() - t0
    res['total_s'] = sum(res['steps'].values())
    print(f"make demo without the install ({machine_info()})")
    for k, v in res['steps'].items():
        print(f"  capdistill {k}: {v:.0f} s")
    print(f"  total {res['total_s'] / 60:.1f} min (target <= 5 min)")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
