"""Experiments: replications of several strategies on common random numbers, paired comparisons.

Every strategy runs on the same seeds, so replication ``r`` of each strategy meets the very same
contacts; differences are measured paired, replication by replication, with a t confidence interval.
Each run's KPIs are written to their own file as soon as the run ends, so an interrupted experiment,
run again with the same command, runs only what is missing; a worker process that dies has its runs
retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis import comparison
from sim.analysis.result import tables
from sim.errors import ScenarioError
from sim.experiments.executor import Executor
from sim.experiments.runner import MAX_REPLICATIONS, simulate
from sim.io.results import Provenance, RunFiles
from sim.model.scenario import Scenario


@dataclass(frozen=True)
class Job:
    """One run of an experiment: a strategy on a replication's seed."""

    scenario: Scenario
    strategy: str
    replication: int

    @property
    def seed(self) -> int:
        return self.scenario.seed + self.replication

    @property
    def name(self) -> str:
        return f"{self.strategy}-r{self.replication:04d}"


def run_job(job: Job) -> dict[str, Any]:
    """Simulate one job and return its KPIs (the summary row)."""
    result = tables(simulate(job.scenario, job.strategy, job.seed, check=True))
    row = result.summary.iloc[0].to_dict()
    return {key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}


def replicate(scenario: Scenario, strategies: list[str], replications: int, folder: str | Path | None = None,
              workers: int | None = None, progress: bool = False,
              worker: Callable[[Job], dict[str, Any]] = run_job, scheduler: str | None = None,
              phase: str | None = None) -> pd.DataFrame:
    """Run every strategy on replications 0..n-1 and return the tidy table: a row per strategy ×
    replication × KPI. With a ``folder``, finished runs are kept there and not run again. The runs go
    to a local process pool, or with ``scheduler`` (an address, or "local") to a Dask cluster;
    ``phase`` names them on the progress bar."""
    check_replications(replications)
    if not strategies or len(strategies) * replications > MAX_RUNS:
        raise ScenarioError(f"{len(strategies)} strategies x {replications:,} replications: expected at least one "
                            f"strategy and at most {MAX_RUNS:,} runs")
    with Executor(workers, scheduler, progress) as executor:
        return _replicate(executor, scenario, strategies, replications, folder, worker, phase)


def _replicate(executor: Executor, scenario: Scenario, strategies: list[str], replications: int,
               folder: str | Path | None, worker: Callable[[Job], dict[str, Any]] = run_job,
               phase: str | None = None) -> pd.DataFrame:
    jobs = [Job(scenario, strategy, r) for r in range(replications) for strategy in strategies]
    provenance = Provenance.of(scenario, strategies=strategies)
    runs = RunFiles(Path(folder) / "runs", provenance) if folder is not None else None
    outcomes = executor.map(worker, jobs, runs, phase)
    return comparison.tidy(pd.DataFrame([{**kpis, "strategy": job.strategy, "seed": job.seed}
                                         for job, kpis in zip(jobs, outcomes, strict=True)]))


def with_values(scenario: Scenario, values: dict[str, Any]) -> Scenario:
    """The scenario with each dotted path set to its value, validated again: ``contacts.patience.mean``,
    ``arrivals.generate.volume``; in a list, an item by position (``agents.0.count``), by its ``id``
    (``agents.support-es.count``, ``workflow.purpose.timeout``) or every item (``agents.*.capacity``)."""
    from sim.model.scenario import parse

    data = scenario.model_dump(by_alias=True, exclude={"base_dir", "source"})
    for path, value in values.items():
        try:
            nodes = [data]
            for key in path.split(".")[:-1]:
                nodes = [child for node in nodes for child in _children(node, key)]
            last = path.split(".")[-1]
            for node in nodes:
                if isinstance(node, list):
                    node[_position(node, last)] = value
                elif isinstance(node, dict):
                    node[last] = value
                else:
                    raise TypeError
        except (KeyError, IndexError, ValueError, TypeError):
            raise ScenarioError(f"{scenario.source}: parameter {path!r}: the scenario has no such field") from None
    return parse(data, source=f"{scenario.source} with {values}", base_dir=scenario.base_dir)


