"""Each domain rule of the platform, on a hand-made trace whose right answer is known."""

import numpy as np

from helpers import events_of, make_scenario, make_trace, run


def test_a_message_to_an_open_conversation_joins_it():
    # handle time 100 s: the messages at 10 s and 50 s arrive while the first conversation is open
    result = run(make_scenario(), make_trace((0, "ana"), (10, "ana"), (50, "ana")))
    conversations = result.conversations
    assert len(conversations) == 1
    assert conversations["messages"].tolist() == [3]
    joined = result.events[result.events["event"] == "message_joined"]
    assert joined["conversation_id"].tolist() == [0, 0]
    assert joined["time"].tolist() == [10.0, 50.0]


def test_a_closed_conversation_lets_the_next_message_open_a_new_one():
    result = run(make_scenario(), make_trace((0, "ana"), (99, "ana"), (101, "ana")))
    conversations = result.conversations
    assert conversations["opened_at"].tolist() == [0.0, 101.0]
    assert conversations["closed_at"].tolist() == [100.0, 201.0]
    assert conversations["messages"].tolist() == [2, 1]


def test_each_contact_has_at_most_one_open_conversation(default_result):
    frame = default_result.conversations
    for _, group in frame.groupby(["strategy", "contact_id"], observed=True):
        opened = group["opened_at"].to_numpy()
        closed = group["closed_at"].fillna(np.inf).to_numpy()
        order = np.argsort(opened)
        assert np.all(opened[order][1:] >= closed[order][:-1])


def test_inbound_conversations_run_the_workflow_and_outbound_never_do():
    scenario = make_scenario(
        outbound=[{"at": "5s", "contact_id": "bob", "channel": "webchat", "team": "support"}],
        agents=[{"id": "a", "team": "support", "capacity": 2}],
    )
    result = run(scenario, make_trace((0, "ana"), (20, "bob")))
    frame = result.conversations.set_index("contact_id")
    assert frame.loc["ana", "source"] == "contact"
    assert frame.loc["bob", "source"] == "user"
    started = result.events[result.events["event"] == "workflow_started"]
    assert started["contact_id"].astype(str).tolist() == ["ana"]
    # bob's own message joins the conversation the business opened
    assert frame.loc["bob", "messages"] == 2
    assert frame.loc["bob", "outcome"] == "resolved"


def test_opening_emits_conversation_opened_with_its_source():
    result = run(make_scenario(), make_trace((0, "ana")))
    assert events_of(result, 0)[:2] == [(0.0, "conversation_opened"), (0.0, "workflow_started")]
    opened = result.events[result.events["event"] == "conversation_opened"]
    assert opened["source"].astype(str).tolist() == ["contact"]


def test_the_workflow_ends_at_assignment_and_the_agent_closes():
    result = run(make_scenario(), make_trace((0, "ana")))
    assert [name for _, name in events_of(result, 0)] == [
        "conversation_opened", "workflow_started", "routed", "assigned", "first_response",
        "conversation_closed",
    ]
    row = result.conversations.iloc[0]
    assert (row["outcome"], row["agent_id"], row["closed_at"]) == ("resolved", "a", 100.0)
