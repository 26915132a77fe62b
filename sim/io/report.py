"""Figures (matplotlib) and the self-contained HTML report of an output folder.

Every figure function returns a :class:`matplotlib.figure.Figure` (shown inline in a notebook, saved by
the report) and gives each strategy the same colour everywhere (:func:`palette`). No pyplot state is
touched, so importing this module changes nothing in a notebook's plotting.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis import comparison
from sim.analysis.kpis import KPIS, format_kpi, gini
from sim.files import atomic_write
from sim.io import results
from sim.io.answers import recommendation, targets_in_words
from sim.io.concurrency import concurrency_figure
from sim.io.results import Schedule, Staffing

BUILT_IN = {"round_robin": "#1f77b4", "least_busy": "#ff7f0e", "skill_based": "#2ca02c", "random": "#d62728",
            "longest_idle": "#9467bd", "sticky": "#8c564b"}
OTHERS = ["#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#ad494a"]
LEADS = ["service_level", "abandonment_rate", "first_response_time_mean", "workload_gini"]  # ranked by the conclusion
HEADLINE = ["service_level", "abandonment_rate", "first_response_time_mean", "agent_occupancy_mean"]


def palette(strategies: list[str]) -> dict[str, str]:
    """One colour per strategy: the built-ins' own, others in order from the rest."""
    spare = iter(OTHERS * (1 + len(strategies) // len(OTHERS)))
    return {name: BUILT_IN.get(name) or next(spare) for name in strategies}


class ReportFigure(Figure):
    """A figure that a notebook shows as a PNG by itself, whatever matplotlib backend is on."""

    def _repr_png_(self) -> bytes:
        return _png(self)


def _figure(width: float = 9.0, height: float = 4.5, **grid: object) -> tuple[Figure, np.ndarray]:
    figure = ReportFigure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(squeeze=False, **grid)
    return figure, axes


def _share_axis(axes: object) -> None:
    axes.yaxis.set_major_formatter(lambda value, _pos: f"{value:.0%}")  # type: ignore[attr-defined]


def kpi_figure(compared: pd.DataFrame) -> Figure:
    """The headline KPIs per strategy, each with its 95 % confidence interval when there are replications."""
    strategies = list(dict.fromkeys(compared["strategy"].astype(str)))
    colours = palette(strategies)
    figure, axes = _figure(11, 3.6, ncols=len(HEADLINE))
    for ax, kpi in zip(axes[0], HEADLINE, strict=True):
        rows = compared[compared["kpi"] == kpi]
        rows = rows.set_index(rows["strategy"].astype(str)).reindex(strategies)
        means = rows["mean"].to_numpy(dtype=float)
        low, high = rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float)
        errors = np.vstack([means - low, high - means])
        ax.bar(range(len(strategies)), means, color=[colours[s] for s in strategies],
               yerr=None if np.isnan(errors).all() else errors, capsize=4)
        ax.set_xticks(range(len(strategies)), strategies, rotation=30, ha="right", fontsize="small")
        ax.set_title(KPIS[kpi].label, fontsize="medium")
        if KPIS[kpi].unit == "share":
            _share_axis(ax)
        ax.set_ylabel(KPIS[kpi].unit)
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle("Headline KPIs per strategy (bars: 95 % confidence interval over replications)")
    return figure


def first_response_figure(conversations: pd.DataFrame, target: float | None = None) -> Figure:
    """Distribution of first response times per strategy (cumulative share answered within t)."""
    strategies = list(dict.fromkeys(conversations["strategy"].astype(str)))
    colours = palette(strategies)
    figure, axes = _figure(9, 4.5)
    ax = axes[0, 0]
    times = conversations["first_response_time"].dropna().to_numpy()
    top = float(np.percentile(times, 99)) if len(times) else 1.0
    for name in strategies:
        own = np.sort(conversations.loc[conversations["strategy"].astype(str) == name,
                                        "first_response_time"].dropna().to_numpy())
        if len(own):
            ax.step(own, np.arange(1, len(own) + 1) / len(own), where="post", color=colours[name], label=name,
                    linewidth=1.6)
    if target is not None:
        ax.axvline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:g} s")
    ax.set(xlim=(0, top), ylim=(0, 1), xlabel="first response time (seconds, to the 99th percentile)",
           ylabel="share of answered conversations", title="First response time: share answered within t")
    _share_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return figure


