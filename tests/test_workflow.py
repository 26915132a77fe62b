"""Each inbound workflow step, on one or two conversations whose path is known."""

from helpers import events_of, make_scenario, make_trace, run

CONSTANT = {"dist": "constant", "value": 10}
TWO_TEAMS = {"sales": {}, "support": {}}
TWO_AGENTS = [{"id": "s", "team": "sales"}, {"id": "t", "team": "support"}]


def names(result, conversation_id=0):
    return [name for _, name in events_of(result, conversation_id)]


def test_ask_answered_sets_the_field_from_the_trace_and_routes_on_it():
    scenario = make_scenario(teams=TWO_TEAMS, agents=TWO_AGENTS, workflow=[
        {"type": "ask", "field": "intent", "answers": {"sales": 1}, "duration": CONSTANT},
        {"type": "branch", "rules": [{"when": {"intent": "support"}, "team": "support"}], "default": "sales"},
        {"type": "assign"},
    ])
    # the trace says what the contact wants: support, though the shares would say sales
    result = run(scenario, make_trace((0, "ana", {"intent": "support"})))
    assert events_of(result, 0)[2:5] == [(0.0, "question_asked"), (10.0, "question_answered"), (10.0, "routed")]
    assert result.conversations.loc[0, "team"] == "support"


def test_ask_answer_drawn_from_shares_when_the_trace_lacks_the_field():
    scenario = make_scenario(teams=TWO_TEAMS, agents=TWO_AGENTS, workflow=[
        {"type": "ask", "field": "intent", "answers": {"sales": 1, "support": 0}},
        {"type": "branch", "rules": [{"when": {"intent": "sales"}, "team": "sales"}], "default": "support"},
        {"type": "assign"},
    ])
    assert run(scenario, make_trace((0, "ana"))).conversations.loc[0, "team"] == "sales"


def test_ask_unanswered_times_out_and_takes_its_branch():
    scenario = make_scenario(workflow=[
        {"type": "ask", "field": "intent", "answers": {"x": 1}, "answer_probability": 0, "timeout": "2m",
         "on_no_answer": "give_up"},
        {"type": "assign"},
        {"type": "close", "id": "give_up", "category": "no_answer"},
    ])
    result = run(scenario, make_trace((0, "ana")))
    assert events_of(result, 0)[2:4] == [(0.0, "question_asked"), (120.0, "question_timeout")]
    row = result.conversations.iloc[0]
    assert (row["outcome"], row["category"], row["closed_at"]) == ("closed_by_workflow", "no_answer", 120.0)


def test_an_answer_slower_than_the_timeout_is_a_timeout():
    scenario = make_scenario(workflow=[
        {"type": "ask", "field": "intent", "answers": {"x": 1}, "duration": {"dist": "constant", "value": 200},
         "timeout": 60},
        {"type": "assign"},
    ])
    result = run(scenario, make_trace((0, "ana")))
    assert (60.0, "question_timeout") in events_of(result, 0)
    assert result.conversations.loc[0, "assigned_at"] == 60.0


def test_lookup_sets_fields_after_its_latency():
    scenario = make_scenario(teams=TWO_TEAMS, agents=TWO_AGENTS, workflow=[
        {"type": "lookup", "fields": {"tier": {"vip": 1}}, "duration": {"dist": "constant", "value": 2}},
        {"type": "branch", "rules": [{"when": {"tier": ["vip", "gold"]}, "team": "sales"}], "default": "support"},
        {"type": "assign"},
    ])
    result = run(scenario, make_trace((0, "ana")))
    assert (2.0, "lookup_done") in events_of(result, 0)
    assert result.conversations.loc[0, "team"] == "sales"


def test_lookup_failure_takes_its_branch():
    scenario = make_scenario(workflow=[
        {"type": "lookup", "fields": {"tier": {"vip": 1}}, "failure_probability": 1, "on_failure": "fail"},
        {"type": "assign"},
        {"type": "close", "id": "fail", "category": "crm_down"},
    ])
    result = run(scenario, make_trace((0, "ana")))
    assert "lookup_failed" in names(result)
    assert result.conversations.loc[0, "category"] == "crm_down"


def test_branch_rules_in_order_then_default():
    scenario = make_scenario(teams={"sales": {}, "support": {}, "vip": {}},
                             agents=[*TWO_AGENTS, {"id": "v", "team": "vip"}],
                             contacts={"known_fields": ["intent", "tier"]},
                             workflow=[
        {"type": "branch", "default": "support", "rules": [
            {"when": {"tier": "vip"}, "team": "vip"},
            {"when": {"intent": "sales"}, "team": "sales"},
        ]},
        {"type": "assign"},
    ])
    trace = make_trace((0, "a", {"intent": "sales", "tier": "vip"}), (1, "b", {"intent": "sales", "tier": "std"}),
                       (2, "c", {"intent": "help", "tier": "std"}))
    teams = run(scenario, trace).conversations.set_index("contact_id")["team"]
    assert teams.to_dict() == {"a": "vip", "b": "sales", "c": "support"}


