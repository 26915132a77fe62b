"""Experiments: replications of several strategies on common random numbers, paired comparisons.

Every strategy runs on the same seeds, so replication ``r`` of each strategy meets the very same
contacts; differences are measured paired, replication by replication, with a t confidence interval.
Each run's KPIs are written to their own file as soon as the run ends, so an interrupted experiment,
run again with the same command, runs only what is missing; a worker process that dies has its runs
retried.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd
from tqdm import tqdm

from sim.analysis import comparison
from sim.analysis.result import tables
from sim.errors import ConvsimError, ScenarioError
from sim.experiments.runner import simulate
from sim.io.results import atomic_write
from sim.model.scenario import Scenario
from strategies import registry

ATTEMPTS = 3  # a run whose worker dies is tried this many times in all
J = TypeVar("J", bound="Named")
R = TypeVar("R")


class Named(Protocol):
    """A job: anything with a unique ``name`` that a picklable worker function takes."""

    @property
    def name(self) -> str: ...


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


def fingerprint(scenario: Scenario) -> str:
    """A digest of everything that decides a run's results, so stale files are never reused."""
    text = scenario.model_dump_json(exclude={"base_dir", "source"})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def replicate(scenario: Scenario, strategies: list[str], replications: int, folder: str | Path | None = None,
              workers: int | None = None, progress: bool = False,
              worker: Callable[[Job], dict[str, Any]] = run_job, scheduler: str | None = None) -> pd.DataFrame:
    """Run every strategy on replications 0..n-1 and return the tidy table: a row per strategy ×
    replication × KPI. With a ``folder``, finished runs are kept there and not run again. The runs go
    to a local process pool, or with ``scheduler`` (an address, or "local") to a Dask cluster."""
    jobs = [Job(scenario, strategy, r) for r in range(replications) for strategy in strategies]
    if workers != 1 and scheduler is None and any(defined_here(name) for name in strategies):
        workers = 1  # a class defined in a notebook or script cannot be sent to worker processes
    runs_dir = Path(folder) / "runs" if folder is not None else None
    digest = fingerprint(scenario)
    done: dict[str, dict[str, Any]] = {}
    if runs_dir is not None and runs_dir.exists():
        for job in jobs:
            path = runs_dir / f"{job.name}.json"
            if path.exists():
                saved = json.loads(path.read_text())
                if saved.get("fingerprint") == digest:
                    done[job.name] = saved["kpis"]
    missing = [job for job in jobs if job.name not in done]
    with tqdm(total=len(jobs), initial=len(jobs) - len(missing), unit="run", desc="runs", disable=not progress,
              smoothing=0.1) as bar:
        execute = local_executor if scheduler is None else _dask_executor(scheduler, workers)
        for job, kpis in execute(missing, workers, worker):
            done[job.name] = kpis
            if runs_dir is not None:
                text = json.dumps({"fingerprint": digest, "strategy": job.strategy, "replication": job.replication,
                                   "seed": job.seed, "kpis": kpis})
                atomic_write(runs_dir / f"{job.name}.json", lambda p, t=text: p.write_text(t))
            bar.update()
    return comparison.tidy(pd.DataFrame([{**done[job.name], "strategy": job.strategy, "seed": job.seed}
                                         for job in jobs]))


def defined_here(strategy: str | None) -> bool:
    """Whether the strategy's class lives in ``__main__`` (a notebook's or a script's own code), which
    worker processes started afresh cannot import."""
    return strategy is not None and registry.resolve(strategy).__module__ == "__main__"


def local_executor(jobs: list[J], workers: int | None, worker: Callable[[J], R]) -> Iterable[tuple[J, R]]:
    """Results as they finish: in this process for one worker, else on a process pool that is made
    anew when a worker dies, its unfinished runs tried again (up to ``ATTEMPTS`` times each)."""
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for job in jobs:
            yield job, worker(job)
        return
    attempts = dict.fromkeys((job.name for job in jobs), 0)
    pending = list(jobs)
    while pending:
        with ProcessPoolExecutor(max_workers=min(workers, len(pending))) as pool:
            futures = {pool.submit(worker, job): job for job in pending}
            pending, delivered = [], set()
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
                    delivered.add(future)
            except BrokenProcessPool:
                for future, job in futures.items():
                    if future in delivered:
                        continue
                    if future.done() and future.exception() is None:
                        yield job, future.result()
                        continue
                    attempts[job.name] += 1
                    if attempts[job.name] >= ATTEMPTS:
                        raise RuntimeError(f"run {job.name} failed {ATTEMPTS} times: its worker died") from None
                    pending.append(job)


def _dask_executor(address: str, workers: int | None) -> Callable[..., Iterable[tuple[Job, dict[str, Any]]]]:
    """Runs on a Dask distributed cluster: an existing scheduler's address, or "local" for a
    LocalCluster of ``workers`` processes. A run whose worker dies is rescheduled by Dask."""

    def execute(jobs: list[Job], _workers: int | None,
                worker: Callable[[Job], dict[str, Any]]) -> Iterable[tuple[Job, dict[str, Any]]]:
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError:
            raise ConvsimError("--scheduler needs Dask: pip install 'convsim[dask]'") from None

        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None) if address == "local" else None
        try:
            with Client(cluster if cluster is not None else address) as client:
                futures = {client.submit(worker, job, key=f"convsim-{job.name}-{id(job)}", pure=False,
                                         retries=ATTEMPTS - 1): job for job in jobs}
                for future in as_completed(futures):
                    yield futures[future], future.result()
        finally:
            if cluster is not None:
                cluster.close()

    return execute


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


def sweep(scenario: Scenario, grid: dict[str, list[Any]], replications: int, strategies: list[str],
          folder: str | Path | None = None, workers: int | None = None, progress: bool = False,
          scheduler: str | None = None) -> pd.DataFrame:
    """Every combination of the grid's values (dotted scenario paths), each strategy with its
    replications: one tidy table with a column per swept parameter."""
    import itertools

    names = list(grid)
    tables = []
    for number, combination in enumerate(itertools.product(*(grid[name] for name in names))):
        values = dict(zip(names, combination, strict=True))
        point = with_values(scenario, values)
        point_folder = Path(folder) / f"point-{number:04d}" if folder is not None else None
        table = replicate(point, strategies, replications, point_folder, workers, progress, scheduler=scheduler)
        for name, value in values.items():
            table.insert(0, name, value)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)
