"""The results folder: every file ``convsim run``, ``compare``, ``sweep``, ``staff`` and ``schedule`` write,
written and read here, each file atomically.

A folder may hold the output of several commands (a run and a staffing study, say). ``provenance.json``
says, for each kind of output, where it came from: the convsim version, the command line and the scenario
(name, file and fingerprint). A batch keeps each finished run in ``runs/`` with the same provenance, so
that run again it does only what is missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sim import files, memory
from sim.analysis import comparison, metrics
from sim.analysis.result import Result
from sim.engine.records import RunInfo
from sim.errors import ConvsimError
from sim.files import atomic_write
from sim.io import answers
from sim.model.scenario import Scenario

try:
    VERSION = version("convsim")
except PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "unknown"
TABLES = ("conversations", "events", "agents", "intervals", "summary")
PROVENANCE = "provenance.json"


def fingerprint(scenario: Scenario, strategies: Iterable[str] = ()) -> str:
    """A digest of everything that decides a run's results, so stale files are never reused: the scenario,
    its trace file (which file, and its contents), the source of every ``module:Class`` strategy it or
    the batch names (``strategies``), and convsim's own code."""
    digest = hashlib.sha256(scenario.model_dump_json(exclude={"base_dir", "source"}).encode())
    if scenario.arrivals.trace is not None:
        digest.update(_file_digest(scenario.base_dir / scenario.arrivals.trace.path).encode())
    named = {spec.name for spec in [*scenario.strategies(), scenario.selection]} | set(strategies)
    for name in sorted(named):
        digest.update(f"{name}={_strategy_digest(name)}".encode())
    digest.update(_code_digest().encode())
    return digest.hexdigest()[:16]


_digests: dict[tuple[Any, ...], str] = {}


def _file_digest(path: Path) -> str:
    """A file's absolute path and the digest of its contents (kept while its size and time are the same)."""
    try:
        path = path.resolve()
        status = path.stat()
    except OSError as exc:
        return f"{path}: {exc.strerror}"  # the run will say so
    key = (str(path), status.st_size, status.st_mtime_ns, status.st_ino)
    if key not in _digests:
        try:
            with path.open("rb") as handle:
                _digests[key] = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as exc:
            return f"{path}: {exc.strerror}"
    return f"{path}:{_digests[key]}"


def _strategy_digest(name: str) -> str:
    """A strategy's own code: a ``module:Class`` path's or an entry point's module file (built-ins are
    convsim's code)."""
    import importlib.util
    from importlib.metadata import entry_points

    module = name.partition(":")[0] if ":" in name else next(
        (entry.value.partition(":")[0] for group in ("convsim.strategies", "convsim.selections")
         for entry in entry_points(group=group) if entry.name == name), None)
    if not module:
        return "built-in"
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError, TypeError, AttributeError):
        spec = None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        return "not found"
    return _file_digest(Path(spec.origin))


def _code_digest() -> str:
    """convsim's version and the digest of its code (sim and strategies), so a changed simulator never
    resumes from the runs of the old one."""
    import strategies as shipped

    key = ("code",)
    if key not in _digests:
        digest = hashlib.sha256(VERSION.encode())
        for package in (Path(__file__).parents[1], Path(shipped.__file__).parent):
            for path in sorted(package.rglob("*.py")):
                digest.update(path.relative_to(package.parent).as_posix().encode() + path.read_bytes())
        _digests[key] = digest.hexdigest()
    return _digests[key]


@dataclass(frozen=True)
class Provenance:
    """Where results came from: the scenario (its name, file and fingerprint), the command line that
    ran it (None from Python) and the convsim version."""

    scenario: str | None = None
    source: str | None = None
    fingerprint: str | None = None
    command: tuple[str, ...] | None = None
    convsim: str = VERSION

    @classmethod
    def of(cls, scenario: Scenario, command: Sequence[str] | None = None, strategies: Iterable[str] = ()
           ) -> Provenance:
        return cls(scenario.name, scenario.source, fingerprint(scenario, strategies),
                   None if command is None else tuple(command))


