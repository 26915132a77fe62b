"""Routing on both sides of the match: conversation selection, several teams, rings, capacity units,
headcount tables, handling by case, draining; each on a small world whose right answer is known."""

import numpy as np
import pytest

import sim
from helpers import make_scenario, make_trace, run
from sim.errors import ScenarioError

TWO_TEAMS = {"teams": {"a": {}, "b": {}}}


def test_priority_with_aging_serves_the_low_class_within_its_bound_where_strict_priority_starves_it():
    # one agent, 100 s a conversation; a regular contact r waits behind a VIP stream that never lets up
    trace = make_trace((0, "v0", {"tier": "vip"}), (0.5, "r", {"tier": "regular"}),
                       *[(50 * k, f"v{k}", {"tier": "vip"}) for k in range(1, 144)])
    common = {"contacts": {"known_fields": ["tier"]}, "duration": "2h"}
    strict = make_scenario(**common, selection={"name": "priority", "field": "tier", "levels": {"vip": 2}})
    aging = make_scenario(**common, selection={"name": "priority", "field": "tier", "levels": {"vip": 2},
                                               "aging": 1, "per": 60})
    starved = run(strict, trace).conversations.set_index("contact_id")
    assert starved.loc["r", "outcome"] == "open_at_end"  # strict priority: r never reaches the agent
    served = run(aging, trace).conversations.set_index("contact_id")
    # r overtakes every VIP that arrived more than gap / aging x per = 120 s after it: only v1 and v2
    # (at 50 s and 100 s) go ahead of it, after v0, so r starts at 300 s
    assert served.loc["r", "assigned_at"] == 300.0
    ahead = served[served["assigned_at"] < 300.0].index.tolist()
    assert sorted(ahead) == ["v0", "v1", "v2"]


def test_strict_priority_takes_the_higher_level_first_and_fifo_within_a_level():
    trace = make_trace((0, "x0", {"tier": "low"}), (1, "l1", {"tier": "low"}), (2, "h1", {"tier": "high"}),
                       (3, "l2", {"tier": "low"}), (4, "h2", {"tier": "high"}))
    scenario = make_scenario(contacts={"known_fields": ["tier"]},
                             selection={"name": "priority", "field": "tier", "levels": {"high": 1}})
    frame = run(scenario, trace).conversations.sort_values("assigned_at")
    assert frame["contact_id"].tolist() == ["x0", "h1", "h2", "l1", "l2"]


def test_bullseye_widens_exactly_at_the_ring_times():
    scenario = make_scenario(**TWO_TEAMS, strategy={"name": "bullseye", "after": [60]},
                             handling={"handle_time": {"dist": "constant", "value": 1000}},
                             agents=[{"id": "a1", "team": "a"}, {"id": "b1", "team": "b"}],
                             workflow=[{"type": "assign", "team": ["a", "b"]}])
    frame = run(scenario, make_trace((0, "x"), (10, "y"), (20, "z"))).conversations.set_index("contact_id")
    assert (frame.loc["x", "agent_id"], frame.loc["x", "assigned_at"]) == ("a1", 0.0)
    assert (frame.loc["y", "agent_id"], frame.loc["y", "assigned_at"]) == ("b1", 70.0)  # ring b opens at 60 s
    assert frame.loc["z", "assigned_at"] == 1000.0  # both busy: the first agent free takes it
    busy = make_scenario(**TWO_TEAMS, strategy={"name": "bullseye", "after": [60], "when_busy": True},
                         handling={"handle_time": {"dist": "constant", "value": 1000}},
                         agents=[{"id": "a1", "team": "a"}, {"id": "b1", "team": "b"}],
                         workflow=[{"type": "assign", "team": ["a", "b"]}])
    at_once = run(busy, make_trace((0, "x"), (10, "y"))).conversations.set_index("contact_id")
    assert (at_once.loc["y", "agent_id"], at_once.loc["y", "assigned_at"]) == ("b1", 10.0)


def test_a_freed_agent_takes_the_longest_waiting_conversation_it_can_serve_across_its_queues():
    # agent m (team a, also serving b) frees at 100 s; b's conversation waited longer than a's
    agents = [{"id": "m", "team": "a", "serves": ["b"]}]
    workflow = [{"type": "branch", "rules": [{"when": {"queue": "b"}, "team": "b"}], "default": "a"},
                {"type": "assign"}]
    trace = make_trace((0, "first", {"queue": "a"}), (5, "in_b", {"queue": "b"}), (9, "in_a", {"queue": "a"}))
    common = {**TWO_TEAMS, "agents": agents, "workflow": workflow, "contacts": {"known_fields": ["queue"]}}
    longest = run(make_scenario(**common, selection="longest_waiting"), trace).conversations.set_index("contact_id")
    assert longest.loc["in_b", "assigned_at"] == 100.0 and longest.loc["in_a", "assigned_at"] == 200.0
    own_first = run(make_scenario(**common), trace).conversations.set_index("contact_id")
    assert own_first.loc["in_a", "assigned_at"] == 100.0 and own_first.loc["in_b", "assigned_at"] == 200.0


