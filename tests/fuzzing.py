"""Fuzzing convsim the way an outside attack did: generated hostile input of every class, each case ending in
one outcome — ok, clean error, traceback, hang, wrong data or special file replaced.

    .venv/bin/python tests/fuzzing.py --cases 10000          # make fuzz: random, about 10,000 cases
    .venv/bin/python tests/fuzzing.py --cases 300 --derandomize

Classes (Hypothesis generators): tree mutations of every shipped scenario, YAML text attacks, numeric edges,
CSV and Parquet traces with real timestamp types, command-line misuse, user strategy modules, resume after
damage or edits, and special output paths (FIFOs, links, sockets, folders) in a private temporary folder.

Every run that succeeds is checked again from the tables it wrote: one open conversation per contact, no
agent above capacity, each conversation's times in order and finite, events in time order, as many
conversations as the summary says. A case that runs longer than ``HANG`` seconds is a hang. The table at
the end counts class × outcome; the exit status is 1 if any case ended in a traceback, a hang, wrong data or
a special file replaced (the first of each is shown).

tests/test_fuzz.py runs a small derandomised profile of every class in ``make test``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import math
import os
import re
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sim  # noqa: E402
from sim import cli  # noqa: E402
from sim.errors import ConvsimError  # noqa: E402
from sim.io import results  # noqa: E402

OUTCOMES = ("ok", "clean error", "traceback", "hang", "wrong data", "special file replaced")
BAD = ("traceback", "hang", "wrong data", "special file replaced")
HANG = 20.0  # seconds a case may take


class Hang(BaseException):
    """A case ran longer than HANG seconds."""


class WrongData(Exception):
    """A run's written tables break a rule of the model."""


class Replaced(Exception):
    """A special output path was replaced."""


# ------------------------------------------------------------------------------------------ checking


def check_tables(folder: Path, scenario: sim.Scenario | None = None) -> None:
    """Read back what a run wrote and check the model's rules on it; raise WrongData naming the rule."""
    conversations = pd.read_parquet(folder / "conversations.parquet")
    summary = pd.read_parquet(folder / "summary.parquet")
    events = pd.read_parquet(folder / "events.parquet") if (folder / "events.parquet").exists() else None
    agents = pd.read_parquet(folder / "agents.parquet")
    times = ["opened_at", "assigned_at", "first_response_at", "closed_at"]
    values = conversations[times].to_numpy(dtype=float)
    if np.isinf(values).any():
        raise WrongData("a conversation time is infinite")
    if conversations["opened_at"].isna().any():
        raise WrongData("a conversation without an opening time")
    for before, after in [(0, 1), (1, 2), (0, 2), (2, 3), (1, 3), (0, 3)]:
        a, b = values[:, before], values[:, after]
        if ((a > b + 1e-9) & ~np.isnan(a) & ~np.isnan(b)).any():
            row = int(np.flatnonzero((a > b + 1e-9) & ~np.isnan(a) & ~np.isnan(b))[0])
            raise WrongData(f"times out of order: {times[before]} after {times[after]} (conversation row {row})")
    if (values[:, 0] < 0).any():
        raise WrongData("a conversation opened before the start")
    keys = ["strategy", "seed"]
    for (strategy, seed), group in conversations.groupby(keys, observed=True):
        ordered = group.sort_values(["contact_id", "opened_at", "conversation_id"])
        same = ordered["contact_id"].to_numpy()
        opened = ordered["opened_at"].to_numpy(dtype=float)
        closed = ordered["closed_at"].to_numpy(dtype=float)
        next_same = np.r_[same[1:] == same[:-1], False]
        still_open = np.isnan(closed[:-1]) | (closed[:-1] > opened[1:] + 1e-9) if len(opened) > 1 else []
        if len(opened) > 1 and (next_same[:-1] & still_open).any():
            row = int(np.flatnonzero(next_same[:-1] & still_open)[0])
            raise WrongData(f"two open conversations of contact {same[row]!r} ({strategy}, seed {seed})")
        row = summary[(summary["strategy"].astype(str) == str(strategy)) & (summary["seed"] == seed)]
        warm = float(row["warmup"].iloc[0]) if len(row) and "warmup" in row else 0.0
        if len(row) and warm == 0 and int(row["conversations_opened"].iloc[0]) != len(group):
            raise WrongData(f"the summary says {int(row['conversations_opened'].iloc[0])} conversations opened, "
                            f"the table holds {len(group)} ({strategy}, seed {seed})")
    weighted = scenario is not None and bool(scenario.channel_weights)
    if events is None or weighted:
        return
    capacity = {(str(s), int(d), str(a)): int(c) for s, d, a, c in
                agents[["strategy", "seed", "agent_id", "capacity"]].itertuples(index=False)}
    for (strategy, seed), group in events.groupby(keys, observed=True, sort=False):
        stamps = group["time"].to_numpy(dtype=float)
        if (np.diff(stamps) < -1e-9).any():
            raise WrongData(f"events out of time order ({strategy}, seed {seed})")
        holding: dict[int, str] = {}
        load: Counter[str] = Counter()
        for conversation, event, agent in zip(group["conversation_id"].to_numpy(), group["event"].astype(str),
                                              group["agent_id"].astype(object), strict=True):
            if event == "assigned":
                holding[conversation] = str(agent)
                load[str(agent)] += 1
                if load[str(agent)] > capacity.get((str(strategy), int(seed), str(agent)), math.inf):
                    raise WrongData(f"agent {agent} above its capacity ({strategy}, seed {seed})")
            elif event in ("conversation_closed", "handed_back", "abandoned") and conversation in holding:
                load[holding.pop(conversation)] -= 1


