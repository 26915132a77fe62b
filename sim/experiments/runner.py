"""The Python API: run a scenario under one or more strategies and get the tables back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sim import memory
from sim.analysis import metrics
from sim.analysis.result import Result, tables
from sim.engine.compiled import compile_run
from sim.engine.records import RunRecords
from sim.engine.world import World
from sim.experiments.executor import Executor
from sim.model import arrivals
from sim.model import scenario as scenario_file
from sim.model.scenario import Scenario

EventSink = Callable[[pd.DataFrame], None]
MAX_REPLICATIONS = 100_000  # per strategy, in any batch


def simulate(scenario: Scenario, strategy: str | None = None, seed: int | None = None,
             trace: pd.DataFrame | None = None, progress: bool = False,
             event_sink: EventSink | None = None, check: bool = True,
             message_sink: EventSink | None = None) -> RunRecords:
    """One run: the scenario's world under ``strategy`` (default: the scenario's own), raw records.

    ``progress`` shows a bar of simulated hours for runs that last more than a couple of seconds;
    ``event_sink`` receives the event log chunk by chunk (as tables), instead of its being kept, and
    ``message_sink`` the messages of message-level handling; ``check=False`` turns the invariants off
    (for benchmarks)."""
    if trace is None:
        trace = arrivals.for_scenario(scenario, seed)
    sink = None if event_sink is None else (lambda columns, info: event_sink(metrics.events(columns, info)))
    messages = None if message_sink is None else (
        lambda columns, info: message_sink(metrics.messages(columns, info)))
    world = World(compile_run(scenario, trace, strategy, seed), sink, check, messages)
    del trace  # compiled into arrays: a trace read here is let go of before the run
    memory.release()
    if not progress:
        return world.run().records()
    hours = scenario.duration / 3600
    with tqdm(total=round(hours, 2), unit="sim h", desc=world.strategy_name, delay=2, leave=False) as bar:
        world.run(lambda now: bar.update(round(now / 3600 - bar.n, 2)))
    return world.records()


@dataclass(frozen=True)
class Day:
    """One run of :func:`run`: a strategy on a seed's day (the given trace, or one drawn for the seed)."""

    scenario: Scenario
    strategy: str | None
    seed: int
    trace: pd.DataFrame | None = None

    @property
    def name(self) -> str:
        return f"{self.strategy}-seed{self.seed}"


def _tables(day: Day, progress: bool = False, event_sink: EventSink | None = None,
            message_sink: EventSink | None = None) -> Result:
    return tables(simulate(day.scenario, day.strategy, day.seed, trace=day.trace, progress=progress,
                           event_sink=event_sink, message_sink=message_sink))


def run(scenario: Scenario | str | Path, strategy: str | Sequence[str] | None = None,
        seed: int | None = None, trace: pd.DataFrame | None = None, progress: bool = False,
        event_sink: EventSink | None = None, replications: int = 1, workers: int | None = 1,
        scheduler: str | None = None, message_sink: EventSink | None = None) -> Result:
    """Run ``scenario`` (a Scenario or a file) once per strategy on one arrival trace and one seed, or
    on ``replications`` days of seeds ``seed``, ``seed + 1`` … (a trace drawn for each unless given).

    Every strategy meets the same contacts with the same draws (common random numbers). With an
    ``event_sink`` the event log goes there as it is written, and ``Result.events`` stays empty (so do
    message-level handling's messages with a ``message_sink``, and ``Result.messages``). The
    runs go to ``workers`` local processes (1: this one, the default, and always with a sink)
    or with ``scheduler`` to a Dask cluster (see :class:`~sim.experiments.executor.Executor`).
    """
    if not isinstance(scenario, Scenario):
        scenario = scenario_file.load(scenario)
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise ValueError(f"replications must be from 1 to {MAX_REPLICATIONS:,}, got {replications}")
    names = [strategy] if isinstance(strategy, str) or strategy is None else list(strategy)
    first = scenario.seed if seed is None else seed
    days = [Day(scenario, name, first + replication, trace) for replication in range(replications) for name in names]
    if event_sink is not None or message_sink is not None:
        workers, scheduler = 1, None  # the sink lives in this process
    here = workers == 1 and scheduler is None
    worker = partial(_tables, progress=progress and here, event_sink=event_sink, message_sink=message_sink)
    with Executor(workers, scheduler, progress and len(days) > 1) as executor:
        return Result.combine(executor.map(worker, days))