def through_day_figure(intervals: pd.DataFrame, target: float | None = None) -> Figure:
    """Service level and queue length per interval of the day, per strategy (mean over replications)."""
    strategies = list(dict.fromkeys(intervals["strategy"].astype(str)))
    colours = palette(strategies)
    figure, axes = _figure(11, 4.2, ncols=2)
    frame = intervals.assign(hour=intervals["interval_ts"].dt.hour + intervals["interval_ts"].dt.minute / 60)
    for name in strategies:
        own = frame[frame["strategy"].astype(str) == name]
        offered = own.groupby("hour")[["answered_within_target", "offered"]].sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            level = offered["answered_within_target"] / offered["offered"].where(offered["offered"] > 0)
        axes[0, 0].plot(level.index, level.to_numpy(), color=colours[name], label=name, linewidth=1.5)
        queue = own.groupby("hour")["queue_length_mean"].mean()
        axes[0, 1].plot(queue.index, queue.to_numpy(), color=colours[name], label=name, linewidth=1.5)
    if target is not None:
        axes[0, 0].axhline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:.0%}")
    axes[0, 0].set(title="Service level by interval opened", xlabel="hour of day", ylabel="answered within target",
                   ylim=(0, 1.02), xlim=(0, 24))
    _share_axis(axes[0, 0])
    axes[0, 1].set(title="Queue length", xlabel="hour of day", ylabel="conversations waiting (mean)", xlim=(0, 24))
    for ax in axes[0]:
        ax.set_xticks(range(0, 25, 3))
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize="small")
    return figure


def agents_figure(agents: pd.DataFrame) -> Figure:
    """Per agent: occupancy, and conversations handled (workload fairness), per strategy."""
    working = agents[agents["online_time"] > 0]
    strategies = list(dict.fromkeys(working["strategy"].astype(str)))
    colours = palette(strategies)
    per_agent = working.groupby(["strategy", "agent_id"], observed=True)[["occupancy", "handled"]].mean().reset_index()
    order = list(dict.fromkeys(working["agent_id"].astype(str)))
    figure, axes = _figure(11, 4.6, nrows=1, ncols=2)
    width = 0.8 / max(1, len(strategies))
    for i, name in enumerate(strategies):
        own = per_agent[per_agent["strategy"].astype(str) == name].set_index("agent_id").reindex(order)
        positions = np.arange(len(order)) + (i - (len(strategies) - 1) / 2) * width
        spread = gini(own["handled"].dropna().to_numpy())
        axes[0, 0].bar(positions, own["occupancy"], width, color=colours[name], label=name)
        axes[0, 1].bar(positions, own["handled"], width, color=colours[name],
                       label=f"{name} (Gini of means {spread:.3f})")
    for ax, title, label in ((axes[0, 0], "Occupancy per agent", "busy slot-time / online slot-time"),
                             (axes[0, 1], "Conversations handled per agent", "conversations a day (mean)")):
        ax.set_xticks(range(len(order)), order, rotation=90, fontsize="x-small")
        ax.set(title=title, ylabel=label)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small")
    _share_axis(axes[0, 0])
    return figure


