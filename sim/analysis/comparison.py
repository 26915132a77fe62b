"""Paired comparison of strategies over replications: means, confidence intervals, differences."""

from __future__ import annotations

import math

import pandas as pd

from sim.analysis.kpis import KPIS, format_kpi


def tidy(summary: pd.DataFrame) -> pd.DataFrame:
    """A summary table (a row per strategy × seed, a column per KPI it has) as the tidy table
    :func:`compare` takes: a row per strategy × replication × KPI."""
    strategies = list(dict.fromkeys(summary["strategy"].astype(str)))
    seeds = sorted(summary["seed"].unique())
    measured = [kpi for kpi in KPIS if kpi in summary]
    table = summary.melt(id_vars=["strategy", "seed"], value_vars=measured, var_name="kpi")
    table["strategy"] = pd.Categorical(table["strategy"].astype(str), categories=strategies)
    table.insert(1, "replication", table["seed"].map({seed: i for i, seed in enumerate(seeds)}))
    table["value"] = table["value"].astype(float)
    return table


def compare(table: pd.DataFrame, baseline: str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Per strategy and KPI: mean and confidence interval, and the difference to the ``baseline``
    strategy (the first by default) paired by replication, with its interval and whether it excludes 0."""
    strategies = list(table["strategy"].cat.categories)
    baseline = baseline or strategies[0]
    wide = table.pivot_table(index=["kpi", "replication"], columns="strategy", values="value", observed=True)
    rows = []
    for kpi in KPIS:
        if kpi not in wide.index.get_level_values(0):
            continue
        values = wide.loc[kpi]
        for strategy in strategies:
            mean, low, high = _interval(values[strategy], level)
            difference, d_low, d_high = _interval(values[strategy] - values[baseline], level)
            significant = strategy != baseline and not (d_low <= 0 <= d_high)
            rows.append({"kpi": kpi, "strategy": strategy, "mean": mean, "ci_low": low, "ci_high": high,
                         "difference": difference if strategy != baseline else math.nan,
                         "difference_ci_low": d_low if strategy != baseline else math.nan,
                         "difference_ci_high": d_high if strategy != baseline else math.nan,
                         "significant": significant})
    return pd.DataFrame(rows)


def _interval(values: pd.Series, level: float) -> tuple[float, float, float]:
    values = values.dropna()
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    from scipy import stats  # (here: scipy costs a run that compares nothing 60 MB)

    half = stats.t.ppf((1 + level) / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def format_comparison(comparison: pd.DataFrame, baseline: str) -> list[str]:
    """The comparison as lines a person reads: mean [CI] per strategy, and Δ vs the baseline."""
    lines = [f"{'kpi':<34} {'strategy':<14} {'mean [95% CI]':>30} {'vs ' + baseline:>34}"]
    for row in comparison.itertuples():
        kpi = row.kpi
        shown = (f"{format_kpi(kpi, row.mean)} [{format_kpi(kpi, row.ci_low)}, "
                 f"{format_kpi(kpi, row.ci_high)}]")
        versus = ""
        if not math.isnan(row.difference):
            mark = " *" if row.significant else ""
            versus = (f"{format_kpi(kpi, row.difference, True)} "
                      f"[{format_kpi(kpi, row.difference_ci_low, True)}, "
                      f"{format_kpi(kpi, row.difference_ci_high, True)}]{mark}")
        lines.append(f"{kpi:<34} {row.strategy:<14} {shown:>30} {versus:>34}")
    lines.append("* the paired difference's 95 % interval excludes 0")
    return lines
