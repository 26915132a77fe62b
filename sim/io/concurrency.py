"""The chat-concurrency figure: service level and response time against the cap on conversations an agent
holds, lumped model against message-level handling, from :func:`sim.experiments.concurrency.study`'s table."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

COLOURS = {"lumped": "#7f7f7f", "messages": "#1f77b4"}
LABELS = {"lumped": "lumped (handle time x slowdown)", "messages": "message-level (shared attention)"}
Z = 1.96  # the bands: mean ± 1.96 standard errors over replications


class _Figure(Figure):
    """A figure a notebook shows as a PNG by itself; no pyplot state is touched (as :mod:`sim.io.report`)."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, dpi=110, format="png")
        return buffer.getvalue()


def concurrency_figure(table: pd.DataFrame) -> Figure:
    """Two panels against the cap (1–6): the service level, and the response time — the first response
    (both modes, dashed) and, in message-level handling, every agent reply's (solid); each a mean over
    replications with a 95 % band."""
    grouped = table.groupby(["kpi", "handling", "cap"], observed=True)["value"]
    stats = grouped.agg(["mean", "sem"]).reset_index()
    figure = _Figure(figsize=(11, 4.2), layout="constrained")
    level, response = figure.subplots(1, 2)

    def draw(ax: Any, kpi: str, mode: str, label: str, style: str = "-", scale: float = 1.0) -> None:
        rows = stats[(stats["kpi"] == kpi) & (stats["handling"] == mode)].sort_values("cap")
        rows = rows[rows["mean"].notna()]
        if rows.empty:
            return
        mean, half = rows["mean"] * scale, Z * rows["sem"].fillna(0.0) * scale
        ax.plot(rows["cap"], mean, style, marker="o", color=COLOURS[mode], label=label)
        ax.fill_between(rows["cap"], mean - half, mean + half, color=COLOURS[mode], alpha=0.15, linewidth=0)

    for mode in COLOURS:
        draw(level, "service_level", mode, LABELS[mode], scale=100.0)
        draw(response, "first_response_time_mean", mode, f"first response, {mode}", "--")
    draw(response, "response_time_mean", "messages", "every reply, message-level")
    caps = sorted(table["cap"].unique())
    for ax in (level, response):
        ax.set_xticks(caps)
        ax.set_xlabel("most conversations an agent holds (cap)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    level.set_ylabel("service level (%)")
    level.set_title("Service level", fontsize="medium")
    response.set_ylabel("seconds")
    response.set_title("Response time (mean)", fontsize="medium")
    figure.suptitle("Chat concurrency: the lumped model against message-level handling, same arrivals")
    return figure
