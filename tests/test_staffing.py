"""Capacity planning: the simulated requirement against Erlang C and Erlang A (flat on a flat load),
plans per day and per weekday, targets from opening and from queue entry, shrinkage, occupancy and cost,
the CLI."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from helpers import make_scenario
from sim.analysis.theory import ErlangC
from sim.errors import ConvsimError
from sim.experiments import staffing
from sim.io import results

PER_HOUR = [0, 60, 120, 240, 120, 0]  # Poisson arrivals per hour, hour by hour from midnight


def mmc(patience: float | None = None, first_response: float = 0.0):
    """One team of single-chat agents, Poisson arrivals, exponential handle times of 5 minutes, no workflow."""
    return make_scenario(
        duration="6h", interval="1h", service_target="60s", record_events=False,
        arrivals={"generate": {"profile": PER_HOUR, "channels": {"whatsapp": 1}}},
        handling={"handle_time": {"dist": "exponential", "mean": 300},
                  "first_response": {"dist": "constant", "value": first_response}},
        agents=[{"id": "a", "team": "support", "count": 8}],
        **({"contacts": {"patience": {"dist": "exponential", "mean": patience}}} if patience else {}))


def busy(study: results.Staffing) -> pd.DataFrame:
    return study.cells[study.cells["status"] != "no traffic"]


def stationary(patience: float | None = None):
    """One team, Poisson arrivals of 100 per half hour all day, exponential handle times of 180 s: the
    textbook case of pyworkforce's and Erlang C calculators' examples (10 Erlangs)."""
    return make_scenario(
        duration="24h", interval="30m", service_target="20s", record_events=False,
        arrivals={"generate": {"profile": [200.0], "channels": {"whatsapp": 1}}},
        handling={"handle_time": {"dist": "exponential", "mean": 180}},
        agents=[{"id": "a", "team": "support", "count": 14}],
        **({"contacts": {"patience": {"dist": "exponential", "mean": patience}}} if patience else {}))


@pytest.fixture(scope="module", params=[None, 300.0], ids=["erlang_c", "erlang_a"])
def stationary_case(request):
    target = staffing.Target.parse("service_level>=0.8@20s")
    return request.param, staffing.requirement(stationary(request.param), [target], replications=20, workers=2)


def test_on_a_stationary_load_the_requirement_is_flat_and_within_one_agent_of_erlang(stationary_case):
    """100 contacts a half hour, 180 s handle time, 80 % within 20 s: Erlang C says 14 agents (pyworkforce's
    and the ErlangC R package's documented example). The measured load wobbles between half hours (20
    days of Poisson arrivals), and Erlang C on it with it (13 or 14); the simulated requirement pools the
    half hours and stays flat."""
    patience, study = stationary_case
    cells = study.cells
    assert len(cells) == 48 and (cells["status"] != "no traffic").all()
    most = cells["required"].mode()[0]
    assert (cells["required"] == most).mean() >= 0.9, cells["required"].value_counts()
    closed = cells["erlang_a"] if patience else cells["erlang_c"]
    assert ((cells["required"] - closed).abs() <= 1).all(), cells[["start", "required", "erlang_c", "erlang_a"]]
    assert most == (13 if patience else 14)
    # the whole day meets the target on fresh seeds (the day's interval, not the noisy half hours')
    day = study.kpis[(study.kpis["plan"] == "requirement") & (study.kpis["kpi"] == "service_level")].iloc[0]
    assert day["ci_low"] >= 0.8 - 0.01


@pytest.fixture(scope="module")
def erlang_c_case():
    return staffing.requirement(mmc(), [staffing.Target.parse("service_level>=0.8@60s")], replications=30, workers=1)


@pytest.fixture(scope="module")
def erlang_a_case():
    return staffing.requirement(mmc(patience=60), [staffing.Target.parse("service_level>=0.8@60s")],
                                replications=30, workers=1)


def test_the_requirement_agrees_with_erlang_c_within_one_agent_on_an_mmc_queue(erlang_c_case):
    cells = busy(erlang_c_case)
    assert list(cells["start"]) == ["01:00", "02:00", "03:00", "04:00"]
    nominal = np.array(PER_HOUR[1:5], dtype=float)  # the closed forms' input: offered per hour, as measured
    assert (np.abs(cells["offered_per_interval"] - nominal) <= 4 * np.sqrt(nominal / 30)).all()
    assert ((cells["required"] - cells["erlang_c"]).abs() <= 1).all(), cells[["start", "required", "erlang_c"]]
    # the requirement meets the target on fresh seeds, by its confidence bound
    assert (cells["requirement:service_level@60s:bound"] >= 0.8).all()


def test_with_patience_erlang_a_is_the_closer_closed_form(erlang_a_case):
    cells = busy(erlang_a_case)
    # the two closed forms differ here by 2 to 5 agents: a test that can tell them apart
    assert ((cells["erlang_c"] - cells["erlang_a"]) >= 2).all(), cells[["erlang_c", "erlang_a"]]
    off_a = (cells["required"] - cells["erlang_a"]).abs()
    off_c = (cells["required"] - cells["erlang_c"]).abs()
    assert (off_a <= 1).all(), cells[["start", "required", "erlang_a", "erlang_c"]]
    assert (off_a < off_c).all()


def test_a_plan_puts_exactly_the_headcount_online_in_every_interval():
    scenario = make_scenario(start="2026-11-02T06:30:00", duration="2d", teams={"a": {}, "b": {}},
                             agents=[{"id": "x", "team": "a", "count": 2, "capacity": 3, "skills": {"en": 5}},
                                     {"id": "y", "team": "a", "capacity": 1, "skills": {"es": 5}},
                                     {"id": "z", "team": "b"}])
    day = staffing.Day(1800.0, 6.5 * 3600, scenario.duration)
    rng = np.random.default_rng(3)
    headcount = {"a": rng.integers(0, 7, day.cells), "b": rng.integers(0, 2, day.cells)}
    staffed = staffing.plan(scenario, headcount, day)
    online = staffing.planned(staffed, day)
    assert np.allclose(online["a"], headcount["a"]) and np.allclose(online["b"], headcount["b"])
    kinds = [agent.capacity for agent in staffed.agents if agent.team == "a"]
    assert kinds[:3] == [3, 1, 3]  # the team's agent types, in the plan's 2:1 proportion


def test_the_scenario_plan_is_counted_per_interval():
    scenario = make_scenario(duration="24h", agents=[
        {"id": "early", "team": "support", "count": 2, "shifts": ["07:00-15:00"]},
        {"id": "late", "team": "support", "shifts": ["14:30-22:00"]}])
    heads = staffing.planned(scenario, staffing.Day(3600.0, 0.0, scenario.duration))["support"]
    assert heads[6] == 0 and heads[7] == 2 and heads[13] == 2 and heads[14] == 2.5 and heads[15] == 1
    assert heads[21] == 1 and heads[22] == 0


def test_a_target_no_headcount_meets_caps_the_interval_at_the_best_reachable():
    # every agent takes 90 s to write the first reply: no conversation is answered within 60 s, but the
    # waits still matter to the abandonment target, which sets the headcount
    scenario = mmc(patience=60, first_response=90)
    targets = [staffing.Target.parse("service_level>=0.8@60s"), staffing.Target.parse("abandonment_rate<=0.05")]
    capped = staffing.requirement(scenario, targets, replications=10)
    alone = staffing.requirement(scenario, targets[1:], replications=10)
    cells = busy(capped)
    assert (cells["note"] == "capped").all() and (cells["ceiling:service_level@60s"] == 0).all()
    assert np.array_equal(cells["required"], busy(alone)["required"])
    assert (cells["required"] >= 1).all()


@pytest.mark.parametrize(("text", "problem"), [
    ("service_level>=0.8", "needs its time"),
    ("service_level<=0.8@60s", "better higher"),
    ("abandonment_rate<=0.05@60s", "takes no time"),
    ("occupancy>=0.8", "unknown KPI 'occupancy'"),
    ("service_level>=1.5@60s", "between 0 and 1"),
    ("service_level>=0.8@soon", "soon"),
    ("service level 80%", "expected KPI>=VALUE"),
])
def test_a_bad_target_is_named_with_its_problem(text, problem):
    with pytest.raises(ConvsimError, match=problem) as caught:
        staffing.Target.parse(text)
    assert repr(text) in str(caught.value)


def test_targets_read_as_people_write_them():
    assert staffing.Target.parse("service_level>=80%@1m") == staffing.Target("service_level", 0.8, 60.0)
    assert str(staffing.Target.parse("first_response_time_mean<=45s")) == "first_response_time_mean<=45s"


@pytest.mark.parametrize(("settings", "problem"), [
    ({"interval": 7 * 60}, "divide a day"), ({"interval": 0}, "divide a day"),
    ({"confidence": 1.5}, "confidence 1.5: a one-sided confidence is at least 0.5 and below 1"),
    ({"replications": 1}, "at least 2"),
])
def test_bad_settings_are_named(settings, problem):
    with pytest.raises(ConvsimError, match=problem):
        staffing.requirement(mmc(), [staffing.Target.parse("abandonment_rate<=0.05")], **settings)


def test_a_team_without_agents_to_copy_is_named():
    scenario = make_scenario(teams={"support": {}, "billing": {}})
    with pytest.raises(ConvsimError, match=r"team\(s\) billing have no agents"):
        staffing.requirement(scenario, [staffing.Target.parse("abandonment_rate<=0.05")])


def test_convsim_staff_writes_the_study_and_prints_the_curve(tmp_path):
    done = subprocess.run([str(Path(sys.executable).parent / "convsim"), "staff", "scenarios/default.yaml",
                           "--target", "service_level>=0.8@60s", "--target", "abandonment_rate<=0.05",
                           "--interval", "2h", "--replications", "4", "--workers", "2", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    study = results.read_staffing(tmp_path)
    assert set(study.cells["team"]) == {"sales", "support", "billing"} and len(study.cells) == 3 * 12
    assert study.settings["targets"] == ["service_level>=0.8@60s", "abandonment_rate<=0.05"]
    assert set(study.kpis["plan"]) == {"scenario plan", "requirement"}
    hours = study.agent_hours()
    assert list(hours.index) == ["sales", "support", "billing"]
    assert hours.loc["support", "required"] == 2 * study.cells.loc[study.cells["team"] == "support", "required"].sum()
    for team in ("sales", "support", "billing"):
        assert team in done.stdout
    assert "agent-hours" in done.stdout and "warning: fewer than 10 days a trial" in done.stdout


def test_convsim_staff_names_a_bad_target(tmp_path):
    done = subprocess.run([str(Path(sys.executable).parent / "convsim"), "staff", "scenarios/default.yaml",
                           "--target", "service_level>=0.8", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "needs its time" in done.stderr and "Traceback" not in done.stderr


def test_targets_from_queue_entry_leave_the_workflow_out():
    """A 90-second question before the queue: from opening nobody is answered within 60 s, from queue
    entry the service level is the queue's own (Erlang C's, with nothing in the way)."""
    scenario = make_scenario(
        duration="6h", interval="1h", service_target="60s", record_events=False,
        arrivals={"generate": {"profile": [120], "channels": {"whatsapp": 1}}},
        handling={"handle_time": {"dist": "exponential", "mean": 300}},
        workflow=[{"type": "ask", "field": "intent", "answers": {"x": 1},
                   "duration": {"dist": "constant", "value": 90}}, {"type": "assign"}],
        agents=[{"id": "a", "team": "support", "count": 24}])
    day = sim.run(scenario, replications=4).summary
    assert (day["service_level"] == 0).all() and (day["service_level_from_queue"] > 0.5).all()
    frame = sim.run(scenario).conversations
    waited = (frame["first_response_at"] - frame["queued_at"]).dropna()
    assert np.isclose(day["asa_from_queue"].iloc[0], waited.mean())
    study = staffing.requirement(scenario, ["service_level_from_queue>=0.8@60s"], replications=10)
    cells = busy(study)
    assert (cells["note"] == "").all() and ((cells["required"] - cells["erlang_c"]).abs() <= 1).all(), cells
    queue = ErlangC(120 / 3600, 300.0, 13)  # ASA from queue entry is Erlang C's mean wait
    assert staffing.Target.parse("asa_from_queue<=20s").closed_form(queue) == queue.mean_wait


def test_a_week_long_scenario_is_planned_per_weekday():
    scenario = make_scenario(
        duration="7d", interval="1h", record_events=False,
        arrivals={"generate": {"profile": [0] * 9 + [40] * 8 + [0] * 7, "weekdays": {"sat": 0, "sun": 0},
                               "channels": {"whatsapp": 1}}},
        handling={"handle_time": {"dist": "exponential", "mean": 300}},
        agents=[{"id": "a", "team": "support", "count": 6}])
    day = staffing.Day.of(scenario, 3600.0)
    assert day.weekly and day.cells == 7 * 24 and day.label(24 + 9) == "tue 09:00"
    rng = np.random.default_rng(5)
    heads = {"support": rng.integers(0, 4, day.cells)}
    assert np.allclose(staffing.planned(staffing.plan(scenario, heads, day), day)["support"], heads["support"])
    study = staffing.requirement(scenario, ["service_level>=0.8@60s"], replications=3)
    cells = study.cells
    weekend = cells["start"].str[:3].isin(["sat", "sun"])
    open_hours = cells["start"].str[4:].between("09:00", "16:00")
    assert (cells.loc[weekend, "required"] == 0).all()
    assert (cells.loc[~weekend & open_hours, "required"] >= 3).all() and study.settings["cycle"] == "week"
    assert "a week" in "\n".join(staffing.describe(study))


def test_shrinkage_and_occupancy_as_pyworkforce_and_call_center_tools_compute_them():
    """The documented examples, computed by our own code (Erlang C of sim.analysis.theory, Planning):

    - pyworkforce (README, ``ErlangC(transactions=100, asa=20/60, aht=3, interval=30, shrinkage=0.3)``,
      ``required_positions(service_level=0.8, max_occupancy=0.85)``): raw_positions 14, positions 20,
      service_level 0.88835, occupancy 0.7143, waiting_probability 0.1741 (the R package ErlangC's
      ``calculate_agents`` documents the same case: 14 agents);
    - call-center-tools (PyPI, ``calc_staffing(calls_per_hour=1000, aht=120, max_occupancy=0.85,
      target_answer_time=20, target_service_level=0.8, shrinkage=0.3)``): traffic 33.333 Erlangs, waiting
      probability 19.07 %, service level 93.72 %, ASA 3.43 s, occupancy 83.33 %, 40 agents, 58 with shrinkage.

    Scheduled heads = productive / (1 − shrinkage), rounded up; with an occupancy cap the productive heads
    are at least load / cap — call-center-tools' 40 is the cap's (the service level alone asks fewer)."""
    level = staffing.Target.parse("service_level>=0.8@20s")
    planning = staffing.Planning(shrinkage=0.3, max_occupancy=0.85)
    rate = 100 / 1800
    raw = staffing.closed_form("C", rate, 180.0, 1.0, (level,), None)
    productive = max(raw, float(planning.occupancy_floor(np.array([rate * 180.0]))[0]))
    queue = ErlangC(rate, 180.0, int(productive))
    assert (raw, productive, planning.scheduled(np.array([productive]))[0]) == (14, 14, 20)
    assert (round(queue.service_level(20), 5), round(queue.occupancy, 4), round(queue.p_wait, 4)) == (
        0.88835, 0.7143, 0.1741)

    rate = 1000 / 3600
    load = rate * 120.0
    raw = staffing.closed_form("C", rate, 120.0, 1.0, (level,), None)
    productive = max(raw, float(planning.occupancy_floor(np.array([load]))[0]))
    queue = ErlangC(rate, 120.0, int(productive))
    assert round(load, 3) == 33.333 and raw < productive == 40
    assert planning.scheduled(np.array([productive]))[0] == 58
    assert (round(queue.p_wait * 100, 2), round(queue.service_level(20) * 100, 2), round(queue.mean_wait, 2),
            round(queue.occupancy * 100, 2)) == (19.07, 93.72, 3.43, 83.33)


def test_occupancy_cap_shrinkage_and_cost_in_a_study():
    scenario = mmc()
    planning = staffing.Planning(shrinkage=0.25, max_occupancy=0.5, cost={"a": 30.0}, fte_hours=37.5)
    study = staffing.requirement(scenario, ["abandonment_rate<=0.5"], replications=4, planning=planning)
    cells = busy(study)
    assert (cells["required"] >= np.ceil(cells["load"] / 0.5 - 1e-9)).all()  # the cap binds: targets are loose
    assert (cells["scheduled"] == np.ceil(cells["required"] / 0.75 - 1e-9)).all()
    hours = study.agent_hours().loc["support"]
    assert hours["scheduled"] == cells["scheduled"].sum() and math.isclose(hours["fte"], hours["scheduled"] * 7 / 37.5)
    assert math.isclose(hours["cost_per_week"], hours["scheduled"] * 7 * 30.0)
    with pytest.raises(ConvsimError, match="shrinkage 1"):
        staffing.Planning(shrinkage=1.0)
