"""The scenario file's reference (sim.model.reference): the checked-in JSON Schema and Markdown page are
what the models make now, the schema accepts what the loader accepts and refuses what it refuses, and
the shipped scenarios point editors at it."""

import datetime as dt
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import sim
from helpers import BASE, merge
from sim.model import reference, yamltext

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))  # scenarios (grids and shift templates are not)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    spec = reference.schema()
    Draft202012Validator.check_schema(spec)
    return Draft202012Validator(spec)


def as_file(data: object) -> object:
    """YAML as an editor's language server sees it: timestamps are text."""
    if isinstance(data, dict):
        return {key: as_file(value) for key, value in data.items()}
    if isinstance(data, list):
        return [as_file(value) for value in data]
    return data.isoformat() if isinstance(data, dt.datetime | dt.date) else data


def test_the_checked_in_schema_and_reference_page_are_current():
    behind = reference.stale(ROOT)
    assert not behind, (f"{', '.join(str(p.relative_to(ROOT)) for p in behind)}: not what the scenario models make; "
                        f"run `{reference.COMMAND}` (make schema) and commit the result")


def test_the_schema_ships_with_the_scenarios_package():
    shipped = resources.files("scenarios") / reference.SCHEMA_FILE
    assert shipped.is_file()
    assert (ROOT / "scenarios" / reference.SCHEMA_FILE).read_text() == shipped.read_text()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_is_valid_and_names_the_schema(path, validator):
    text = path.read_text()
    assert f"# yaml-language-server: $schema={reference.SCHEMA_FILE}" in text.splitlines()[0]
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in validator.iter_errors(as_file(yamltext.parse(text, str(path))))]
    assert not errors


# what a file may write, as the loader reads it: each must load, and pass the schema
ACCEPTED = {
    "durations as text": {"duration": "1.5h", "warmup": "15m", "service_target": "45s", "interval": 600},
    "a strategy by name": {"strategy": "least_busy"},
    "a strategy with its parameters beside its name": {"strategy": {"name": "skill_based", "relax_after": 30}},
    "shifts as text": {"agents": [{"id": "a", "team": "support", "shifts": ["08:00-12:00", "13:00-17:00"]}]},
    "a bare duration for a constant": {"handling": {"handle_time": "5m", "first_response": 20}},
    "a distribution by name": {"handling": {"handle_time": {"dist": "lognormal", "mean": "9m", "sd": "6m"}}},
    "distributions by case": {"handling": {"handle_time": {
        "cases": [{"when": {"channel": "webchat"}, "hours": "08:00-12:00", "dist": "2m"}], "otherwise": "4m"}}},
    "business hours as clock times": {"workflow": [
        {"type": "hours", "open": "08:00", "close": "18:00", "outside": "shut"},
        {"type": "assign"}, {"id": "shut", "type": "close", "category": "closed"}]},
    "shares": {"arrivals": {"generate": {"profile": [5], "channels": {"whatsapp": 0.25, "webchat": 0.75}}}},
    "message-level handling with shares of exchanges": {"handling": {"mode": "messages", "messages": {
        "reply_time": "30s", "think_time": {"dist": "exponential", "mean": "2m"}, "exchanges": {1: 0.5, 3: 0.5}}}},
}
REFUSED = {  # the loader refuses each, and the schema does too
    "a misspelt field": {"warmpu": "1h"},
    "a misspelt field of an agent": {"agents": [{"id": "a", "team": "support", "capacty": 2}]},
    "an unknown value": {"on_shift_end": "stop"},
    "a duration without a number": {"duration": "long"},
    "a negative capacity": {"agents": [{"id": "a", "team": "support", "capacity": 0}]},
    "an unknown distribution": {"handling": {"handle_time": {"dist": "weibull", "mean": 60}}},
    "an unknown step": {"workflow": [{"type": "pray"}]},
    "a shift that is no span": {"agents": [{"id": "a", "team": "support", "shifts": ["08:00"]}]},
}


@pytest.mark.parametrize("over", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_schema_accepts_what_the_loader_accepts(over, validator):
    data = merge(BASE, over)
    sim.parse(data)
    assert not list(validator.iter_errors(as_file(data)))


@pytest.mark.parametrize("over", REFUSED.values(), ids=REFUSED.keys())
def test_the_schema_refuses_what_the_loader_refuses(over, validator):
    data = merge(BASE, over)
    with pytest.raises(sim.ScenarioError):
        sim.parse(data)
    assert list(validator.iter_errors(as_file(data)))


def test_a_before_validator_whose_input_is_not_declared_stops_the_generator(monkeypatch):
    monkeypatch.delitem(reference.INPUTS, "sim.units.duration")
    with pytest.raises(reference.UndeclaredInput, match=r"sim\.units\.duration"):
        reference.schema()


def test_the_page_names_every_field_of_every_model():
    spec = reference.schema()
    page = reference.markdown(spec)
    for name, definition in [("Scenario", spec), *spec["$defs"].items()]:
        assert f"\n## {name}\n" in page
        forms = [definition, *definition.get("anyOf", [])]
        for field in (key for form in forms for key in form.get("properties", {})):
            assert f"| `{field}` |" in page, f"{name}.{field}"


def test_a_missing_or_changed_file_is_stale(tmp_path):
    assert reference.stale(tmp_path) == [tmp_path / reference.PAGE]  # (the schema is the package's, current)
    page = tmp_path / reference.PAGE
    page.parent.mkdir()
    page.write_text(reference.markdown(reference.schema()))
    assert reference.stale(tmp_path) == []
    page.write_text(page.read_text().replace("Scenario file reference", "Scenario reference"))
    assert reference.stale(tmp_path) == [page]
