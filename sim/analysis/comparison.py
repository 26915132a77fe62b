"""Paired comparison of strategies over replications: means, confidence intervals, differences, and
:class:`Comparison`, which reads them out (a KPI table, a conclusion and an answer in words)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from sim.analysis.kpis import KPIS, Kpi, format_kpi


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


LEADS = ("service_level", "abandonment_rate", "first_response_time_mean", "workload_gini")  # ranked in conclusion()
DECIDING = ("service_level", "abandonment_rate", "first_response_time_mean", "resolution_time_mean",
            "skill_match_rate", "workload_gini")  # weighed in answer()


@dataclass(frozen=True)
class Comparison:
    """Strategies compared on common random numbers over replications: ``table`` is the tidy table (a row
    per strategy × replication × KPI, as :func:`tidy` makes it), ``baseline`` the strategy the paired
    differences are taken to (default: the first), ``level`` the confidence of every interval.

    What :func:`sim.compare` returns, and :meth:`sim.Result.comparison` of a run with replications."""

    table: pd.DataFrame
    baseline: str | None = None
    level: float = 0.95

    @property
    def strategies(self) -> list[str]:
        return [str(name) for name in self.table["strategy"].cat.categories]

    @property
    def replications(self) -> int:
        return int(self.table["replication"].nunique())

    def frame(self, baseline: str | None = None) -> pd.DataFrame:
        """Per strategy and KPI: mean, interval, and the paired difference to ``baseline`` (see :func:`compare`)."""
        return compare(self.table, baseline or self.baseline, self.level)

    def summary(self, kpis: Sequence[str] | None = None) -> pd.DataFrame:
        """The KPI table a person reads: a row per KPI, per strategy its mean with its interval
        ("67.5% [66.1%, 68.9%]") and, for each other strategy, its paired difference to the baseline
        ("+1.2 pts [0.4 pts, 2.0 pts] *": the star when the interval excludes 0)."""
        compared = self.frame()
        baseline = self.baseline or self.strategies[0]
        if kpis is not None:
            compared = compared[compared["kpi"].isin(kpis)]
        rows: dict[str, dict[str, str]] = {}
        for row in compared.itertuples():
            own = rows.setdefault(row.kpi, {})
            own[row.strategy] = (f"{format_kpi(row.kpi, row.mean)} [{format_kpi(row.kpi, row.ci_low)}, "
                                 f"{format_kpi(row.kpi, row.ci_high)}]")
            if row.strategy != baseline:
                own[f"{row.strategy} vs {baseline}"] = (
                    f"{format_kpi(row.kpi, row.difference, True)} [{format_kpi(row.kpi, row.difference_ci_low, True)}"
                    f", {format_kpi(row.kpi, row.difference_ci_high, True)}]" + (" *" if row.significant else ""))
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "kpi"
        shown = [name for name in self.strategies if name in table]
        shown += [f"{name} vs {baseline}" for name in self.strategies if f"{name} vs {baseline}" in table]
        return table.reindex(index=list(kpis) if kpis is not None else list(rows), columns=shown).dropna(how="all")

    def lines(self, kpis: Sequence[str] | None = None) -> list[str]:
        """The comparison as lines (:func:`format_comparison`), of ``kpis`` or all."""
        compared = self.frame()
        if kpis is not None:
            compared = compared[compared["kpi"].isin(kpis)]
        return format_comparison(compared, self.baseline or self.strategies[0])

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def conclusion(self) -> str:
        """In words: which strategy leads on each headline KPI and whether its lead over the runner-up is
        more than noise (paired interval)."""
        strategies, replications = self.strategies, self.replications
        if len(strategies) > 1 and replications > 1:
            sentences = []
            means = compare(self.table, level=self.level)
            for kpi in LEADS:
                rows = means[means["kpi"] == kpi].dropna(subset=["mean"])
                if len(rows) < 2:
                    continue
                ranked = rows.sort_values("mean", ascending=KPIS[kpi].better == "lower")
                best, second = ranked.iloc[0], ranked.iloc[1]
                paired = compare(self.table, str(best["strategy"]), self.level)
                gap = paired[(paired["kpi"] == kpi) & (paired["strategy"] == second["strategy"])].iloc[0]
                best_word, lead_word = _lead_words(KPIS[kpi])
                text = (f"{best['strategy']} has the {best_word} {KPIS[kpi].label} ({format_kpi(kpi, best['mean'])}, "
                        f"95 % CI {format_kpi(kpi, best['ci_low'])} to {format_kpi(kpi, best['ci_high'])})")
                amount = format_kpi(kpi, abs(gap["difference"]), signed=True).lstrip("+")  # 0.3 pts, 6.3 s
                lead = f"{amount} {lead_word}"
                if gap["significant"]:
                    sentences.append(f"{text}; its lead over {second['strategy']} ({lead}) is significant.")
                else:
                    sentences.append(f"{text}, but its lead over {second['strategy']} ({lead}) is within the "
                                     f"noise of {replications} replications.")
            return " ".join(sentences)
        if len(strategies) > 1:
            return ("With one replication per strategy no difference can be called significant; "
                    "run with --replications 10 or more for confidence intervals.")
        means = compare(self.table, level=self.level)
        shown = [f"{KPIS[row.kpi].label} {format_kpi(row.kpi, row.mean)}"
                 for row in means[means["kpi"].isin(HEADLINE)].itertuples()]
        return (f"One strategy, {strategies[0]}, over {replications} replication(s): {', '.join(shown)}; "
                "name several strategies to compare them.")

    def answer(self, kpi: str = "service_level", material: float = 0.01,
               weighed: Sequence[str] = DECIDING) -> str:
        """Which strategy to run, in words: the one best on ``kpi``; the others that are not clearly
        (paired interval) and materially (by ``material``, in the KPI's unit: 0.01 is a point of a share)
        worse on it, with what each is clearly better or worse at among ``weighed``; the conclusion first."""
        better = 1 if KPIS[kpi].better != "lower" else -1
        means = self.frame().set_index(["kpi", "strategy"])["mean"]
        best = str((means.loc[kpi] * better).idxmax())
        paired = self.frame(best).set_index(["kpi", "strategy"])
        known = set(paired.index.get_level_values(0))

        def clearly(name: str, sign: int) -> list[str]:  # KPIs where `name` is clearly better (+1) or worse (-1)
            found = []
            for other in weighed:
                if other == kpi or other not in known or KPIS[other].better is None:
                    continue
                row = paired.loc[(other, name)]
                direction = 1 if KPIS[other].better == "higher" else -1
                if row["significant"] and direction * row["difference"] * sign > 0:
                    found.append(f"{other} {format_kpi(other, row['difference'], signed=True)}")
            return found

        label = KPIS[kpi].label
        others = [name for name in self.strategies if name != best]
        behind = [name for name in others if paired.loc[(kpi, name), "significant"]
                  and -better * paired.loc[(kpi, name), "difference"] >= material]
        close = [name for name in others if name not in behind]
        lines = [self.conclusion(), "",
                 f"Best {label}: {best} ({format_kpi(kpi, means.loc[(kpi, best)])})."]
        for name in others:
            row = paired.loc[(kpi, name)]
            lines.append(f"  {name} vs {best}: {label} {format_kpi(kpi, row['difference'], signed=True)} "
                         f"({'clearly' if row['significant'] else 'not clearly'} worse); clearly better on: "
                         f"{', '.join(clearly(name, +1)) or 'nothing'}; clearly worse on: "
                         f"{', '.join(clearly(name, -1)) or 'nothing'}")
        amount = format_kpi(kpi, material, signed=True).lstrip("+")
        if not close:
            lines.append(f"Answer: run {best} - every other strategy's {label} is worse by {amount} or more, "
                         "beyond the noise.")
        else:
            lines.append(f"Answer: {' or '.join([best, *close])} - their {label} is within {amount} of each other "
                         "or within the noise; choose between them on what each is clearly better or worse at "
                         "(the lines above).")
        if behind:
            lines.append(f"Not {' or '.join(behind)}: a {label} worse by {amount} or more, beyond the noise.")
        return "\n".join(lines)


HEADLINE = ("service_level", "abandonment_rate", "first_response_time_mean", "agent_occupancy_mean")


def _lead_words(kpi: Kpi) -> tuple[str, str]:
    """How the leader on a KPI is named, and its lead: highest/higher, shortest/shorter (a time), lowest/lower."""
    if kpi.better == "higher":
        return "highest", "higher"
    return ("shortest", "shorter") if kpi.unit == "seconds" else ("lowest", "lower")
