"""The Python API: run a scenario under one or more strategies and get the tables back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sim.analysis import comparison, metrics
from sim.engine.records import RunRecords
from sim.engine.world import World
from sim.errors import ConvsimError
from sim.model import arrivals
from sim.model import scenario as scenario_file
from sim.model.scenario import Scenario


@dataclass(frozen=True)
class Result:
    """The tables of one or more runs, each with a ``strategy`` (and ``seed``) column."""

    conversations: pd.DataFrame
    events: pd.DataFrame
    agents: pd.DataFrame
    intervals: pd.DataFrame
    summary: pd.DataFrame  # a row per run, a column per KPI

    def kpis(self, formatted: bool = False, by: str | None = None) -> pd.DataFrame:
        """The KPIs side by side: a row per KPI, a column per strategy (the mean over replications);
        ``formatted``: as people read them (67.5%, 72.2 s, 1,632); ``by``: a column per strategy and
        segment of a conversations column (``team``, ``channel``, a learned field such as ``tier``; those
        without a value as "(not known)"), with the KPIs that conversations alone decide."""
        if by is None:
            table = self.summary.groupby("strategy", observed=True, sort=False)[list(metrics.KPIS)].mean().T
        else:
            kpis = [k for k in metrics.KPIS if k not in metrics.AGENT_KPIS]
            table = self.segments(by).groupby(["strategy", by], observed=True, sort=False)[kpis].mean().T
        if formatted:
            return table.apply(lambda row: row.map(lambda value: metrics.format_kpi(row.name, value)), axis=1)
        return table

    def segments(self, by: str) -> pd.DataFrame:
        """Per run (strategy × seed) and segment of a conversations column (``team``, ``channel``, a learned
        field such as ``tier``; those without a value as "(not known)"): the KPIs that conversations alone
        decide, a row each — what :meth:`kpis` and :meth:`compare` show with ``by``."""
        if by not in SEGMENTS and by not in self.fields:
            raise ConvsimError(f"cannot segment by {by!r}: try {', '.join(SEGMENTS)} or a field the workflow "
                               f"learned ({', '.join(self.fields) or 'none in this run'})")
        runs = self.summary.set_index(["strategy", "seed"])
        segments = self.conversations[by].astype(object).where(self.conversations[by].notna(), "(not known)")
        rows = []
        for (strategy, seed, segment), frame in self.conversations.groupby(["strategy", "seed", segments],
                                                                            observed=True, sort=False):
            run = runs.loc[(strategy, seed)]
            rows.append({"strategy": strategy, "seed": seed, by: segment, **metrics.conversation_kpis(
                frame, run["duration"], run["service_target"], run["warmup"])})
        table = pd.DataFrame(rows)
        table["strategy"] = pd.Categorical(table["strategy"], categories=list(self.summary["strategy"].cat.categories))
        return table

    @property
    def fields(self) -> list[str]:
        """The contact fields the workflow learned: columns of ``conversations`` beyond the fixed ones."""
        return [c for c in self.conversations if c not in metrics.CONVERSATION_COLUMNS]

    def compare(self, baseline: str | None = None, level: float = 0.95, by: str | None = None) -> pd.DataFrame:
        """Per strategy and KPI, the mean over replications with its confidence interval, and the
        difference to ``baseline`` (the first strategy) paired by replication (see :mod:`sim.analysis.comparison`);
        with ``by``, per segment too (a column named ``by``; see :meth:`segments`)."""
        if by is None:
            return comparison.compare(comparison.tidy(self.summary), baseline, level)
        runs = self.segments(by)
        return pd.concat([comparison.compare(comparison.tidy(own), baseline, level).assign(**{by: segment})
                          for segment, own in runs.groupby(by, sort=False)], ignore_index=True)

    @classmethod
    def combine(cls, results: Sequence[Result]) -> Result:
        def concat(name: str) -> pd.DataFrame:
            frames = [getattr(r, name) for r in results]
            joined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            if "strategy" in joined:
                joined["strategy"] = pd.Categorical(joined["strategy"].astype(str),
                                                    categories=list(dict.fromkeys(joined["strategy"].astype(str))))
            return joined

        return cls(*(concat(name) for name in ("conversations", "events", "agents", "intervals", "summary")))


SEGMENTS = ("team", "channel", "source", "agent_id")
EventSink = Callable[[pd.DataFrame], None]


def simulate(scenario: Scenario, strategy: str | None = None, seed: int | None = None,
             trace: pd.DataFrame | None = None, progress: bool = False,
             event_sink: EventSink | None = None, check: bool = True) -> RunRecords:
    """One run: the scenario's world under ``strategy`` (default: the scenario's own), raw records.

    ``progress`` shows a bar of simulated hours for runs that last more than a couple of seconds;
    ``event_sink`` receives the event log chunk by chunk (as tables), instead of its being kept;
    ``check=False`` turns the invariants off (for benchmarks)."""
    if trace is None:
        trace = arrivals.for_scenario(scenario, seed)
    sink = None if event_sink is None else (lambda columns, info: event_sink(metrics.events(columns, info)))
    world = World(scenario, trace, strategy, seed, sink, check)
    if not progress:
        return world.run().records()
    hours = scenario.duration / 3600
    with tqdm(total=round(hours, 2), unit="sim h", desc=world.strategy_name, delay=2, leave=False) as bar:
        world.run(lambda now: bar.update(round(now / 3600 - bar.n, 2)))
    return world.records()


def tables(records: RunRecords) -> Result:
    """The DataFrames of one run's records."""
    conversation_table = metrics.conversations(records)
    agent_table = metrics.agents(records)
    return Result(
        conversations=conversation_table,
        events=metrics.events(records.events, records.info),
        agents=agent_table,
        intervals=metrics.intervals(records, conversation_table),
        summary=pd.DataFrame([metrics.summary(records, conversation_table, agent_table)]),
    )


def run(scenario: Scenario | str | Path, strategy: str | Sequence[str] | None = None,
        seed: int | None = None, trace: pd.DataFrame | None = None, progress: bool = False,
        event_sink: EventSink | None = None, replications: int = 1) -> Result:
    """Run ``scenario`` (a Scenario or a file) once per strategy on one arrival trace and one seed, or
    on ``replications`` days of seeds ``seed``, ``seed + 1`` … (a trace drawn for each unless given).

    Every strategy meets the same contacts with the same draws (common random numbers). With an
    ``event_sink`` the event log goes there as it is written, and ``Result.events`` stays empty.
    """
    if not isinstance(scenario, Scenario):
        scenario = scenario_file.load(scenario)
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    names = [strategy] if isinstance(strategy, str) or strategy is None else list(strategy)
    first = scenario.seed if seed is None else seed
    results = []
    with tqdm(total=replications * len(names), unit="run", desc="runs", delay=2,
              disable=not progress or replications * len(names) == 1) as bar:
        for replication in range(replications):
            day = trace if trace is not None else arrivals.for_scenario(scenario, first + replication)
            for name in names:
                results.append(tables(simulate(scenario, name, first + replication, day, progress, event_sink)))
                bar.update()
    return Result.combine(results)