def _record(folder: Path, kind: str, provenance: Provenance | None) -> Path:
    """Enter ``kind``'s provenance (run, compare, sweep or staff) in the folder's provenance.json."""
    entries = {other: asdict(entry) for other, entry in _read_provenance(folder).items()}
    entries[kind] = asdict(provenance or Provenance())
    return _write_json(folder / PROVENANCE, entries)


def _read_provenance(folder: Path) -> dict[str, Provenance]:
    """Each kind of output in the folder (run, compare, sweep, staff) and where it came from."""
    path = folder / PROVENANCE
    try:
        entries = json.loads(path.read_bytes()) if path.exists() else {}
        return {kind: Provenance(**{**entry, "command": entry["command"] and tuple(entry["command"])})
                for kind, entry in entries.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # damaged: what came from where is no longer known (the next write records it anew)


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _json_ready(value.item())
    return value


def _write_json(path: Path, content: Any) -> Path:
    text = json.dumps(content, indent=2)
    atomic_write(path, lambda p: p.write_text(text + "\n"))
    return path


LARGE = 1 << 17  # rows of a table after whose writing memory is handed back


def _write_table(table: pd.DataFrame, path: Path) -> Path:
    """A table as Parquet or CSV, by the path's suffix."""
    if path.suffix == ".parquet":
        atomic_write(path, lambda p: _to_parquet(table, p))
    else:
        atomic_write(path, lambda p: table.to_csv(p, index=False))
    if len(table) > LARGE:
        memory.release()  # the conversion's buffers, back to the system before the next table
    return path


def _to_parquet(table: pd.DataFrame, path: Path) -> None:
    """``table.to_parquet``; a large table a row group of ``LARGE`` rows at a time (Parquet's writer holds a
    whole row group in memory: a million conversations in one would cost 140 MB more), each categorical
    column of many categories (the contact ids) with the categories its rows use (else each row group
    would repeat them all)."""
    if len(table) <= LARGE:
        table.to_parquet(path, index=False)
        return
    schema = pa.Schema.from_pandas(table, preserve_index=False)
    many = [name for name, dtype in table.dtypes.items()
            if isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) > 1024]
    with pq.ParquetWriter(path, schema) as writer:
        for begin in range(0, len(table), LARGE):
            part = table.iloc[begin:begin + LARGE]
            if many:
                part = part.assign(**{name: part[name].cat.remove_unused_categories() for name in many})
            writer.write_table(pa.Table.from_pandas(part, preserve_index=False).cast(schema))


