"""Answers in words from a staffing study or a roster: the recommendation a manager acts on, the study's
targets as people say them, the whole day's KPIs with their intervals, and the per-team answer to "does
the plan cover the requirement?" — what :meth:`Staffing.answer` and :meth:`Schedule.answer` print and the
report opens with."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from sim.analysis.kpis import KPIS, format_kpi

if TYPE_CHECKING:
    from sim.io.results import Schedule, Staffing

DAY_KPIS = ("service_level", "abandonment_rate", "first_response_time_mean", "agent_occupancy_mean")


class Goal(NamedTuple):
    """A study's target as its settings keep it (``service_level>=0.8@60s``), read back."""

    kpi: str
    higher: bool
    value: float
    within: float | None

    def met_by(self, value: float) -> bool:
        return value >= self.value if self.higher else value <= self.value

    def __str__(self) -> str:
        return f"{self.kpi}{'>=' if self.higher else '<='}{self.value:g}" + (
            "s" if KPIS[self.kpi].unit == "seconds" else "") + (f"@{self.within:g}s" if self.within is not None else "")


def goals(study: Staffing) -> list[Goal]:
    """The study's targets, read from its settings."""
    found = []
    for text in study.settings["targets"]:
        match = re.fullmatch(r"(\w+)(>=|<=)([^@]+?)s?(?:@(.+)s)?", text)
        if match is not None and match.group(1) in KPIS:
            kpi, sign, value, within = match.groups()
            found.append(Goal(kpi, sign == ">=", float(value), float(within) if within else None))
    return found


def day_summary(kpis: pd.DataFrame, shown: Sequence[str] = DAY_KPIS) -> pd.DataFrame:
    """The whole day's KPIs (a study's or a roster's ``kpis``: plan, kpi, mean, ci_low, ci_high) as a person
    reads them: a row per KPI of ``shown``, a column per plan, "67.5% [66.1%, 68.9%]"."""
    day = kpis[kpis["kpi"].isin(shown)]
    plans = list(dict.fromkeys(day["plan"]))
    text = day.assign(value=[f"{format_kpi(r.kpi, r.mean)} [{format_kpi(r.kpi, r.ci_low)}, "
                             f"{format_kpi(r.kpi, r.ci_high)}]" for r in day.itertuples()])
    table = text.pivot(index="kpi", columns="plan", values="value")
    return table.reindex(index=[k for k in shown if k in table.index], columns=plans)


def staffing_answer(study: Staffing, plan: Schedule | None = None) -> str:
    """Does the scenario's plan cover the requirement? Per team the agent-hours required against those planned
    and where it is shortest; the whole day under the plan against each target; the answer (YES / NO), the
    capped and unconfirmed intervals, with a roster what it costs and whether it meets the targets, and the
    recommendation."""
    cells = study.cells
    hours = study.agent_hours()
    per = "a week" if study.settings.get("cycle") == "week" else "a day"
    lines = []
    for team, own in cells.groupby("team", sort=False):
        short = own[own["status"] == "under"]
        busy = own[own["status"] != "no traffic"]
        text = (f"{team}: requires {hours.loc[team, 'required']:,.1f} agent-hours {per} against "
                f"{hours.loc[team, 'planned']:,.1f} planned (Erlang C: {hours.loc[team, 'erlang_c']:,.1f}); "
                f"short in {len(short)} of {len(busy)} intervals")
        sure = short[short["note"] != "unconfirmed"]
        if len(sure):
            worst = sure.loc[sure["gap"].idxmin()]
            text += f", most at {worst['start']} ({-worst['gap']:.1f} agents short, among the confirmed intervals)"
        lines.append(text + ".")
    plan_day = study.kpis[study.kpis["plan"] == "scenario plan"].set_index("kpi")
    missed = []
    for goal in goals(study):
        if goal.kpi not in plan_day.index:
            continue
        value = plan_day.loc[goal.kpi]
        met = goal.met_by(value["mean"])
        missed += [] if met else [str(goal)]
        lines.append(f"Whole day under the plan: {goal.kpi} {format_kpi(goal.kpi, value['mean'])} "
                     f"[{format_kpi(goal.kpi, value['ci_low'])}, {format_kpi(goal.kpi, value['ci_high'])}] "
                     f"against the target {goal} - {'met' if met else 'MISSED'}.")
    under = int((cells["status"] == "under").sum())
    if under == 0 and not missed:
        lines.append("Answer: YES - the plan covers the requirement in every interval and meets the targets over "
                     "the day.")
    else:
        lines.append(f"Answer: NO - the plan is short in {under} team-interval(s)"
                     + (f" and misses {', '.join(missed)} over the day." if missed else "."))
    capped, unconfirmed = (int((cells["note"] == note).sum()) for note in ("capped", "unconfirmed"))
    if capped:
        lines.append(f"({capped} team-interval(s) are capped: a target is out of reach there at any headcount, or "
                     "nearly, and the requirement is the headcount that comes near the best reachable.)")
    if unconfirmed:
        lines.append(f"({unconfirmed} team-interval(s) are unconfirmed: the fresh days did not confirm their "
                     "requirement - raise the replications before staffing to them.)")
    if plan is not None:
        totals = plan.totals()
        cost = totals["cost_per_week"].sum()
        lines.append(f"Roster: {totals['agents'].sum():.0f} shifts {per}, {totals['fte'].sum():,.1f} FTE"
                     + (f", {cost:,.0f} a week (the integer program's lower bound: "
                        f"{totals['bound_per_week'].sum():,.0f})" if cost > 0 else "")
                     + f"; simulated with {plan.settings.get('shrinkage', 0):.0%} shrinkage it "
                     + ("meets the targets in every interval." if plan.settings["met"] else
                        f"still misses them in {int(totals['missed_intervals'].sum())} interval(s)."))
    lines.append(f"Recommendation: {recommendation(study, plan)}")
    return "\n".join(lines)


