"""Bad input, tried systematically: generated scenario files and traces, valid and broken.

Each case either runs (and so keeps every invariant, which are checked on every run) or fails with a
ScenarioError or TraceError naming the file and the place; no other exception may escape. Hypothesis runs
with a fixed seed (derandomize), so CI sees the same cases every time.
"""

import copy
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.errors import ScenarioError, TraceError

pytestmark = pytest.mark.filterwarnings("ignore:dropped:UserWarning")  # on_bad_rows: drop warns, as it should

VALID = {
    "start": "2026-11-02T08:00:00", "duration": "2h", "seed": 1, "channels": ["whatsapp", "webchat"],
    "arrivals": {"generate": {"profile": [40], "channels": {"whatsapp": 0.7, "webchat": 0.3},
                              "attributes": {"language": {"en": 0.8, "es": 0.2}},
                              "follow_ups": {"mean": 0.5, "delay": {"dist": "exponential", "mean": 60}}}},
    "contacts": {"patience": {"dist": "exponential", "mean": 300}, "silent_share": 0.1, "known_fields": ["language"],
                 "returning": {"probability": 0.1, "delay": {"dist": "constant", "value": 600}}},
    "handling": {"first_response": {"dist": "constant", "value": 10},
                 "handle_time": {"dist": "lognormal", "mean": 300, "sd": 200}, "slowdown": 0.1},
    "teams": {"sales": {}, "support": {}},
    "agents": [{"id": "s", "count": 2, "team": "sales", "capacity": 2, "skills": {"en": 3},
                "shifts": ["08:00-09:30"]},
               {"id": "t", "count": 2, "team": "support", "capacity": 3, "skills": {"en": 4, "es": 2}}],
    "workflow": [
        {"type": "ask", "id": "ask", "field": "intent", "answers": {"buy": 0.4, "help": 0.6}, "timeout": "2m"},
        {"type": "lookup", "fields": {"tier": {"vip": 0.1, "std": 0.9}}, "failure_probability": 0.05},
        {"type": "branch", "rules": [{"when": {"intent": "buy"}, "team": "sales"}], "default": "support"},
        {"type": "assign", "skills_from": ["language"], "timeout": "5m", "on_timeout": "give_up"},
        {"type": "close", "id": "give_up", "category": "timeout"},
    ],
    "strategy": {"name": "skill_based", "relax_after": "1m"},
}

PATHS = [
    ("duration",), ("seed",), ("channels",), ("strategy",), ("start",), ("interval",), ("on_shift_end",),
    ("arrivals", "generate", "profile"), ("arrivals", "generate", "profile_step"), ("arrivals", "generate", "channels"),
    ("arrivals", "generate", "overdispersion"), ("arrivals", "generate", "follow_ups", "mean"),
    ("contacts", "patience"), ("contacts", "silent_share"), ("contacts", "returning", "probability"),
    ("handling", "handle_time"), ("handling", "handle_time", "sd"), ("handling", "slowdown"), ("handling", "auto_close"),
    ("teams",), ("agents",), ("agents", 0, "capacity"), ("agents", 0, "count"), ("agents", 0, "shifts"),
    ("agents", 0, "team"), ("agents", 1, "skills"), ("agents", 1, "speed"), ("workflow",), ("workflow", 0, "timeout"),
    ("workflow", 2, "default"), ("workflow", 2, "rules", 0, "team"), ("workflow", 3, "on_timeout"),
    ("workflow", 3, "max_open"), ("workflow", 1, "fields"), ("workflow", 0, "answers"),
]
NASTY = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["-5m", "1e400", "99:99-00:00", "09:00-08:00", "08:00-12:00", "ghost",
                                           "round_robin", "nope", "15m", "0", "sales", "1d"]),
    st.lists(st.integers(-5, 5), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(-3, 3), max_size=3),
    st.just([{"id": "x", "team": "ghost"}]), st.just(["08:00-12:00", "11:00-13:00"]),
    st.just({"dist": "gamma", "mean": 5, "sd": -1}), st.just({"dist": "exponential", "mean": 1e12}),
)
EXAMPLES = 300  # per test; three tests
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=EXAMPLES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def mutate(data, path, value, delete):
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return data
    try:
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        pass
    return data


def check(path, *also_named):
    try:
        result = sim.run(path)
    except (ScenarioError, TraceError) as error:
        message = str(error)
        assert any(name in message for name in (path.name, *also_named)), message
        assert "\n" not in message.strip() or len(message) < 4000
        # names a place: a field path, a row, or a column
        assert re.search(r"(\w+\.\w+|\w+: |row \d+|column)", message), message
        return "error"
    assert result.summary.loc[0, "conversations_opened"] >= 0
    return "ran"


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), NASTY, st.booleans()), min_size=1, max_size=3))
def test_generated_scenarios_run_or_fail_clearly(tmp_path_factory, mutations):
    data = VALID
    for path, value, delete in mutations:
        data = mutate(data, path, value, delete)
    folder = tmp_path_factory.mktemp("scenario")
    path = folder / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    check(path)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_a_scenario_fail_clearly(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("bytes") / "fuzzed.yaml"
    path.write_bytes(content)
    check(path)


TIMESTAMPS = st.one_of(st.sampled_from(["2026-11-02T08:10:00", "2026-11-02T08:10:00+01:00", "600", "-5", "1e9",
                                        "yesterday", "", "2026-13-45T99:00:00", "nan", "inf"]),
                       st.floats(-1e4, 2e4).map(lambda x: f"{x:.3f}"))
ROWS = st.lists(st.tuples(TIMESTAMPS, st.sampled_from(["a", "b", "c", "", "é"]),
                          st.sampled_from(["whatsapp", "webchat", "fax", ""]),
                          st.sampled_from(["en", "es", "", "zz"]),
                          st.sampled_from(["", "120", "-3", "abc"])), max_size=25)


@FUZZ
@given(ROWS, st.booleans(), st.sampled_from(["error", "drop"]), st.binary(max_size=8))
def test_generated_traces_load_and_run_or_fail_clearly(tmp_path_factory, rows, unsorted, on_bad_rows, junk):
    folder = tmp_path_factory.mktemp("trace")
    lines = ["timestamp,contact_id,channel,language,handle_time"] + [",".join(row) for row in rows]
    if unsorted:
        lines = lines[:1] + lines[1:][::-1]
    (folder / "trace.csv").write_bytes("\n".join(lines).encode() + b"\n" + junk)
    data = copy.deepcopy(VALID)
    data["arrivals"] = {"trace": {"path": "trace.csv", "on_bad_rows": on_bad_rows}}
    path = folder / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data))
    check(path, "trace.csv")


def test_a_small_derandomised_profile_of_every_hostile_class():
    """tests/fuzzing.py (make fuzz) at a small, fixed profile: every class of hostile input ends in ok or a
    clean error, never a traceback, a hang, wrong data or a special file replaced."""
    import fuzzing

    tally = fuzzing.fuzz(cases=240, derandomize=True, progress=False)
    assert set(tally.counts) == set(fuzzing.CLASSES)
    assert tally.bad() == 0, tally.table() + "\n" + "\n".join(f"{k}: {v}" for k, v in tally.first.items())