def staffing_figure(cells: pd.DataFrame, coverage: pd.DataFrame | None = None) -> Figure:
    """Per team: agents required by simulation, by Erlang C and A, the scenario's plan and, with a
    roster's ``coverage``, its productive agents, through the day (of the cycle)."""
    teams = list(dict.fromkeys(cells["team"]))
    figure, axes = _figure(11, 2.8 * len(teams), nrows=len(teams), sharex=True)
    span = 24 * (7 if cells["start"].str.contains(" ").any() else 1)
    for ax, team in zip(axes[:, 0], teams, strict=True):
        own = cells[cells["team"] == team]
        hours = own["start_seconds"].to_numpy() / 3600
        edges = np.append(hours, hours[-1] + (hours[1] - hours[0] if len(hours) > 1 else 1))
        ax.fill_between(edges, np.append(own["planned"], own["planned"].iloc[-1]), step="post", color="0.85",
                        label="plan (scenario shifts)")
        lines = [("required", dict(color="#d62728", linewidth=2.2), "required (simulation)", own),
                 ("erlang_c", dict(color="black", linestyle="--", linewidth=1.2), "Erlang C", own),
                 ("erlang_a", dict(color="#1f77b4", linestyle=":", linewidth=1.6), "Erlang A", own)]
        if coverage is not None:
            lines.append(("productive", dict(color="#2ca02c", linewidth=1.6), "roster (productive agents)",
                          coverage[coverage["team"] == team]))
        for column, style, label, rows in lines:
            values = rows[column].to_numpy(dtype=float)
            ax.step(edges, np.append(values, values[-1]), where="post", label=label, **style)
        for status, marker, label in (("capped", "v", "capped: target out of reach, or nearly"),
                                      ("unconfirmed", "x", "unconfirmed on fresh seeds")):
            marked = (own["note"] == status).to_numpy()
            ax.plot(hours[marked] + (edges[1] - edges[0]) / 2, own["required"].to_numpy()[marked], marker,
                    linestyle="none", color="#d62728", markersize=5, label=label)
        ax.set(title=f"{team}", ylabel="agents online")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, span)
        ax.set_xticks(range(0, span + 1, 2 if span == 24 else 12))
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize="small")
    axes[-1, 0].set_xlabel("hour of day" if span == 24 else "hour of the week (from Monday 00:00)")
    figure.suptitle("Agents required per interval vs the plan" + (" and the roster" if coverage is not None else ""))
    return figure


