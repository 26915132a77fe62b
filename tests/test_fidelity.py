"""The simulator against exact computations, an independent simulator (Ciw), and what theory predicts."""

import heapq
import statistics
import subprocess
import sys
from pathlib import Path

import ciw
import numpy as np
import pandas as pd
import pytest

import sim
from helpers import make_scenario, run
from sim.analysis import theory

HANDLE = 300.0


def poisson_trace(n, rate, seed, **given):
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1 / rate, n))
    frame = pd.DataFrame({"time": times, "contact_id": [f"c{i}" for i in range(n)], "channel": "whatsapp"})
    for column, mean in given.items():
        frame[column] = rng.exponential(mean, n)
    return frame


def mmc(agents, duration, patience=None, seed=1):
    over = {"duration": duration, "seed": seed, "agents": [{"id": "a", "count": agents, "team": "support"}],
            "handling": {"handle_time": {"dist": "exponential", "mean": HANDLE}}, "record_events": False}
    if patience is not None:
        over["contacts"] = {"patience": {"dist": "exponential", "mean": patience}}
    return make_scenario(**over)


def waits_of(result):
    frame = result.conversations.sort_values("conversation_id")
    return (frame["left_queue_at"] - frame["opened_at"]).to_numpy()


def fcfs_waits(arrivals, services, agents):
    """The waits of FCFS with identical servers, by direct recursion over the arrival order."""
    free = [0.0] * agents
    waits = []
    for arrival, service in zip(arrivals, services, strict=True):
        earliest = heapq.heappop(free)
        start = max(arrival, earliest)
        waits.append(start - arrival)
        heapq.heappush(free, start + service)
    return np.array(waits)


@pytest.mark.parametrize("agents", [1, 3, 20])
def test_trace_replay_with_given_handle_times_gives_the_exact_fcfs_waits(agents):
    n = 4000
    trace = poisson_trace(n, 0.95 * agents / HANDLE, seed=agents, handle_time=HANDLE)
    result = run(mmc(agents, trace["time"].iloc[-1] + 1e6), trace, "round_robin")
    expected = fcfs_waits(trace["time"].to_numpy(), trace["handle_time"].to_numpy(), agents)
    assert (expected > 0).mean() > 0.3  # a real queue formed
    np.testing.assert_allclose(waits_of(result), expected, rtol=0, atol=1e-7)


