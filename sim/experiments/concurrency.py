"""Chat concurrency: what a cap on the conversations an agent holds does to service, in the lumped model
(a handle time stretched by a guessed slowdown) and in message-level handling (the agent's attention
shared among its chats, first come first served), on the same arrivals.

:func:`study` runs the scenario at each cap in both modes on the same seeds (so the same contacts, common
random numbers) and returns one tidy table; :func:`sim.io.concurrency.concurrency_figure` draws it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from sim.errors import ScenarioError
from sim.experiments.replications import replicate, with_values
from sim.model.scenario import Scenario

CAPS = (1, 2, 3, 4, 5, 6)
MODES = ("lumped", "messages")
KPIS = ("service_level", "abandonment_rate", "first_response_time_mean", "response_time_mean",
        "response_time_p90", "resolution_time_mean", "agent_concurrency_mean")


def study(scenario: Scenario, caps: Sequence[int] = CAPS, replications: int = 5, strategy: str | None = None,
          workers: int | None = 1, progress: bool = False) -> pd.DataFrame:
    """Every agent's capacity set to each cap, in the lumped mode and in message-level handling, each on
    ``replications`` seeds (the scenario's seed, + 1 …; the same in every cell, so the same arrivals):
    a tidy table with a row per cap × handling × replication × KPI (``KPIS``; message-level handling's
    own are missing from the lumped rows: its only agent message is the first response).

    The scenario needs both a ``handling.handle_time`` (the lumped mode) and ``handling.messages``."""
    handling = scenario.handling
    if handling.handle_time is None or handling.messages is None:
        raise ScenarioError(f"{scenario.source}: handling: the concurrency study needs both handle_time (the lumped "
                            "mode) and messages (message-level handling)")
    name = strategy or scenario.strategy.name
    tables = []
    for cap in caps:
        for mode in MODES:
            variant = with_values(scenario, {"agents.*.capacity": int(cap), "handling.mode": mode})
            table = replicate(variant, [name], replications, workers=workers, progress=progress,
                              phase=f"cap {cap}, {mode}")
            table = table[table["kpi"].isin(KPIS)].assign(cap=int(cap), handling=mode)
            tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    table["handling"] = pd.Categorical(table["handling"], categories=list(MODES))
    return table[["cap", "handling", "strategy", "replication", "seed", "kpi", "value"]]


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per cap, handling and KPI: the mean over replications and its standard error."""
    grouped = table.groupby(["cap", "handling", "kpi"], observed=True)["value"]
    summary = grouped.agg(["mean", "sem", "count"]).reset_index()
    return summary.rename(columns={"count": "replications"})
