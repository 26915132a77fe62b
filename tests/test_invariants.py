"""Each invariant, broken on purpose: the run stops with an error naming rule, conversation and time."""

import pytest

import sim
from helpers import make_scenario, make_trace
from sim.engine.compiled import compile_run
from sim.engine.invariants import InvariantError
from sim.engine.world import World


def world(trace, **over):
    return World(compile_run(make_scenario(**over), trace))


def test_a_run_that_keeps_the_rules_passes_every_check():
    result = sim.run("scenarios/default.yaml", strategy=["round_robin", "least_busy", "skill_based"])
    assert len(result.conversations) > 4000  # invariants are on by default; nothing was raised


def test_capacity():
    w = world(make_trace((0, "x"), (1, "y")))
    original = w._assign

    def assign_and_forget_the_agent_is_full(conversation, agent):
        original(conversation, agent)
        agent.team.available[agent] = None  # the bug: a full agent stays available

    w._assign = assign_and_forget_the_agent_is_full
    with pytest.raises(InvariantError, match=r"capacity: conversation 1 \(contact y\) at t=1: agent a already has 1 of 1"):
        w.run()


def test_no_assignment_to_an_offline_agent_when_only_online():
    w = world(make_trace((7300, "x")), agents=[{"id": "a", "team": "support", "shifts": ["01:00-02:00"]}])
    original = w.go_offline

    def go_offline_but_stay_available(agent, until=None):
        original(agent, until)
        agent.team.available[agent] = None  # the bug

    w.go_offline = go_offline_but_stay_available
    with pytest.raises(InvariantError, match=r"only online agents: conversation 0 \(contact x\) at t=7300: agent a is offline"):
        w.run()


def test_a_strategy_returning_a_busy_or_offline_agent_is_caught_not_obeyed():
    busy = make_scenario(strategy="custom_strategy:Faulty", agents=[{"id": "a", "count": 2, "team": "support"}])
    with pytest.raises(InvariantError, match=r"chose Agent\('a-1', open=1/1"):
        sim.run(busy, trace=make_trace((0, "x"), (1, "y")))
    offline = make_scenario(strategy="custom_strategy:Faulty",
                            agents=[{"id": "a", "team": "support", "shifts": ["05:00-06:00"]},
                                    {"id": "b", "team": "support"}])
    with pytest.raises(InvariantError, match=r"chose Agent\('a', open=0/1, online=False\)"):
        sim.run(offline, trace=make_trace((0, "x")))


def test_one_open_conversation_per_contact():
    w = world(make_trace((0, "x"), (10, "x")))

    def open_regardless(contact, channel, root, generation):  # the bug: no check for an open one
        w.invariants.message()
        w.workflow.start(w, w._open(contact, 25, channel, root, generation))

    w.message = open_regardless
    with pytest.raises(InvariantError, match=r"one open conversation per contact: conversation 1 \(contact x\) at t=10"):
        w.run()


def test_exactly_one_outcome():
    w = world(make_trace((0, "x")))
    original = w.handling.resolve

    def resolve_twice(conversation):
        original(conversation)
        original(conversation)

    w.handling.resolve = resolve_twice
    with pytest.raises(InvariantError, match=r"exactly one outcome: conversation 0 \(contact x\) at t=100: closed again"):
        w.run()


def test_timestamps_in_order():
    w = world(make_trace((50, "x")))
    original = w.handling.first_response

    def answer_before_opening(conversation):
        original(conversation)
        conversation.first_response_at = 10.0  # the bug

    w.handling.first_response = answer_before_opening
    with pytest.raises(InvariantError, match=r"timestamps in order: conversation 0 \(contact x\) at t=150: out of order"):
        w.run()


def test_every_arrival_accounted_for():
    w = world(make_trace((0, "x"), (1, "y"), (2, "z")))
    original = w.message

    def lose_one(contact, channel, root, generation):
        if root == 1:
            w.invariants.message()  # delivered, then dropped: the bug
            return
        original(contact, channel, root, generation)

    w.message = lose_one
    with pytest.raises(InvariantError, match="every arrival accounted for: 3 inbound messages delivered, 2 opened or joined"):
        w.run()


def test_littles_law_on_the_queue():
    w = world(make_trace((0, "x"), (1, "y")), contacts={"patience": {"dist": "constant", "value": 30}})

    def abandon_without_leaving_the_books(conversation):
        del conversation.queue[conversation]  # the bug: out of the queue, not through _leave_queue
        conversation.queue = None
        w.close(conversation, 20)

    w._abandon = abandon_without_leaving_the_books
    with pytest.raises(InvariantError, match="Little's law on the queues"):
        w.run()


def test_the_checks_can_be_turned_off_for_benchmarks():
    records = sim.simulate(make_scenario(), trace=make_trace((0, "x")), check=False)
    assert len(records.conversations["id"]) == 1
