"""From requirement to roster: shift templates, an integer program that covers the requirement at least
cost per team, and a closed loop that simulates the roster and repairs what falls short.

A *template* is a kind of shift: its length, the times it may start, a break placed in a window after the
start, the days a week an agent works it, and the fewest and most agents per team a day. Every way to
work a template (a start and a break's place) is a column of the integer program (scipy's ``milp``,
HiGHS): how many agents work it. Per team::

    minimise   Σ_j cost_j x_j                    cost: paid hours × the team's cost per agent-hour
    subject to Σ_j a_kj x_j ≥ need_k   for every interval k    a_kj: share of k the shift is on (not on break)
               min_t ≤ Σ_{j of t} x_j ≤ max_t   for every template t (per weekday in a week's study)
               x_j ∈ {0, 1, 2, …}

where need_k is the scheduled heads: the productive requirement over (1 − shrinkage). A day's study
covers a day that repeats (a shift past midnight covers the early intervals); a week's, each weekday
with shifts of that weekday. The linear relaxation's cost is a lower bound: the roster's cost is within
the gap reported of the cheapest possible.

The closed loop simulates the roster (its productive heads: rostered × (1 − shrinkage), down) on the
requirement's fresh seeds; where an interval misses its targets (by the requirement's own test) its
requirement is raised to one more than the roster's productive heads there, and the program solved
again — until every interval meets them or ``repairs`` rounds are spent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from scipy.optimize import Bounds, LinearConstraint, milp

from sim import units
from sim.analysis import metrics
from sim.errors import ConvsimError
from sim.experiments import staffing
from sim.experiments.executor import Executor
from sim.io.results import Schedule
from sim.model import scenario as scenario_file
from sim.model.scenario import WEEKDAYS, Scenario
from sim.units import Seconds

Clock = Annotated[float, BeforeValidator(units.clock)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Break(_Spec):
    """A break (a lunch) of ``length``, starting between ``earliest`` and ``latest`` after the shift's start."""

    length: Seconds = Field(gt=0)
    earliest: Seconds
    latest: Seconds

    @model_validator(mode="after")
    def _window(self) -> Break:
        if self.latest < self.earliest:
            raise ValueError("latest is before earliest")
        return self


class Template(_Spec):
    """A kind of shift. ``starts``: a span of the day (``"06:00-14:00"``, every ``every``) or a list of
    clock times; ``days``: days on a week (for the heads and FTE); ``min``/``max``: agents per team a day."""

    name: str = Field(min_length=1)
    length: Seconds = Field(gt=0, le=86400)
    starts: Annotated[tuple[float, float], BeforeValidator(units.clock_span)] | list[Clock]
    every: Seconds | None = Field(None, gt=0, description="default: the study's interval")
    break_: Break | None = Field(None, alias="break")
    days: int = Field(5, ge=1, le=7)
    min: int = Field(0, ge=0)
    max: int | None = Field(None, ge=0)
    teams: list[str] | None = Field(None, description="default: every team")

    @model_validator(mode="after")
    def _fits(self) -> Template:
        if self.break_ is not None and self.break_.latest + self.break_.length > self.length:
            raise ValueError(f"break: ends after the shift ({self.break_.latest + self.break_.length:g} s "
                             f"from its start, the shift lasts {self.length:g} s)")
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    def start_times(self, step: float) -> list[float]:
        """The times of the day the template may start (seconds after midnight)."""
        if isinstance(self.starts, list):
            return sorted(set(self.starts))
        begin, end = self.starts
        every = self.every or step
        return list(np.arange(begin, end + 1e-9, every))

    def break_offsets(self, step: float) -> list[float | None]:
        """Where the break may start, seconds after the shift's start (None: no break)."""
        if self.break_ is None:
            return [None]
        every = self.every or step
        return list(np.arange(self.break_.earliest, self.break_.latest + 1e-9, every))


