"""From requirement to roster: the integer program on cases with a known answer, clear errors for
templates that cannot cover, the closed loop on the default scenario and the roster replayed."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.errors import ConvsimError
from sim.experiments import schedule, staffing
from sim.experiments.executor import Executor
from sim.io import results

HOUR = 3600.0
CONVSIM = str(Path(sys.executable).parent / "convsim")


def hourly(need: dict[int, int]) -> np.ndarray:
    """A day's requirement per hour."""
    return np.array([need.get(hour, 0) for hour in range(24)], dtype=float)


def test_a_requirement_one_set_of_shifts_covers_exactly_is_solved_to_that_set():
    # one agent 08:00-16:00 and a second 10:00-14:00: the day shift from 08:00 and the short one from
    # 10:00 (12 paid hours); any other choice pays more
    options = schedule.templates([
        {"name": "day", "length": "8h", "starts": "07:00-10:00", "every": "1h"},
        {"name": "short", "length": "4h", "starts": ["09:00", "10:00", "11:00", "12:00"]}])
    need = hourly({8: 1, 9: 1, 10: 2, 11: 2, 12: 2, 13: 2, 14: 1, 15: 1})
    found = schedule.cover(need, options, "support", staffing.Day(HOUR, 0.0, 86400.0), rate=0.0)
    chosen = {(options[s.template].name, s.start / HOUR): int(n) for s, n in zip(found.shapes, found.agents,
                                                                                  strict=True) if n}
    assert chosen == {("day", 8.0): 1, ("short", 10.0): 1}
    assert np.array_equal(found.coverage, need) and found.cost == 12.0 == found.bound


def test_the_integer_program_costs_the_linear_bound_rounded_up_to_a_whole_shift():
    # a day of three 8-hour intervals, one agent needed in each, shifts of 16 hours starting at any of
    # them (past midnight they cover the next day's first): the linear relaxation takes half of each of
    # the three shifts (24 paid hours), a roster needs two whole shifts (32)
    options = schedule.templates([{"name": "double", "length": "16h", "starts": ["00:00", "08:00", "16:00"]}])
    day = staffing.Day(8 * HOUR, 0.0, 86400.0)
    found = schedule.cover(np.ones(3), options, "support", day, rate=10.0)
    assert math.isclose(found.bound, 3 * 0.5 * 16 * 10.0)
    assert found.cost == 16 * 10.0 * math.ceil(found.bound / (16 * 10.0)) == 320.0
    assert (found.coverage >= 1).all() and found.agents.sum() == 2


def test_breaks_are_placed_in_their_window_and_min_and_max_hold():
    # two full-timers 08:00-16:00 with an hour's lunch 3 to 4 hours in, one agent enough at 11:00 and
    # 12:00: they lunch in turn; with part-timers at a minimum of one, one is rostered at no extra cost
    full = {"name": "full", "length": "8h", "starts": ["08:00"], "max": 2,
            "break": {"length": "1h", "earliest": "3h", "latest": "4h"}}
    need = hourly({8: 2, 9: 2, 10: 2, 11: 1, 12: 1, 13: 2, 14: 2, 15: 2})
    day = staffing.Day(HOUR, 0.0, 86400.0)
    found = schedule.cover(need, schedule.templates([full]), "support", day, rate=1.0)
    assert np.array_equal(found.coverage, need) and found.cost == 16.0
    assert sorted(s.break_start for s, n in zip(found.shapes, found.agents, strict=True) for _ in range(n)) == [
        3 * HOUR, 4 * HOUR]
    part = {"name": "part", "length": "2h", "starts": "08:00-14:00", "every": "1h", "min": 1}
    found = schedule.cover(need, schedule.templates([full, part]), "support", day, rate=1.0)
    assert found.cost == 16.0 and int(found.agents[[s.template == 1 for s in found.shapes]].sum()) >= 1
    with pytest.raises(ConvsimError, match="maxima allow at most 2"):
        schedule.cover(need + (need > 0), schedule.templates([full]), "support", day, rate=1.0)