def _summary_json(summary: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """A run's summary.json: for each strategy, its KPIs (NaN as null)."""
    return {
        str(row["strategy"]): {k: _json_ready(v) for k, v in row.items() if k != "strategy"}
        for row in summary.to_dict(orient="records")
    }


def _comparison_json(compared: pd.DataFrame, replications: int, baseline: str) -> dict[str, Any]:
    """A comparison's summary.json: for each strategy and KPI, its mean, interval and difference."""
    strategies: dict[str, dict[str, Any]] = {}
    for row in compared.to_dict(orient="records"):
        strategies.setdefault(str(row["strategy"]), {})[row["kpi"]] = {
            k: _json_ready(v) for k, v in row.items() if k not in ("strategy", "kpi")}
    return {"replications": replications, "baseline": baseline, "strategies": strategies}


def write(result: Result, folder: str | Path, csv: bool = False, events: bool = True,
          provenance: Provenance | None = None) -> list[Path]:
    """A run's tables (the event log too unless ``events`` is False, when it was streamed) and
    summary.json; return the paths written."""
    folder = Path(folder)
    written = []
    suffixes = ("parquet", "csv") if csv else ("parquet",)
    for name in TABLES if events else [t for t in TABLES if t != "events"]:
        written += [_write_table(getattr(result, name), folder / f"{name}.{suffix}") for suffix in suffixes]
    if len(result.messages):  # message-level handling's messages, unless streamed
        written += [_write_table(result.messages, folder / f"messages.{suffix}") for suffix in suffixes]
    replications = int(result.summary.groupby("strategy", observed=True).size().max())
    if replications > 1:
        compared = result.compare()
        content = _comparison_json(compared, replications, str(compared["strategy"].iloc[0]))
    else:
        content = _summary_json(result.summary)
    return [*written, _write_json(folder / "summary.json", content), _record(folder, "run", provenance)]


class EventStream:
    """A run's event log written as it is produced, a chunk at a time (Parquet row groups, and CSV rows
    on request), so a long run never holds it whole; the files appear under their names on close."""

    NAME = "events"

    def __init__(self, folder: str | Path, csv: bool = False) -> None:
        self.paths = [Path(folder) / f"{self.NAME}.parquet"] + ([Path(folder) / f"{self.NAME}.csv"] if csv else [])
        self._temporary = [files.temporary(path) for path in self.paths]
        self._parquet: pq.ParquetWriter | None = None
        self._csv_header = True

    def __call__(self, chunk: pd.DataFrame) -> None:
        table = _nanoseconds(pa.Table.from_pandas(chunk, preserve_index=False))
        try:
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._temporary[0], table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
            if len(self._temporary) > 1:
                chunk.to_csv(self._temporary[1], mode="a", header=self._csv_header, index=False)
                self._csv_header = False
        except OSError as exc:  # a full disk: named by the file being written
            raise files.named(exc, self.paths[0]) from None

    def close(self, complete: bool = True) -> list[Path]:
        """Move the files into place (``complete``) or throw them away; return the paths written."""
        try:
            if self._parquet is None and complete:
                self(self._empty())  # a run without any still leaves a readable file
            if self._parquet is not None:
                writer, self._parquet = self._parquet, None
                writer.close()
        except OSError as exc:
            self._discard()
            if complete:  # (else a run's own error is on its way: this one would hide it)
                raise files.named(exc, self.paths[0]) from None
        except BaseException:
            self._discard()
            raise
        if not complete:
            self._discard()
            return []
        for written, path in zip(self._temporary, self.paths, strict=True):
            files.commit(written, path)
        return self.paths

    def _discard(self) -> None:
        for written in self._temporary:
            files.discard(written)

    def _empty(self) -> pd.DataFrame:
        return metrics.events(None, _EMPTY)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        self.close(complete=kind is None)


def _nanoseconds(table: pa.Table) -> pa.Table:
    """Times and durations in nanoseconds: pandas picks each chunk's unit from its values (a chunk of whole
    seconds comes as microseconds), so the file's schema would otherwise depend on its first chunk."""
    fields = []
    for item in table.schema:
        if pa.types.is_timestamp(item.type):
            item = item.with_type(pa.timestamp("ns", item.type.tz))
        elif pa.types.is_duration(item.type):
            item = item.with_type(pa.duration("ns"))
        fields.append(item)
    schema = pa.schema(fields, metadata=table.schema.metadata)
    return table if schema.equals(table.schema) else table.cast(schema)


class MessageStream(EventStream):
    """Message-level handling's messages written as they are produced, as :class:`EventStream` writes the
    event log (``messages.parquet``, and ``messages.csv`` on request)."""

    NAME = "messages"

    def _empty(self) -> pd.DataFrame:
        return metrics.messages(None, _EMPTY)


_EMPTY = RunInfo(strategy="", seed=0, start=dt.datetime(2000, 1, 1), duration=0.0, interval=1.0,
                 service_target=0.0, warmup=0.0, contact_ids=pd.Index([], dtype=str), channels=[], teams=[],
                 agent_ids=[])


def write_comparison(table: pd.DataFrame, folder: str | Path, baseline: str | None = None,
                     provenance: Provenance | None = None) -> list[Path]:
    """A comparison of strategies: the tidy replications table (strategy, replication, seed, kpi, value),
    comparison.csv (each strategy against ``baseline``, the first by default) and summary.json."""
    folder = Path(folder)
    baseline = baseline or str(table["strategy"].cat.categories[0])
    compared = comparison.compare(table, baseline)
    content = _comparison_json(compared, int(table["replication"].nunique()), baseline)
    return [_write_table(table, folder / "replications.parquet"), _write_table(compared, folder / "comparison.csv"),
            _write_json(folder / "summary.json", content), _record(folder, "compare", provenance)]


def write_concurrency(table: pd.DataFrame, folder: str | Path, provenance: Provenance | None = None) -> list[Path]:
    """A chat-concurrency study's tidy table: cap, handling, strategy, replication, seed, kpi, value."""
    folder = Path(folder)
    return [_write_table(table, folder / "concurrency.parquet"), _record(folder, "concurrency", provenance)]


def write_sweep(table: pd.DataFrame, folder: str | Path, provenance: Provenance | None = None) -> list[Path]:
    """A sweep's tidy table: a column per swept parameter beside strategy, replication, seed, kpi, value."""
    folder = Path(folder)
    return [_write_table(table, folder / "sweep.parquet"), _record(folder, "sweep", provenance)]


@dataclass
class Staffing:
    """A staffing study: ``cells`` (a row per team × interval: offered load, the simulated requirement,
    Erlang C and A, the plan and its ``status`` — under, ok, over or no traffic — a ``note`` where the
    search was capped or is unconfirmed, the KPIs reached), ``kpis`` (the whole day under the plan and under the
    requirement) and the ``settings`` it ran with."""

    cells: pd.DataFrame
    kpis: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def agent_hours(self) -> pd.DataFrame:
        """Per team, agent-hours a day (a week, for a week's study): required by simulation (productive), by
        Erlang C and A, planned, scheduled (with shrinkage); FTE and cost a week; and how many intervals
        the plan leaves short, were capped or are unconfirmed."""
        hours = self.settings["interval"] / 3600
        cells = self.cells.assign(short=self.cells["status"] == "under", capped=self.cells["note"] == "capped",
                                  unconfirmed=self.cells["note"] == "unconfirmed",
                                  scheduled=self.cells.get("scheduled", self.cells["required"]))  # older: none
        table = cells.groupby("team", sort=False)[["required", "erlang_c", "erlang_a", "planned",
                                                   "scheduled"]].sum() * hours
        weeks = 1 if self.settings.get("cycle") == "week" else self.settings.get("days_per_week", 7)
        table["fte"] = table["scheduled"] * weeks / self.settings.get("fte_hours", 40.0)
        rates = pd.Series(self.settings.get("cost_per_hour", {}), dtype=float).reindex(table.index).fillna(0.0)
        table["cost_per_week"] = table["scheduled"] * weeks * rates
        counts = cells.groupby("team", sort=False)[["short", "capped", "unconfirmed"]].sum()
        return table.join(counts.add_suffix("_intervals"))

    def summary(self, kpis: Sequence[str] = answers.DAY_KPIS) -> pd.DataFrame:
        """The whole day under the scenario's plan and under the requirement: a row per KPI, a column per
        plan, each mean with its 95 % interval ("67.5% [66.1%, 68.9%]")."""
        return answers.day_summary(self.kpis, kpis)

    def answer(self) -> str:
        """Does the plan cover the requirement, in words: per team, the whole day against each target, the
        answer (YES / NO) and the recommendation (see :func:`sim.io.answers.staffing_answer`)."""
        return answers.staffing_answer(self)


def write_staffing(study: Staffing, folder: str | Path, provenance: Provenance | None = None) -> list[Path]:
    """A staffing study: its cells and day KPIs as Parquet and CSV, its settings as staffing.json."""
    folder = Path(folder)
    written = [_write_table(table, folder / f"{name}.{suffix}")
               for name, table in (("staffing", study.cells), ("staffing_kpis", study.kpis))
               for suffix in ("parquet", "csv")]
    return [*written, _write_json(folder / "staffing.json", study.settings), _record(folder, "staff", provenance)]


def read_staffing(folder: str | Path) -> Staffing:
    """The staffing study a folder holds."""
    folder = Path(folder)
    return Staffing(pd.read_parquet(folder / "staffing.parquet"), pd.read_parquet(folder / "staffing_kpis.parquet"),
                    json.loads((folder / "staffing.json").read_text()))


@dataclass
class Schedule:
    """A roster from shift templates: ``roster`` (a row per team × template × start: agents, paid hours,
    cost), ``agents`` (a row per agent: its team, agent type and shift), ``coverage`` (a row per team ×
    interval: requirement, heads scheduled, rostered and productive, the targets' KPIs under the roster
    and whether they are met), ``kpis`` (the whole day under the plan, the requirement and the roster),
    the ``settings``, the ``study`` it covers and ``replay``: the scenario with the roster's agents."""

    roster: pd.DataFrame
    agents: pd.DataFrame
    coverage: pd.DataFrame
    kpis: pd.DataFrame
    settings: dict[str, Any]
    study: Staffing
    replay: dict[str, Any]

    def totals(self) -> pd.DataFrame:
        """Per team: shifts and paid agent-hours a day (a week, for a week's study), FTE, people at their
        templates' days on, cost a week and the integer program's lower bound on it, intervals rostered
        over the requirement and intervals that miss their targets under the roster."""
        weeks = 1 if self.settings.get("cycle") == "week" else self.settings.get("days_per_week", 7)
        days_on = {t["name"]: t["days"] for t in self.settings["templates"]}
        roster = self.roster.assign(heads=self.roster["agents"] * weeks / self.roster["template"].map(days_on))
        table = roster.groupby("team", sort=False)[["agents", "paid_hours", "cost", "heads"]].sum()
        teams = list(self.settings["teams"])
        table = table.reindex(teams, fill_value=0.0)
        table["fte"] = table["paid_hours"] * weeks / self.settings.get("fte_hours", 40.0)
        table["cost_per_week"] = table.pop("cost") * weeks
        costed = pd.Series(self.settings["cost"], dtype=float).reindex(teams).fillna(0.0) > 0
        bound = pd.Series(self.settings["cost_bound"], dtype=float).reindex(teams).fillna(0.0)
        table["bound_per_week"] = bound.where(costed, 0.0) * weeks
        busy = self.coverage[self.coverage["traffic"]]
        table["over_intervals"] = (busy["gap"] >= 1).groupby(busy["team"], sort=False).sum().reindex(teams).fillna(0)
        table["missed_intervals"] = (~busy["met"]).groupby(busy["team"], sort=False).sum().reindex(teams).fillna(0)
        return table

    def summary(self, kpis: Sequence[str] = answers.DAY_KPIS) -> pd.DataFrame:
        """The whole day under the scenario's plan, the requirement and the roster: a row per KPI, a column
        per plan, each mean with its 95 % interval."""
        return answers.day_summary(self.kpis, kpis)

    def answer(self) -> str:
        """The study's answer (:meth:`Staffing.answer`) with the roster's shifts, FTE and cost, and the
        recommendation."""
        return answers.staffing_answer(self.study, self)


SCHEDULE_TABLES = {"roster": "roster", "roster_agents": "agents", "roster_coverage": "coverage",
                   "roster_kpis": "kpis"}


def write_schedule(plan: Schedule, folder: str | Path, provenance: Provenance | None = None) -> list[Path]:
    """A roster: its tables as Parquet and CSV, its settings as roster.json, the scenario that replays it
    as roster.yaml, and the staffing study it covers."""
    folder = Path(folder)
    written = [_write_table(getattr(plan, attribute), folder / f"{name}.{suffix}")
               for name, attribute in SCHEDULE_TABLES.items() for suffix in ("parquet", "csv")]
    text = ("# the scenario with the roster's agents and shifts (breaks as gaps), everyone present: "
            "convsim run replays it\n" + yaml.safe_dump(plan.replay, sort_keys=False, default_flow_style=None,
                                                         width=110, allow_unicode=True))
    replay = folder / "roster.yaml"
    atomic_write(replay, lambda p: p.write_text(text))
    study = write_staffing(plan.study, folder, provenance)
    return [*written, _write_json(folder / "roster.json", _json_ready_tree(plan.settings)), replay, *study[:-1],
            _record(folder, "schedule", provenance)]


def read_schedule(folder: str | Path) -> Schedule:
    """The roster a folder holds."""
    folder = Path(folder)
    tables = {attribute: pd.read_parquet(folder / f"{name}.parquet") for name, attribute in SCHEDULE_TABLES.items()}
    replay = yaml.safe_load((folder / "roster.yaml").read_text())
    return Schedule(**tables, settings=json.loads((folder / "roster.json").read_text()), study=read_staffing(folder),
                    replay=replay)


def _json_ready_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready_tree(v) for v in value]
    return _json_ready(value)