def test_hours_outside_business_hours_takes_its_branch():
    scenario = make_scenario(duration="2d", workflow=[
        {"type": "hours", "open": "09:00", "close": "17:00", "days": ["mon"], "outside": "closed"},
        {"type": "assign"},
        {"type": "close", "id": "closed", "category": "out_of_hours"},
    ])
    # Monday 08:00 (before opening), Monday 10:00 (open), Tuesday 10:00 (not a business day)
    trace = make_trace((8 * 3600, "a"), (10 * 3600, "b"), (34 * 3600, "c"))
    frame = run(scenario, trace).conversations.set_index("contact_id")
    assert frame["category"].astype(str).to_dict() == {"a": "out_of_hours", "b": "resolved", "c": "out_of_hours"}
    assert frame.loc["a", "outcome"] == "closed_by_workflow"


def test_bot_resolves_or_hands_over():
    steps = [{"type": "bot", "resolve_probability": 1, "duration": CONSTANT}, {"type": "assign"}]
    resolved = run(make_scenario(workflow=steps), make_trace((0, "ana"))).conversations.iloc[0]
    assert (resolved["outcome"], resolved["closed_at"], resolved["bot"]) == ("bot_resolved", 10.0, True)
    assert resolved["agent_id"] != resolved["agent_id"]  # no agent (NaN)

    steps[0]["resolve_probability"] = 0
    handed = run(make_scenario(workflow=steps), make_trace((0, "ana")))
    assert events_of(handed, 0)[2:5] == [(0.0, "bot_started"), (10.0, "bot_handover"), (10.0, "routed")]
    assert handed.conversations.loc[0, "outcome"] == "resolved"


def test_assign_timeout_runs_the_fallback_branch():
    scenario = make_scenario(teams=TWO_TEAMS, agents=[{"id": "s", "team": "sales"}, {"id": "t", "team": "support"}],
                             workflow=[
        {"type": "assign", "team": "sales", "timeout": 30, "on_timeout": "overflow"},
        {"type": "close", "category": "never_here"},
        {"type": "assign", "id": "overflow", "team": "support"},
    ])
    # ana takes the only sales agent for 100 s; bob waits 30 s for sales, then overflows to support
    result = run(scenario, make_trace((0, "ana"), (1, "bob")))
    bob = result.conversations.set_index("contact_id").loc["bob"]
    assert (bob["team"], bob["agent_id"], bob["assigned_at"]) == ("support", "t", 31.0)
    assert (31.0, "assign_timeout") in events_of(result, 1)


def test_assign_only_agents_with_fewer_than_max_open():
    scenario = make_scenario(agents=[{"id": "a", "team": "support", "capacity": 3}],
                             workflow=[{"type": "assign", "max_open": 1}])
    frame = run(scenario, make_trace((0, "x"), (1, "y"))).conversations
    assert frame["assigned_at"].tolist() == [0.0, 100.0]  # y waits for x to close though a slot is free


def test_assign_without_only_online_may_pick_an_offline_agent_who_answers_when_online():
    scenario = make_scenario(agents=[{"id": "a", "team": "support", "shifts": ["01:00-05:00"]}],
                             workflow=[{"type": "assign", "only_online": False}])
    row = run(scenario, make_trace((0, "x"))).conversations.iloc[0]
    assert (row["assigned_at"], row["first_response_at"], row["closed_at"]) == (0.0, 3600.0, 3700.0)

    online_only = make_scenario(agents=[{"id": "a", "team": "support", "shifts": ["01:00-05:00"]}])
    row = run(online_only, make_trace((0, "x"))).conversations.iloc[0]
    assert (row["assigned_at"], row["first_response_at"]) == (3600.0, 3600.0)


def test_close_step_closes_with_its_category():
    scenario = make_scenario(workflow=[{"type": "close", "category": "spam"}, {"type": "assign"}])
    row = run(scenario, make_trace((5, "x"))).conversations.iloc[0]
    assert (row["outcome"], row["category"], row["closed_at"]) == ("closed_by_workflow", "spam", 5.0)


def test_a_workflow_without_an_assignment_is_closed_by_the_workflow_at_its_end():
    scenario = make_scenario(workflow=[{"type": "lookup", "fields": {"tier": {"a": 1}}, "duration": CONSTANT}])
    row = run(scenario, make_trace((0, "x"))).conversations.iloc[0]
    assert (row["outcome"], row["category"], row["closed_at"]) == ("closed_by_workflow", "workflow_end", 10.0)