def test_capacity_units_are_never_exceeded_and_a_call_takes_the_whole_agent():
    rng = np.random.default_rng(5)
    channels = ["chat", "email", "voice"]
    times = np.sort(rng.uniform(0, 3 * 3600, 400))
    trace = make_trace(*[(t, f"c{i}") for i, t in enumerate(times)])
    trace["channel"] = rng.choice(channels, size=len(trace), p=[0.5, 0.4, 0.1])
    scenario = make_scenario(channels=channels, duration="4h", channel_weights={"email": 0.5, "voice": "all"},
                             arrivals={"generate": {"profile": [0], "channels": {"chat": 1}}},
                             handling={"handle_time": {"dist": "exponential", "mean": 240}},
                             agents=[{"id": "a", "count": 3, "team": "support", "capacity": 2}])
    frame = run(scenario, trace).conversations.dropna(subset=["assigned_at"])
    weight = frame["channel"].map({"chat": 1.0, "email": 0.5, "voice": 2.0}).to_numpy()
    end = frame["closed_at"].fillna(4 * 3600).to_numpy()
    peak = 0.0
    for agent in frame["agent_id"].unique():
        mine = (frame["agent_id"] == agent).to_numpy()
        for t in frame["assigned_at"].to_numpy()[mine]:  # the load just after each assignment
            load = weight[mine & (frame["assigned_at"].to_numpy() <= t) & (end > t)].sum()
            assert load <= 2.0 + 1e-9
            peak = max(peak, load)
    assert peak == 2.0  # busy enough to fill an agent
    voice = frame[frame["channel"] == "voice"]
    for _, call in voice.iterrows():  # nobody else with the agent while a call is on
        same = frame[(frame["agent_id"] == call["agent_id"]) & (frame.index != call.name)]
        overlap = (same["assigned_at"] < call["closed_at"]) & (same["closed_at"].fillna(np.inf) > call["assigned_at"])
        assert not overlap.any()


def test_when_the_headcount_drops_idle_agents_leave_first_and_nobody_takes_new_work_until_it_is_met():
    # two agents 00:00-01:00, one from 01:00; both busy at 01:00 (handle 1000 s), then a new contact
    scenario = make_scenario(duration="3h", handling={"handle_time": {"dist": "constant", "value": 1000}},
                             agents=[{"id": "a", "team": "support",
                                      "headcount": {"periods": [2, 1, 1], "step": "1h"}}])
    frame = run(scenario, make_trace((3000, "x"), (3100, "y"), (3700, "z"))).conversations.set_index("contact_id")
    # x ends at 4000 (a-1 goes offline: two online, headcount one), y ends at 4100 (a-2 now alone takes z)
    assert frame.loc["z", "assigned_at"] == 4100.0
    assert frame.loc["z", "agent_id"] == "a-2"
    agents = run(scenario, make_trace((3000, "x"), (3100, "y"), (3700, "z"))).agents.set_index("agent_id")
    assert agents.loc["a-1", "online_time"] == 4000.0  # stayed until its conversation ended
    assert agents.loc["a-2", "online_time"] == 3 * 3600.0


def test_named_headcount_takes_the_highest_agents_off_at_once():
    scenario = make_scenario(duration="3h", agents=[{"id": "a", "team": "support",
                                                    "headcount": {"periods": [2, 1, 2], "step": "1h",
                                                                  "on_drop": "named"}}])
    agents = run(scenario, make_trace()).agents.set_index("agent_id")
    assert agents["online_time"].to_dict() == {"a-1": 3 * 3600.0, "a-2": 2 * 3600.0}


