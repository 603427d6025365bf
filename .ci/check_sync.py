#!/usr/bin/env python
"""Check (or with --write, bring) the generated files in sync with the notebooks.

1. `nbdev_clean` must leave `nbs/` and `papermill_runs/` unchanged (notebooks committed clean;
   papermill's `parameters` tag survives because settings.ini allows `tags`).
2. `nbdev_export` must then leave `capdistill/` unchanged (exported code committed in sync with `nbs/`;
   it runs after cleaning because exported modules reference the cleaned notebooks' cell ids).
3. README.md must equal the rendering of `nbs/index.ipynb`.

The check compares file contents before/after, so it works on a dirty working tree too.
"""

import hashlib, subprocess, sys, json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def snapshot(*globs):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for g in globs for p in sorted(ROOT.glob(g))}


def changed(before, after):
    return sorted(str(p.relative_to(ROOT)) for p in set(before) | set(after) if before.get(p) != after.get(p))


def render_readme(nb_path):
    "Markdown from index.ipynb: markdown cells verbatim, code cells fenced, `#| hide` cells dropped."
    nb = json.loads(nb_path.read_text())
    parts = ["<!-- generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file -->"]
    for c in nb['cells']:
        src = ''.join(c['source'])
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith('#|')]
        if any(d.replace(' ', '').startswith('#|hide') for d in directives):
            continue
        body = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
        if not body:
            continue
        if c['cell_type'] == 'markdown':
            parts.append(body)
        elif c['cell_type'] == 'code':
            lang = 'sh' if body.startswith('!') else 'python'
            parts.append(f"```{lang}\n{body.lstrip('!') if lang == 'sh' else body}\n```")
    return '\n\n'.join(parts) + '\n'


def layout_problems(readme: str) -> list:
    "README's layout table must match the tree: every stage folder, subpackage and module, and nothing else."
    import re
    problems = []
    rows = [l for l in readme.splitlines() if re.match(r"\| [a-z ]+ \| `nbs/\d\d_", l)]
    for row in rows:
        _, stage, nbs, mods, what, _ = [c.strip() for c in row.split('|')]
        if not nbs.startswith('`nbs/') or not nbs.endswith('/`'):
            continue
        pkg = ROOT / mods.strip('`')
        named = set(re.findall(r"`([a-z_]+)`", what))
        have = {f.stem for f in pkg.glob('*.py') if f.stem != '__init__'}
        if not (ROOT / nbs.strip('`')).is_dir() or not pkg.is_dir():
            problems.append(f"README layout: {nbs} or {mods} does not exist")
        if missing := sorted(have - named):
            problems.append(f"README layout: modules {missing} of {mods} are not described in its row")
    listed = {re.search(r"`nbs/(\d\d_\w+)/`", r).group(1) for r in rows if re.search(r"`nbs/(\d\d_\w+)/`", r)}
    folders = {d.name for d in (ROOT / 'nbs').iterdir() if d.is_dir() and re.match(r"\d\d_", d.name)}
    if folders != listed:
        problems.append(f"README layout: notebook folders {sorted(folders)} but the table lists {sorted(listed)}")
    return problems


OUTPUTS = {'figures/results.md', 'outputs/'}  # written by `capdistill figures` / papermill, named as outputs


def missing_doc_paths(*docs) -> list:
    "Repository paths named in backticks or links in `docs` that do not exist (placeholders and outputs skipped)."
    import re
    out = []
    for doc in docs:
        text = (ROOT / doc).read_text()
        for m in re.findall(r"`([\w./-]+/[\w./-]*)`|\]\(([\w./-]+)\)", text):
            path = m[0] or m[1]
            if path.startswith(('runs/', 'http', '/', '~', '../', 'capdistill-test/')) or '://' in path:
                continue
            if path in OUTPUTS:
                continue
            if not ((ROOT / doc).parent / path).exists() and not (ROOT / path).exists():
                out.append(f"{doc} names {path}, which does not exist")
    return out


def main(write=False):
    problems = []
    nb_globs = ('nbs/**/*.ipynb', 'papermill_runs/*.ipynb')
    before = snapshot(*nb_globs)
    subprocess.run([BIN / 'nbdev_clean'], cwd=ROOT, check=True)
    if (ROOT / 'papermill_runs').exists() and list((ROOT / 'papermill_runs').glob('*.ipynb')):
        subprocess.run([BIN / 'nbdev_clean', '--fname', 'papermill_runs'], cwd=ROOT, check=True)
    if diff := changed(before, snapshot(*nb_globs)):
        problems.append(
            f"nbdev_clean changed {diff}: notebooks were committed unclean. They are cleaned now: commit them."
        )
    before = snapshot('capdistill/**/*.py')
    subprocess.run([BIN / 'nbdev_export'], cwd=ROOT, check=True)
    if diff := changed(before, snapshot('capdistill/**/*.py')):
        problems.append(
            f"nbdev_export changed {diff}: the exported modules were out of sync with nbs/. "
            "They are now regenerated: review and commit them."
        )
    readme = render_readme(ROOT / 'nbs' / 'index.ipynb')
    current = (ROOT / 'README.md').read_text() if (ROOT / 'README.md').exists() else ''
    if readme != current:
        if write:
            (ROOT / 'README.md').write_text(readme)
        problems.append(
            "README.md differs from nbs/index.ipynb" + (": rewritten." if write else ": run `make readme` and commit.")
        )
    for p in problems:
        print('SYNC:', p, file=sys.stderr)
    if not problems:
        print('sync: exported modules, clean notebooks and README all match nbs/')
    return 0 if (write or not problems) else 1


if __name__ == '__main__':
    sys.exit(main(write='--write' in sys.argv))
