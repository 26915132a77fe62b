"""Each strategy's defining behaviour, on its own and inside the world."""

from types import SimpleNamespace

import pytest

from helpers import make_scenario, make_trace, run
from sim.engine.compiled import compile_run
from sim.engine.invariants import InvariantError
from sim.errors import ScenarioError, StrategyError
from strategies import Strategy, available, make, register, registry
from strategies.base import least_busy


def agent(rank, open=0, idle_since=0.0, skills=None):
    return SimpleNamespace(id=f"a{rank}", rank=rank, open=open, idle_since=idle_since, skills=skills or {})


def conversation(team="t", required=(), queued_at=0.0, last_agent=None):
    return SimpleNamespace(team=team, required_skills=required, queued_at=queued_at, previous_agent=last_agent)


def test_round_robin_rotates_from_the_last_chosen_and_wraps():
    rr = make("round_robin")
    a0, a1, a2 = agent(0), agent(1), agent(2)
    chosen = [rr.choose(conversation(), [a0, a1, a2], 0).rank for _ in range(4)]
    assert chosen == [0, 1, 2, 0]
    assert rr.choose(conversation(), [a0, a2], 0).rank == 2  # after 0 comes 1, busy: skip to 2
    assert rr.choose(conversation(team="other"), [a1, a2], 0).rank == 1  # each team its own rotation


def test_round_robin_rotates_in_the_world_even_when_the_first_agent_is_free():
    scenario = make_scenario(agents=[{"id": "a", "count": 3, "team": "support"}])
    trace = make_trace((0, "w"), (200, "x"), (400, "y"), (600, "z"))
    assert run(scenario, trace, "round_robin").conversations["agent_id"].tolist() == ["a-1", "a-2", "a-3", "a-1"]


def test_least_busy_picks_fewest_open_then_longest_idle():
    lb = make("least_busy")
    busy, light, idle_long, idle_short = agent(0, 2), agent(1, 1), agent(2, 0, 10.0), agent(3, 0, 50.0)
    assert lb.choose(conversation(), [busy, light], 0) is light
    assert lb.choose(conversation(), [busy, idle_short, idle_long, light], 0) is idle_long


def test_least_busy_in_the_world_balances_open_conversations():
    # a-1 is fast (speed 4): by t=30 it has closed its conversation while a-2 still has one open
    scenario = make_scenario(agents=[{"id": "fast", "team": "support", "capacity": 3, "speed": 4},
                                     {"id": "slow", "team": "support", "capacity": 3}])
    trace = make_trace((0, "w"), (10, "x"), (30, "y"))
    assert run(scenario, trace, "least_busy").conversations["agent_id"].tolist() == ["fast", "slow", "fast"]


def test_skill_based_picks_the_best_level_among_those_holding_every_skill():
    sb = make("skill_based")
    novice, expert, other = agent(0, 0, skills={"es": 2}), agent(1, 2, skills={"es": 5}), agent(2, skills={"en": 5})
    assert sb.choose(conversation(required=("es",)), [novice, expert, other], 0) is expert
    assert sb.choose(conversation(required=("de",)), [novice, expert, other], 0) is None
    both = agent(3, skills={"es": 3, "en": 2})
    assert sb.choose(conversation(required=("es", "en")), [expert, both, other], 0) is both


def test_skill_based_relaxes_to_any_agent_after_the_wait():
    sb = make("skill_based", {"relax_after": "2m"})
    other = agent(0, skills={"en": 5})
    assert sb.wake_after == 120.0
    assert sb.choose(conversation(required=("es",), queued_at=0), [other], 119.0) is None
    assert sb.choose(conversation(required=("es",), queued_at=0), [other], 120.0) is other


def test_skill_based_in_the_world_matches_then_relaxes():
    scenario = make_scenario(
        strategy={"name": "skill_based", "relax_after": 30},
        contacts={"known_fields": ["language"]},
        agents=[{"id": "en", "team": "support", "skills": {"en": 5}},
                {"id": "es", "team": "support", "skills": {"es": 5}}],
        workflow=[{"type": "assign", "skills_from": ["language"]}],
    )
    trace = make_trace((0, "x", {"language": "es"}), (10, "y", {"language": "es"}), (20, "z", {"language": "en"}))
    frame = run(scenario, trace).conversations.set_index("contact_id")
    assert frame.loc["x", "agent_id"] == "es"
    # y waits for the Spanish speaker; after 30 s it relaxes, but the English agent is busy with z by then
    assert (frame.loc["z", "agent_id"], frame.loc["z", "assigned_at"]) == ("en", 20.0)
    assert (frame.loc["y", "agent_id"], frame.loc["y", "assigned_at"]) == ("es", 100.0)
    assert frame["skill_match"].tolist() == [True, True, True]

    later = make_trace((0, "x", {"language": "es"}), (10, "y", {"language": "es"}))
    frame = run(scenario, later).conversations.set_index("contact_id")
    assert (frame.loc["y", "agent_id"], frame.loc["y", "assigned_at"], frame.loc["y", "skill_match"]) == (
        "en", 40.0, False)