def gap_figure(cells: pd.DataFrame) -> Figure:
    """Team × interval: agents the plan has online minus those required (red: short, blue: spare)."""
    teams = list(dict.fromkeys(cells["team"]))
    busy = cells.groupby("interval")["status"].agg(lambda s: (s != "no traffic").any())
    shown = cells[cells["interval"].isin(busy[busy].index)]
    intervals = list(dict.fromkeys(shown["interval"]))
    gap = shown.pivot(index="team", columns="interval", values="gap").reindex(index=teams, columns=intervals)
    gap = gap.where(shown.pivot(index="team", columns="interval", values="status").reindex(
        index=teams, columns=intervals) != "no traffic")
    labels = shown.drop_duplicates("interval").set_index("interval")["start"].reindex(intervals)
    figure, axes = _figure(11, 1.2 + 0.55 * len(teams))
    ax = axes[0, 0]
    reach = max(1.0, float(np.nanmax(np.abs(gap.to_numpy()))) if gap.notna().any().any() else 1.0)
    image = ax.imshow(gap.to_numpy(dtype=float), cmap="RdBu", vmin=-reach, vmax=reach, aspect="auto")
    for (row, column), value in np.ndenumerate(gap.to_numpy(dtype=float)):
        if value == value and round(value) != 0:
            ax.text(column, row, f"{round(value):+d}", ha="center", va="center", fontsize="x-small",
                    color="white" if abs(value) > reach / 2 else "black")
    step = max(1, len(intervals) // 24)
    ax.set_xticks(range(0, len(intervals), step), labels.iloc[::step], rotation=90, fontsize="x-small")
    ax.set_yticks(range(len(teams)), teams)
    figure.colorbar(image, ax=ax, label="agents: plan − required", shrink=0.9)
    ax.set_title("Where the plan is short (red) or has agents to spare (blue), per team and interval")
    return figure


def sweep_figure(sweep: pd.DataFrame) -> Figure:
    """The headline KPIs against the first swept parameter, a line per strategy (and value of a second
    parameter), each point a mean over replications with its 95 % interval."""
    keys = [c for c in sweep.columns if c not in ("strategy", "replication", "seed", "kpi", "value")]
    x, others = keys[0], keys[1:2]
    groups = ["strategy", *others]
    colours = palette(list(dict.fromkeys(sweep["strategy"].astype(str))))
    styles = ["-", "--", ":", "-."]
    figure, axes = _figure(11, 3.6, ncols=len(HEADLINE))
    for ax, kpi in zip(axes[0], HEADLINE, strict=True):
        own = sweep[sweep["kpi"] == kpi]
        if own.empty:
            ax.set_visible(False)
            continue
        stats_ = own.groupby([*groups, x], observed=True)["value"].agg(["mean", "std", "count"]).reset_index()
        half = 1.96 * stats_["std"].fillna(0) / np.sqrt(stats_["count"])
        stats_ = stats_.assign(half=half)
        for i, (key, line) in enumerate(stats_.groupby(groups, observed=True, sort=False)):
            key = key if isinstance(key, tuple) else (key,)
            label = " ".join(str(k) for k in key)
            ax.errorbar(line[x], line["mean"], yerr=line["half"], color=colours[str(key[0])], capsize=3,
                        linestyle=styles[(i // len(colours)) % len(styles)] if others else "-", label=label,
                        marker="o", markersize=3)
        ax.set(title=KPIS[kpi].label, xlabel=x)
        if KPIS[kpi].unit == "share":
            _share_axis(ax)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize="x-small")
    figure.suptitle("Sweep: mean KPIs per point (bars: 95 % confidence interval over replications)")
    return figure


def arrival_profile(timestamps: pd.Series, title: str) -> Figure:
    """Messages per hour through the day, averaged over the days of the trace, one line per weekday
    when the trace covers a week or more."""
    stamps = pd.to_datetime(timestamps)
    days = max(1, (stamps.max().normalize() - stamps.min().normalize()).days + 1)
    hour = stamps.dt.hour + stamps.dt.minute / 60
    bins = np.arange(0, 24.25, 0.25)
    figure, axes = _figure(9, 4.5)
    ax = axes[0, 0]
    if days >= 7:
        for day, name in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]):
            mask = stamps.dt.day_of_week == day
            count = max(1, stamps[mask].dt.normalize().nunique())
            values, _ = np.histogram(hour[mask], bins=bins)
            ax.step(bins[:-1], values * 4 / count, where="post", label=name, linewidth=1.2)
        ax.legend(ncols=7, fontsize="small", loc="upper left")
    else:
        values, _ = np.histogram(hour, bins=bins)
        ax.step(bins[:-1], values * 4 / days, where="post", color="tab:blue", linewidth=1.5)
    ax.set(title=title, xlabel="hour of day", ylabel="messages per hour (15-minute bins)", xlim=(0, 24))
    ax.set_xticks(range(0, 25, 2))
    ax.grid(alpha=0.3)
    return figure


def save(figure: Figure, path: Path) -> None:
    """Write a figure as PNG, atomically."""
    data = _png(figure)
    atomic_write(path, lambda p: p.write_bytes(data))


def conclusion(table: pd.DataFrame | None = None, study: Staffing | None = None) -> str:
    """A paragraph in plain words computed from the numbers of a tidy replications table (strategy,
    replication, kpi, value): which strategy leads on each headline KPI and whether its lead over the
    runner-up is significant (paired 95 % interval); then what the staffing ``study`` found."""
    sentences = []
    if table is not None and len(table["strategy"].cat.categories):
        sentences.append(comparison.Comparison(table).conclusion())
    if study is not None:
        sentences += _staffing_sentences(study)
    return " ".join(sentence for sentence in sentences if sentence)


def _staffing_sentences(study: Staffing) -> list[str]:
    cells = study.cells
    total = study.agent_hours().sum()
    short = cells[cells["status"] == "under"]
    text = [f"To meet {targets_in_words(study)} the simulation needs {total['required']:,.0f} "
            f"agent-hours a day against {total['planned']:,.0f} planned; Erlang C would say {total['erlang_c']:,.0f} "
            f"and Erlang A {total['erlang_a']:,.0f}."]
    if len(short):
        worst = short.loc[short["gap"].idxmin()]
        text.append(f"The plan is short in {len(short)} team-interval(s), worst {worst['team']} at {worst['start']} "
                    f"({math.ceil(-worst['gap'] - 1e-9)} agent(s) short).")
    else:
        text.append("The plan covers every interval.")
    capped = cells[cells["note"] == "capped"]
    if len(capped):
        text.append(f"In {len(capped)} team-interval(s) a target is out of reach at any headcount, or nearly (the "
                    "workflow's own delays, mostly), so those are staffed to just short of the best reachable.")
    return text


