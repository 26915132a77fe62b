"""The results folder: every file ``convsim run``, ``compare``, ``sweep`` and ``staff`` write, written and
read here, each file atomically.

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

from sim.analysis import comparison, metrics
from sim.analysis.result import Result
from sim.engine.records import RunInfo
from sim.errors import ConvsimError
from sim.files import atomic_write, temporary
from sim.model.scenario import Scenario

try:
    VERSION = version("convsim")
except PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "unknown"
TABLES = ("conversations", "events", "agents", "intervals", "summary")
PROVENANCE = "provenance.json"


def fingerprint(scenario: Scenario) -> str:
    """A digest of everything that decides a run's results, so stale files are never reused."""
    text = scenario.model_dump_json(exclude={"base_dir", "source"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    def of(cls, scenario: Scenario, command: Sequence[str] | None = None) -> Provenance:
        return cls(scenario.name, scenario.source, fingerprint(scenario),
                   None if command is None else tuple(command))


def _record(folder: Path, kind: str, provenance: Provenance | None) -> Path:
    """Enter ``kind``'s provenance (run, compare, sweep or staff) in the folder's provenance.json."""
    entries = {other: asdict(entry) for other, entry in _read_provenance(folder).items()}
    entries[kind] = asdict(provenance or Provenance())
    return _write_json(folder / PROVENANCE, entries)


def _read_provenance(folder: Path) -> dict[str, Provenance]:
    """Each kind of output in the folder (run, compare, sweep, staff) and where it came from."""
    path = folder / PROVENANCE
    entries = json.loads(path.read_text()) if path.exists() else {}
    return {kind: Provenance(**{**entry, "command": entry["command"] and tuple(entry["command"])})
            for kind, entry in entries.items()}


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


def _write_table(table: pd.DataFrame, path: Path) -> Path:
    """A table as Parquet or CSV, by the path's suffix."""
    if path.suffix == ".parquet":
        atomic_write(path, lambda p: table.to_parquet(p, index=False))
    else:
        atomic_write(path, lambda p: table.to_csv(p, index=False))
    return path


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

    def __init__(self, folder: str | Path, csv: bool = False) -> None:
        self.paths = [Path(folder) / "events.parquet"] + ([Path(folder) / "events.csv"] if csv else [])
        self._temporary = [temporary(path) for path in self.paths]
        self._parquet: pq.ParquetWriter | None = None
        self._csv_header = True

    def __call__(self, chunk: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self._temporary[0], table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))
        if len(self._temporary) > 1:
            chunk.to_csv(self._temporary[1], mode="a", header=self._csv_header, index=False)
            self._csv_header = False

    def close(self, complete: bool = True) -> list[Path]:
        """Move the files into place (``complete``) or throw them away; return the paths written."""
        if self._parquet is None and complete:
            self(metrics.events(None, _EMPTY))  # a run without events still leaves a readable file
        if self._parquet is not None:
            self._parquet.close()
        for written, path in zip(self._temporary, self.paths, strict=True):
            if complete:
                written.replace(path)
            else:
                written.unlink(missing_ok=True)
        return self.paths if complete else []

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        self.close(complete=kind is None)


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
        """Per team, agent-hours a day: required by simulation, by Erlang C and A, planned; and how many
        intervals the plan leaves short, were capped or are unconfirmed."""
        hours = self.settings["interval"] / 3600
        cells = self.cells.assign(short=self.cells["status"] == "under", capped=self.cells["note"] == "capped",
                                  unconfirmed=self.cells["note"] == "unconfirmed")
        table = cells.groupby("team", sort=False)[["required", "erlang_c", "erlang_a", "planned"]].sum() * hours
        counts = cells.groupby("team", sort=False)[["short", "capped", "unconfirmed"]].sum()
        return table.join(counts.add_suffix("_intervals"))


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


@dataclass(frozen=True)
class RunFiles:
    """A batch's ``runs/`` folder: a JSON file per finished run (its outcome and provenance). A batch run
    again takes the outcomes found here instead of running them, unless they were made from another
    scenario (fingerprint) or convsim version."""

    folder: Path
    provenance: Provenance

    def finished(self, names: Iterable[str]) -> dict[str, Any]:
        """The outcomes of the named runs that have a file of this provenance."""
        found = {}
        for name in names:
            path = self.folder / f"{name}.json"
            if path.exists():
                saved = json.loads(path.read_text())
                made = saved.get("provenance", {})
                if (made.get("fingerprint"), made.get("convsim")) == (self.provenance.fingerprint,
                                                                      self.provenance.convsim):
                    found[name] = saved["outcome"]
        return found

    def save(self, name: str, outcome: Any) -> None:
        """Keep a finished run's outcome (anything JSON holds)."""
        text = json.dumps({"run": name, "provenance": asdict(self.provenance), "outcome": outcome})
        atomic_write(self.folder / f"{name}.json", lambda p: p.write_text(text))


@dataclass
class Folder:
    """What a results folder of run / compare / sweep / staff holds, and where each came from."""

    path: Path
    conversations: pd.DataFrame | None = None
    intervals: pd.DataFrame | None = None
    agents: pd.DataFrame | None = None
    replications: pd.DataFrame | None = None  # tidy: strategy, replication, seed, kpi, value
    sweep: pd.DataFrame | None = None
    study: Staffing | None = None
    service_target: float | None = None
    provenance: dict[str, Provenance] = field(default_factory=dict)


def read(path: str | Path) -> Folder:
    """Everything a results folder holds: a run's tables, a comparison's or run's replications (tidy), a
    sweep, a staffing study, and their provenance."""
    path = Path(path)
    if not path.is_dir():
        raise ConvsimError(f"{path}: no such folder")
    found = Folder(path, provenance=_read_provenance(path))
    for name in ("conversations", "intervals", "agents"):
        if (path / f"{name}.parquet").exists():
            setattr(found, name, pd.read_parquet(path / f"{name}.parquet"))
    if (path / "summary.parquet").exists():
        summary = pd.read_parquet(path / "summary.parquet")
        found.replications = comparison.tidy(summary)
        found.service_target = float(summary["service_target"].iloc[0]) if "service_target" in summary else None
    elif (path / "replications.parquet").exists():
        table = pd.read_parquet(path / "replications.parquet")
        table["strategy"] = pd.Categorical(table["strategy"].astype(str),
                                           categories=list(dict.fromkeys(table["strategy"].astype(str))))
        found.replications = table
    if (path / "sweep.parquet").exists():
        found.sweep = pd.read_parquet(path / "sweep.parquet")
    if (path / "staffing.parquet").exists():
        found.study = read_staffing(path)
    if all(getattr(found, n) is None for n in ("conversations", "replications", "sweep", "study")):
        raise ConvsimError(f"{path}: no results to report (expected the output of convsim run, compare, sweep "
                           "or staff: summary.parquet, replications.parquet, sweep.parquet or staffing.parquet)")
    return found