def test_sticky_returns_to_the_last_agent():
    last = agent(1)
    sticky = make("sticky")
    assert sticky.choose(conversation(last_agent=last), [agent(0), last], 0) is last
    assert sticky.choose(conversation(last_agent=last), [agent(0, 1), agent(2)], 0).rank == 2


def test_longest_idle_and_random():
    assert make("longest_idle").choose(conversation(), [agent(0, 2, 5.0), agent(1, 0, 9.0)], 0).rank == 0
    import numpy as np

    rnd = make("random")
    rnd.prepare(np.random.default_rng(0))
    picks = {rnd.choose(conversation(), [agent(0), agent(1), agent(2)], 0).rank for _ in range(100)}
    assert picks == {0, 1, 2}


def test_the_registry_lists_the_built_ins():
    assert {"round_robin", "least_busy", "skill_based", "random", "longest_idle", "sticky"} <= set(available())


def test_unknown_strategy_and_bad_parameters_are_clear_errors():
    with pytest.raises(StrategyError, match="unknown strategy 'nope'; known strategies: bullseye, least_busy"):
        make("nope")
    with pytest.raises(StrategyError, match=r"parameter relax_after='soon'"):
        make("skill_based", {"relax_after": "soon"})
    with pytest.raises(StrategyError, match="bad parameters"):
        make("least_busy", {"speed": 3})



def test_a_scenario_names_its_strategies_freely_until_it_is_compiled_for_running():
    scenario = make_scenario(strategy="fastest")  # the parser does not consult the registry
    with pytest.raises(ScenarioError, match=r"<scenario>: unknown strategy 'fastest'"):
        compile_run(scenario, make_trace())
    tuned = make_scenario(strategy={"name": "skill_based", "relax_after": "soon"})
    with pytest.raises(ScenarioError, match=r"<scenario>: strategy 'skill_based': parameter relax_after='soon'"):
        compile_run(tuned, make_trace())


def test_a_user_strategy_loads_by_module_and_class():
    scenario = make_scenario(strategy="custom_strategy:HighestRank",
                             agents=[{"id": "a", "count": 3, "team": "support"}])
    frame = run(scenario, make_trace((0, "x"), (1, "y"))).conversations
    assert frame["agent_id"].tolist() == ["a-3", "a-2"]
    with pytest.raises(StrategyError, match="cannot be loaded"):
        make("no_such_module:Thing")


def test_a_strategy_that_picks_a_non_candidate_stops_the_run():
    scenario = make_scenario(strategy="custom_strategy:Faulty", agents=[{"id": "a", "count": 2, "team": "support"}])
    with pytest.raises(InvariantError, match=r"conversation 1 at t=1: strategy .* chose Agent\('a-1'"):
        run(scenario, make_trace((0, "x"), (1, "y")))


def test_the_engine_hands_strategies_what_the_views_promise():
    from strategies.base import AgentView, ConversationView, TeamView

    seen = []

    class Inspector(Strategy):
        def choose(self, conversation, candidates, now):
            seen.append((conversation, list(candidates)))
            return least_busy(candidates)

    register("inspector")(Inspector)
    try:
        run(make_scenario(strategy="inspector", agents=[{"id": "a", "count": 2, "team": "support"}]),
            make_trace((0, "x"), (1, "y")))
    finally:
        registry._BUILT_IN.pop("inspector")
    conversation, candidates = seen[0]
    assert isinstance(conversation, ConversationView) and isinstance(conversation.team, TeamView)
    assert candidates and all(isinstance(agent, AgentView) and isinstance(agent.team, TeamView) for agent in candidates)


def test_a_plain_class_with_choose_is_a_strategy():
    """What the README says is enough: no base class, no prepare()."""
    scenario = make_scenario(strategy="custom_strategy:Plain", agents=[{"id": "a", "count": 3, "team": "support"}])
    frame = run(scenario, make_trace((0, "x"), (1, "y"))).conversations
    assert frame["agent_id"].tolist() == ["a-1", "a-2"]