def build(folder: str | Path, title: str | None = None) -> Path:
    """Write ``report.html`` (figures embedded, opens offline) and the figures as PNG into ``folder``."""
    found = results.read(folder)
    sections: list[str] = []
    figures: dict[str, Figure] = {}
    table = found.replications
    study = found.schedule.study if found.schedule is not None else found.study
    if study is not None:
        sentence = recommendation(study, found.schedule)
        sections.append(_section("Recommendation", f"<p class='recommendation'>{html.escape(sentence)}</p>"))
    if table is not None or study is not None:
        paragraph = conclusion(table, study)
        sections.append(_section("Conclusion", f"<p class='conclusion'>{html.escape(paragraph)}</p>"))
    if study is not None:
        kpis = found.schedule.kpis if found.schedule is not None else study.kpis
        sections.append(_section("The whole day under the plan, the requirement"
                                 + (" and the roster" if found.schedule is not None else "")
                                 + " (mean over the simulated days and 95 % confidence interval)", _day_table(kpis)))
    if table is not None:
        compared = comparison.compare(table)
        replications = int(table["replication"].nunique())
        sections.append(_section(f"KPIs per strategy ({replications} replication{'s' * (replications > 1)}, "
                                 "mean and 95 % confidence interval)", _kpi_table(compared, replications)))
        figures["kpis"] = kpi_figure(compared)
    if found.conversations is not None and len(found.conversations):
        figures["first_response"] = first_response_figure(found.conversations, found.service_target)
    if found.intervals is not None and len(found.intervals):
        figures["through_the_day"] = through_day_figure(found.intervals, _level_target(study, found.service_target))
    if found.agents is not None and len(found.agents):
        figures["agents"] = agents_figure(found.agents)
    if study is not None:
        figures["staffing"] = staffing_figure(study.cells, found.schedule.coverage if found.schedule else None)
        figures["gap"] = gap_figure(study.cells)
        if found.schedule is not None:
            sections.append(_section("Roster: shifts per team", _roster_table(found.schedule)))
        sections.append(_section("Staffing: agents required per interval", _staffing_table(study)))
    if found.sweep is not None:
        figures["sweep"] = sweep_figure(found.sweep)
        sections.append(_section("Sweep: mean KPIs per point", _sweep_table(found.sweep)))
    if found.concurrency is not None:
        figures["concurrency"] = concurrency_figure(found.concurrency)
    images = []
    for name, figure in figures.items():
        data = _png(figure)
        atomic_write(found.path / f"{name}.png", lambda p, d=data: p.write_bytes(d))
        images.append(_section(_CAPTIONS[name], f"<img alt='{name}' src='data:image/png;base64,"
                                                f"{base64.b64encode(data).decode()}'>"))
    lead = 2 if study is not None else 1  # the recommendation and the conclusion open the page
    page = _page(title or f"convsim report — {found.path.name}", sections[:lead] + images + sections[lead:])
    path = found.path / "report.html"
    atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
    return path


def _level_target(study: Staffing | None, service_target: float | None) -> float | None:
    """The service-level target to draw on the through-the-day chart: a study's target on the service level
    the chart shows (from opening, within the run's service target)."""
    if study is None:
        return None
    for text in study.settings["targets"]:
        kpi, _, rest = text.partition(">=")
        level, _, within = rest.partition("@")
        if kpi == "service_level" and service_target is not None and within == f"{service_target:g}s":
            return float(level)
    return None


_CAPTIONS = {"kpis": "Headline KPIs", "first_response": "First response time distribution",
             "through_the_day": "Service level and queue through the day",
             "agents": "Agent occupancy and workload fairness", "staffing": "Requirement vs planned headcount",
             "gap": "The plan's gap per team and interval", "sweep": "Sweep",
             "concurrency": "Chat concurrency: service level and response time against the cap on chats per agent"}


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=110, format="png")
    return buffer.getvalue()