def test_an_interval_no_template_covers_is_named():
    options = schedule.templates([{"name": "day", "length": "4h", "starts": ["08:00", "10:00"]}])
    need = hourly({6: 1, 8: 1})
    with pytest.raises(ConvsimError, match=r"team support: the interval 06:00–07:00 needs 1 agent\(s\) on shift, but "
                                           r"no template covers it"):
        schedule.cover(need, options, "support", staffing.Day(HOUR, 0.0, 86400.0), rate=1.0)
    capped = schedule.templates([{"name": "day", "length": "4h", "starts": ["08:00"], "max": 2}])
    with pytest.raises(ConvsimError, match=r"interval 09:00–10:00 needs 3 .* the templates' maxima allow at most 2"):
        schedule.cover(hourly({9: 3}), capped, "support", staffing.Day(HOUR, 0.0, 86400.0), rate=1.0)


def test_a_week_is_rostered_per_weekday():
    week = staffing.Day(HOUR, 0.0, 7 * 86400.0, staffing.WEEK)
    need = np.zeros(week.cells)
    need[9:17] = 2  # Monday 09:00-17:00
    need[24 * 5 + 10:24 * 5 + 14] = 1  # Saturday 10:00-14:00
    options = schedule.templates([{"name": "day", "length": "8h", "starts": ["09:00"], "max": 2},
                                  {"name": "half", "length": "4h", "starts": ["10:00"]}])
    found = schedule.cover(need, options, "support", week, rate=1.0)
    chosen = sorted((s.weekday, options[s.template].name, int(n)) for s, n in zip(found.shapes, found.agents,
                                                                                strict=True) if n)
    assert chosen == [(0, "day", 2), (5, "half", 1)] and found.cost == 20.0
    with pytest.raises(ConvsimError, match="the interval sun 20:00–21:00 needs 1"):
        schedule.cover(np.where(np.arange(week.cells) == 24 * 6 + 20, 1.0, need), options, "support", week, rate=1.0)


@pytest.mark.parametrize(("template", "problem"), [
    ({"name": "x", "length": "8h", "starts": "07:00-09:00", "break": {"length": "1h", "earliest": "7h30m",
                                                                    "latest": "8h"}}, "break.earliest"),
    ({"name": "x", "length": "8h", "starts": "07:00-09:00", "break": {"length": "1h", "earliest": "7h",
                                                                    "latest": "7.5h"}}, "ends after the shift"),
    ({"name": "x", "length": "8h", "starts": "09:00-07:00"}, "starts"),
    ({"name": "x", "length": "8h", "starts": ["07:00"], "min": 3, "max": 2}, "max .2. is below min .3."),
    ({"name": "x", "length": "8h", "starts": ["07:00"], "weekly": True}, "weekly"),
])
def test_bad_templates_are_named(template, problem):
    with pytest.raises(ConvsimError, match=problem) as caught:
        schedule.templates([template])
    assert "templates.0" in str(caught.value)


