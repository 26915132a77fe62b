"""Priority classes and overflow between teams, against theory and against independent simulators.

Every comparison is between means over independent replications (each one its own seeds, starting
empty, its first arrivals left out as warm-up, arrivals stopped early enough that everyone counted is
served). The standard error of a mean is the replications' sample standard deviation / √n; two
simulators agree when |difference of means| ≤ 4 × √(se₁² + se₂²), a simulator agrees with a closed
form when |mean − exact| ≤ 4 × se — about 6 in 100,000 false alarms each for a correct simulator.
"""

import statistics
from collections import deque

import ciw
import numpy as np
import pandas as pd
import simpy

from helpers import make_scenario, run
from sim.analysis import theory

HANDLE = 300.0
Z = 4.0


def mean_and_se(samples):
    return statistics.fmean(samples), statistics.stdev(samples) / len(samples) ** 0.5


def agree(ours, theirs):
    """|difference| ≤ Z combined standard errors; the difference and the bound, for the message."""
    (m1, s1), (m2, s2) = mean_and_se(ours), mean_and_se(theirs)
    return abs(m1 - m2) <= Z * (s1**2 + s2**2) ** 0.5, (m1, s1, m2, s2)


def poisson_trace(rng, rates, span, field):
    """Poisson arrivals of each class (``rates``: class → per second) over ``span`` seconds, merged."""
    parts = []
    for name, rate in rates.items():
        times = np.cumsum(rng.exponential(1 / rate, int(rate * span * 1.2) + 100))
        parts.append(pd.DataFrame({"time": times[times < span], field: name}))
    frame = pd.concat(parts).sort_values("time", ignore_index=True)
    frame["contact_id"] = [f"c{i}" for i in range(len(frame))]
    frame["channel"] = "whatsapp"
    return frame


# ------------------------------------------------------------------ two priority classes: M/M/5, load 0.8

AGENTS, LOAD, SHARES = 5, 0.8, {"vip": 0.3, "regular": 0.7}  # highest priority first
RATES = {name: share * LOAD * AGENTS / HANDLE for name, share in SHARES.items()}
SPAN = 9000 / sum(RATES.values())  # about 9,000 arrivals a replication
WARM_UP = 0.1 * SPAN
REPLICATIONS = 12


def convsim_priority_waits(seed):
    trace = poisson_trace(np.random.default_rng(1000 + seed), RATES, SPAN, "tier")
    scenario = make_scenario(duration=SPAN + 1e6, seed=seed, record_events=False,
                             agents=[{"id": "a", "count": AGENTS, "team": "support"}],
                             handling={"handle_time": {"dist": "exponential", "mean": HANDLE}},
                             contacts={"known_fields": ["tier"]},
                             selection={"name": "priority", "field": "tier", "levels": {"vip": 1, "regular": 0},
                                        "aging": 0})
    frame = run(scenario, trace).conversations
    assert frame["left_queue_at"].notna().all()  # nobody censored
    frame = frame[frame["opened_at"] >= WARM_UP]
    waits = frame["left_queue_at"] - frame["opened_at"]
    return {name: float(waits[frame["tier"] == name].mean()) for name in SHARES}


def ciw_priority_waits(seed):
    names = list(SHARES)
    network = ciw.create_network(
        arrival_distributions={name: [ciw.dists.Exponential(RATES[name])] for name in names},
        service_distributions={name: [ciw.dists.Exponential(1 / HANDLE)] for name in names},
        number_of_servers=[AGENTS], priority_classes={name: k for k, name in enumerate(names)})  # 0: highest
    ciw.seed(2000 + seed)
    simulation = ciw.Simulation(network)
    # Ciw's arrivals never stop: run long past SPAN and count only those who arrived within it
    simulation.simulate_until_max_time(SPAN + 200 * HANDLE)
    assert all(person.arrival_date >= SPAN for person in simulation.nodes[1].all_individuals)
    records = [r for r in simulation.get_all_records() if WARM_UP <= r.arrival_date < SPAN]
    return {name: float(np.mean([r.waiting_time for r in records if r.customer_class == name])) for name in names}


def test_two_priority_classes_agree_with_ciw_and_with_cobham():
    ours = [convsim_priority_waits(seed) for seed in range(1, REPLICATIONS + 1)]
    theirs = [ciw_priority_waits(seed) for seed in range(1, REPLICATIONS + 1)]
    cobham = dict(zip(SHARES, theory.PriorityErlangC(list(RATES.values()), HANDLE, AGENTS).mean_waits, strict=True))
    for name in SHARES:
        ok, (m1, s1, m2, s2) = agree([r[name] for r in ours], [r[name] for r in theirs])
        assert ok, f"{name}: convsim {m1:.2f} ± {s1:.2f} s, Ciw {m2:.2f} ± {s2:.2f} s"
        assert abs(m1 - cobham[name]) <= Z * s1, f"{name}: convsim {m1:.2f} ± {s1:.2f} s, Cobham {cobham[name]:.2f}"
        assert abs(m2 - cobham[name]) <= Z * s2, f"{name}: Ciw {m2:.2f} ± {s2:.2f} s, Cobham {cobham[name]:.2f}"
    assert cobham["regular"] > 3 * cobham["vip"]  # the classes are far enough apart for the check to bite