def _section(heading: str, body: str) -> str:
    return f"<section><h2>{html.escape(heading)}</h2>\n{body}\n</section>"


def _kpi_table(compared: pd.DataFrame, replications: int) -> str:
    strategies = list(dict.fromkeys(compared["strategy"].astype(str)))
    head = "".join(f"<th>{html.escape(s)}</th>" for s in strategies)
    rows = []
    for kpi in KPIS.values():
        cells = []
        for name in strategies:
            row = compared[(compared["kpi"] == kpi.name) & (compared["strategy"].astype(str) == name)]
            if row.empty or (isinstance(row.iloc[0]["mean"], float) and math.isnan(row.iloc[0]["mean"])):
                cells.append("<td>-</td>")
                continue
            r = row.iloc[0]
            interval = (f"<br><small>[{format_kpi(kpi.name, r['ci_low'])}, {format_kpi(kpi.name, r['ci_high'])}]"
                        f"</small>" if replications > 1 else "")
            mark = " <b title='paired difference to the first strategy excludes 0'>*</b>" if r["significant"] else ""
            cells.append(f"<td>{format_kpi(kpi.name, r['mean'])}{mark}{interval}</td>")
        rows.append(f"<tr><th title='{kpi.name}'>{html.escape(kpi.label)}</th>{''.join(cells)}</tr>")
    note = (f"<p class='note'>* the paired difference to {html.escape(strategies[0])} is significant for that "
            f"KPI: its 95 % interval, paired by replication, excludes 0. Each KPI's interval stands alone (not "
            f"corrected for comparing {len(KPIS)} KPIs at once): among many, one may be marked by chance.</p>"
            if replications > 1 else "")
    return f"<table><tr><th>KPI</th>{head}</tr>{''.join(rows)}</table>{note}"


def _staffing_table(study: Staffing) -> str:
    cells = study.cells[study.cells["status"] != "no traffic"]
    settings = study.settings
    lead = (f"<p>Targets {html.escape(', '.join(settings['targets']))}, met with one-sided confidence "
            f"{settings['confidence']:g} over {settings['replications']} simulated days per trial "
            f"(strategy {html.escape(settings['strategy'])}).</p>")
    head = ("<tr><th>team</th><th>start</th><th>conversations offered</th><th>agents required</th>"
            "<th>scheduled (with shrinkage)</th><th>Erlang C</th><th>Erlang A</th><th>planned</th><th>gap</th>"
            "<th>status</th><th>note</th></tr>")
    body = "".join(
        f"<tr class='{html.escape(r.status)}'><td>{html.escape(r.team)}</td><td>{r.start}</td>"
        f"<td>{r.offered_per_interval:.1f}</td><td>{r.required:d}</td><td>{r.scheduled:d}</td>"
        f"<td>{_heads(r.erlang_c)}</td><td>{_heads(r.erlang_a)}</td><td>{_heads(r.planned)}</td>"
        f"<td>{round(r.gap):+d}</td><td>{html.escape(r.status)}</td><td>{html.escape(r.note)}</td></tr>"
        for r in cells.itertuples())
    return lead + f"<table>{head}{body}</table>"


def _heads(value: float) -> str:
    """A headcount as people read it: a whole number (a plan's average online, rounded)."""
    return "-" if value != value else f"{round(value):d}"


def _day_table(kpis: pd.DataFrame) -> str:
    """The whole day's KPIs in words, a column per plan (scenario plan, requirement, roster)."""
    plans = list(dict.fromkeys(kpis["plan"]))
    head = "".join(f"<th>{html.escape(p)}</th>" for p in plans)
    rows = []
    for kpi in KPIS.values():
        own = kpis[kpis["kpi"] == kpi.name].set_index("plan")
        if own.empty or own["mean"].isna().all():
            continue
        cells = []
        for name in plans:
            r = own.loc[name] if name in own.index else None
            cells.append("<td>-</td>" if r is None or r["mean"] != r["mean"] else
                         f"<td>{format_kpi(kpi.name, r['mean'])}<br><small>[{format_kpi(kpi.name, r['ci_low'])}, "
                         f"{format_kpi(kpi.name, r['ci_high'])}]</small></td>")
        rows.append(f"<tr><th title='{kpi.name}'>{html.escape(kpi.label)}</th>{''.join(cells)}</tr>")
    return (f"<table><tr><th>KPI</th>{head}</tr>{''.join(rows)}</table><p class='note'>The requirement and the "
            "roster are simulated on the same fresh days; the plan on the search's days.</p>")


