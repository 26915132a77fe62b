"""Agents, capacity, the team queue, patience, shifts, auto-close and returning contacts."""

import numpy as np
import pytest

from helpers import events_of, make_scenario, make_trace, run


def open_counts(result):
    """Per strategy and agent, the most conversations open at once, from the event log."""
    e = result.events
    e = e[e["event"].isin(["assigned", "conversation_closed", "handed_back"]) & e["agent_id"].notna()]
    step = np.where(e["event"] == "assigned", 1, -1)
    frame = e.assign(step=step).sort_values(["time", "step"], kind="stable")  # closes before assigns at a tie
    return frame.groupby(["strategy", "agent_id"], observed=True)["step"].apply(lambda s: s.cumsum().max())


def test_capacity_is_never_exceeded(default_result):
    peaks = open_counts(default_result)
    capacity = default_result.agents.set_index(["strategy", "agent_id"])["capacity"]
    joined = capacity.loc[peaks.index]
    assert (peaks <= joined).all()
    assert (peaks == joined).any()  # the day is busy enough to fill someone


def test_capacity_allows_concurrent_conversations_up_to_it():
    scenario = make_scenario(agents=[{"id": "a", "team": "support", "capacity": 2}])
    frame = run(scenario, make_trace((0, "x"), (1, "y"), (2, "z"))).conversations
    assert frame["assigned_at"].tolist() == [0.0, 1.0, 100.0]


def test_a_contact_who_waits_past_patience_abandons_and_leaves_the_queue():
    scenario = make_scenario(contacts={"patience": {"dist": "constant", "value": 30}})
    result = run(scenario, make_trace((0, "x"), (10, "y"), (20, "z")))
    frame = result.conversations.set_index("contact_id")
    assert frame.loc["y", "outcome"] == "abandoned"
    assert frame.loc["y", "closed_at"] == 40.0
    assert frame.loc["y", "agent_id"] != frame.loc["y", "agent_id"]  # never assigned
    assert frame.loc["z", "outcome"] == "abandoned"
    assert events_of(result, 1)[-2:] == [(40.0, "abandoned"), (40.0, "conversation_closed")]
    # patience does not run once assigned: x is served past 30 s
    assert frame.loc["x", "outcome"] == "resolved"


def test_the_queue_is_served_oldest_first():
    frame = run(make_scenario(), make_trace((0, "x"), (1, "y"), (2, "z"))).conversations
    assert frame.set_index("contact_id")["assigned_at"].to_dict() == {"x": 0.0, "y": 100.0, "z": 200.0}


def test_shifts_bring_agents_online_and_finish_open_work_at_the_end():
    scenario = make_scenario(agents=[{"id": "a", "team": "support", "shifts": ["01:00-02:00"]}])
    # x arrives before the shift; y is assigned 50 s before it ends and finished after; z comes too late
    trace = make_trace((0, "x"), (7150, "y"), (7190, "z"))
    frame = run(scenario, trace).conversations.set_index("contact_id")
    assert frame.loc["x", "assigned_at"] == 3600.0
    assert (frame.loc["y", "assigned_at"], frame.loc["y", "closed_at"]) == (7150.0, 7250.0)
    assert frame.loc["z", "outcome"] == "open_at_end"
    assert np.isnan(frame.loc["z", "assigned_at"])
    agents = run(scenario, trace).agents.set_index("agent_id")
    assert agents.loc["a", "online_time"] == 3600.0
    assert agents.loc["a", "overtime"] == 50.0


def test_handback_at_shift_end_reassigns_the_open_conversations():
    scenario = make_scenario(
        on_shift_end="handback",
        agents=[{"id": "early", "team": "support", "shifts": ["00:00-01:00"]},
                {"id": "late", "team": "support", "shifts": ["01:00-02:00"]}],
    )
    result = run(scenario, make_trace((3550, "x")))
    row = result.conversations.iloc[0]
    # 50 s of the 100 s done by early; late finishes the other 50 s
    assert (row["agent_id"], row["handbacks"], row["closed_at"]) == ("late", 1, 3650.0)
    assert (3600.0, "handed_back") in events_of(result, 0)


def test_handle_time_stretches_with_concurrent_load_and_shrinks_with_speed():
    scenario = make_scenario(handling={"slowdown": 0.5},
                             agents=[{"id": "a", "team": "support", "capacity": 2, "speed": 2}])
    frame = run(scenario, make_trace((0, "x"), (1, "y"))).conversations
    # x alone: 100 / 2 = 50 s; y with x open: 100 * (1 + 0.5) / 2 = 75 s
    assert frame["closed_at"].tolist() == [50.0, 76.0]


def test_first_response_delay_comes_before_the_handle_time():
    scenario = make_scenario(handling={"first_response": {"dist": "constant", "value": 20}})
    row = run(scenario, make_trace((0, "x"))).conversations.iloc[0]
    assert (row["first_response_at"], row["closed_at"]) == (20.0, 120.0)


def test_silent_contacts_auto_close_and_a_reply_cancels_it():
    scenario = make_scenario(contacts={"silent_share": 1}, handling={"auto_close": "30m"})
    result = run(scenario, make_trace((0, "x"), (5000, "y"), (5600, "y")))
    frame = result.conversations.set_index("contact_id")
    assert (frame.loc["x", "outcome"], frame.loc["x", "closed_at"]) == ("auto_closed", 1800.0)
    # y replies 600 s into the silence: the conversation goes on and is resolved 100 s later
    assert (frame.loc["y", "outcome"], frame.loc["y", "closed_at"]) == ("resolved", 5700.0)


def test_returning_contacts_open_a_new_conversation_and_workflow():
    scenario = make_scenario(duration="1h",
                             contacts={"returning": {"probability": 1, "delay": {"dist": "constant", "value": 900}}})
    result = run(scenario, make_trace((0, "x")))
    frame = result.conversations
    assert frame["opened_at"].tolist() == [0.0, 1000.0, 2000.0, 3000.0]
    assert frame["generation"].tolist() == [0, 1, 2, 3]
    assert (result.events["event"] == "workflow_started").sum() == 4


@pytest.mark.parametrize("strategy", ["round_robin", "least_busy", "skill_based", "random", "longest_idle",
                                      "sticky"])
def test_every_strategy_runs_the_default_day_within_capacity(strategy):
    import sim

    result = sim.run("scenarios/default.yaml", strategy=strategy)
    peaks = open_counts(result)
    capacity = result.agents.set_index(["strategy", "agent_id"])["capacity"]
    assert (peaks <= capacity.loc[peaks.index]).all()
    assert result.summary.loc[0, "conversations_closed"] > 1000