# --------------------------------------------- overflow: queue a to team b at once, b takes the longest wait

GROUPS = {"a": 3, "b": 4}  # agents of each team; team a serves queue a only, team b serves b and a's overflow
ARRIVALS = {"a": 2.8 / HANDLE, "b": 2.9 / HANDLE}  # per second: a alone would be at 0.93, b at 0.73
OVERFLOW_SPAN = 9000 / sum(ARRIVALS.values())
OVERFLOW_WARM_UP = 0.1 * OVERFLOW_SPAN


def hand_overflow(seed):
    """The overflow system in plain SimPy, with its own random numbers: per-queue mean waits and the
    share of queue a's conversations that team b's agents served."""
    rng = np.random.default_rng(3000 + seed)
    env = simpy.Environment()
    free = dict(GROUPS)
    waiting = {"a": deque(), "b": deque()}  # arrival times, oldest first
    served = []  # (queue, arrival, wait, group)

    def start(queue, arrival, group):
        served.append((queue, arrival, env.now - arrival, group))
        env.process(work(group))

    def work(group):
        yield env.timeout(rng.exponential(HANDLE))
        reachable = [q for q in (("a",) if group == "a" else ("a", "b")) if waiting[q]]
        if reachable:  # the longest-waiting conversation the freed agent can serve
            queue = min(reachable, key=lambda q: waiting[q][0])
            start(queue, waiting[queue].popleft(), group)
        else:
            free[group] += 1

    def arrive(queue):
        for group in ("a", "b") if queue == "a" else ("b",):  # a's own agents first, else b's at once
            if free[group]:
                free[group] -= 1
                start(queue, env.now, group)
                return
        waiting[queue].append(env.now)

    def source(queue):
        while True:
            yield env.timeout(rng.exponential(1 / ARRIVALS[queue]))
            if env.now >= OVERFLOW_SPAN:
                return
            arrive(queue)

    for queue in ARRIVALS:
        env.process(source(queue))
    env.run()
    assert not waiting["a"] and not waiting["b"]
    frame = pd.DataFrame(served, columns=["queue", "arrival", "wait", "group"])
    return summarise(frame[frame["arrival"] >= OVERFLOW_WARM_UP])


def summarise(frame):
    a = frame[frame["queue"] == "a"]
    return {"wait_a": float(a["wait"].mean()), "wait_b": float(frame.loc[frame["queue"] == "b", "wait"].mean()),
            "a_served_by_b": float((a["group"] == "b").mean())}


def convsim_overflow(seed):
    trace = poisson_trace(np.random.default_rng(4000 + seed), ARRIVALS, OVERFLOW_SPAN, "queue")
    scenario = make_scenario(
        duration=OVERFLOW_SPAN + 1e6, seed=seed, record_events=False, teams={"a": {}, "b": {}},
        agents=[{"id": team, "count": count, "team": team} for team, count in GROUPS.items()],
        handling={"handle_time": {"dist": "exponential", "mean": HANDLE}}, contacts={"known_fields": ["queue"]},
        strategy={"name": "bullseye", "after": 0}, selection="longest_waiting",
        workflow=[{"type": "branch", "rules": [{"when": {"queue": "b"}, "goto": "to_b"}], "default": "a"},
                  {"type": "assign", "team": ["a", "b"]},
                  {"id": "to_b", "type": "assign", "team": "b"}])
    result = run(scenario, trace)
    frame = result.conversations
    assert frame["left_queue_at"].notna().all()
    group = frame["agent_id"].map(result.agents.set_index("agent_id")["team"])
    frame = pd.DataFrame({"queue": frame["queue"], "arrival": frame["opened_at"],
                          "wait": frame["left_queue_at"] - frame["opened_at"], "group": group})
    assert (frame.loc[frame["queue"] == "b", "group"] == "b").all()  # b's conversations never reach team a
    return summarise(frame[frame["arrival"] >= OVERFLOW_WARM_UP])


def test_overflow_to_a_second_team_agrees_with_a_hand_written_simpy_model():
    ours = [convsim_overflow(seed) for seed in range(1, REPLICATIONS + 1)]
    theirs = [hand_overflow(seed) for seed in range(1, REPLICATIONS + 1)]
    for metric in ("wait_a", "wait_b", "a_served_by_b"):
        ok, (m1, s1, m2, s2) = agree([r[metric] for r in ours], [r[metric] for r in theirs])
        assert ok, f"{metric}: convsim {m1:.4g} ± {s1:.2g}, hand model {m2:.4g} ± {s2:.2g}"
    # the check bites: a real share of a's conversations overflows, and it changes the waits
    share = statistics.fmean(r["a_served_by_b"] for r in ours)
    assert 0.1 < share < 0.5
    alone = theory.ErlangC(ARRIVALS["a"], HANDLE, GROUPS["a"]).mean_wait  # a's wait without overflow
    assert statistics.fmean(r["wait_a"] for r in ours) < alone / 2
