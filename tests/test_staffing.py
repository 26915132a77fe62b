"""Capacity planning: the simulated requirement against Erlang C and Erlang A, plans, targets, the CLI."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import make_scenario
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


def busy(study: staffing.Staffing) -> pd.DataFrame:
    return study.cells[study.cells["status"] != "no traffic"]


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