class ByCustomer(ciw.dists.Distribution):
    """A Ciw distribution that gives each customer (by arrival order) its value from a list."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def sample(self, t=None, ind=None):
        return self.values[ind.id_number - 1]


def ciw_waits(trace, agents, patience=None):
    times = trace["time"].to_numpy()
    gaps = np.diff(np.concatenate(([0.0], times))).tolist()
    options = {}
    if patience is not None:
        options["reneging_time_distributions"] = [ByCustomer(trace["patience"].tolist())]
    network = ciw.create_network(arrival_distributions=[ciw.dists.Sequential([*gaps, 1e12])],
                                 service_distributions=[ByCustomer(trace["handle_time"].tolist())],
                                 number_of_servers=[agents], **options)
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(times[-1] + 1e6)
    records = sorted(simulation.get_all_records(), key=lambda r: r.id_number)
    assert [r.id_number for r in records] == list(range(1, len(times) + 1))
    return np.array([r.waiting_time for r in records]), np.array([r.record_type == "renege" for r in records])


@pytest.mark.parametrize("agents, patience", [(1, None), (5, None), (5, 600.0), (20, 200.0)])
def test_ciw_gives_the_same_wait_for_every_customer_on_a_deterministic_replay(agents, patience):
    given = {"handle_time": HANDLE} | ({"patience": patience} if patience else {})
    trace = poisson_trace(3000, 1.05 * agents / HANDLE, seed=7 + agents, **given)
    ours = run(mmc(agents, trace["time"].iloc[-1] + 1e6, patience), trace, "round_robin")
    theirs, reneged = ciw_waits(trace, agents, patience)
    np.testing.assert_allclose(waits_of(ours), theirs, rtol=0, atol=1e-7)
    abandoned = (ours.conversations.sort_values("conversation_id")["outcome"] == "abandoned").to_numpy()
    assert (abandoned == reneged).all()
    if patience:
        assert abandoned.mean() > 0.02


def test_ciw_and_ours_agree_within_error_on_random_mmc_runs():
    agents, load, replications, n = 5, 0.85, 12, 6000
    rate = load * agents / HANDLE
    ours, theirs = [], []
    for seed in range(replications):
        trace = poisson_trace(n, rate, seed=100 + seed)
        # each replication its own seed: handle times are keyed to the scenario's seed and the conversation
        result = run(mmc(agents, trace["time"].iloc[-1] + 1e6, seed=300 + seed), trace, "least_busy")
        ours.append(float(waits_of(result)[n // 10:].mean()))
        network = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(rate)],
                                     service_distributions=[ciw.dists.Exponential(1 / HANDLE)],
                                     number_of_servers=[agents])
        ciw.seed(200 + seed)
        simulation = ciw.Simulation(network)
        simulation.simulate_until_max_customers(n, method="Finish")
        records = sorted(simulation.get_all_records(), key=lambda r: r.arrival_date)
        theirs.append(float(np.mean([r.waiting_time for r in records][n // 10:])))
    difference = statistics.fmean(ours) - statistics.fmean(theirs)
    se = (statistics.variance(ours) / replications + statistics.variance(theirs) / replications) ** 0.5
    assert abs(difference) < 4 * se
    exact = theory.ErlangC(rate, HANDLE, agents).mean_wait
    assert abs(statistics.fmean(ours) - exact) < 4 * statistics.stdev(ours) / replications**0.5


def test_with_identical_agents_the_strategies_change_only_who_works_not_the_customers():
    # At a low load nearly every agent is free at each arrival: round-robin then hands conversations out
    # in strict rotation, least-busy to the longest idle (nearly a rotation too), random as a multinomial.
    agents, n = 8, 3000
    trace = poisson_trace(n, 0.1 * agents / HANDLE, seed=3)
    scenario = make_scenario(duration=trace["time"].iloc[-1] + 1e5, record_events=False,
                             agents=[{"id": "a", "count": agents, "team": "support"}],
                             handling={"handle_time": {"dist": "exponential", "mean": HANDLE}})
    result = sim.run(scenario, strategy=["round_robin", "least_busy", "random"], trace=trace)
    by = {name: group for name, group in result.conversations.groupby("strategy", observed=True)}
    for name in ("least_busy", "random"):
        np.testing.assert_array_equal(waits_of_frame(by[name]), waits_of_frame(by["round_robin"]))
        np.testing.assert_array_equal(by[name]["closed_at"], by["round_robin"]["closed_at"])
    handled = result.agents.groupby("strategy", observed=True)["handled"]
    spread = handled.max() - handled.min()
    multinomial_sd = (n / agents * (1 - 1 / agents)) ** 0.5
    assert spread["round_robin"] <= 5 and spread["least_busy"] <= 10
    assert spread["random"] >= 2 * multinomial_sd


def waits_of_frame(frame):
    return (frame["left_queue_at"] - frame["opened_at"]).to_numpy()


def test_pooling_two_teams_into_one_lowers_the_wait():
    split = {"teams": {"a": {}, "b": {}},
             "agents": [{"id": "a", "count": 5, "team": "a"}, {"id": "b", "count": 5, "team": "b"}],
             "contacts": {"known_fields": ["half"]},
             "workflow": [{"type": "branch", "rules": [{"when": {"half": "a"}, "team": "a"}], "default": "b"},
                          {"type": "assign"}]}
    pooled = {"teams": {"a": {}}, "agents": [{"id": "a", "count": 10, "team": "a"}],
              "workflow": [{"type": "assign"}]}
    differences = []
    for seed in range(8):
        trace = poisson_trace(6000, 0.85 * 10 / HANDLE, seed=50 + seed)
        trace["half"] = np.where(np.random.default_rng(seed).random(len(trace)) < 0.5, "a", "b")
        common = {"duration": trace["time"].iloc[-1] + 1e5, "record_events": False,
                  "handling": {"handle_time": {"dist": "exponential", "mean": HANDLE}}}
        waits = [float(waits_of(run(make_scenario(**common, **over), trace)).mean()) for over in (split, pooled)]
        differences.append(waits[0] - waits[1])
    mean = statistics.fmean(differences)
    se = statistics.stdev(differences) / len(differences) ** 0.5
    assert mean - 4 * se > 0  # the pooled team waits less, beyond doubt
    rate = 0.85 * 10 / HANDLE
    theory_gain = theory.ErlangC(rate / 2, HANDLE, 5).mean_wait - theory.ErlangC(rate, HANDLE, 10).mean_wait
    assert abs(mean - theory_gain) < 4 * se


def test_an_agent_with_three_slots_and_no_slowdown_is_three_agents():
    trace = poisson_trace(4000, 0.9 * 3 / HANDLE, seed=11)
    common = {"duration": trace["time"].iloc[-1] + 1e5, "record_events": False,
              "handling": {"handle_time": {"dist": "exponential", "mean": HANDLE}, "slowdown": 0}}
    one = run(make_scenario(**common, agents=[{"id": "a", "team": "support", "capacity": 3}]), trace)
    three = run(make_scenario(**common, agents=[{"id": "a", "count": 3, "team": "support"}]), trace)
    np.testing.assert_array_equal(waits_of(one), waits_of(three))
    np.testing.assert_array_equal(one.conversations["closed_at"], three.conversations["closed_at"])


def test_convsim_validate_passes_at_the_ci_size():
    convsim = str(Path(sys.executable).parent / "convsim")
    done = subprocess.run([convsim, "validate", "--size", "quick"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["case", "metric"]
    assert sum(line.endswith("pass") for line in lines) >= 60
    assert "0 failed" in lines[-1]
