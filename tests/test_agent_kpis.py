"""The agents' KPIs mean what they say: measured after the warm-up like every other KPI, and the pooled
figures (total busy over total online) named apart from the mean of the agents' own ratios."""

import math
import statistics

import numpy as np
import pytest

import sim
from helpers import make_scenario, make_trace, run
from sim.analysis import theory
from sim.analysis.kpis import KPIS

Z_LIMIT = 4.0  # as convsim validate: |z| beyond this fails, about 6 in 100,000 for a correct simulator


def two_shift_lengths(warmup: str | int = 0) -> sim.Result:
    """One agent online an hour (one slot), one online four hours (two slots), handle times of 100 s:
    c1 and c2 at 0 (one each), c5 at 1750 s (the short-shift agent, the long one being idle is not its
    turn), c3 and c4 at 7200 s (the long-shift agent, both at once: its two slots)."""
    scenario = make_scenario(duration="4h", warmup=warmup, agents=[
        {"id": "short", "team": "support", "shifts": ["00:00-01:00"]},
        {"id": "long", "team": "support", "capacity": 2, "shifts": ["00:00-04:00"]}])
    trace = make_trace((0, "c1"), (0, "c2"), (1750, "c5"), (7200, "c3"), (7200, "c4"))
    return run(scenario, trace, "round_robin")


def test_pooled_occupancy_is_total_busy_over_total_online_not_the_mean_of_the_agents_ratios():
    result = two_shift_lengths()
    agents = result.agents.set_index("agent_id")
    assert result.conversations.set_index("conversation_id")["agent_id"].astype(str).tolist() == [
        "short", "long", "short", "long", "long"]  # as the docstring says: the figures below follow
    # by hand: short online 3600 s with 200 s busy (c1, c5); long online 14400 s, busy 200 s (c2; c3 and c4
    # together), its slots busy 100 + 2 × 100 = 300 s of 2 × 14400
    assert agents.loc["short", ["online_time", "busy_time", "busy_slot_time"]].tolist() == [3600, 200, 200]
    assert agents.loc["long", ["online_time", "busy_time", "busy_slot_time"]].tolist() == [14400, 200, 300]
    summary = result.summary.iloc[0]
    assert summary["occupancy_pooled"] == pytest.approx((200 + 300) / (3600 + 2 * 14400))  # 0.0154
    assert summary["agent_occupancy_mean"] == pytest.approx((200 / 3600 + 300 / 28800) / 2)  # 0.0330
    assert summary["utilisation_pooled"] == pytest.approx((200 + 200) / (3600 + 14400))  # 0.0222
    assert summary["agent_utilisation_mean"] == pytest.approx((200 / 3600 + 200 / 14400) / 2)  # 0.0347
    assert summary["occupancy_pooled"] < summary["agent_occupancy_mean"] / 2  # really two different figures
    # and from the agents table as any analyst would total it
    busy = agents["busy_slot_time"].sum() / (agents["online_time"] * agents["capacity"]).sum()
    assert summary["occupancy_pooled"] == pytest.approx(busy, rel=1e-12)
    assert summary["utilisation_pooled"] == pytest.approx(
        agents["busy_time"].sum() / agents["online_time"].sum(), rel=1e-12)


def test_the_pooled_kpis_are_registered_apart_from_the_means_with_labels_that_say_which():
    for name in ("occupancy_pooled", "utilisation_pooled", "agent_occupancy_mean", "agent_utilisation_mean"):
        assert KPIS[name].unit == "share" and KPIS[name].agents is not None
    assert "mean over agents" in KPIS["agent_occupancy_mean"].label
    assert "online slot-time" in KPIS["occupancy_pooled"].label


