"""The Python API takes what the command line takes, through the same parser: ``sim.compare``,
``sim.staff`` and ``sim.schedule`` with paths or shipped names, strategies as comma lists, targets with
percentages, durations such as "30m"; their results answer in words (``.answer()``, ``.summary()``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim
from sim import cli
from sim.experiments import api

SCENARIO = Path("scenarios/default.yaml")


def small_scenario(tmp_path: Path, duration: str = "4h") -> Path:
    data = yaml.safe_load(SCENARIO.read_text())
    data["duration"] = duration
    if duration != "1d":
        data["start"] = "2026-11-02T08:00:00"  # the morning: the workflow open, agents on shift
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def captured(monkeypatch, module, name):
    """Replace ``module.name`` with a recorder of its arguments (no study runs)."""
    calls = []

    def record(*args, **kwargs):
        calls.append((args, kwargs))
        raise SystemExit(0)

    monkeypatch.setattr(module, name, record)
    return calls


def test_staff_and_its_command_hand_the_study_the_same_parsed_arguments(tmp_path, monkeypatch, capsys):
    calls = captured(monkeypatch, api.staffing, "requirement")
    with pytest.raises(SystemExit):
        cli.main(["staff", "default", "--target", "service_level>=80%@60s", "--target", "abandonment_rate<=5%",
                  "--interval", "30m", "--shrinkage", "30%", "--max-occupancy", "85%", "--cost", "25",
                  "--cost", "support=28", "--strategy", "least_busy", "--replications", "3", "--workers", "1",
                  "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit):
        sim.staff("default", targets=["service_level>=80%@60s", "abandonment_rate<=5%"], interval="30m",
                  shrinkage="30%", max_occupancy=0.85, cost={"*": 25, "support": 28}, strategy="least_busy",
                  replications=3)
    (command, _), (python, _) = calls
    assert command[1:] == python[1:]  # targets, strategy, interval, replications, …, planning
    assert command[0] == python[0]  # the shipped scenario, read by name
    targets, strategy, interval, planning = python[1], python[2], python[3], python[-1]
    assert [str(t) for t in targets] == ["service_level>=0.8@60s", "abandonment_rate<=0.05"]
    assert (strategy, interval) == ("least_busy", 1800.0)
    assert (planning.shrinkage, planning.max_occupancy, planning.cost) == (0.3, 0.85, {"*": 25.0, "support": 28.0})


def test_schedule_and_its_command_share_the_parser_too(tmp_path, monkeypatch):
    calls = captured(monkeypatch, api.rostering, "schedule")
    templates = "scenarios/templates/shifts.yaml"
    with pytest.raises(SystemExit):
        cli.main(["schedule", str(SCENARIO), "--target", "service_level>=0.8@60s", "--templates", templates,
                  "--interval", "1h", "--shrinkage", "0.3", "--out", str(tmp_path / "out"), "--workers", "1"])
    with pytest.raises(SystemExit):
        sim.schedule(SCENARIO, "service_level>=80%@60s", templates, interval="1h", shrinkage="30%")
    (command, _), (python, _) = calls
    assert [str(t) for t in command[1]] == [str(t) for t in python[1]] == ["service_level>=0.8@60s"]
    assert command[4] == python[4] == 3600.0 and command[7] == python[7]  # interval, planning


@pytest.mark.parametrize(("arguments", "message"), [
    ({"interval": "30s"}, "under a minute"),
    ({"interval": "soon"}, "expected a duration"),
    ({"shrinkage": "130%"}, "a share is from 0 to 1"),
    ({"cost": "nobody=3"}, "unknown agent type"),
    ({"strategy": "round_robin,least_busy"}, "takes one strategy"),
    ({"targets": []}, "at least one target"),
])
def test_staff_refuses_what_the_command_refuses_before_anything_runs(arguments, message, monkeypatch):
    captured(monkeypatch, api.staffing, "requirement")
    with pytest.raises(sim.ConvsimError, match=message):
        sim.staff("default", **{"targets": "service_level>=0.8@60s", **arguments})


def test_compare_takes_names_or_comma_lists_and_answers_in_words(tmp_path):
    found = sim.compare(small_scenario(tmp_path), "round_robin,least_busy", replications=3, workers=1)
    assert isinstance(found, sim.Comparison) and found.strategies == ["round_robin", "least_busy"]
    table = found.summary(["service_level", "abandonment_rate"])
    assert list(table.index) == ["service_level", "abandonment_rate"]
    assert list(table.columns) == ["round_robin", "least_busy", "least_busy vs round_robin"]
    assert table.loc["service_level", "round_robin"].count("%") == 3  # mean [low, high]
    answer = found.answer(material=0.01)
    assert "Answer:" in answer and "service level" in answer
    same = sim.compare(small_scenario(tmp_path), ["round_robin", "least_busy"], replications=3, workers=1)
    pd.testing.assert_frame_equal(found.table, same.table)
    with pytest.raises(sim.StrategyError):
        sim.compare(small_scenario(tmp_path), "round_robin,fastest", replications=2)


def test_a_run_with_replications_gives_the_same_comparison(tmp_path):
    result = sim.run(small_scenario(tmp_path), strategy=["round_robin", "least_busy"], replications=3)
    found = result.comparison()
    assert found.frame().equals(result.compare())
    assert "Answer:" in found.answer()


def test_staffing_and_schedule_answer_in_words(tmp_path):
    plan = sim.schedule(small_scenario(tmp_path, "1d"), ["service_level>=80%@60s"], "scenarios/templates/shifts.yaml",
                        interval="1h", replications=2, shrinkage="30%", cost=25, workers=1)
    study = plan.study
    answer = study.answer()
    assert "Answer: " in answer and "Recommendation: " in answer
    assert "Whole day under the plan: service_level" in answer
    assert answer.count("agent-hours a day") == len(study.settings["teams"])
    summary = study.summary()
    assert list(summary.columns) == ["scenario plan", "requirement"] and "service_level" in summary.index
    assert "Roster: " in plan.answer() and list(plan.summary().columns) == ["scenario plan", "requirement", "roster"]
