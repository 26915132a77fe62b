"""Writing results: Parquet (and CSV on request) tables and summary.json, each file atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.runner import Result

TABLES = ("conversations", "events", "agents", "intervals")


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


def write(result: Result, folder: str | Path, csv: bool = False) -> list[Path]:
    """Write every table of ``result`` into ``folder``; return the paths written."""
    folder = Path(folder)
    written = []
    for name in TABLES:
        table: pd.DataFrame = getattr(result, name)
        path = folder / f"{name}.parquet"
        atomic_write(path, lambda p, t=table: t.to_parquet(p, index=False))
        written.append(path)
        if csv:
            path = folder / f"{name}.csv"
            atomic_write(path, lambda p, t=table: t.to_csv(p, index=False))
            written.append(path)
    path = folder / "summary.json"
    text = json.dumps(summary_json(result.summary), indent=2)
    atomic_write(path, lambda p: p.write_text(text + "\n"))
    written.append(path)
    return written
