"""The tables of one or more runs, and their KPIs side by side: what the API and notebooks hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from sim import memory
from sim.analysis import comparison, metrics
from sim.analysis.kpis import KPIS, format_kpi
from sim.engine.records import RunRecords
from sim.errors import ConvsimError


@dataclass(frozen=True)
class Result:
    """The tables of one or more runs, each with a ``strategy`` (and ``seed``) column; message-level
    handling's runs add ``messages`` (a row per message of the turns) and ``concurrency`` (per agent, online
    time with each number of conversations open), empty otherwise."""

    conversations: pd.DataFrame
    events: pd.DataFrame
    agents: pd.DataFrame
    intervals: pd.DataFrame
    summary: pd.DataFrame  # a row per run, a column per KPI
    messages: pd.DataFrame = field(default_factory=pd.DataFrame)
    concurrency: pd.DataFrame = field(default_factory=pd.DataFrame)

    def kpis(self, formatted: bool = False, by: str | None = None) -> pd.DataFrame:
        """The KPIs side by side: a row per KPI, a column per strategy (the mean over replications);
        ``formatted``: as people read them (67.5%, 72.2 s, 1,632); ``by``: a column per strategy and
        segment of a conversations column (``team``, ``channel``, a learned field such as ``tier``; those
        without a value as "(not known)"), with the KPIs that conversations alone decide."""
        if by is None:
            measured = [kpi for kpi in KPIS if kpi in self.summary]
            table = self.summary.groupby("strategy", observed=True, sort=False)[measured].mean().T
        else:
            segments = self.segments(by)
            kpis = [kpi.name for kpi in KPIS.values() if kpi.numerator is not None and kpi.name in segments]
            table = segments.groupby(["strategy", by], observed=True, sort=False)[kpis].mean().T
        if formatted:
            return table.apply(lambda row: row.map(lambda value: format_kpi(row.name, value)), axis=1)
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
        messages = (dict(iter(self.messages.groupby(["strategy", "seed"], observed=True, sort=False)))
                    if len(self.messages) else {})
        for (strategy, seed, segment), frame in self.conversations.groupby(["strategy", "seed", segments],
                                                                            observed=True, sort=False):
            run = runs.loc[(strategy, seed)]
            rows.append({"strategy": strategy, "seed": seed, by: segment, **metrics.conversation_kpis(
                frame, run["duration"], run["service_target"], run["warmup"], messages.get((strategy, seed)))})
        table = pd.DataFrame(rows)
        table["strategy"] = pd.Categorical(table["strategy"], categories=list(self.summary["strategy"].cat.categories))
        return table

    @property
    def fields(self) -> list[str]:
        """The contact fields the workflow learned: columns of ``conversations`` beyond the fixed ones."""
        return metrics.fields(self.conversations)

    def compare(self, baseline: str | None = None, level: float = 0.95, by: str | None = None) -> pd.DataFrame:
        """Per strategy and KPI, the mean over replications with its confidence interval, and the
        difference to ``baseline`` (the first strategy) paired by replication (see :mod:`sim.analysis.comparison`);
        with ``by``, per segment too (a column named ``by``; see :meth:`segments`)."""
        if by is None:
            return comparison.compare(comparison.tidy(self.summary), baseline, level)
        runs = self.segments(by)
        return pd.concat([comparison.compare(comparison.tidy(own), baseline, level).assign(**{by: segment})
                          for segment, own in runs.groupby(by, sort=False)], ignore_index=True)

    def comparison(self, baseline: str | None = None, level: float = 0.95) -> comparison.Comparison:
        """The strategies compared over the replications (days) run, as :func:`sim.compare` gives them: its
        :meth:`~sim.analysis.comparison.Comparison.summary` is the KPI table with intervals, its
        :meth:`~sim.analysis.comparison.Comparison.answer` which strategy to run, in words."""
        return comparison.Comparison(comparison.tidy(self.summary), baseline, level)

    def labelled(self, name: str) -> Result:
        """The same tables with every run's ``strategy`` column set to ``name``: to compare variants of a
        scenario (another selection policy, one more agent) side by side as if they were strategies."""
        return Result(*(table.assign(strategy=pd.Categorical([name] * len(table))) if "strategy" in table else table
                        for table in (self.conversations, self.events, self.agents, self.intervals, self.summary)))

    @classmethod
    def combine(cls, results: Sequence[Result]) -> Result:
        def concat(name: str) -> pd.DataFrame:
            frames = [getattr(r, name) for r in results]
            joined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            if "strategy" in joined:
                joined["strategy"] = pd.Categorical(joined["strategy"].astype(str),
                                                    categories=list(dict.fromkeys(joined["strategy"].astype(str))))
            return joined

        return cls(*(concat(name) for name in ("conversations", "events", "agents", "intervals", "summary",
                                               "messages", "concurrency")))


SEGMENTS = ("team", "channel", "source", "agent_id")


def tables(records: RunRecords) -> Result:
    """The DataFrames of one run's records."""
    conversation_table = metrics.conversations(records)
    memory.release()  # its scratch memory back to the system before the intervals' (peaks do not stack)
    agent_table = metrics.agents(records)
    levelled = records.info.handling == "messages"
    message_table = metrics.messages(records.messages, records.info) if levelled else pd.DataFrame()
    interval_table = metrics.intervals(records, conversation_table)
    memory.release()  # (the same between each table that scans every conversation)
    result = Result(
        conversations=conversation_table,
        events=metrics.events(records.events, records.info),
        agents=agent_table,
        intervals=interval_table,
        summary=pd.DataFrame([metrics.summary(records, conversation_table, agent_table,
                                              (message_table if records.messages is not None else
                                               metrics.replies(records)) if levelled else None)]),
        messages=message_table,
        concurrency=metrics.concurrency(records) if levelled else pd.DataFrame(),
    )
    memory.release()  # the making's scratch memory, back to the system
    return result
