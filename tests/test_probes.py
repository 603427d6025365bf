"""Probes built from the real teacher; the teacher's profile beats the pruned student's on every capability."""
import time
from capdistill.core.models import load_model
from capdistill.read.probes import ProbeConfig, build_probes, profile, profile_vector, save_probes, load_probes
from capdistill.tasks.cards import CAPABILITIES
from capdistill.core.ledger import TokenLedger
from capdistill.teachers.engines import HFEngine


def test_teacher_profile_beats_pruned_student(tmp_path):
    teacher, tok = load_model('smollm2-135m-instruct', device='cpu')
    led = TokenLedger()
    t0 = time.time()
    engine = HFEngine(teacher, tok, 'smollm2-135m-instruct')
    probes = build_probes(engine, ProbeConfig(n_per_capability=6, max_new_tokens=32), ledger=led, progress=False)
    print(f"built {len(probes)} probes in {time.time() - t0:.0f} s")
    probes = load_probes(save_probes(probes, tmp_path / 'probes.jsonl'))
    assert len(probes) == 8 * 6 and all(p['response'].strip() for p in probes)
    pt = profile(teacher, tok, probes, ledger=led)
    student, stok = load_model('smollm2-135m-pruned', device='cpu')
    ps = profile(student, stok, probes, ledger=led)
    print(f"student profile of {len(probes)} probes: {ps['seconds']:.1f} s")
    for c in CAPABILITIES:
        print(f"{c:<18} teacher {pt['loglik'][c]:7.3f}  student {ps['loglik'][c]:7.3f}")
    assert (profile_vector(pt) > profile_vector(ps)).all()
    assert led.spent['eval'] > 0 and led.spent_in('total') == 0      # probes are eval, not method spend