def _children(node: Any, key: str) -> list[Any]:
    if isinstance(node, list):
        return list(node) if key == "*" else [node[_position(node, key)]]
    if key not in node:
        raise KeyError(key)
    return [node[key]]


def _position(items: list[Any], key: str) -> int:
    """A list item's index from its position or its ``id``."""
    if key.lstrip("-").isdigit():
        return int(key)
    found = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get("id") == key]
    if len(found) != 1:
        raise KeyError(key)
    return found[0]


MAX_RUNS = 1_000_000  # in one batch
RESERVED = ("strategy", "replication", "seed", "kpi", "value")  # the tidy table's own columns


def check_replications(replications: Any, where: str = "replications") -> int:
    """A number of replications: a whole number from 1 to ``MAX_REPLICATIONS``."""
    if isinstance(replications, bool) or not isinstance(replications, int) or not 1 <= replications <= MAX_REPLICATIONS:
        raise ScenarioError(f"{where}: expected a whole number from 1 to {MAX_REPLICATIONS:,}, got "
                            f"{_short(replications)}")
    return replications


def check_grid(grid: Any, replications: Any, strategies: Any, source: str = "grid") -> None:
    """A sweep's grid before anything runs: parameters each a dotted path (none a column of the tidy table)
    with a non-empty list of values, replications and strategies that make a bounded batch."""
    if not isinstance(grid, dict) or not grid:
        raise ScenarioError(f"{source}: parameters: expected a mapping of dotted path to a list of values, got "
                            f"{_short(grid)}")
    points = 1
    for name, values in grid.items():
        if not isinstance(name, str) or not name:
            raise ScenarioError(f"{source}: parameters: a parameter's name is a dotted path, got {_short(name)}")
        if name in RESERVED:
            raise ScenarioError(f"{source}: parameters.{name}: {name!r} is a column of the sweep's table "
                                f"({', '.join(RESERVED)}); vary the seed through replications")
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"{source}: parameters.{name}: expected a non-empty list of values, got "
                                f"{_short(values)}")
        points *= len(values)
    check_replications(replications, f"{source}: replications")
    if not isinstance(strategies, list) or not strategies or not all(isinstance(s, str) and s for s in strategies):
        raise ScenarioError(f"{source}: strategies: expected a list of strategy names, got {_short(strategies)}")
    if points * len(strategies) * replications > MAX_RUNS:
        raise ScenarioError(f"{source}: {points:,} points x {len(strategies)} strategies x {replications:,} "
                            f"replications make more than {MAX_RUNS:,} runs")


def _short(value: Any) -> str:
    import reprlib

    shown = reprlib.Repr()
    shown.maxstring = shown.maxother = 60
    return shown.repr(value)


def sweep(scenario: Scenario, grid: dict[str, list[Any]], replications: int, strategies: list[str],
          folder: str | Path | None = None, workers: int | None = None, progress: bool = False,
          scheduler: str | None = None) -> pd.DataFrame:
    """Every combination of the grid's values (dotted scenario paths), each strategy with its
    replications: one tidy table with a column per swept parameter."""
    import itertools

    check_grid(grid, replications, strategies, scenario.source)
    names = list(grid)
    tables = []
    points = []  # every point validated before anything runs
    for combination in itertools.product(*(grid[name] for name in names)):
        values = dict(zip(names, combination, strict=True))
        points.append((values, with_values(scenario, values)))
    with Executor(workers, scheduler, progress) as executor:
        for number, (values, point) in enumerate(points):
            point_folder = Path(folder) / f"point-{number:04d}" if folder is not None else None
            shown = ", ".join(f"{name}={value}" for name, value in values.items())
            table = _replicate(executor, point, strategies, replications, point_folder,
                               phase=f"point {number + 1} of {len(points)} ({shown})")
            for name, value in values.items():
                table.insert(0, name, value)
            tables.append(table)
    return pd.concat(tables, ignore_index=True)