@dataclass(frozen=True)
class RunFiles:
    """A batch's ``runs/`` folder: a JSON file per finished run (its outcome and provenance). A batch run
    again takes the outcomes found here instead of running them, unless they were made from another
    scenario (fingerprint) or convsim version."""

    folder: Path
    provenance: Provenance

    def finished(self, names: Iterable[str]) -> dict[str, Any]:
        """The outcomes of the named runs that have a file of this provenance; a damaged or edited file
        (its outcome no longer matches its checksum) is not taken: that run is run again."""
        found = {}
        for name in names:
            path = self.folder / f"{name}.json"
            try:
                saved = json.loads(path.read_bytes())
                made = saved["provenance"]
                if (made["fingerprint"], made["convsim"], saved["run"]) == (
                        self.provenance.fingerprint, self.provenance.convsim, name) and \
                        saved["check"] == _checksum(saved["outcome"]):
                    found[name] = saved["outcome"]
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
                continue  # missing or damaged: run again
        return found

    def save(self, name: str, outcome: Any) -> None:
        """Keep a finished run's outcome (anything JSON holds), with a checksum."""
        text = json.dumps({"run": name, "provenance": asdict(self.provenance), "outcome": outcome,
                           "check": _checksum(outcome)})
        atomic_write(self.folder / f"{name}.json", lambda p: p.write_text(text))


