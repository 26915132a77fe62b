"""The closed forms against published values, limits and identities."""

import math

import pytest

from sim.analysis import theory

# The widely reproduced worked case: 100 contacts per 30 minutes, handle 180 s, 14 agents, target 20 s.
RATE, HANDLE, AGENTS = 100 / 1800, 180.0, 14


def test_erlang_c_matches_the_published_case():
    c = theory.ErlangC(RATE, HANDLE, AGENTS)
    assert c.p_wait == pytest.approx(0.174, abs=5e-4)
    assert c.service_level(20) == pytest.approx(0.888, abs=5e-4)
    assert c.occupancy == pytest.approx(0.714, abs=5e-4)
    assert c.mean_wait == pytest.approx(c.p_wait / (AGENTS / HANDLE - RATE))


def test_erlang_a_matches_the_published_case():
    a = theory.ErlangA(RATE, HANDLE, AGENTS, mean_patience=300)
    assert a.p_wait == pytest.approx(0.14526, abs=5e-6)
    assert a.p_abandon == pytest.approx(0.013984, abs=5e-7)
    assert a.mean_wait / 60 == pytest.approx(0.069919, abs=5e-7)


def test_erlang_b_recursion_matches_the_direct_formula():
    load, agents = 7.3, 9
    direct = load**agents / math.factorial(agents) / sum(load**k / math.factorial(k) for k in range(agents + 1))
    assert theory.erlang_b(agents, load) == pytest.approx(direct, rel=1e-12)


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    c = theory.ErlangC(RATE, HANDLE, AGENTS)
    a = theory.ErlangA(RATE, HANDLE, AGENTS, mean_patience=1e7)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-4)
    assert a.service_level_all(20) == pytest.approx(c.service_level(20), rel=1e-4)
    assert a.service_level_answered_of_all(20) == pytest.approx(c.service_level(20), rel=1e-4)
    assert a.p_abandon < 1e-4


def test_the_three_service_levels_are_ordered_and_consistent():
    a = theory.ErlangA(RATE, HANDLE, 12, mean_patience=120)
    t = 30
    answered_of_all = a.service_level_answered_of_all(t)
    assert answered_of_all < a.service_level_all(t)  # abandoning within t counts only in the first
    assert a.service_level_answered_of_answered(t) == pytest.approx(answered_of_all / a.p_answered)
    assert a.service_level_answered_of_all(1e9) == pytest.approx(a.p_answered, rel=1e-9)
    assert a.service_level_all(0) == pytest.approx(1 - a.p_wait, rel=1e-12)


def test_erlang_a_mean_waits_agree_with_their_decomposition():
    a = theory.ErlangA(RATE, HANDLE, 12, mean_patience=120)
    # mean wait of all = answered share × mean wait of answered + abandoned share × mean wait of abandoned;
    # the abandoned wait their patience, given it was shorter than their offered wait: its mean is below
    # the mean patience and above zero
    abandoned_mean = (a.mean_wait - a.p_answered * a.mean_wait_answered) / a.p_abandon
    assert 0 < abandoned_mean < 120


@pytest.mark.parametrize("agents, load, patience", [(200, 194.0, 600.0), (500, 600.0, 300.0), (300, 299.9, None)])
def test_large_and_heavily_loaded_systems_are_stable(agents, load, patience):
    rate = load / HANDLE
    if patience is None:
        model = theory.ErlangC(rate, HANDLE, agents)
        values = [model.p_wait, model.mean_wait, model.service_level(20)]
    else:
        model = theory.ErlangA(rate, HANDLE, agents, patience)
        values = [model.p_wait, model.p_abandon, model.mean_wait, model.mean_wait_answered,
                  model.service_level_answered_of_all(20)]
    assert all(math.isfinite(v) and v >= 0 for v in values)
    assert 0 <= model.p_wait <= 1