# ------------------------------------------------------------------------------------------ running


class Case:
    """What one case did, and the outcome it ended in."""

    def __init__(self, kind: str, shown: str) -> None:
        self.kind, self.shown = kind, shown


def _alarm(_signum: int, _frame: Any) -> None:
    raise Hang()


@contextlib.contextmanager
def _limit(seconds: float):
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _one_line(message: str) -> bool:
    return "\n" not in message.strip() and len(message) < 3000 and "\x1b" not in message


class Tally:
    """Outcomes by class, with the first case of each bad outcome."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.first: dict[tuple[str, str], str] = {}
        self.slowest: tuple[float, str] = (0.0, "")
        self.largest: tuple[float, float, str] = (0.0, 0.0, "")  # MB one case added to the resident size at
        # its peak (Linux), the peak, and the case

    def record(self, kind: str, outcome: str, shown: str, detail: str = "", took: float = 0.0,
               peak_mb: tuple[float, float] = (0.0, 0.0)) -> None:
        self.counts[kind][outcome] += 1
        if outcome in BAD and (kind, outcome) not in self.first:
            self.first[(kind, outcome)] = f"{shown[:600]}\n    -> {detail[-1500:]}"
        if took > self.slowest[0]:
            self.slowest = (took, f"{kind}: {shown[:200]}")
        if peak_mb[1] - peak_mb[0] > self.largest[0]:
            self.largest = (peak_mb[1] - peak_mb[0], peak_mb[1], f"{kind}: {shown[:300]}")

    def bad(self) -> int:
        return sum(count for counter in self.counts.values() for outcome, count in counter.items() if outcome in BAD)

    def table(self) -> str:
        width = max([len(k) for k in self.counts] + [5])
        lines = [f"{'class':<{width}}  {'cases':>6}  " + "  ".join(f"{o:>{max(len(o), 5)}}" for o in OUTCOMES)]
        total: Counter[str] = Counter()
        for kind, counter in self.counts.items():
            total.update(counter)
            lines.append(f"{kind:<{width}}  {sum(counter.values()):>6}  " +
                         "  ".join(f"{counter[o]:>{max(len(o), 5)}}" for o in OUTCOMES))
        lines.append(f"{'all':<{width}}  {sum(total.values()):>6}  " +
                     "  ".join(f"{total[o]:>{max(len(o), 5)}}" for o in OUTCOMES))
        return "\n".join(lines)


TALLY = Tally()


def _reset_peak() -> None:
    """Start the process's peak resident size afresh (Linux: ``clear_refs`` 5), so a case's own is seen."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    """The process's peak resident size since :func:`_reset_peak` (MB; 0 where /proc does not say)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return 0.0


def attempt(kind: str, shown: str, body: Callable[[], str | None]) -> str:
    """Run one case's ``body`` (which returns "ok" or "clean error", or raises) and record its outcome."""
    _reset_peak()
    before = _peak_mb()
    started = time.perf_counter()
    detail = ""
    try:
        with _limit(HANG), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            outcome = body() or "ok"
    except Hang:
        outcome, detail = "hang", f"longer than {HANG:g} s"
    except WrongData as exc:
        outcome, detail = "wrong data", str(exc)
    except Replaced as exc:
        outcome, detail = "special file replaced", str(exc)
    except ConvsimError as exc:
        outcome, detail = ("clean error", "") if _one_line(str(exc)) else ("traceback", f"messy message: {exc!r}")
    except BaseException as exc:  # every escape is the finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        outcome, detail = "traceback", "".join(traceback.format_exception(exc)[-6:])
    TALLY.record(kind, outcome, shown, detail, time.perf_counter() - started, (before, _peak_mb()))
    return outcome


