"""Property tests of the `TokenLedger` (#14): random budgets and random charge sequences never overspend a budget, a
refused charge changes nothing, a partial charge takes exactly what fits, and `to_dict`/`from_dict` round-trips; with
teachers' tagged lines (`<category>@<teacher>`) among the categories and budgets, `spent` stays a partition.

The ledger is single-threaded by design (see its notebook): one run owns it, and the only threads in the project (the
OpenAI engine's request pool) return their results to the owning thread, which charges them."""

from hypothesis import given, settings
from hypothesis import strategies as st

from capdistill.core.ledger import CATEGORIES, GROUPS, BudgetExceeded, TokenLedger

TAGGED = ['teacher_gen_prompt@big', 'teacher_gen_completion@big', 'teacher_gen_completion@small']
CHARGEABLE = [*CATEGORIES, *TAGGED]
KEYS = [*CHARGEABLE, *GROUPS]
budgets = st.dictionaries(st.sampled_from(KEYS), st.integers(0, 400), max_size=4)
one = st.tuples(st.just('one'), st.sampled_from(CHARGEABLE), st.integers(0, 150), st.booleans())
many = st.tuples(st.just('many'), st.dictionaries(st.sampled_from(CHARGEABLE), st.integers(0, 150), min_size=1,
                                                  max_size=3))
ops = st.lists(st.one_of(one, many), max_size=60)


def _within(led: TokenLedger) -> bool:
    return all(led.spent_in(k) <= b for k, b in led.budgets.items())


def _apply(led: TokenLedger, op):
    "Apply `op`; check all-or-nothing, partial = what fits, and `fits` agreeing with what happened."
    before = dict(led.spent)
    if op[0] == 'many':
        fits = led.fits_many(op[1])
        try:
            led.charge_many(op[1])
            assert fits
            assert all(led.spent.get(c, 0) == before.get(c, 0) + op[1].get(c, 0) for c in CHARGEABLE)
        except BudgetExceeded:
            assert not fits and led.spent == before
        return
    _, cat, n, partial = op
    room = led.remaining(cat)
    try:
        got = led.charge(cat, n, partial=partial)
        assert got == (n if room is None else min(n, room))
        assert led.spent[cat] == before.get(cat, 0) + got
    except BudgetExceeded:
        assert not partial and room is not None and n > room and led.spent == before


@settings(max_examples=400, deadline=None)
@given(budgets, ops)
def test_random_charges_never_overspend(b, seq):
    led = TokenLedger(budgets=dict(b))
    for op in seq:
        _apply(led, op)
        assert _within(led), (led.to_dict(), op)
        assert sum(led.spent.values()) == led.spent_in('total') + led.spent_in('eval')  # each token in one key
        twin = TokenLedger.from_dict(led.to_dict())
        assert twin.to_dict() == led.to_dict()  # what a checkpoint stores is the whole state
    for c in CHARGEABLE:
        r = led.remaining(c)
        assert r is None or (r >= 0 and led.fits(c, r) and not led.fits(c, r + 1))