def test_fewest_agents_for_a_service_level():
    n = theory.agents_for_service_level(RATE, HANDLE, target=20, level=0.8)
    assert theory.ErlangC(RATE, HANDLE, n).service_level(20) >= 0.8
    assert theory.ErlangC(RATE, HANDLE, n - 1).service_level(20) < 0.8
    with_patience = theory.agents_for_service_level(RATE, HANDLE, 20, 0.8, mean_patience=300)
    assert with_patience <= n  # abandonment shortens the queue
    strict = theory.agents_for_service_level(RATE, HANDLE, 20, 0.8, mean_patience=300, max_abandon=0.001)
    assert theory.ErlangA(RATE, HANDLE, strict, 300).p_abandon <= 0.001 and strict >= with_patience


def test_square_root_staffing():
    beta = theory.halfin_whitt_beta(0.2)
    assert 1 / (1 + beta * theory.stats.norm.cdf(beta) / theory.stats.norm.pdf(beta)) == pytest.approx(0.2)
    load = 400.0
    n = theory.square_root_staffing(load, beta)
    assert n == math.ceil(load + beta * math.sqrt(load))
    # in the Halfin-Whitt regime the rule lands close to the exact P(wait)
    assert theory.ErlangC(load / HANDLE, HANDLE, n).p_wait == pytest.approx(0.2, abs=0.03)


def test_cobham_with_one_class_is_erlang_c():
    for agents, rate in [(1, 0.5 / HANDLE), (AGENTS, RATE), (50, 47 / HANDLE)]:
        priority = theory.PriorityErlangC((rate,), HANDLE, agents)
        assert priority.mean_waits == pytest.approx((theory.ErlangC(rate, HANDLE, agents).mean_wait,), rel=1e-12)


def test_cobham_with_one_agent_is_the_mg1_priority_formula_with_exponential_service():
    # M/G/1 non-preemptive priority: W_k = W0 / ((1 − σ_{k−1})(1 − σ_k)), W0 = Σ λ_i E[S²] / 2, and for an
    # exponential handle time E[S²] = 2 / μ²: computed here from the residual work, not from Erlang C
    rates = (0.1 / HANDLE, 0.3 / HANDLE, 0.45 / HANDLE)
    residual = sum(rate * 2 * HANDLE**2 / 2 for rate in rates)
    sigma = [0.0, *(sum(rates[:k + 1]) * HANDLE for k in range(3))]
    expected = [residual / ((1 - sigma[k]) * (1 - sigma[k + 1])) for k in range(3)]
    assert theory.PriorityErlangC(rates, HANDLE, 1).mean_waits == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("agents, load, shares", [(5, 0.8, (0.3, 0.7)), (20, 0.9, (0.2, 0.3, 0.5)),
                                                   (200, 0.97, (0.1, 0.1, 0.3, 0.5))])
def test_cobham_conserves_the_fcfs_mean_wait_and_orders_the_classes(agents, load, shares):
    total = load * agents / HANDLE
    priority = theory.PriorityErlangC([total * share for share in shares], HANDLE, agents)
    fcfs = theory.ErlangC(total, HANDLE, agents).mean_wait
    weighted = sum(share * wait for share, wait in zip(shares, priority.mean_waits, strict=True))
    assert weighted == pytest.approx(fcfs, rel=1e-12)  # Kleinrock's conservation law, equal service rates
    assert priority.mean_wait == pytest.approx(fcfs, rel=1e-12)
    assert list(priority.mean_waits) == sorted(priority.mean_waits)  # lower classes wait longer
    assert priority.mean_waits[0] < fcfs < priority.mean_waits[-1]


def test_cobham_in_overload_keeps_the_classes_that_fit():
    # total load 1.2 × capacity: the first class (σ = 0.5) is stable, all agents are always busy, so it
    # waits 1 / (n μ) / (1 − 0.5) for the first free agent; the second class grows without bound
    priority = theory.PriorityErlangC((0.5 * 4 / HANDLE, 0.7 * 4 / HANDLE), HANDLE, 4)
    assert priority.mean_waits[0] == pytest.approx(HANDLE / 4 / 0.5, rel=1e-12)
    assert priority.mean_waits[1] == math.inf