def _checksum(outcome: Any) -> str:
    return hashlib.sha256(json.dumps(outcome, sort_keys=True).encode()).hexdigest()


@dataclass
class Folder:
    """What a results folder of run / compare / sweep / staff / schedule holds, and where each came from."""

    path: Path
    conversations: pd.DataFrame | None = None
    intervals: pd.DataFrame | None = None
    agents: pd.DataFrame | None = None
    messages: pd.DataFrame | None = None  # message-level handling's runs
    replications: pd.DataFrame | None = None  # tidy: strategy, replication, seed, kpi, value
    sweep: pd.DataFrame | None = None
    concurrency: pd.DataFrame | None = None  # tidy: cap, handling, strategy, replication, seed, kpi, value
    study: Staffing | None = None
    schedule: Schedule | None = None
    service_target: float | None = None
    provenance: dict[str, Provenance] = field(default_factory=dict)


def read(path: str | Path) -> Folder:
    """Everything a results folder holds: a run's tables, a comparison's or run's replications (tidy), a
    sweep, a staffing study, a roster, and their provenance."""
    path = Path(path)
    if not path.is_dir():
        raise ConvsimError(f"{path}: no such folder")
    found = Folder(path, provenance=_read_provenance(path))
    for name in ("conversations", "intervals", "agents", "messages"):
        if (path / f"{name}.parquet").exists():
            setattr(found, name, _read_parquet(path / f"{name}.parquet"))
    if (path / "summary.parquet").exists():
        summary = _read_parquet(path / "summary.parquet")
        found.replications = comparison.tidy(summary)
        found.service_target = float(summary["service_target"].iloc[0]) if "service_target" in summary else None
    elif (path / "replications.parquet").exists():
        table = _read_parquet(path / "replications.parquet")
        table["strategy"] = pd.Categorical(table["strategy"].astype(str),
                                           categories=list(dict.fromkeys(table["strategy"].astype(str))))
        found.replications = table
    if (path / "sweep.parquet").exists():
        found.sweep = _read_parquet(path / "sweep.parquet")
    if (path / "concurrency.parquet").exists():
        found.concurrency = _read_parquet(path / "concurrency.parquet")
    if (path / "staffing.parquet").exists():
        try:
            found.study = read_staffing(path)
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            raise ConvsimError(f"{path}: the staffing study cannot be read ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]}); run convsim staff again") from None
    if (path / "roster.parquet").exists():
        found.schedule = read_schedule(path)
    if all(getattr(found, n) is None for n in ("conversations", "replications", "sweep", "concurrency", "study")):
        raise ConvsimError(f"{path}: no results to report (expected the output of convsim run, compare, sweep, "
                           "concurrency, staff or schedule: summary.parquet, replications.parquet, sweep.parquet, "
                           "concurrency.parquet or staffing.parquet)")
    return found


def _read_parquet(path: Path) -> pd.DataFrame:
    """A table of the folder; one that cannot be read (damaged, not Parquet, unreadable) is an error naming it."""
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ConvsimError(f"{path}: not a readable Parquet table ({' '.join(str(exc).split())[:200]}); "
                           "run the command that wrote it again") from None