def run_and_check(scenario: sim.Scenario, folder: Path, strategies: list[str] | None = None) -> str:
    """Run a scenario, write its tables as ``convsim run`` does, read them back and check them."""
    with results.EventStream(folder) as stream:
        result = sim.run(scenario, strategies, event_sink=stream)
    results.write(result, folder, events=False)
    check_tables(folder, scenario)
    return "ok"


_PROGRESS = re.compile(r"^[\w :-]*(\d+%\||\d+\w* \[\d\d:\d\d)")  # a tqdm bar's line


def cli_case(argv: list[str]) -> str:
    """A command line: exit 0 is ok, exit 2 with one line on stderr a clean error; else a traceback."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's refusals: usage and one error line
            code = exc.code
            if code == 2 and "error:" in err.getvalue():
                return "clean error"
            raise
    message = "\n".join(line for line in err.getvalue().replace("\r", "\n").splitlines()
                        if line.strip() and not _PROGRESS.match(line))  # progress bars left out
    if code == 0:
        return "ok"
    if code == 2 and message.startswith("convsim: error:") and message.count("\n") == 0 and "\x1b" not in message:
        return "clean error"
    if code == 1 and "error" not in message:  # validate's "some cases failed"
        return "ok"
    raise RuntimeError(f"exit {code}: {message[-500:]!r}")


# ------------------------------------------------------------------------------------------ inputs

SHIPPED = {}
for _path in sorted((ROOT / "scenarios").glob("*.yaml")):
    _data = yaml.safe_load(_path.read_text())
    try:
        sim.parse(_data, base_dir=_path.parent)
    except ConvsimError:
        continue  # not a scenario (shift templates, say)
    _data["duration"] = "2h"  # small enough to run thousands
    _data["drain"] = False
    if "trace" in _data.get("arrivals", {}):
        _data["arrivals"]["trace"]["on_bad_rows"] = "drop"
    SHIPPED[_path.stem] = _data

NASTY = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["-5m", "1e400", "99:99-00:00", "22:00", "06:00", "0", "0s", "1d", "15m", "nope", "round_robin",
                     ":", "..:x", "\x1b[31m", "a\nb", "support", "whatsapp", "2262-04-11T00:00:00", "1500-01-01"]),
    st.lists(st.integers(-2, 5), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(-2, 2), max_size=2),
    st.just({"dist": "gamma", "mean": 1e200, "sd": 1e-200}), st.just({"dist": "exponential", "mean": 1e-9}),
    st.just({"dist": "lognormal", "mean": 1, "sd": 1e100}), st.just({"dist": "constant", "value": 0}),
)
EDGES = st.sampled_from([0, -0.0, 1, -1, 1e-300, 1e-9, 0.5, 1e9, 1e300, float("nan"), float("inf"), -float("inf"),
                         2**31, 2**63 - 1, 2**63, 2**64, -2**63, 10**12, 100_000, 100_001, "0", "1e-9", "9e99"])


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _mutated(data: dict, path: tuple, operation: str, value: Any) -> dict:
    data = copy.deepcopy(data)
    if not path:
        return data
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if operation == "delete":
        del parent[key]
    elif operation == "set":
        parent[key] = value
    elif operation == "wrap":
        parent[key] = [parent[key]]
    elif operation == "text":
        parent[key] = str(parent[key])
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif operation == "swap" and isinstance(parent, list) and len(parent) > 1:
        parent[key], parent[key - 1] = parent[key - 1], parent[key]
    return data


LARGE = 100_000  # messages: a valid scenario asking for more is accepted, not run (it would take minutes)


def _large(scenario: sim.Scenario) -> bool:
    """Whether a valid scenario asks for more than LARGE messages (a long run, by request: not a hang)."""
    from sim.model import arrivals

    spec = scenario.arrivals.generate
    if spec is None:
        return False
    kinds = list(spec.types.values()) or [None]
    expected = 0.0
    for kind in kinds:
        step = spec.profile_step if kind is None or kind.profile_step is None else kind.profile_step
        if (scenario.duration + 86400) / step > arrivals.MAX_INTERVALS:
            return False  # refused by the run itself
        edges, rate = arrivals.rates(spec, scenario.duration, scenario.start, kind)
        expected += float((rate * np.diff(edges)).sum())
    expected *= (1 + (spec.follow_ups.mean if spec.follow_ups else 0)) * (1 + 10 * spec.overdispersion)
    return expected > LARGE or scenario.duration > 7 * 86400


def _scenario_case(data: Any, folder: Path, base_dir: Path) -> str:
    if not isinstance(data, dict):
        return "clean error"
    scenario = sim.parse(data, source="fuzzed.yaml", base_dir=base_dir)
    if _large(scenario):
        return "ok"
    return run_and_check(scenario, folder)


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="case-", dir=WORK))


WORK = Path(tempfile.gettempdir())


# ------------------------------------------------------------------------------------------ classes


@st.composite
def tree_mutations(draw: st.DrawFn) -> tuple[str, dict]:
    name = draw(st.sampled_from(sorted(SHIPPED)))
    data = SHIPPED[name]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        operation = draw(st.sampled_from(["set", "set", "set", "delete", "wrap", "text", "duplicate", "swap"]))
        data = _mutated(data, path, operation, draw(NASTY) if operation == "set" else None)
    return name, data


def case_tree(example: tuple[str, dict]) -> None:
    name, data = example
    attempt("scenario tree mutations", f"{name}: {data!r}",
            lambda: _scenario_case(data, _folder(), ROOT / "scenarios"))


def _bomb(depth: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth)]
    return "\n".join(lines) + f"\nduration: *a{depth - 1}\n"


YAML_ATTACKS = st.one_of(
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.text(max_size=200),
    st.integers(1, 2000).map(lambda n: "duration: 1h\nx: " + "[" * n + "]" * n),
    st.integers(1, 2000).map(lambda n: "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(n))),
    st.integers(1, 12).map(_bomb),
    st.just("a: &a [*a]\n"),
    st.sampled_from(["duration: 1h\nduration: 2h\n", "!!python/object/apply:os.system ['true']\n",
                     "duration: !!binary aGVsbG8=\n", "\tduration: 1h\n", "duration: [1h\n", "{duration: 1h,,}\n",
                     "%YAML 9.9\n---\nduration: 1h\n", "--- a\n--- b\n", "duration: 1h\n<<: {seed: 1}\n",
                     "? [a, b]\n: c\n", "duration: \x00\n", "\ufeffduration: 1h\n"]),
)


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    base = yaml.safe_dump(SHIPPED["default"], sort_keys=False)
    attack = draw(YAML_ATTACKS)
    where = draw(st.sampled_from(["alone", "prefix", "suffix", "middle"]))
    if where == "alone":
        return attack
    if where == "prefix":
        return attack + "\n" + base
    if where == "suffix":
        return base + "\n" + attack
    cut = draw(st.integers(0, len(base)))
    return base[:cut] + attack + base[cut:]


def case_yaml(text: str) -> None:
    def body() -> str:
        from sim.model import scenario as scenario_file

        path = _folder() / "attack.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        scenario = scenario_file.load(path)
        return "ok" if _large(scenario) else run_and_check(scenario, path.parent)

    attempt("YAML text attacks", repr(text if len(text) <= 300 else text[:80] + " … " + text[-220:]), body)


NUMERIC_FIELDS = [("duration",), ("seed",), ("interval",), ("service_target",), ("warmup",),
                  ("arrivals", "generate", "volume"), ("arrivals", "generate", "profile", 0),
                  ("arrivals", "generate", "profile_step"), ("arrivals", "generate", "overdispersion"),
                  ("arrivals", "generate", "follow_ups", "mean"), ("contacts", "silent_share"),
                  ("contacts", "patience", "mean"), ("handling", "handle_time", "mean"), ("handling", "handle_time", "sd"),
                  ("handling", "slowdown"), ("handling", "auto_close"), ("handling", "first_response", "mean"),
                  ("agents", 0, "count"), ("agents", 0, "capacity"), ("agents", 0, "speed"),
                  ("workflow", 0, "timeout"), ("workflow", 0, "answer_probability"), ("workflow", 1, "failure_probability"),
                  ("contacts", "returning", "probability"), ("contacts", "returning", "delay")]


@st.composite
def numeric_edges(draw: st.DrawFn) -> tuple[dict, list]:
    data = copy.deepcopy(SHIPPED["default"])
    data.setdefault("contacts", {})["returning"] = {"probability": 0.1, "delay": {"dist": "constant", "value": 600}}
    changes = []
    for _ in range(draw(st.integers(1, 3))):
        path, value = draw(st.sampled_from(NUMERIC_FIELDS)), draw(EDGES)
        data = _mutated(data, path, "set", value)
        changes.append((".".join(map(str, path)), value))
    return data, changes


def case_numeric(example: tuple[dict, list]) -> None:
    data, changes = example
    attempt("numeric edges", f"default.yaml with {changes!r}",
            lambda: _scenario_case(data, _folder(), ROOT / "scenarios"))


STAMP_KINDS = ["iso", "iso zoned", "seconds", "utc", "naive", "zoned", "ms", "s", "duration", "date", "int ns", "mixed"]


@st.composite
def traces(draw: st.DrawFn) -> dict:
    rows = draw(st.integers(0, 30))
    seconds = draw(st.lists(st.one_of(st.floats(-100, 8000, allow_nan=False), st.sampled_from([0.0, 7200.0, 7199.999])),
                            min_size=rows, max_size=rows))
    return {"seconds": seconds, "kind": draw(st.sampled_from(STAMP_KINDS)),
            "format": draw(st.sampled_from(["csv", "parquet"])),
            "contacts": draw(st.lists(st.sampled_from(["a", "b", "c", "", "é", "\x1b"]), min_size=rows, max_size=rows)),
            "channels": draw(st.lists(st.sampled_from(["whatsapp", "webchat", "fax"]), min_size=rows, max_size=rows)),
            "handle": draw(st.lists(st.sampled_from(["", "120", "-3", "abc", "1e400", "inf"]), min_size=rows,
                                    max_size=rows)),
            "on_bad_rows": draw(st.sampled_from(["error", "drop"])),
            "columns": draw(st.sampled_from([{}, {"timestamp": "sent_at"}, {"timestamp": "contact_id"}]))}


def _stamp_column(seconds: list[float], kind: str) -> pd.Series:
    start = pd.Timestamp("2026-11-02T08:00:00")
    offsets = pd.to_timedelta(pd.Series(seconds, dtype=float), unit="s")
    stamps = start + offsets
    if kind == "iso":
        return stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if kind == "iso zoned":
        return stamps.dt.tz_localize("UTC").dt.tz_convert("Asia/Kolkata").map(lambda t: t.isoformat())
    if kind == "seconds":
        return pd.Series(seconds, dtype=float).map(repr)
    if kind == "utc":
        return stamps.dt.tz_localize("UTC")
    if kind == "naive":
        return stamps
    if kind == "zoned":
        return stamps.dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    if kind == "ms":
        return stamps.astype("datetime64[ms]")
    if kind == "s":
        return stamps.astype("datetime64[s]")
    if kind == "duration":
        return offsets
    if kind == "date":
        return stamps.dt.date.astype(object)
    if kind == "int ns":
        return stamps.astype("int64")
    return pd.Series([str(v) if i % 2 else v for i, v in enumerate(stamps)], dtype=object)  # mixed


def case_trace(spec: dict) -> None:
    def body() -> str:
        folder = _folder()
        column = _stamp_column(spec["seconds"], spec["kind"])
        frame = pd.DataFrame({"timestamp": column, "contact_id": spec["contacts"], "channel": spec["channels"],
                              "handle_time": spec["handle"]})
        name = spec["columns"].get("timestamp", "timestamp")
        if name != "timestamp":
            frame = frame.rename(columns={"timestamp": name}) if name not in frame else frame
        path = folder / f"trace.{spec['format']}"
        if spec["format"] == "csv":
            frame.to_csv(path, index=False)
        else:
            try:
                frame.to_parquet(path, index=False)
            except Exception:  # a column pyarrow cannot store: write it as text
                frame.astype(str).to_parquet(path, index=False)
        data = copy.deepcopy(SHIPPED["default"])
        data["arrivals"] = {"trace": {"path": path.name, "on_bad_rows": spec["on_bad_rows"],
                                      "columns": spec["columns"]}}
        data["contacts"].pop("known_fields", None)
        return _scenario_case(data, folder, folder)

    attempt("CSV and Parquet traces", repr({k: v for k, v in spec.items() if k != "contacts"})[:400], body)


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    scenario = str(SMALL)
    value = st.one_of(st.sampled_from(["", "0", "-1", "1", "2", "abc", "1e9", str(2**64), ",", ":", "..:x",
                                       "round_robin", "least_busy,round_robin", "garbage", "local", "30s", "15m",
                                       "\x1b[31m", "a\nb", "/nonexistent/x", "service_level>=0.8@60s", "csv",
                                       "xes", "quick"]),
                      st.text(max_size=6))
    command = draw(st.sampled_from(["run", "compare", "sweep", "trace generate", "trace fit", "trace show",
                                    "report", "process-log", "strategies", "staff", "nonsense"]))
    argv = command.split()
    if command in ("run", "compare", "sweep", "trace generate", "staff"):
        argv.append(draw(st.sampled_from([scenario, scenario, "missing.yaml", "", "default"])))
    elif command in ("trace fit", "trace show"):
        argv.append(draw(st.sampled_from([str(SMALL_TRACE), str(SMALL_RUN / "conversations.parquet"), "nope.csv", ""])))
    elif command == "report":  # (a whole report takes seconds: its misuse is what is tried here)
        argv.append(draw(st.sampled_from(["/nonexistent", "", str(SMALL), str(SMALL_RUN / "runs")])))
    elif command == "process-log":
        argv.append(draw(st.sampled_from([str(SMALL_RUN), "/nonexistent", ""])))
    options = {"run": ["--strategy", "--seed", "--replications", "--csv"],
               "compare": ["--strategy", "--replications", "--workers", "--scheduler"],
               "sweep": ["--grid", "--workers"], "trace generate": ["--days", "--seed"],
               "trace fit": ["--start"], "trace show": ["--columns"], "report": ["--title"],
               "process-log": ["--format"], "staff": ["--target", "--interval", "--replications", "--confidence"]}
    for option in draw(st.lists(st.sampled_from(options.get(command, ["--bogus"])), max_size=3)):
        argv += [option] if option == "--csv" else [option, draw(value)]
    if command == "compare" and "--replications" not in argv:
        argv += ["--replications", "2"]
    if command == "compare" and "--strategy" not in argv:
        argv += ["--strategy", "round_robin"]
    if command == "staff":
        argv += ["--interval", draw(st.sampled_from(["30s", "1s", "0", "nope"]))]  # refused before any study
    out = {"trace generate": "t.csv", "trace fit": "f.yaml", "trace show": None}.get(command, "out")
    if out is not None and command not in ("report", "process-log", "strategies"):
        argv += ["--out", out]
    if command == "trace show":
        argv += ["--png", "p.png"]
    return argv


def case_cli(argv: list[str]) -> None:
    def body() -> str:
        folder = _folder()
        previous = os.getcwd()
        os.chdir(folder)
        try:
            if "--grid" in argv:
                (folder / argv[argv.index("--grid") + 1]).parent.mkdir(parents=True, exist_ok=True)
            outcome = cli_case(argv)
        finally:
            os.chdir(previous)
        if outcome == "ok" and argv[0] == "run" and (folder / "out" / "conversations.parquet").exists():
            check_tables(folder / "out")
        return outcome

    attempt("command-line misuse", repr(argv), body)


STRATEGY_BODIES = {
    "first": "return candidates[0]",
    "none": "return None",
    "last": "return candidates[-1]",
    "stranger": "return object()",
    "not a candidate": "return self.everyone[0] if self.everyone else None",
    "raises": "raise RuntimeError('policy failed')",
    "exits": "raise SystemExit(0)",
    "wrong type": "return 'agent-1'",
    "sleeps": "import time; time.sleep(0.0); return candidates[0] if candidates else None",
}
STRATEGY_MODULES = {
    "ordinary": "",
    "raises at import": "raise RuntimeError('import failed')\n",
    "exits at import": "import sys\nsys.exit(0)\n",
    "syntax error": "def (:\n",
    "no class": None,
}


@st.composite
def strategy_modules(draw: st.DrawFn) -> tuple[str, str, str]:
    return draw(st.sampled_from(sorted(STRATEGY_MODULES))), draw(st.sampled_from(sorted(STRATEGY_BODIES))), \
        draw(st.sampled_from(["P", "missing", "", "P.x"]))


def case_strategy(spec: tuple[str, str, str]) -> None:
    module_kind, body_kind, attribute = spec

    def body() -> str:
        folder = _folder()
        name = f"fuzz_policy_{folder.name.replace('-', '_')}"
        prefix = STRATEGY_MODULES[module_kind]
        source = "" if prefix is None else prefix + (
            "class P:\n    everyone = []\n"
            "    def prepare(self, rng):\n        pass\n"
            f"    def choose(self, conversation, candidates, now):\n"
            f"        type(self).everyone = type(self).everyone or list(candidates)\n"
            f"        {STRATEGY_BODIES[body_kind]}\n")
        (folder / f"{name}.py").write_text(source)
        sys.path.insert(0, str(folder))
        try:
            data = copy.deepcopy(SHIPPED["default"])
            data["workflow"] = [{"type": "assign", "team": "support"}]
            scenario = sim.parse(data, base_dir=ROOT / "scenarios")
            return run_and_check(scenario, folder, [f"{name}:{attribute}"])
        finally:
            sys.path.remove(str(folder))
            sys.modules.pop(name, None)

    attempt("user strategy modules", repr(spec), body)


@st.composite
def resumes(draw: st.DrawFn) -> tuple[str, int, str]:
    return draw(st.sampled_from(["truncate", "garbage", "edit outcome", "delete", "empty", "edit scenario",
                                 "edit trace", "provenance garbage", "directory"])), draw(st.integers(0, 3)), \
        draw(st.sampled_from(["round_robin", "round_robin,least_busy"]))


def case_resume(spec: tuple[str, int, str]) -> None:
    damage, which, strategies = spec

    def body() -> str:
        folder = _folder()
        (folder / "trace.csv").write_text(TRACE_TEXT)
        scenario = folder / "s.yaml"
        scenario.write_text(TRACE_SCENARIO)
        out = folder / "out"
        argv = ["compare", scenario, "--strategy", strategies, "--replications", "2", "--workers", "1",
                "--out", out]
        if cli_case(argv) != "ok":
            raise RuntimeError("the first compare failed")
        runs = sorted((out / "runs").glob("*.json"))
        target = runs[which % len(runs)]
        if damage == "truncate":
            target.write_text(target.read_text()[: len(target.read_text()) // 2])
        elif damage == "garbage":
            target.write_bytes(b"\xff\x00garbage")
        elif damage == "edit outcome":
            target.write_text(target.read_text().replace('"service_level": ', '"service_level": 9'))
        elif damage == "delete":
            target.unlink()
        elif damage == "empty":
            target.write_text("")
        elif damage == "edit scenario":
            scenario.write_text(TRACE_SCENARIO.replace("mean: 300", "mean: 900"))
        elif damage == "edit trace":
            (folder / "trace.csv").write_text(TRACE_TEXT.replace(",c1,", ",c2,"))
        elif damage == "provenance garbage":
            (out / "provenance.json").write_text("{nope")
        elif damage == "directory":
            target.unlink()
            target.mkdir()
        outcome = cli_case(argv)
        if outcome != "ok":
            return outcome
        fresh = folder / "fresh"
        cli_case([*argv[:-1], fresh])
        again = pd.read_parquet(out / "replications.parquet")
        expected = pd.read_parquet(fresh / "replications.parquet")
        try:
            pd.testing.assert_frame_equal(again, expected)
        except AssertionError as exc:
            raise WrongData(f"resumed results differ from a fresh run's after {damage}: {str(exc)[:300]}") from None
        return "ok"

    attempt("resume after damage or edits", repr(spec), body)


SPECIALS = ["fifo", "symlink to a file", "dangling symlink", "symlink loop", "socket", "folder", "under a file",
            "too long", "control characters", "symlink to a fifo", "empty"]


@st.composite
def special_outputs(draw: st.DrawFn) -> tuple[str, str]:
    return draw(st.sampled_from(SPECIALS)), draw(st.sampled_from(["trace generate", "trace fit", "trace show",
                                                                  "run", "process-log"]))


def _make_special(kind: str, path: Path) -> tuple[Path, Any]:
    """Make the special thing ``kind`` at ``path`` (or say where it is); return the path to give and what to
    let go afterwards (a socket, a FIFO's reader)."""
    folder = path.parent
    if kind in ("fifo", "symlink to a fifo"):
        fifo = folder / "pipe"
        os.mkfifo(fifo)
        if kind == "symlink to a fifo":
            path.symlink_to(fifo)
        else:
            path = fifo
        reader = threading.Thread(target=lambda: Path(fifo).read_bytes(), daemon=True)
        reader.start()
        return path, reader
    if kind == "symlink to a file":
        (folder / "real").write_text("x")
        path.symlink_to(folder / "real")
    elif kind == "dangling symlink":
        path.symlink_to(folder / "nowhere")
    elif kind == "symlink loop":
        path.symlink_to(path)
    elif kind == "socket":
        held = socket.socket(socket.AF_UNIX)
        held.bind(str(path))
        return path, held
    elif kind == "folder":
        path.mkdir()
    elif kind == "under a file":
        (folder / "file").write_text("x")
        path = folder / "file" / "target"
    elif kind == "too long":
        path = folder / ("x" * 300)
    elif kind == "control characters":
        path = folder / "a\nb\x1b[31m"
    return path, None


def case_special(spec: tuple[str, str]) -> None:
    kind, command = spec

    def body() -> str:
        folder = _folder()
        if command == "process-log":  # its output lies in the run's folder
            folder = folder / "run"
            folder.mkdir()
            (folder / "events.parquet").symlink_to(SMALL_RUN / "events.parquet")
            target = folder / "process_log.csv"
        else:
            target = folder / "target"
        path, held = (target, None) if kind == "empty" else _make_special(kind, target)
        given = "" if kind == "empty" else path
        before = os.lstat(path).st_mode if kind != "empty" and os.path.lexists(path) else None
        argv = {"trace generate": ["trace", "generate", SMALL, "--out", given],
                "trace fit": ["trace", "fit", SMALL_RUN / "conversations.parquet", "--out", given],
                "trace show": ["trace", "show", SMALL_TRACE, "--png", given],
                "process-log": ["process-log", folder],
                "run": ["run", SMALL, "--out", given]}[command]
        try:
            outcome = cli_case(argv)
        finally:
            if isinstance(held, socket.socket):
                held.close()
            if isinstance(held, threading.Thread) and held.is_alive():  # nothing was written: let the reader go
                with contextlib.suppress(OSError), open(target.parent / "pipe", "wb", buffering=0) as unblock:
                    unblock.write(b"")
                held.join(5)
        if before is not None:
            after = os.lstat(path).st_mode
            if stat.S_IFMT(after) != stat.S_IFMT(before):
                raise Replaced(f"{kind} given to {command} is now {stat.filemode(after)}, was {stat.filemode(before)}")
        if kind == "symlink to a fifo" and not stat.S_ISFIFO(os.lstat(target.parent / "pipe").st_mode):
            raise Replaced("the FIFO behind the link was replaced")
        return outcome

    attempt("special output paths", repr(spec), body)


# ------------------------------------------------------------------------------------------ fixtures

TRACE_TEXT = "timestamp,contact_id,channel\n" + "".join(f"{90 * i + 5},c{i % 7},whatsapp\n" for i in range(36))
TRACE_SCENARIO = """start: 2026-11-02T08:00:00
duration: 1h
seed: 5
channels: [whatsapp]
arrivals: {trace: {path: trace.csv}}
handling: {handle_time: {dist: exponential, mean: 300}}
teams: {support: {}}
agents: [{id: a, count: 2, team: support}]
workflow: [{type: assign}]
"""
SMALL = SMALL_TRACE = SMALL_RUN = Path()


def _fixtures(work: Path) -> None:
    global SMALL, SMALL_TRACE, SMALL_RUN, WORK
    WORK = work
    SMALL = work / "small.yaml"
    SMALL.write_text(yaml.safe_dump({**SHIPPED["default"], "duration": "1h"}))
    SMALL_TRACE = work / "small.csv"
    SMALL_RUN = work / "small-run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["trace", "generate", str(SMALL), "--out", str(SMALL_TRACE)]) == 0
        assert cli.main(["run", str(SMALL), "--out", str(SMALL_RUN)]) == 0
    (work / "grid.yaml").write_text("parameters:\n  duration: [30m, 1h]\nreplications: 2\n")


CLASSES: dict[str, tuple[Any, Callable[[Any], None], float]] = {  # name: (generator, case, share of cases)
    "special output paths": (special_outputs(), case_special, 0.01),  # (55 distinct cases)
    "user strategy modules": (strategy_modules(), case_strategy, 0.02),  # (180)
    "resume after damage or edits": (resumes(), case_resume, 0.01),
    "command-line misuse": (command_lines(), case_cli, 0.06),
    "CSV and Parquet traces": (traces(), case_trace, 0.10),
    "numeric edges": (numeric_edges(), case_numeric, 0.15),
    "scenario tree mutations": (tree_mutations(), case_tree, 0.30),
    "YAML text attacks": (yaml_texts(), case_yaml, 0.35),
}


def fuzz(cases: int, derandomize: bool, only: list[str] | None = None, progress: bool = True) -> Tally:
    """Run about ``cases`` cases spread over the classes; return the tally."""
    global TALLY
    TALLY = Tally()
    chosen = {name: spec for name, spec in CLASSES.items() if not only or name in only}
    left, shares = cases, sum(share for _, _, share in chosen.values())
    with tempfile.TemporaryDirectory(prefix="convsim-fuzz-") as work:
        _fixtures(Path(work))
        for name, (generator, case, share) in chosen.items():  # a class that runs out of distinct cases
            count = max(1, round(left * share / shares))       # leaves its share to the classes after it
            started = time.perf_counter()

            settings(max_examples=count, derandomize=derandomize, database=None, deadline=None,
                     suppress_health_check=list(HealthCheck))(given(generator)(case))()
            left -= sum(TALLY.counts[name].values())
            shares -= share
            if progress:
                print(f"{name}: {sum(TALLY.counts[name].values())} cases in {time.perf_counter() - started:.1f} s",
                      file=sys.stderr, flush=True)
    return TALLY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--derandomize", action="store_true", help="the same cases every time")
    parser.add_argument("--only", action="append", help="one class (repeat for several)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tally = fuzz(args.cases, args.derandomize, args.only)
    print(tally.table())
    print(f"\n{sum(sum(c.values()) for c in tally.counts.values()):,} cases in {time.perf_counter() - started:.0f} s; "
          f"slowest case {tally.slowest[0]:.1f} s ({tally.slowest[1][:160]}); most memory: +{tally.largest[0]:,.0f} MB "
          f"at the peak of one case, {tally.largest[1]:,.0f} MB resident ({tally.largest[2][:360]})")
    for (kind, outcome), shown in tally.first.items():
        print(f"\nfirst {outcome} in {kind}:\n    {shown}")
    return 1 if tally.bad() else 0


if __name__ == "__main__":
    sys.exit(main())
