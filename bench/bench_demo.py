"""`make demo` without the install: `capdistill demo` then `capdistill read --config configs/read.yaml --fresh` on the
embedded default teacher and pruned student, timed end to end in fresh processes (target #16: <= 5 min on 2 cores),
and where the ReAD run's time goes: its intervals' `step_seconds` (select -> generate -> train -> probe -> reward ->
commit), the rest being setup (loading the models, the teacher's probe answers, the first profile) and the summary."""

import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, machine_info
from capdistill.core.ledger import TokenLedger
from capdistill.core.config import config_from_dict
from capdistill.read.loop import ReadConfig

STEPS = [['demo'], ['read', '--config', 'configs/read.yaml', '--fresh']]


def read_breakdown(run_dir: Path, read_s: float) -> dict:
    """Seconds per interval step, summed over the run's intervals, the rest of the run (`setup and summary`), and the
    teacher tokens the intervals' generate steps were charged (`gen_tokens`: prompt and completion), the answers they
    got and whether they refilled (`gen_refill`)."""
    steps, gen, files = {}, {'prompt': 0, 'completion': 0}, sorted((run_dir / 'intervals').glob('interval_*.json'))
    answers = 0
    for f in files:
        rec = json.loads(f.read_text())
        answers += rec['n_generated']
        for k, v in rec['step_seconds'].items():
            steps[k] = steps.get(k, 0.0) + v
        led = TokenLedger.from_dict(rec['ledger'])
        for k in gen:
            gen[k] += led.spent_in(f'teacher_gen_{k}')  # with routed teachers' tagged lines (teacher_gen_prompt@big)
    refill = config_from_dict(ReadConfig, json.loads((run_dir / 'manifest.json').read_text())['config']).setting(
        'gen_refill')
    return {'intervals': len(files), 'step_s': steps, 'gen_tokens': gen, 'answers': answers, 'gen_refill': refill,
            'setup_and_summary_s': read_s - sum(steps.values())}


def main():
    exe = Path(sys.executable).with_name('capdistill')
    res = {'steps': {}}
    with tempfile.TemporaryDirectory() as tmp:  # the read run's directory (runs/ is left alone)
        for args in STEPS:
            out = ['--output-dir', tmp] if args[0] == 'read' else []
            t0 = time.perf_counter()
            r = subprocess.run([str(exe), *args, *out], cwd=ROOT, capture_output=True, text=True, env=os.environ.copy())
            if r.returncode:
                raise RuntimeError(f"capdistill {' '.join(args)} failed:\n{r.stderr[-3000:]}")
            res['steps'][' '.join(args)] = time.perf_counter() - t0
        res['read'] = read_breakdown(Path(tmp), res['steps'][' '.join(STEPS[1])])
    res['total_s'] = sum(res['steps'].values())
    print(f"make demo without the install ({machine_info()})")
    for k, v in res['steps'].items():
        print(f"  capdistill {k}: {v:.0f} s")
    rd = res['read']
    print(f"  the read run: setup and summary {rd['setup_and_summary_s']:.0f} s; over its {rd['intervals']} intervals "
          + ', '.join(f"{k} {v:.0f} s" for k, v in rd['step_s'].items()))
    g, gen_s = rd['gen_tokens'], rd['step_s'].get('generate', 0)
    if gen_s:
        print(f"  generate: {rd['answers']} answers, {g['completion']} completion tokens ({g['prompt']} prompt) at"
              f" {g['completion'] / gen_s:.1f} tok/s ({'refill' if rd['gen_refill'] else 'rounds'})")
    print(f"  total {res['total_s'] / 60:.1f} min (target <= 5 min)")
    print(json.dumps(res))
    return res


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
