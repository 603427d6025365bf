"""Run every benchmark and write bench/RESULTS.md (measured ratios against the TRL peer, same run)."""
import datetime, importlib, io, sys, contextlib
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, ROOT

BENCHES = ['bench_matmul', 'bench_generation', 'bench_sft', 'bench_kd', 'bench_topk']


def main(only=None):
    out = [f"# Benchmark results\n", f"Measured {datetime.date.today()} on {machine_info()} by `python bench/run_all.py`.",
           "Each line pair was measured in one run; ratios are capdistill / peer.\n"]
    for name in only or BENCHES:
        if not (Path(__file__).parent / f'{name}.py').exists(): continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf): importlib.import_module(name).main()
        text = '\n'.join(l for l in buf.getvalue().splitlines() if not l.startswith('{'))
        out += [f"## {name}\n", "```", text, "```\n"]
        print(text, flush=True)
    (Path(__file__).parent / 'RESULTS.md').write_text('\n'.join(out) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:] or None)
