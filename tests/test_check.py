"""A scenario that cannot be silently wrong (issue 16): what validates field by field but would not do what
its author meant is refused, naming the field and the value, or warned about; ``convsim check`` lists it."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pytest
import yaml

import sim
from helpers import BASE, merge
from sim.cli import main
from sim.errors import ScenarioError, ScenarioWarning

DEFAULT = yaml.safe_load(Path("scenarios/default.yaml").read_text())


def error_for(data: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        sim.parse(data, source="s.yaml")
    return str(info.value)


def warnings_for(data: dict) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        sim.parse(data, source="s.yaml")
    return [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]


def default(**over) -> dict:
    data = copy.deepcopy(DEFAULT)
    data.update(over)
    return data


# ------------------------------------------------------------------------- fields read, never set

MOTIVATING = [  # generated language and intent, neither known: every chat went to one team, no skill asked
    {"type": "branch", "id": "route", "rules": [{"when": {"intent": "sales"}, "team": "sales"},
                                                {"when": {"intent": "billing"}, "team": "billing"}],
     "default": "support"},
    {"type": "assign", "skills_from": ["language"]},
]


def test_a_branch_on_a_generated_attribute_the_platform_does_not_know_is_refused_naming_it():
    message = error_for(default(workflow=MOTIVATING))
    assert message.startswith("s.yaml: workflow.0.rules.0.when, workflow.0.rules.1.when: nothing sets the field "
                              "'intent', so the rule never matches")
    assert "the arrivals generate 'intent'" in message and "contacts.known_fields" in message
    assert "workflow.1.skills_from: nothing sets the field 'language', so no skill is ever required" in message


def test_a_generated_attribute_is_known_once_listed_in_known_fields():
    scenario = sim.parse(default(workflow=MOTIVATING, contacts={"known_fields": ["intent", "language"]}))
    assert scenario.contacts.known_fields == ["intent", "language"]
    result = sim.run(scenario)  # the branch now routes: every team gets conversations
    assert set(result.conversations["team"].astype(str)) == {"sales", "support", "billing"}


def test_skills_from_a_field_nothing_sets_is_refused_with_a_suggestion():
    data = default()
    data["workflow"][4]["skills_from"] = ["lang"]
    message = error_for(data)
    assert "workflow.4.skills_from: nothing sets the field 'lang'" in message
    assert "fields the workflow can know: intent, tier, language" in message and "did you mean 'language'?" in message


def test_a_field_set_only_after_the_step_that_reads_it_is_refused():
    workflow = [{"type": "branch", "rules": [{"when": {"intent": "x"}, "team": "support"}], "default": "support"},
                {"type": "ask", "id": "late", "field": "intent", "answers": {"x": 1}}, {"type": "assign"}]
    message = error_for(merge(BASE, {"workflow": workflow}))
    assert "workflow.0.rules.0.when: the field 'intent' is set only after this step, by workflow.1 (ask 'late')" \
        in message


def test_a_priority_on_a_field_nothing_sets_is_refused():
    message = error_for(merge(BASE, {"selection": {"name": "priority", "field": "tier", "levels": {"vip": 1}}}))
    assert "selection.field: nothing sets the field 'tier', so every conversation has the same priority" in message
    sim.parse(merge(BASE, {"selection": {"name": "priority", "field": "tier", "levels": {"vip": 1}},
                           "contacts": {"known_fields": ["tier"]}}))


def test_fields_set_by_ask_lookup_or_known_fields_are_accepted():
    sim.load("scenarios/default.yaml")  # ask intent, lookup tier and language, then branch and skills_from
    workflow = [{"type": "lookup", "fields": {"tier": {"vip": 0.2, "std": 0.8}}},
                {"type": "branch", "rules": [{"when": {"tier": "vip", "queue": "a"}, "team": "support"}],
                 "default": "support"}, {"type": "assign"}]
    sim.parse(merge(BASE, {"workflow": workflow, "contacts": {"known_fields": ["queue"]}}))


# ------------------------------------------------------------------------- profiles cover whole days

def test_a_profile_of_23_hours_that_would_start_again_is_refused():
    data = default(duration="2d")
    data["arrivals"]["generate"]["profile"] = data["arrivals"]["generate"]["profile"][:23]
    message = error_for(data)
    assert ("arrivals.generate.profile: 23 values of 1h last 23h, not a whole number of days, and the scenario "
            "runs past them, so they silently start again after 23h") in message
    assert "give 24 values a day (or 168 for a week), or write repeat: 23h" in message


def test_an_explicit_repeat_accepts_the_cycle_and_must_match_it():
    data = default(duration="2d")
    data["arrivals"]["generate"]["profile"] = data["arrivals"]["generate"]["profile"][:23]
    data["arrivals"]["generate"]["repeat"] = "23h"
    assert sim.parse(data).arrivals.generate.repeat == 23 * 3600
    data["arrivals"]["generate"]["repeat"] = "24h"
    assert "arrivals.generate.repeat: 1d, but the 23 profile values of 1h repeat every 23h" in error_for(data)


def test_whole_days_a_week_a_flat_rate_and_a_profile_that_never_runs_out_are_fine():
    weekly = default(duration="10d")
    weekly["arrivals"]["generate"]["profile"] = weekly["arrivals"]["generate"]["profile"] * 7  # 168 hourly values
    sim.parse(weekly)
    sim.parse(merge(BASE, {"duration": "3d", "arrivals": {"generate": {"profile": [5], "channels": {"whatsapp": 1}}}}))
    sim.parse(merge(BASE, {"duration": "6h", "arrivals": {"generate": {"profile": [0, 60, 120, 240, 120, 0],
                                                                        "channels": {"whatsapp": 1}}}}))


def test_contact_types_and_headcount_tables_follow_the_same_rule():
    types = {"generate": {"channels": {"whatsapp": 1}, "types": {"a": {"profile": [1, 2, 3]}}}}
    assert "arrivals.generate.types.a.profile: 3 values of 1h last 3h" in error_for(
        merge(BASE, {"arrivals": types}))
    headcount = [{"id": "a", "team": "support", "headcount": {"periods": [2, 1, 1], "step": "1h"}}]
    assert "agents.0.headcount.periods: 3 values of 1h last 3h" in error_for(merge(BASE, {"agents": headcount}))
    headcount[0]["headcount"]["repeat"] = "3h"
    sim.parse(merge(BASE, {"agents": headcount}))


# ------------------------------------------------------------------------- shares add up to 1

@pytest.mark.parametrize("field, value, expected", [
    ("channels", {"whatsapp": 0.6, "webchat": 0.3}, "arrivals.generate.channels: shares add up to 0.9 "
                                                    "(whatsapp 0.6 + webchat 0.3), not 1"),
    ("attributes", {"tier": {"vip": 0.2, "std": 0.7}}, "arrivals.generate.attributes.tier: shares add up to 0.9"),
])
def test_shares_that_do_not_add_up_to_one_are_refused_naming_the_field_and_the_sum(field, value, expected):
    generate = {"profile": [0], "channels": {"whatsapp": 1}, field: value}
    message = error_for(merge(BASE, {"arrivals": {"generate": generate}}))
    assert expected in message and "{weights: {...}}" in message


def test_answers_lookup_fields_and_exchanges_are_shares_too():
    ask = {"type": "ask", "field": "intent", "answers": {"a": 0.5, "b": 0.6}}
    assert "workflow.0.ask.answers: shares add up to 1.1" in error_for(merge(BASE, {"workflow": [ask, {"type": "assign"}]}))
    lookup = {"type": "lookup", "fields": {"tier": {"vip": 2, "std": 8}}}
    assert "workflow.0.lookup.fields.tier: shares add up to 10" in error_for(merge(BASE, {"workflow": [lookup,
                                                                                                 {"type": "assign"}]}))
    messages = {"mode": "messages", "messages": {"reply_time": 30, "think_time": 60, "exchanges": {2: 1, 6: 3}}}
    assert "handling.messages.exchanges.shares: shares add up to 4" in error_for(merge(BASE, {"handling": messages}))


def test_weights_are_normalised_when_declared_so():
    generate = {"profile": [0], "channels": {"weights": {"whatsapp": 3, "webchat": 1}},
                "attributes": {"tier": {"weights": {"vip": 1, "std": 4}}}}
    scenario = sim.parse(merge(BASE, {"arrivals": {"generate": generate}}))
    assert scenario.arrivals.generate.channels == {"whatsapp": 0.75, "webchat": 0.25}
    assert scenario.arrivals.generate.attributes["tier"] == {"vip": 0.2, "std": 0.8}
    messages = {"mode": "messages", "messages": {"reply_time": 30, "think_time": 60,
                                                 "exchanges": {"weights": {2: 1, 6: 3}}}}
    assert sim.parse(merge(BASE, {"handling": messages})).handling.messages.exchanges.shares == {2: 0.25, 6: 0.75}


def test_a_fitted_fragment_has_shares_that_add_up_to_one():
    from sim.analysis import calibration

    shares = calibration.rounded({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert abs(sum(shares.values()) - 1) < 1e-12 and all(len(repr(v)) <= 8 for v in shares.values())


# ------------------------------------------------------------------------- warnings

def test_a_step_no_conversation_reaches_is_a_warning():
    workflow = [{"type": "assign"}, {"type": "close", "id": "never", "category": "x"}]
    found = warnings_for(merge(BASE, {"workflow": workflow}))
    assert found == ["s.yaml: workflow.1 (close 'never'): no conversation reaches this step (the step before it "
                     "never goes on to it, and no branch rule, outside, on_no_answer, on_failure or on_timeout "
                     "names its id)"]


def test_a_team_nobody_is_routed_to_is_a_warning():
    data = merge(BASE, {"teams": {"support": {}, "sales": {}},
                        "agents": [{"id": "a", "team": "support"}, {"id": "b", "team": "sales"}]})
    assert warnings_for(data) == ["s.yaml: teams.sales: no conversation is routed to this team (no branch rule or "
                                  "default, assign step or outbound conversation names it); its agents (b) stay idle"]
    assert warnings_for(default()) == []  # the shipped day: every step reached, every team routed to


def test_hours_default_to_every_day_as_agents_do():
    hours = {"type": "hours", "open": "09:00", "close": "17:00", "outside": "closed"}
    scenario = sim.parse(merge(BASE, {"workflow": [hours, {"type": "assign"},
                                                   {"type": "close", "id": "closed", "category": "shut"}]}))
    assert scenario.workflow[0].days == scenario.agents[0].days == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def test_hours_shut_all_day_while_agents_work_is_a_warning():
    data = default(start="2026-11-07T00:00:00", duration="2d")  # a Saturday
    data["workflow"][2]["days"] = ["mon", "tue", "wed", "thu", "fri"]
    [found] = warnings_for(data)
    assert found.startswith("s.yaml: workflow.2 (hours 'open'): shut all day on Sat 2026-11-07, Sun 2026-11-08 while "
                            "agents are online (sales-early, sales-late")
    assert "every contact reaching it then goes to 'after_hours'" in found
    data["start"] = "2026-11-09T00:00:00"  # a Monday: open every day of the run
    assert warnings_for(data) == []


# ------------------------------------------------------------------------- warm-up

def test_a_warmup_at_or_past_the_end_is_refused():
    message = error_for(merge(BASE, {"warmup": "10h"}))
    assert "warmup: 10h is at or past the scenario's end (duration 10h)" in message
    sim.parse(merge(BASE, {"warmup": "1h"}))


# ------------------------------------------------------------------------- convsim check

def test_convsim_check_lists_warnings_and_exits_0(tmp_path, capsys):
    data = default()
    data["teams"]["vip"] = {}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"warning: {path}: teams.vip: no conversation is routed to this team (no branch rule or default, " \
                     "assign step or outbound conversation names it)"
    assert out[1] == f"{path}: ok, 1 warning(s); 4 team(s), 16 agent(s), 6 workflow step(s)"
    assert main(["check", "scenarios/default.yaml"]) == 0
    assert capsys.readouterr().out.startswith("scenarios/default.yaml: ok, 0 warning(s)")


def test_convsim_check_refuses_with_one_line_naming_the_file_field_and_value(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(default(workflow=MOTIVATING)))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"convsim: error: {path}: workflow.0.rules.0.when, workflow.0.rules.1.when: nothing sets "
                          "the field 'intent'")


def test_convsim_check_makes_the_run_ready_as_a_run_would(tmp_path, capsys):
    data = merge(BASE, {"contacts": {"known_fields": ["tier"]}})  # the generator has no tier: the run refuses it
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["check", str(path)]) == 2
    assert "contacts.known_fields: 'tier' not in the trace" in capsys.readouterr().err


def test_a_run_prints_the_scenarios_warnings_one_a_line(tmp_path, capsys):
    data = merge(BASE, {"duration": "1h", "workflow": [{"type": "assign"}, {"type": "close", "category": "x"}]})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert err == [f"convsim: warning: {path}: workflow.1 (close): no conversation reaches this step (the step before "
                   "it never goes on to it, and no branch rule, outside, on_no_answer, on_failure or on_timeout names "
                   "its id)"]