def test_handle_time_and_patience_by_channel_attribute_and_hours():
    case = {"cases": [{"when": {"channel": "webchat"}, "dist": {"dist": "constant", "value": 40}},
                      {"when": {"tier": "vip"}, "hours": "00:00-01:00", "dist": {"dist": "constant", "value": 20}}],
            "otherwise": {"dist": "constant", "value": 100}}
    scenario = make_scenario(handling={"handle_time": case},
                             agents=[{"id": "a", "count": 5, "team": "support"}])
    trace = make_trace((0, "w"), (10, "v", {"tier": "vip"}), (3700, "late", {"tier": "vip"}), (20, "n"))
    trace.loc[trace["contact_id"] == "w", "channel"] = "webchat"
    frame = run(scenario, trace).conversations.set_index("contact_id")
    handled = (frame["closed_at"] - frame["assigned_at"]).to_dict()
    assert handled == {"w": 40.0, "v": 20.0, "late": 100.0, "n": 100.0}
    bad = make_scenario(handling={"handle_time": {"cases": [{"when": {"intent": "x"}, "dist": {"dist": "constant",
                                                                                               "value": 1}}],
                                                  "otherwise": {"dist": "constant", "value": 1}}})
    with pytest.raises(ScenarioError, match=r"handling.handle_time.cases.0.when: 'intent' is neither 'channel'"):
        run(bad, make_trace((0, "x")))


def test_drain_stops_arrivals_at_the_end_and_runs_until_every_conversation_is_closed():
    scenario = make_scenario(duration="1h", drain=True)
    trace = make_trace(*[(60 * k, f"c{k}") for k in range(60)])
    result = run(scenario, trace)
    frame = result.conversations
    assert (frame["outcome"] == "resolved").all() and len(frame) == 60
    assert frame["closed_at"].max() == 6000.0  # 60 conversations of 100 s, one agent, from t = 0
    assert result.summary.loc[0, "duration"] == 6000.0


def test_an_unknown_selection_policy_is_a_scenario_error_naming_it():
    with pytest.raises(ScenarioError, match="selection: unknown selection 'fastest'; known selections: longest_waiting"):
        sim.simulate(make_scenario(selection="fastest"), trace=make_trace((0, "x")))


def test_contact_types_arrive_by_their_own_profiles_and_share_the_days_busyness():
    from sim.model import arrivals

    scenario = make_scenario(duration="60d", arrivals={"generate": {
        "channels": {"whatsapp": 1}, "profile_step": "12h", "overdispersion": 0.3,
        "types": {"morning": {"profile": [10, 0]}, "evening": {"profile": [0, 20], "channels": {"webchat": 1}}}}})
    trace = arrivals.for_scenario(scenario, seed=3)
    hour = (trace["time"] % 86400) // 3600
    assert set(trace.loc[trace["type"] == "morning", "channel"]) == {"whatsapp"}
    assert set(trace.loc[trace["type"] == "evening", "channel"]) == {"webchat"}
    assert (hour[trace["type"] == "morning"] < 12).all() and (hour[trace["type"] == "evening"] >= 12).all()
    daily = trace.groupby([trace["time"] // 86400, "type"], observed=True).size().unstack()
    # mean per day 120 and 240; a shared Gamma day multiplier (cv 0.3) makes the daily totals move together:
    # correlation 120·240·0.09 / sqrt((120²·0.09 + 120)(240²·0.09 + 240)) = 0.935, its standard error over
    # 60 days about (1 − 0.935²) / sqrt(60) = 0.016; independent multipliers would give about 0
    assert abs(daily["morning"].mean() / 120 - 1) < 4 * 0.3 / np.sqrt(60)
    assert abs(daily["evening"].mean() / 240 - 1) < 4 * 0.3 / np.sqrt(60)
    assert np.corrcoef(daily["morning"], daily["evening"])[0, 1] > 0.7
    with pytest.raises(ScenarioError, match="give exactly one of 'profile' or 'types'"):
        make_scenario(arrivals={"generate": {"channels": {"whatsapp": 1}, "profile": [1],
                                             "types": {"x": {"profile": [1]}}}})


def test_the_multiskill_scenario_overflows_only_type_t1_and_drains_the_day():
    result = sim.run("scenarios/multiskill.yaml")
    frame = result.conversations
    group = frame["agent_id"].astype(str).str.split("-").str[0].where(frame["agent_id"].notna())
    served = frame.assign(group=group).dropna(subset=["group"]).groupby(["type", "group"], observed=True).size()
    assert set(served.loc["t0"].index) == {"g0"} and set(served.loc["t2"].index) == {"g1"}
    assert set(served.loc["t1"].index) == {"g0", "g1"} and served.loc[("t1", "g0")] > served.loc[("t1", "g1")]
    assert (frame["outcome"] != "open_at_end").all()  # drained: every conversation closed
    assert result.summary.loc[0, "duration"] > 12 * 3600