def test_the_warm_up_is_cut_from_the_agents_times_to_the_second():
    """The same day with 30 minutes of warm-up: c1 and c2 (0–100 s) fall in it, c5 (1750–1850 s) straddles
    its end and counts 50 s; the agents' online time starts at 1800 s."""
    result = two_shift_lengths(warmup="30m")
    agents = result.agents.set_index("agent_id")
    assert agents.loc["short", ["online_time", "busy_time", "busy_slot_time", "handled"]].tolist() == [1800, 50, 50, 1]
    assert agents.loc["long", ["online_time", "busy_time", "busy_slot_time", "handled"]].tolist() == [12600, 100, 200, 2]
    summary = result.summary.iloc[0]
    assert summary["utilisation_pooled"] == pytest.approx(150 / 14400)
    assert summary["occupancy_pooled"] == pytest.approx(250 / (1800 + 2 * 12600))
    assert summary["agent_utilisation_mean"] == pytest.approx((50 / 1800 + 100 / 12600) / 2)
    assert summary["workload_gini"] == pytest.approx(1 / 6)  # handled 1 and 2


def test_without_a_warm_up_the_agents_table_is_the_whole_run():
    agents = two_shift_lengths().agents.set_index("agent_id")
    assert agents["handled"].tolist() == [2, 3]


def test_agent_utilisation_after_a_warm_up_agrees_with_erlang_a():
    """M/M/10+M at 90 % offered load (handle and patience means 5 minutes), a day of an hour that starts
    empty, its first half hour the warm-up: every agent KPI is Erlang A's occupancy within Z_LIMIT
    standard errors of the mean over 100 fixed-seed days. Counted from the empty start, utilisation reads
    0.764 ± 0.008 against 0.823 (z ≈ −7.7; from the warm-up on, 0.821 ± 0.010): the ramp-up is no steady state."""
    mean, agents, load, patience, days = 300.0, 10, 0.9, 300.0, 100
    rate = load * agents / mean
    scenario = make_scenario(
        duration="1h", warmup="30m", record_events=False,
        arrivals={"generate": {"profile": [rate * 3600], "channels": {"whatsapp": 1}}},
        handling={"handle_time": {"dist": "exponential", "mean": mean}},
        contacts={"patience": {"dist": "exponential", "mean": patience}},
        agents=[{"id": "a", "team": "support", "count": agents}])
    summary = sim.run(scenario, seed=1, replications=days).summary
    exact = theory.ErlangA(rate, mean, agents, patience).occupancy  # 0.8227
    for kpi in ("agent_utilisation_mean", "agent_occupancy_mean", "utilisation_pooled", "occupancy_pooled"):
        values = summary[kpi].to_numpy()
        se = statistics.stdev(values) / math.sqrt(days)
        z = (statistics.fmean(values) - exact) / se
        assert abs(z) < Z_LIMIT, f"{kpi}: {statistics.fmean(values):.4f} ± {se:.4f} against Erlang A's {exact:.4f}"
    assert np.allclose(summary["agent_utilisation_mean"], summary["utilisation_pooled"])  # all online all day


def test_message_level_concurrency_is_cut_at_the_warm_up_as_the_online_time():
    """Each agent's concurrency table (online time by conversations open) adds up to its online time
    after the warm-up, and its writing share stays a share."""
    scenario = make_scenario(
        duration="2h", warmup="40m", record_events=False,
        arrivals={"generate": {"profile": [40], "channels": {"whatsapp": 1}}},
        handling={"mode": "messages", "messages": {
            "reply_time": {"dist": "exponential", "mean": 30}, "think_time": {"dist": "exponential", "mean": 120},
            "resolve_probability": 0.3}},
        agents=[{"id": "a", "team": "support", "count": 2, "capacity": 3}])
    result = sim.run(scenario, seed=3)
    per_agent = result.concurrency.groupby("agent_id", observed=True)["online_time"].sum()
    agents = result.agents.set_index("agent_id")
    assert np.allclose(per_agent.loc[agents.index], agents["online_time"])
    assert np.allclose(agents["online_time"], 7200 - 2400)
    assert ((agents["writing_share"] >= 0) & (agents["writing_share"] <= 1)).all()