def recommendation(study: Staffing, plan: Schedule | None = None) -> str:
    """One sentence a manager can act on: how many agents to hire or move, where and when, to meet the
    study's targets — or that the plan holds; with a roster, what it costs."""
    cells = study.cells[study.cells["status"] != "no traffic"]
    targets = targets_in_words(study)
    cells = cells.assign(short=np.ceil((cells["required"] - cells["planned"]).clip(lower=0) - 1e-9).astype(int),
                         spare=np.floor(cells["planned"] - cells["required"] + 1e-9).astype(int))
    worst = {team: own.loc[own["short"].idxmax()] for team, own in cells.groupby("team", sort=False)
             if own["short"].max() > 0}
    spare = {team: int(own["spare"].min()) for team, own in cells.groupby("team", sort=False)}
    roster = ""
    if plan is not None:
        totals = plan.totals()
        cost = totals["cost_per_week"].sum()
        roster = (f"; the roster of {totals['agents'].sum():.0f} shifts a day ({totals['fte'].sum():,.1f} FTE"
                  + (f", {cost:,.0f} a week" if cost > 0 else "") + ") covers it"
                  + ("" if plan.settings["met"] else ", though some intervals still miss their targets"))
    if not worst:
        return (f"The plan holds: every team has the agents each interval needs to meet {targets}"
                + (roster.replace("covers it", "would cover it too") if roster else "") + ".")
    total = sum(int(row["short"]) for row in worst.values())
    parts = [f"{team} {int(row['short'])} (short at {row['start']})" for team, row in worst.items()]
    donors = [f"{team} has {n} to spare all day" for team, n in spare.items() if n >= 1 and team not in worst]
    move = f" ({'; '.join(donors)}: move them where skills allow)" if donors else ""
    return (f"Hire or move {total} agent{'s' * (total != 1)} to meet {targets}: {', '.join(parts)}{move}"
            f"{roster}.")


def targets_in_words(study: Staffing) -> str:
    """A study's targets as people say them: "service level at least 80.0% within 60 s and abandonment rate
    at most 5.0%"."""
    words = []
    for text in study.settings["targets"]:
        match = re.fullmatch(r"(\w+)(>=|<=)([^@]+)(?:@(.+)s)?", text)
        if match is None or match.group(1) not in KPIS:
            words.append(text)
            continue
        kpi, sign, value, within = match.groups()
        amount = format_kpi(kpi, float(value.removesuffix("s")))
        words.append(f"{KPIS[kpi].label} {'at least' if sign == '>=' else 'at most'} {amount}"
                     + (f" within {float(within):g} s" if within else ""))
    return " and ".join(words)
