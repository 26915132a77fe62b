"""Nothing is lost: every arrival is accounted for, every conversation ends in one outcome, in order."""

import numpy as np

from sim.engine import events as ev


def test_every_arrival_opened_a_conversation_or_joined_one(default_result):
    for strategy, group in default_result.conversations.groupby("strategy", observed=True):
        inbound = group[group["source"] == "contact"]
        intervals = default_result.intervals
        arrivals = intervals.loc[intervals["strategy"] == strategy, "arrivals"].sum()
        assert arrivals == inbound["messages"].sum()
        e = default_result.events[default_result.events["strategy"] == strategy]
        opened = ((e["event"] == "conversation_opened") & (e["source"] == "contact")).sum()
        joined = ((e["event"] == "message_joined") & (e["source"] == "contact")).sum()
        assert arrivals == opened + joined


def test_every_conversation_ends_in_exactly_one_outcome(default_result):
    frame = default_result.conversations
    assert frame["outcome"].notna().all()
    assert set(frame["outcome"].astype(str)) <= set(ev.OUTCOMES)
    closed = frame["closed_at"].notna()
    assert (closed == (frame["outcome"] != "open_at_end")).all()
    e = default_result.events
    closes = e[e["event"] == "conversation_closed"].groupby(["strategy", "conversation_id"], observed=True).size()
    assert (closes == 1).all()
    assert len(closes) == closed.sum()


def test_timestamps_are_in_order(default_result):
    frame = default_result.conversations
    opened, assigned = frame["opened_at"], frame["assigned_at"]
    first, closed = frame["first_response_at"], frame["closed_at"]

    def ordered(a, b):
        both = a.notna() & b.notna()
        return bool((a[both] <= b[both]).all())

    assert ordered(opened, assigned) and ordered(assigned, first) and ordered(first, closed)
    assert ordered(opened, closed)
    assert (frame["first_response_at"].isna() | frame["assigned_at"].notna()).all()


def test_outcomes_match_their_milestones(default_result):
    frame = default_result.conversations
    resolved = frame[frame["outcome"] == "resolved"]
    assert resolved["first_response_at"].notna().all() and resolved["agent_id"].notna().all()
    abandoned = frame[frame["outcome"] == "abandoned"]
    assert abandoned["assigned_at"].isna().all() and len(abandoned) > 0
    closed_by_workflow = frame[frame["outcome"] == "closed_by_workflow"]
    assert closed_by_workflow["assigned_at"].isna().all() and len(closed_by_workflow) > 0


def test_littles_law_on_the_queue(default_result):
    # L = lambda W over the day, exactly, when every wait is inside the horizon: the time-average queue
    # length times the horizon equals the sum of the waits.
    for strategy, group in default_result.conversations.groupby("strategy", observed=True):
        waited = group["queued_at"].notna()
        left = group["left_queue_at"].fillna(24 * 3600.0)
        total_wait = (left - group["queued_at"])[waited].sum()
        intervals = default_result.intervals
        area = (intervals.loc[intervals["strategy"] == strategy, "queue_length_mean"] * 900.0).sum()
        assert np.isclose(area, total_wait, rtol=1e-9)
