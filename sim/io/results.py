"""Writing results: Parquet (and CSV on request) tables and summary.json, each file atomically."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.analysis import metrics
from sim.analysis.result import Result
from sim.engine.records import RunInfo

TABLES = ("conversations", "events", "agents", "intervals", "summary")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename it into place: a reader never
    sees a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _json_ready(value.item())
    return value


def summary_json(summary: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """summary.json's content: for each strategy, its KPIs (NaN as null)."""
    return {
        str(row["strategy"]): {k: _json_ready(v) for k, v in row.items() if k != "strategy"}
        for row in summary.to_dict(orient="records")
    }


class EventStream:
    """The event log written as it is produced, a chunk at a time (Parquet row groups, and CSV rows
    on request), so a long run never holds it whole; the files appear under their names on close."""

    def __init__(self, folder: str | Path, csv: bool = False) -> None:
        self.paths = [Path(folder) / "events.parquet"] + ([Path(folder) / "events.csv"] if csv else [])
        self._temporary = []
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(handle)
            self._temporary.append(Path(temporary))
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
        for temporary, path in zip(self._temporary, self.paths, strict=True):
            if complete:
                os.replace(temporary, path)
            else:
                temporary.unlink(missing_ok=True)
        return self.paths if complete else []

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        self.close(complete=kind is None)


_EMPTY = RunInfo(strategy="", seed=0, start=dt.datetime(2000, 1, 1), duration=0.0, interval=1.0,
                 service_target=0.0, warmup=0.0, contact_ids=pd.Index([], dtype=str), channels=[], teams=[],
                 agent_ids=[])


def comparison_json(comparison: pd.DataFrame, replications: int, baseline: str) -> dict[str, Any]:
    """A comparison's summary.json: for each strategy and KPI, its mean, interval and difference."""
    strategies: dict[str, dict[str, Any]] = {}
    for row in comparison.to_dict(orient="records"):
        strategies.setdefault(str(row["strategy"]), {})[row["kpi"]] = {
            k: _json_ready(v) for k, v in row.items() if k not in ("strategy", "kpi")}
    return {"replications": replications, "baseline": baseline, "strategies": strategies}


def write(result: Result, folder: str | Path, csv: bool = False, events: bool = True) -> list[Path]:
    """Write the tables of ``result`` into ``folder`` (the event log too unless ``events`` is False,
    when it was streamed); return the paths written."""
    folder = Path(folder)
    written = []
    for name in TABLES if events else [t for t in TABLES if t != "events"]:
        table: pd.DataFrame = getattr(result, name)
        path = folder / f"{name}.parquet"
        atomic_write(path, lambda p, t=table: t.to_parquet(p, index=False))
        written.append(path)
        if csv:
            path = folder / f"{name}.csv"
            atomic_write(path, lambda p, t=table: t.to_csv(p, index=False))
            written.append(path)
    path = folder / "summary.json"
    replications = int(result.summary.groupby("strategy", observed=True).size().max())
    if replications > 1:
        compared = result.compare()
        content = comparison_json(compared, replications, str(compared["strategy"].iloc[0]))
    else:
        content = summary_json(result.summary)
    text = json.dumps(content, indent=2)
    atomic_write(path, lambda p: p.write_text(text + "\n"))
    written.append(path)
    return written