@pytest.fixture(scope="module")
def default_roster(tmp_path_factory):
    """convsim schedule on the default scenario: hourly intervals, 10 days a check, 30 % shrinkage."""
    out = tmp_path_factory.mktemp("schedule")
    done = subprocess.run([CONVSIM, "schedule", "scenarios/default.yaml", "--target", "service_level>=0.8@60s",
                           "--target", "abandonment_rate<=0.05", "--interval", "1h", "--replications", "10",
                           "--templates", "scenarios/templates/shifts.yaml", "--shrinkage", "0.3", "--cost", "25",
                           "--cost", "support-es=28", "--workers", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_the_roster_of_the_default_scenario_meets_the_targets_where_they_can_be_met(default_roster):
    out, printed = default_roster
    plan = results.read_schedule(out)
    coverage = plan.coverage[plan.coverage["traffic"]]
    assert plan.settings["met"] and coverage["met"].all(), coverage[~coverage["met"]]
    assert (coverage["rostered"] >= coverage["scheduled"]).all()
    assert (coverage["productive"] >= coverage["required"]).all()  # shrinkage: 30 % of the rostered are away
    # the simulated roster's own bounds: met with 90 % confidence wherever the target is within reach
    reachable = coverage[coverage["note"] != "capped"]
    for column, goal in (("roster:service_level@60s:bound", 0.8), ("roster:abandonment_rate:bound", 0.05)):
        level = reachable[column] if "service" in column else -reachable[column]
        aim = goal if "service" in column else -goal
        assert (level >= aim - 0.05).all() and (level >= aim).mean() >= 0.8, reachable[["team", "start", column]]
    assert set(plan.kpis["plan"]) == {"scenario plan", "requirement", "roster"}
    totals = plan.totals()
    assert list(totals.index) == ["sales", "support", "billing"]
    assert (totals["cost_per_week"] >= totals["bound_per_week"] - 1e-6).all() and (totals["fte"] > 0).all()
    assert "closed loop" in printed and "roster.yaml" in printed


def test_the_roster_is_a_table_of_agents_and_a_scenario_that_replays_it(default_roster):
    out, _ = default_roster
    plan = results.read_schedule(out)
    assert len(plan.agents) == plan.roster["agents"].sum()
    assert set(plan.agents["agent_type"]) <= {spec.id for spec in sim.load("scenarios/default.yaml").agents}
    replayed = sim.load(out / "roster.yaml")
    assert sum(spec.count for spec in replayed.agents) == len(plan.agents)
    day = staffing.Day(HOUR, 0.0, replayed.duration)
    online = staffing.planned(replayed, day)
    for team, own in plan.coverage.groupby("team"):
        assert np.allclose(online[team], own["rostered"].to_numpy()), team
    result = sim.run(replayed)
    assert len(result.conversations) > 1000


def test_sim_schedule_in_python():
    scenario = sim.parse({
        "start": "2026-11-02T00:00:00", "duration": "12h", "seed": 3, "channels": ["whatsapp"], "interval": "1h",
        "record_events": False,
        "arrivals": {"generate": {"profile": [0] * 8 + [30, 60, 60, 30], "channels": {"whatsapp": 1}}},
        "handling": {"handle_time": {"dist": "exponential", "mean": 300}},
        "teams": {"support": {}}, "agents": [{"id": "a", "team": "support", "count": 4}],
        "workflow": [{"type": "assign"}]})
    plan = sim.schedule(scenario, ["service_level_from_queue>=0.8@60s"],
                        [{"name": "four", "length": "4h", "starts": "08:00-11:00", "every": "1h"}], replications=5)
    coverage = plan.coverage[plan.coverage["traffic"]]
    assert coverage["met"].all() and (coverage["rostered"] >= coverage["required"]).all()
    assert set(plan.roster["template"]) == {"four"}


def test_the_closed_loop_repairs_an_interval_the_roster_leaves_short():
    # the requirement found, then two agents taken off in the busiest hour: the first roster covers that
    # (too low) requirement and misses the target there; the loop raises it and solves again
    scenario = sim.parse({
        "start": "2026-11-02T00:00:00", "duration": "12h", "seed": 5, "channels": ["whatsapp"], "interval": "1h",
        "record_events": False,
        "arrivals": {"generate": {"profile": [0] * 8 + [60, 120, 120, 60], "channels": {"whatsapp": 1}}},
        "handling": {"handle_time": {"dist": "exponential", "mean": 300}},
        "teams": {"support": {}}, "agents": [{"id": "a", "team": "support", "count": 12}],
        "workflow": [{"type": "assign"}]})
    options = schedule.templates([{"name": "hour", "length": "1h", "starts": "08:00-11:00", "every": "1h"}])
    with Executor(1) as executor:
        found = staffing.search(scenario, ["service_level_from_queue>=0.8@60s"], None, None, 10, 0.9, executor)
        busiest = int(np.argmax(found.required[0]))
        found.required[0, busiest] -= 2
        plan = schedule._closed_loop(found, options, repairs=3)
    checks = [check["failing_intervals"] for check in plan.settings["repairs"]]
    assert checks[0] >= 1 and checks[-1] == 0 and plan.settings["met"], checks
    row = plan.coverage[plan.coverage["interval"] == busiest].iloc[0]
    assert row["required"] > row["requirement"] and row["rostered"] >= row["requirement"] + 1