def templates(source: str | Path | list[dict[str, Any]] | list[Template]) -> list[Template]:
    """Shift templates from a YAML file (``templates:`` a list) or a list of mappings."""
    where = str(source) if isinstance(source, str | Path) else "templates"
    if isinstance(source, str | Path):
        try:
            data = yaml.safe_load(Path(source).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConvsimError(f"{source}: cannot read the shift templates: {exc}") from None
        source = data.get("templates") if isinstance(data, dict) else None
        if not isinstance(source, list) or not source:
            raise ConvsimError(f"{where}: expected 'templates:' with a list of shift templates")
    found = []
    for i, item in enumerate(source):
        if isinstance(item, Template):
            found.append(item)
            continue
        try:
            found.append(Template.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(template)'}: "
                                 f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors(include_url=False))
            raise ConvsimError(f"{where}: templates.{i}: {problems}") from None
    names = [t.name for t in found]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConvsimError(f"{where}: template names used twice: {', '.join(twice)}")
    return found


@dataclass(frozen=True)
class Shape:
    """One way to work a template: on a weekday (None: every day), from a start, with the break here."""

    template: int
    weekday: int | None
    start: float  # seconds after the cycle's start
    length: float
    break_start: float | None  # seconds after the shift's start
    break_length: float

    def spans(self) -> list[tuple[float, float]]:
        """When the agent is on the queue, seconds after the cycle's start (past its end: wraps)."""
        if self.break_start is None:
            return [(self.start, self.start + self.length)]
        pause = self.start + self.break_start
        return [(self.start, pause), (pause + self.break_length, self.start + self.length)]

    def coverage(self, day: staffing.Day) -> np.ndarray:
        """The share of each cell of the cycle this shape is on the queue."""
        edges = np.arange(day.cells + 1) * day.width
        covered = np.zeros(day.cells)
        for begin, end in self.spans():
            for turn in (0.0, day.period):  # a shift past the cycle's end covers its first cells
                covered += metrics.overlap(np.array([begin - turn]), np.array([end - turn]), edges)
        return covered / day.width


def shapes(options: list[Template], team: str, day: staffing.Day) -> list[Shape]:
    """Every way a team's templates may be worked in the cycle."""
    found = []
    days: list[int | None] = list(range(7)) if day.weekly else [None]
    for t, template in enumerate(options):
        if template.teams is not None and team not in template.teams:
            continue
        pause = template.break_.length if template.break_ is not None else 0.0
        for weekday in days:
            for start in template.start_times(day.width):
                for offset in template.break_offsets(day.width):
                    found.append(Shape(t, weekday, (weekday or 0) * staffing.DAY + start, template.length, offset,
                                       pause))
    return found


@dataclass
class Cover:
    """A team's roster: agents per shape, the cost (or paid hours, without a cost) and the linear
    relaxation's bound on it."""

    shapes: list[Shape]
    agents: np.ndarray
    cost: float
    bound: float
    coverage: np.ndarray  # heads on the queue per cell

    @property
    def paid_hours(self) -> float:
        return float(sum(shape.length / 3600 * int(n) for shape, n in zip(self.shapes, self.agents, strict=True)))


def cover(need: np.ndarray, options: list[Template], team: str, day: staffing.Day, rate: float) -> Cover:
    """The cheapest roster of a team's templates with at least ``need[k]`` heads on the queue in every
    cell k (paid hours × ``rate``; hours alone when ``rate`` is 0), by the integer program of the module's
    docstring; an interval no template can cover is named."""
    found = shapes(options, team, day)
    need = np.asarray(need, dtype=float)
    if not found:
        if need.any():
            raise ConvsimError(f"team {team}: no shift template is for this team (templates' 'teams')")
        return Cover([], np.zeros(0), 0.0, 0.0, np.zeros_like(need))
    matrix = np.stack([shape.coverage(day) for shape in found], axis=1)  # cells × shapes
    groups = _groups(found, options)
    most = np.zeros(len(need))
    for (t, _), members in groups.items():
        limit = options[t].max
        best = matrix[:, members].max(axis=1)
        most += best * limit if limit is not None else np.where(best > 0, math.inf, 0.0)
    short = np.flatnonzero(need > most + 1e-9)
    if len(short):
        k = int(short[0])
        what = ("no template covers it" if most[k] == 0 else
                f"the templates' maxima allow at most {most[k]:g}")
        end = day.label((k + 1) % day.cells).split()[-1]
        raise ConvsimError(f"team {team}: the interval {day.label(k)}–{end} needs {need[k]:g} agent(s) on shift, but "
                           f"{what} ({len(short)} interval(s) so: {', '.join(day.label(int(c)) for c in short[:6])}"
                           f"{' …' if len(short) > 6 else ''}); add a template or widen its starts")
    hours = np.array([shape.length / 3600 for shape in found])
    price = hours * (rate if rate > 0 else 1.0)
    constraints = [LinearConstraint(matrix, lb=need, ub=np.inf)]
    for (t, _), members in groups.items():
        row = np.zeros(len(found))
        row[members] = 1
        limit = options[t].max
        constraints.append(LinearConstraint(row, lb=options[t].min, ub=np.inf if limit is None else limit))
    solved = milp(price, constraints=constraints, integrality=np.ones(len(found)), bounds=Bounds(0, np.inf))
    if solved.status != 0 or solved.x is None:
        raise ConvsimError(f"team {team}: no roster of the templates covers the requirement "
                           f"({solved.message.strip()}); the templates' minima and maxima may conflict")
    relaxed = milp(price, constraints=constraints, bounds=Bounds(0, np.inf))
    agents = np.round(solved.x).astype(np.int64)
    return Cover(found, agents, float(price @ agents), float(relaxed.fun), matrix @ agents)


def _groups(found: list[Shape], options: list[Template]) -> dict[tuple[int, int | None], list[int]]:
    """The shapes of each template (and weekday, in a week's study), whose sum its min and max bound."""
    groups: dict[tuple[int, int | None], list[int]] = {}
    for j, shape in enumerate(found):
        groups.setdefault((shape.template, shape.weekday), []).append(j)
    return groups


def schedule(scenario: Scenario | str | Path, targets: Sequence[staffing.Target | str],
             shift_templates: str | Path | list[Any], strategy: str | None = None, interval: float | None = None,
             replications: int = 20, confidence: float = 0.9, planning: staffing.Planning | None = None,
             repairs: int = 4, workers: int | None = 1, progress: bool = False,
             scheduler: str | None = None) -> Schedule:
    """The requirement (:func:`staffing.requirement`), a roster of ``shift_templates`` that covers it at
    least cost per team, simulated and repaired until the targets hold (see the module's docstring). The
    simulated days go to ``workers`` local processes, or with ``scheduler`` to a Dask cluster."""
    if not isinstance(scenario, Scenario):
        scenario = scenario_file.load(scenario)
    options = templates(shift_templates)
    planning = planning or staffing.Planning()
    known = set(scenario.teams)
    for template in options:
        unknown = set(template.teams or ()) - known
        if unknown:
            raise ConvsimError(f"template {template.name}: unknown team(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(scenario.teams)}")
    with Executor(workers, scheduler, progress, "scheduling", "day") as executor:
        found = staffing.search(scenario, targets, strategy, interval, replications, confidence, executor, planning)
        return _closed_loop(found, options, repairs)


def _closed_loop(found: staffing.Search, options: list[Template], repairs: int) -> Schedule:
    trials, judge, planning = found.trials, found.judge, found.planning
    day, teams = trials.day, trials.teams
    rates = [planning.rate(trials.scenario, team) for team in teams]
    required = found.required.copy()
    history = []
    for attempt in range(repairs + 1):
        need = planning.scheduled(required)
        covers = [cover(need[g], options, team, day, rates[g]) for g, team in enumerate(teams)]
        rostered = np.stack([c.coverage for c in covers])
        productive = np.floor(rostered * (1 - planning.shrinkage) + 1e-9).astype(np.int64)
        estimate, runs = trials.run(trials.staffed(productive), f"roster, check {attempt + 1}",
                                    trials.replications, summary=True)
        failing = ~judge.fit(estimate, productive).ok & judge.traffic
        history.append({"check": attempt + 1, "failing_intervals": int(failing.sum()),
                        "paid_hours": sum(c.paid_hours for c in covers)})
        if not failing.any() or attempt == repairs:
            break
        required = np.where(failing, np.maximum(required, productive) + 1, required)
    study = found.study()
    coverage = _coverage(found, required, need, rostered, productive, estimate, failing)
    roster, agents = _roster(covers, options, teams, day, trials.scenario, rates)
    kpis = pd.concat([study.kpis, staffing._day_kpis(runs, "roster")], ignore_index=True)
    costed = [(team, c) for team, c, rate in zip(teams, covers, rates, strict=True) if rate > 0]
    settings = {**study.settings, "templates": [t.model_dump(mode="json", by_alias=True) for t in options],
                "repairs": history, "met": not failing.any(),
                "cost": {team: c.cost for team, c in costed}, "cost_bound": {team: c.bound for team, c in costed},
                "simulated_days": round(trials.simulated * trials.scenario.duration / staffing.DAY)}
    return Schedule(roster, agents, coverage, kpis, settings, study, _replay(trials.scenario, agents))


def _coverage(found: staffing.Search, required: np.ndarray, need: np.ndarray, rostered: np.ndarray,
              productive: np.ndarray, estimate: staffing.Estimate, failing: np.ndarray) -> pd.DataFrame:
    """A row per team × interval: the requirement (productive, after repairs), heads to schedule, heads
    rostered and productive, the gap, the targets' KPIs under the roster and whether they are met."""
    day, teams = found.trials.day, found.trials.teams
    capped = found.capped
    rows = []
    for g, team in enumerate(teams):
        for k in range(day.cells):
            row = {"team": team, "interval": k, "start": day.label(k), "start_seconds": k * day.width,
                   "requirement": int(found.required[g, k]), "required": int(required[g, k]),
                   "scheduled": int(need[g, k]), "rostered": float(rostered[g, k]),
                   "productive": int(productive[g, k]), "gap": float(rostered[g, k] - need[g, k]),
                   "traffic": bool(found.judge.traffic[g, k]), "met": not failing[g, k],
                   "note": "capped" if capped[g, k] and found.judge.traffic[g, k] else ""}
            for i, target in enumerate(estimate.targets):
                label = f"roster:{target.kpi}" + (f"@{target.within:g}s" if target.within is not None else "")
                row[label] = estimate.value(i)[g, k]
                row[f"{label}:bound"] = estimate.bound(i)[g, k]
            rows.append(row)
    return pd.DataFrame(rows)


def _roster(covers: list[Cover], options: list[Template], teams: list[str], day: staffing.Day, scenario: Scenario,
            rates: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The roster as template × start × count, and as agents × shifts (each agent of a team's agent type,
    the types in the plan's proportions)."""
    lines, people = [], []
    for g, (team, found) in enumerate(zip(teams, covers, strict=True)):
        kinds = [spec for spec in scenario.agents if spec.team == team]
        shares = np.array([spec.count for spec in kinds], dtype=float) / sum(spec.count for spec in kinds)
        taken = np.zeros(len(kinds))
        order = sorted(np.flatnonzero(found.agents), key=lambda j: (found.shapes[j].start, found.shapes[j].template))
        for j in order:
            shape, count = found.shapes[j], int(found.agents[j])
            template = options[shape.template]
            when = _times(shape, day)
            hours = shape.length / 3600
            lines.append({"team": team, "template": template.name, **when, "agents": count,
                          "paid_hours": hours * count, "cost": hours * count * rates[g]})
            for _ in range(count):
                kind = int(np.argmax(shares * (taken.sum() + 1) - taken))
                taken[kind] += 1
                people.append({"agent_id": f"{team}-{len(people) + 1:03d}", "team": team, "agent_type": kinds[kind].id,
                               "template": template.name, **when})
    return pd.DataFrame(lines), pd.DataFrame(people)


def _times(shape: Shape, day: staffing.Day) -> dict[str, Any]:
    start = shape.start % staffing.DAY
    when = {"weekday": WEEKDAYS[shape.weekday]} if day.weekly and shape.weekday is not None else {}
    pause = None if shape.break_start is None else start + shape.break_start
    return {**when, "start": _clock(start), "end": _clock(start + shape.length),
            "break_start": "" if pause is None else _clock(pause),
            "break_end": "" if pause is None else _clock(pause + shape.break_length)}


def _clock(seconds: float) -> str:
    """HH:MM, past midnight as 24:00 and on (as scenario shifts write it)."""
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


def _replay(scenario: Scenario, agents: pd.DataFrame) -> dict[str, Any]:
    """The scenario with the roster's agents and shifts (breaks as gaps) instead of its own, as a mapping
    a scenario file holds: ``convsim run`` replays it (everyone present: no shrinkage)."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude={"base_dir", "source"})
    if scenario.arrivals.trace is not None:
        data["arrivals"]["trace"]["path"] = str((scenario.base_dir / scenario.arrivals.trace.path).resolve())
    kinds = {spec.id: spec for spec in scenario.agents}
    keys = ["team", "agent_type", "template", *(["weekday"] if "weekday" in agents else []), "start", "end",
            "break_start", "break_end"]
    specs = []
    for values, group in agents.groupby(keys, sort=False):
        row = dict(zip(keys, values, strict=True))
        kind = kinds[row["agent_type"]]
        spans = ([f"{row['start']}-{row['end']}"] if not row["break_start"] else
                 [f"{row['start']}-{row['break_start']}", f"{row['break_end']}-{row['end']}"])
        spec = {"id": f"{row['agent_type']}-{row['template']}-{row['start'].replace(':', '')}"
                      + (f"-{row['weekday']}" if "weekday" in row else "")
                      + (f"-b{row['break_start'].replace(':', '')}" if row["break_start"] else ""),
                "count": len(group), "team": row["team"], "serves": list(kind.serves), "skills": dict(kind.skills),
                "capacity": kind.capacity, "speed": kind.speed, "shifts": spans,
                "days": [row["weekday"]] if "weekday" in row else list(WEEKDAYS)}
        specs.append(spec)
    data["agents"] = specs
    data["name"] = f"{scenario.name} (roster)"
    return data


def describe(plan: Schedule) -> list[str]:
    """The roster as lines a person reads: template × start × agents per team, the totals, and whether
    the simulated roster meets the targets."""
    settings = plan.settings
    lines = [f"roster for {', '.join(settings['targets'])} (confidence {settings['confidence']:g}, "
             f"{settings['replications']} days a check, shrinkage {settings['shrinkage']:.0%})"]
    for team, own in plan.roster.groupby("team", sort=False):
        lines.append(f"{team}:")
        for row in own.itertuples():
            pause = f", break {row.break_start}-{row.break_end}" if row.break_start else ""
            day = f"{row.weekday} " if "weekday" in own else ""
            lines.append(f"  {row.agents:>3} × {row.template:<12} {day}{row.start}-{row.end}{pause}")
    lines.append("")
    totals = plan.totals()
    for team, row in totals.iterrows():
        cost = (f", cost {row['cost_per_week']:,.0f} a week (lower bound {row['bound_per_week']:,.0f})"
                if row["cost_per_week"] > 0 else "")
        lines.append(f"{team}: {row['agents']:.0f} shift(s) a day, {row['paid_hours']:,.1f} paid agent-hours a day, "
                     f"{row['fte']:,.1f} FTE, {row['heads']:,.1f} people at their days on{cost}; intervals over "
                     f"the requirement {row['over_intervals']:.0f}, missing their targets "
                     f"{row['missed_intervals']:.0f}")
    checks = ", ".join(f"{h['failing_intervals']}" for h in settings["repairs"])
    lines.append(f"closed loop: intervals missing their targets at each check: {checks}; "
                 + ("every interval meets its targets" if settings["met"] else
                    "some still miss them: raise --repairs or --replications"))
    return lines