def _roster_table(plan: Schedule) -> str:
    """Per team, the totals; then the shifts (template, start, end, break, agents)."""
    totals = plan.totals()
    head = ("<tr><th>team</th><th>shifts a day</th><th>paid agent-hours a day</th><th>FTE</th>"
            "<th>people (at their days on)</th><th>cost a week</th><th>lower bound on the cost</th>"
            "<th>intervals missing their targets</th></tr>")
    body = "".join(
        f"<tr><td>{html.escape(team)}</td><td>{r['agents']:.0f}</td><td>{r['paid_hours']:,.1f}</td>"
        f"<td>{r['fte']:,.1f}</td><td>{r['heads']:,.1f}</td><td>{r['cost_per_week']:,.0f}</td>"
        f"<td>{r['bound_per_week']:,.0f}</td><td>{r['missed_intervals']:.0f}</td></tr>"
        for team, r in totals.iterrows())
    shifts = "".join(
        f"<tr><td>{html.escape(r.team)}</td><td>{html.escape(r.template)}</td>"
        + (f"<td>{r.weekday}</td>" if "weekday" in plan.roster else "")
        + f"<td>{r.start}</td><td>{r.end}</td><td>{r.break_start}{'–' if r.break_start else ''}{r.break_end}</td>"
        f"<td>{r.agents:d}</td></tr>" for r in plan.roster.itertuples())
    day = "<th>weekday</th>" if "weekday" in plan.roster else ""
    settings = plan.settings
    lead = (f"<p>Shift templates {html.escape(', '.join(t['name'] for t in settings['templates']))}, solved as an "
            f"integer program at least cost per team, with {settings['shrinkage']:.0%} shrinkage; the roster was "
            f"simulated and repaired {len(settings['repairs']) - 1} time(s) until "
            + ("every interval met its targets" if settings["met"] else "the repairs ran out") + ".</p>")
    return (lead + f"<table>{head}{body}</table><h3>Shifts</h3><table><tr><th>team</th><th>template</th>{day}"
            f"<th>start</th><th>end</th><th>break</th><th>agents</th></tr>{shifts}</table>")


def _sweep_table(sweep: pd.DataFrame) -> str:
    keys = [c for c in sweep.columns if c not in ("strategy", "replication", "seed", "kpi", "value")] + ["strategy"]
    means = sweep[sweep["kpi"].isin(HEADLINE)].pivot_table(index=keys, columns="kpi", values="value", observed=True)
    shown = means.apply(lambda column: column.map(lambda v: format_kpi(column.name, v)))
    return shown.rename(columns={kpi: KPIS[kpi].label for kpi in shown.columns}).to_html(border=0)


CHECKS = """
window.addEventListener('load', function () {
  var problems = [];
  document.querySelectorAll('img').forEach(function (img) {
    if (!img.complete || img.naturalWidth === 0) { problems.push('figure not drawn: ' + img.alt); }
  });
  if (document.querySelectorAll('section').length === 0) { problems.push('no sections'); }
  document.body.setAttribute('data-checks', problems.length ? 'failed: ' + problems.join('; ') : 'ok');
  document.body.setAttribute('data-figures', String(document.images.length));
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1180px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; font-size: .9em; } td, th { padding: .25em .7em; text-align: right; }
th:first-child, td:first-child { text-align: left; } tr:nth-child(even) { background: #f6f6f6; }
tr.under td { color: #b00; }
img { max-width: 100%; } .conclusion { font-size: 1.05em; line-height: 1.5; } .note { color: #666; }
.recommendation { font-size: 1.25em; font-weight: 600; line-height: 1.4; }
"""


def _page(title: str, sections: list[str]) -> str:
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n" + "\n".join(sections)
            + f"\n<script>{CHECKS}</script></body></html>\n")
