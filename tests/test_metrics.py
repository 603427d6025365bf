"""pass@k against exact big-integer binomials and a Monte-Carlo draw; accuracy vs capability on random matrices."""

import math, random
import numpy as np
from capdistill.eval.metrics import pass_at_k, pass_at_k_curve, accuracy_vs_capability


def test_pass_at_k_matches_closed_form_up_to_k_256():
    rng = random.Random(0)
    for _ in range(300):
        n = rng.randint(1, 600)
        c = rng.randint(0, n)
        k = rng.randint(1, min(n, 256))
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)  # exact integers, one float division
        assert abs(pass_at_k(n, c, k) - exact) < 1e-10, (n, c, k)


def test_pass_at_k_is_the_probability_that_k_draws_hit_a_correct_sample():
    rng = np.random.default_rng(0)
    n, c, k = 20, 3, 5
    pool = np.array([1] * c + [0] * (n - c))
    mc = np.mean([pool[rng.choice(n, k, replace=False)].any() for _ in range(20000)])
    assert abs(mc - pass_at_k(n, c, k)) < 0.01


def test_capability_is_at_least_accuracy_and_curve_is_monotone():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, size=40) ** 3  # per-question success probabilities
    correct = (rng.uniform(size=(40, 16)) < p[:, None]).astype(int)
    curve = pass_at_k_curve(correct, [1, 2, 4, 8, 16])
    assert all(curve[a] <= curve[b] + 1e-12 for a, b in [(1, 2), (2, 4), (4, 8), (8, 16)])
    r = accuracy_vs_capability(correct, 16, difficulty=np.where(p > 0.2, 'easy', 'hard'))
    assert abs(r['accuracy'] - correct.mean()) < 1e-12 and abs(r['capability'] - (correct.sum(1) > 0).mean()) < 1e-12
    assert r['capability'] >= r['accuracy']
    assert sum(d['n_questions'] for d in r['per_difficulty'].values()) == 40
