"""Scenario files: the shipped ones load, and bad ones give errors naming file, field and value."""

from pathlib import Path

import pytest

import sim
from helpers import BASE, merge
from sim.errors import ScenarioError

SCENARIOS = sorted(Path("scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_load_and_run(path):
    result = sim.run(path)
    assert result.summary.loc[0, "conversations_opened"] > 100


def test_default_scenario_is_a_realistic_day():
    scenario = sim.load("scenarios/default.yaml")
    assert set(scenario.teams) == {"sales", "support", "billing"}
    agents = [a for spec in scenario.agents for a in spec.ids()]
    assert 14 <= len(agents) <= 18
    assert {spec.capacity for spec in scenario.agents} <= {3, 4, 5}
    assert {type(step).__name__ for step in scenario.workflow} >= {"Ask", "Lookup", "Branch", "Assign"}
    assert set(scenario.arrivals.generate.attributes["language"]) == {"en", "es"}


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def error_for(data) -> str:
    with pytest.raises(ScenarioError) as info:
        sim.parse(data, source="s.yaml")
    return str(info.value)


@pytest.mark.parametrize("over, expected", [
    ({"agents": [{"id": "a", "team": "support", "capacity": -1}]}, "agents.0.capacity: Input should be greater than or equal to 1 (got -1)"),
    ({"agents": [{"id": "a", "team": "ghost"}]}, "agents.0.team: unknown team 'ghost'; known: support"),
    ({"duration": "ten hours"}, "duration: expected a duration such as 90s, 15m or 2h, got 'ten hours'"),
    ({"duration": -5}, "duration: a duration must be finite and not negative, got -5"),
    ({"workflow": [{"type": "branch", "default": "nobody"}]}, "workflow.0.default: unknown team 'nobody'"),
    ({"workflow": [{"type": "assign", "timeout": 30, "on_timeout": "nowhere"}]}, "workflow.0.on_timeout: unknown step id 'nowhere'"),
    ({"workflow": [{"type": "teleport"}]}, "workflow.0: Input tag 'teleport' found using 'type' does not match"),
    ({"workflow": [{"type": "assign", "timeout": 30}]}, "give both 'timeout' and 'on_timeout', or neither"),
    ({"agents": [{"id": "a", "team": "support", "shifts": ["09:00-08:00"]}]}, "agents.0.shifts.0: shift ends (8h) before it starts (9h)"),
    ({"agents": [{"id": "a", "team": "support", "shifts": ["08:00-12:00", "11:00-14:00"]}]}, "shifts overlap: 08:00-12:00 and 11:00-14:00"),
    ({"agents": [{"id": "a", "team": "support", "shifts": ["8-12"]}]}, "expected a clock time HH:MM, got '8'"),
    ({"agents": [{"id": "a", "team": "support"}, {"id": "a", "team": "support"}]}, "agents: ids used twice: a"),
    ({"handling": {"handle_time": {"dist": "lognormal", "mean": 5}}}, "handling.handle_time.lognormal.sd: Field required"),
    ({"handling": {"handle_time": {"dist": "weibull", "mean": 5}}}, "handling.handle_time: Input tag 'weibull'"),
    ({"contacts": {"silent_share": 1.5}}, "contacts.silent_share: Input should be less than or equal to 1 (got 1.5)"),
    ({"arrivals": {"generate": {"profile": [-3], "channels": {"whatsapp": 1}}}}, "arrivals.generate.profile.0: Input should be greater than or equal to 0 (got -3)"),
    ({"arrivals": {"generate": {"profile": [1], "channels": {"fax": 1}}}}, "arrivals.generate.channels: unknown channel 'fax'"),
    ({"arrivals": {"generate": {"profile": [1], "channels": {"whatsapp": -1}}}}, "share of 'whatsapp' must be a number >= 0, got -1"),
    ({"capacity": 3}, "capacity: Extra inputs are not permitted (got 3)"),
    ({"outbound": [{"at": "11h", "contact_id": "c", "channel": "whatsapp", "team": "support"}]}, "outbound.0.at: 39600 s is not before the scenario's end (36000 s)"),
])
def test_bad_fields_name_the_field_and_the_value(over, expected):
    message = error_for(merge(BASE, over))
    assert message.startswith("s.yaml: ")
    assert expected in message


def test_missing_fields_are_named():
    data = dict(BASE)
    del data["teams"]
    assert "teams: Field required" in error_for(data)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"missing\.yaml: cannot read the scenario"):
        sim.load(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match=r"s\.yaml: not valid YAML"):
        sim.load(write(tmp_path, "a: [1, 2\n"))
    with pytest.raises(ScenarioError, match=r"s\.yaml: not UTF-8 text \(byte 6: 0xff\)"):
        sim.load(write(tmp_path, b"name: \xff\xfe"))
    with pytest.raises(ScenarioError, match=r"s\.yaml: expected a mapping of scenario fields, got list"):
        sim.load(write(tmp_path, "- 1\n- 2\n"))


def test_yaml_is_loaded_safely(tmp_path):
    text = "name: !!python/object/apply:os.system ['echo unsafe']\n"
    with pytest.raises(ScenarioError, match="not valid YAML"):
        sim.load(write(tmp_path, text))


def test_distribution_means_and_durations():
    scenario = sim.parse(merge(BASE, {"handling": {"handle_time": {"dist": "gamma", "mean": "2m", "sd": "30s"},
                                                   "auto_close": "1d"}}))
    assert scenario.handling.handle_time.mean == 120.0
    assert scenario.handling.auto_close == 86400.0


def test_a_skill_no_agent_has_is_named():
    data = merge(BASE, {"agents": [{"id": "a", "team": "support", "skills": {"en": 3}}],
                        "workflow": [{"type": "ask", "field": "language", "answers": {"en": 0.5, "zz": 0.5}},
                                     {"type": "assign", "skills_from": ["language"]}]})
    with pytest.raises(ScenarioError, match=r"s\.yaml: workflow\.1\.skills_from: field 'language' can be 'zz', a skill no agent has"):
        sim.run(sim.parse(data, source="s.yaml"))


def test_reading_a_scenario_writes_nothing_reaches_no_network_and_imports_no_strategy(monkeypatch, tmp_path):
    import builtins
    import socket
    import sys

    text = Path("scenarios/default.yaml").read_text()
    path = tmp_path / "s.yaml"
    path.write_text(text.replace("strategy: {name: skill_based, relax_after: 2m}", "strategy: least_busy"))
    real_open = builtins.open

    def read_only(file, mode="r", *args, **kwargs):
        assert not any(flag in mode for flag in "wax+"), f"reading a scenario opened {file} to write"
        return real_open(file, mode, *args, **kwargs)

    def no_network(*args, **kwargs):
        raise AssertionError("reading a scenario reached for the network")

    monkeypatch.setattr(builtins, "open", read_only)
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.delitem(sys.modules, "custom_strategy", raising=False)
    before = set(tmp_path.iterdir())
    sim.load(path)
    assert set(tmp_path.iterdir()) == before
    assert "custom_strategy" not in sys.modules  # a user's strategy is imported only when named


def test_shipped_scenarios_load_by_name_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the repository: the scenarios come from the installed package
    assert sim.load("default").name == "default"
    assert sim.load("multiskill").name == "multiskill"
    with pytest.raises(sim.ScenarioError, match="nope: cannot read the scenario"):
        sim.load("nope")


def test_a_bare_duration_is_a_constant_distribution():
    scenario = sim.parse(merge(BASE, {"handling": {"handle_time": "90s", "first_response": 5}}))
    assert (scenario.handling.handle_time.dist, scenario.handling.handle_time.value) == ("constant", 90.0)
    assert scenario.handling.first_response.value == 5.0


def test_step_durations_share_one_name_and_the_old_ones_load_with_a_warning():
    ask = {"type": "ask", "field": "intent", "answers": {"x": 1}, "duration": "20s"}
    assert sim.parse(merge(BASE, {"workflow": [ask, {"type": "assign"}]})).workflow[0].duration.value == 20.0
    old = {"type": "lookup", "id": "crm", "fields": {"tier": {"a": 1}}, "latency": "2s"}
    with pytest.warns(FutureWarning, match="workflow step 'crm': 'latency' is now called 'duration'"):
        assert sim.parse(merge(BASE, {"workflow": [old, {"type": "assign"}]})).workflow[0].duration.value == 2.0
    with pytest.raises(ScenarioError, match="give 'duration' only"):
        sim.parse(merge(BASE, {"workflow": [{**old, "duration": "1s"}, {"type": "assign"}]}))
