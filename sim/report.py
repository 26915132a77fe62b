"""Figures (matplotlib, drawn to files) for people to look at."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.output import atomic_write


def arrival_profile(timestamps: pd.Series, path: Path, title: str) -> None:
    """Messages per hour through the day, averaged over the days of the trace, one line per weekday
    when the trace covers a week or more."""
    stamps = pd.to_datetime(timestamps)
    days = max(1, (stamps.max().normalize() - stamps.min().normalize()).days + 1)
    hour = stamps.dt.hour + stamps.dt.minute / 60
    bins = np.arange(0, 24.25, 0.25)
    figure, axes = plt.subplots(figsize=(9, 4.5), layout="constrained")
    if days >= 7:
        for day, name in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]):
            mask = stamps.dt.day_of_week == day
            count = max(1, stamps[mask].dt.normalize().nunique())
            values, _ = np.histogram(hour[mask], bins=bins)
            axes.step(bins[:-1], values * 4 / count, where="post", label=name, linewidth=1.2)
        axes.legend(ncols=7, fontsize="small", loc="upper left")
    else:
        values, _ = np.histogram(hour, bins=bins)
        axes.step(bins[:-1], values * 4 / days, where="post", color="tab:blue", linewidth=1.5)
    axes.set(title=title, xlabel="hour of day", ylabel="messages per hour (15-minute bins)", xlim=(0, 24))
    axes.set_xticks(range(0, 25, 2))
    axes.grid(alpha=0.3)
    atomic_write(path, lambda p: figure.savefig(p, dpi=120, format="png"))
    plt.close(figure)
