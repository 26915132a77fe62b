"""Capacity planning: how many agents each team needs in each interval of the day (of each weekday when
the scenario spans a week) to meet the service targets, found by simulation, beside the Erlang C and
Erlang A requirements and the scenario's own plan; then shrinkage, an occupancy cap and cost.

The simulated requirement keeps all the model has: the workflow's delays, concurrent chats and their
slowdown, skills and the strategy, patience, and queues carried from one interval into the next. The
closed forms see each team and interval as one stationary queue with agents × capacity servers and the
measured handle time per conversation, as a spreadsheet would.

Every trial simulates ``replications`` whole days of a headcount plan on the same seeds (common random
numbers: the same contacts, patience and handle times at every headcount). One interval's KPI over 20 or
30 days is noisy (a queue that builds or not decides a half hour), so deciding each interval on its own
data makes a flat load's requirement jump between neighbours. The search therefore pools what the
intervals of a team share:

- each interval's KPI is fitted as a function of headcount: the closed form (Erlang A with patience,
  else Erlang C) at the interval's measured load, plus a *deviation* — what the model adds (workflow
  delays, chats, skills, carried queues) — measured at the headcount simulated;
- the deviations of a team's intervals are shrunk towards their common mean by empirical Bayes
  (DerSimonian–Laird): where they differ by noise only (a flat load) every interval gets the team's
  pooled deviation; where they differ for real (a ramp, a lunch dip) each keeps its own;
- the bound on an interval's KPI counts the uncertainty of its deviation and of its measured load;
  an interval also fails when its own days show a clear miss (their optimistic bound misses);
- from the fitted curve each interval proposes its smallest passing headcount; all intervals are
  simulated at their proposals together (neighbours as they will be) until no interval proposes an
  untried headcount — two or three trials;
- a final trial on fresh seeds verifies; an interval that fails there gets one agent more, and is
  *unconfirmed* if it fails with that too (noise near a cell's ceiling, mostly: more replications tell).

A target whose KPI has no closed form is searched on the interval's own bound, one agent at a time.
A *capped* interval is one where a target is out of reach, or nearly, at any headcount (the workflow's
own delays can keep a service level from opening below 80 %): its goal becomes the best a generous
headcount reaches, less a slack (2 points of a share, 10 % of a time).

Shrinkage, an occupancy cap and cost (:class:`Planning`) turn the productive requirement into a plan:
scheduled heads = productive heads / (1 − shrinkage); at most ``max_occupancy`` of the agents' slot-time
busy; cost per agent-hour per agent type; FTE per week.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim import units
from sim.analysis import comparison, metrics
from sim.analysis.kpis import KPIS, Conversations, Kpi
from sim.analysis.theory import ErlangA, ErlangC
from sim.errors import ConvsimError
from sim.experiments.executor import Executor
from sim.experiments.runner import simulate
from sim.io.results import Staffing
from sim.model import scenario as scenario_file
from sim.model.scenario import WEEKDAYS, ByCase, Scenario, Shift

DAY = 86400.0
WEEK = 7 * DAY
SLACK = {"share": 0.02, "time": 0.1}  # how near the best reachable a capped interval is staffed
OFFERED, HANDLE_SUM, HANDLE_COUNT = 0, 1, 2  # the tallies of a cell before the targets' (numerator, denominator)
ROUNDS = 6  # trials of the fitted search at most


def target_kpis() -> dict[str, Kpi]:
    """The KPIs a target may name: the registry's ratios with a better direction (each tallied per cell
    and bounded by the ratio estimator)."""
    return {name: kpi for name, kpi in KPIS.items() if kpi.better is not None and kpi.ratio}


@dataclass(frozen=True)
class Target:
    """A service target on a KPI of :func:`target_kpis`: ``service_level>=0.8@60s``,
    ``abandonment_rate<=0.05``, ``asa_from_queue<=30s``."""

    kpi: str
    value: float
    within: float | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        match = re.fullmatch(r"\s*(\w+)\s*(>=|<=)\s*([^@\s]+)\s*(?:@\s*(\S+))?\s*", text)
        if not match:
            raise ConvsimError(f"target {text!r}: expected KPI>=VALUE[@TIME] or KPI<=VALUE, "
                               "e.g. service_level>=0.8@60s")
        name, sign, value, within = match.groups()
        allowed = target_kpis()
        if name not in allowed:
            problem = f"{name} is not a ratio with a better direction" if name in KPIS else f"unknown KPI {name!r}"
            raise ConvsimError(f"target {text!r}: {problem}; a target may name {', '.join(allowed)}")
        kpi = allowed[name]
        higher = kpi.better == "higher"
        if sign != (">=" if higher else "<="):
            raise ConvsimError(f"target {text!r}: {name} is better {kpi.better}, "
                               f"so its target reads {name}{'>=' if higher else '<='}…")
        if kpi.timed and within is None:
            raise ConvsimError(f"target {text!r}: {name} needs its time, e.g. {name}>={value}@60s")
        if not kpi.timed and within is not None:
            raise ConvsimError(f"target {text!r}: {name} takes no time (@{within})")
        try:
            number = _value(kpi.unit, value)
            seconds = units.duration(within) if within is not None else None
        except (ValueError, TypeError) as exc:
            raise ConvsimError(f"target {text!r}: {exc}") from None
        return cls(name, number, seconds)

    @property
    def definition(self) -> Kpi:
        return KPIS[self.kpi]

    @property
    def higher_is_better(self) -> bool:
        return self.definition.better == "higher"

    def __str__(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        value = f"{self.value:g}s" if self.definition.unit == "seconds" else f"{self.value:g}"
        return f"{self.kpi}{sign}{value}" + (f"@{self.within:g}s" if self.within is not None else "")

    def met_by(self, value: Any) -> Any:
        """Whether a value (or each of an array's) meets the target."""
        return value >= self.value if self.higher_is_better else value <= self.value

    def closed_form(self, model: ErlangC | ErlangA) -> float | None:
        """The target's KPI by a closed form (Erlang C: nobody abandons, everyone is answered); None when
        its KPI has none."""
        if self.definition.erlang is None:
            return None
        by_erlang_c, by_erlang_a = self.definition.erlang
        within = self.within or 0.0
        return by_erlang_c(model, within) if isinstance(model, ErlangC) else by_erlang_a(model, within)


def _value(unit: str, text: str) -> float:
    """A target's value as written: a time (45s, 1m), a share (0.8, 80%), or a number."""
    if unit == "seconds":
        return units.duration(text)
    if unit != "share":
        return float(text)
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 <= value <= 1:
        raise ValueError(f"a share is between 0 and 1 (or 0% and 100%), got {text}")
    return value


@dataclass(frozen=True)
class Planning:
    """What turns productive heads into a plan a workforce analyst hands over: ``shrinkage`` (the share of
    paid time off the queue: meetings, training, absence), ``max_occupancy`` (at most this share of the
    agents' slot-time busy; None: no cap), ``cost`` per agent-hour by agent type (the scenario's agent
    group ids; ``"*"`` for any other), ``fte_hours`` (paid hours a week of one full-time equivalent) and
    ``days_per_week`` a planned day is worked (for a day's study; a week's counts its own days)."""

    shrinkage: float = 0.0
    max_occupancy: float | None = None
    cost: dict[str, float] = field(default_factory=dict)
    fte_hours: float = 40.0
    days_per_week: int = 7

    def __post_init__(self) -> None:
        if not 0 <= self.shrinkage < 1:
            raise ConvsimError(f"shrinkage {self.shrinkage:g}: a share of paid time, at least 0 and below 1 "
                               "(0.3: 30 % of paid time off the queue)")
        if self.max_occupancy is not None and not 0 < self.max_occupancy <= 1:
            raise ConvsimError(f"max occupancy {self.max_occupancy:g}: a share above 0 and at most 1 (e.g. 0.85)")
        if any(not math.isfinite(rate) or rate < 0 for rate in self.cost.values()):
            raise ConvsimError(f"cost {self.cost}: a cost per agent-hour is a number >= 0")
        if self.fte_hours <= 0 or not 1 <= self.days_per_week <= 7:
            raise ConvsimError(f"fte hours {self.fte_hours:g}, days per week {self.days_per_week}: "
                               "hours above 0, days from 1 to 7")

    def scheduled(self, productive: np.ndarray) -> np.ndarray:
        """Heads to schedule for ``productive`` heads on the queue: productive / (1 − shrinkage), up."""
        return np.ceil(np.asarray(productive, dtype=float) / (1 - self.shrinkage) - 1e-9)

    def occupancy_floor(self, load: np.ndarray) -> np.ndarray:
        """Fewest productive heads that keep occupancy at most the cap for ``load`` (busy agents)."""
        if self.max_occupancy is None:
            return np.zeros_like(np.asarray(load, dtype=float))
        return np.ceil(np.asarray(load, dtype=float) / self.max_occupancy - 1e-9)

    def rate(self, scenario: Scenario, team: str) -> float:
        """A team's cost per agent-hour: its agent types' costs in the plan's proportions (0 when no cost
        is given)."""
        kinds = [spec for spec in scenario.agents if spec.team == team]
        costs = [self.cost.get(spec.id, self.cost.get(team, self.cost.get("*", 0.0))) for spec in kinds]
        return float(np.average(costs, weights=[spec.count for spec in kinds]))

    def settings(self) -> dict[str, Any]:
        return {"shrinkage": self.shrinkage, "max_occupancy": self.max_occupancy, "cost": dict(self.cost),
                "fte_hours": self.fte_hours, "days_per_week": self.days_per_week}


@dataclass(frozen=True)
class Day:
    """The intervals of the planning cycle — a day, or a week (per weekday, from Monday) — as cells of
    ``width`` seconds, over a scenario's run."""

    width: float
    offset: float  # the scenario's start, seconds after the cycle's start (midnight, or Monday's)
    duration: float
    period: float = DAY

    @classmethod
    def of(cls, scenario: Scenario, width: float) -> Day:
        """The scenario's cycle: a week when it spans one, else a day."""
        offset = units.time_of_day(scenario.start)
        if scenario.duration >= WEEK:
            return cls(width, scenario.start.weekday() * DAY + offset, scenario.duration, WEEK)
        return cls(width, offset, scenario.duration)

    @property
    def cells(self) -> int:
        return round(self.period / self.width)

    @property
    def weekly(self) -> bool:
        return self.period == WEEK

    def index(self, times: np.ndarray) -> np.ndarray:
        """The cell of times (seconds from the start)."""
        return (((self.offset + times) % self.period) // self.width).astype(np.int64)

    def exposure(self) -> np.ndarray:
        """Seconds of the run that fall in each cell."""
        return self.fold(np.array([[0.0, self.duration]]))

    def fold(self, spans: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Time covered by spans [begin, end) of the run (each counted ``weights`` times), summed per cell."""
        grid = np.append(np.arange(-(self.offset % self.width), self.duration, self.width), self.duration)
        edges = np.unique(np.clip(np.concatenate((grid, [0.0])), 0.0, self.duration))
        covered = metrics.overlap(spans[:, 0], np.minimum(spans[:, 1], self.duration), edges, weights)
        return np.bincount(self.index(edges[:-1]), weights=covered, minlength=self.cells)

    def label(self, cell: int) -> str:
        seconds = cell * self.width % DAY
        clock = f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"
        return f"{WEEKDAYS[int(cell * self.width // DAY)]} {clock}" if self.weekly else clock


@dataclass(frozen=True)
class Evaluation:
    """One simulated day (or week) of a headcount plan, tallied per team × cell; ``summary``: with the
    run's KPIs."""

    scenario: Scenario
    strategy: str | None
    seed: int
    targets: tuple[Target, ...]
    day: Day
    summary: bool = True

    @property
    def name(self) -> str:
        return f"seed-{self.seed}"


def tally(job: Evaluation) -> tuple[np.ndarray, dict[str, Any] | None]:
    """Simulate ``job`` → the tallies of every cell (teams × cells × [offered, handle-time sum and count,
    then numerator and denominator of each target]) and, if asked, the run's KPIs. A conversation counts
    in the cell it reached the team's queue in (where the work is; the interval it opened in if never)."""
    records = simulate(job.scenario, job.strategy, job.seed, check=False)
    frame = metrics.conversations(records)
    teams = len(job.scenario.teams)
    service_target = job.scenario.service_target
    team = frame["team"].cat.codes.to_numpy().astype(np.int64)
    keep = team >= 0
    arrived = frame["queued_at"].fillna(frame["opened_at"]).to_numpy()
    cell = (team * job.day.cells + job.day.index(arrived))[keep]
    handle = (frame["closed_at"] - frame["assigned_at"]).to_numpy()
    handled = ~np.isnan(handle)
    columns = [Conversations(frame, job.scenario.duration, service_target, service_target).offered,
               np.where(handled, handle, 0.0), handled]
    for target in job.targets:
        within = service_target if target.within is None else target.within
        columns += target.definition.parts(Conversations(frame, job.scenario.duration, service_target, within))
    size = teams * job.day.cells
    counts = np.stack([np.bincount(cell, weights=np.asarray(c, dtype=float)[keep], minlength=size) for c in columns],
                      axis=-1)
    row = metrics.summary(records, frame, metrics.agents(records)) if job.summary else None
    return counts.reshape(teams, job.day.cells, len(columns)), row


@dataclass
class Estimate:
    """Each target's KPI per cell over replications: the pooled ratio, its standard error and its
    one-sided bound on the cell's own days."""

    tallies: np.ndarray  # replications × teams × cells × columns
    targets: tuple[Target, ...]
    confidence: float

    @property
    def offered(self) -> np.ndarray:
        return self.tallies[..., OFFERED].sum(axis=0)

    @property
    def quantile(self) -> float:
        n = len(self.tallies)
        return float(stats.t.ppf(self.confidence, n - 1)) if n > 1 else 0.0

    def value(self, i: int) -> np.ndarray:
        numerator, denominator = self._parts(i)
        with np.errstate(invalid="ignore", divide="ignore"):
            return numerator.sum(axis=0) / denominator.sum(axis=0)

    def error(self, i: int) -> np.ndarray:
        """The ratio estimator's standard error over the replications (NaN with fewer than 2)."""
        numerator, denominator = self._parts(i)
        n = len(numerator)
        if n < 2:
            return np.full(numerator.shape[1:], np.nan)
        residual = numerator - np.nan_to_num(self.value(i)) * denominator
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt((residual ** 2).sum(axis=0) / (n - 1) / n) / denominator.mean(axis=0)

    def bound(self, i: int, optimistic: bool = False) -> np.ndarray:
        """The one-sided ``confidence`` bound on the target's side of the estimate (``optimistic``: on
        the other side, beyond which the cell's own days show a clear miss)."""
        margin = self.quantile * np.nan_to_num(self.error(i))
        lower = self.targets[i].higher_is_better != optimistic
        return self.value(i) - margin if lower else self.value(i) + margin

    def counted(self, i: int) -> np.ndarray:
        """Conversations each cell's KPI is over (the denominator's sum over the replications)."""
        return self._parts(i)[1].sum(axis=0)

    def measured(self, i: int) -> np.ndarray:
        return self.counted(i) > 0

    def goals(self, slack: dict[str, float] = SLACK) -> np.ndarray:
        """Per target and cell, the goal a search can reach when these are the best tallies any
        headcount gives: the target, or ``slack`` short of this estimate's bound where the target is
        not met with that much to spare (a share's slack in points, a time's as a fraction)."""
        goals = []
        for i, target in enumerate(self.targets):
            bound = np.nan_to_num(self.bound(i), nan=target.value)
            if target.definition.unit == "seconds":
                reachable = bound * (1 + slack["time"])
            else:
                reachable = bound - slack["share"] if target.higher_is_better else bound + slack["share"]
            goals.append(np.where(target.met_by(reachable), target.value, reachable))
        return np.stack(goals)

    def _parts(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.tallies[..., 3 + 2 * i], self.tallies[..., 4 + 2 * i]


@dataclass
class Load:
    """What the closed forms see per team × cell: the offered arrival rate (per second, smoothed, with its
    standard error) and as measured, the handle time per team, slots per agent and the mean patience."""

    rate: np.ndarray
    rate_error: np.ndarray
    measured: np.ndarray
    handle: np.ndarray
    capacity: np.ndarray
    patience: float | None
    _cache: dict[tuple[Any, ...], float] = field(default_factory=dict, repr=False)

    @classmethod
    def smoothed(cls, rate: np.ndarray, error: np.ndarray, handle: np.ndarray, capacity: np.ndarray,
                 patience: float | None, reach: int) -> Load:
        """The measured rates shrunk towards the mean of their ``reach`` neighbours on either side (the
        cycle wraps) by empirical Bayes: a flat load measured over a few days is taken as flat, a ramp or
        a peak the days agree on is kept."""
        smooth, spread = rate.copy(), error.copy()
        for g in range(rate.shape[0]):
            busy = rate[g] > 0
            offsets = [o for o in range(-reach, reach + 1) if o]
            near = np.stack([np.roll(rate[g], -o) for o in offsets])
            near_busy = np.stack([np.roll(busy, -o) for o in offsets])
            count = near_busy.sum(axis=0)
            cells = busy & (count > 0) & (error[g] > 0)
            if cells.sum() < 3:
                continue
            centre = (near * near_busy).sum(axis=0)[cells] / count[cells]
            noise = error[g, cells] ** 2 * (1 + 1 / count[cells])
            residual = rate[g, cells] - centre
            ratio = np.median(residual ** 2 / noise) / stats.chi2.median(1)  # robust to a few real jumps
            between = max(0.0, ratio - 1) * float(np.median(noise))
            keep = between / (between + noise)
            smooth[g, cells] = centre + keep * residual
            spread[g, cells] = error[g, cells] * np.sqrt(keep + (1 - keep) / (count[cells] + 1))
        return cls(smooth, spread, rate, handle, capacity, patience)

    @property
    def busy(self) -> np.ndarray:
        """Offered load in agents (busy slot-time over slots per agent) per team × cell, as measured."""
        return self.measured * self.handle[:, None] / self.capacity[:, None]

    def kpi(self, target: Target, team: int, heads: int, rate: float) -> float:
        """The target's KPI by Erlang A (with patience) or C for ``heads`` agents at ``rate`` (NaN: none)."""
        if target.definition.erlang is None:
            return math.nan
        slots = math.floor(heads * self.capacity[team] + 1e-9)
        key = (target, team, slots, rate)
        if key not in self._cache:
            share = target.definition.unit == "share"
            if rate <= 0:  # nobody to serve: the best value
                self._cache[key] = float(share and target.higher_is_better)
            elif slots < 1:  # nobody to serve them: the worst
                self._cache[key] = float(not target.higher_is_better) if share else math.inf
            else:
                queue = (ErlangC(rate, self.handle[team], slots) if self.patience is None
                         else ErlangA(rate, self.handle[team], slots, self.patience))
                self._cache[key] = float(target.closed_form(queue))
        return self._cache[key]

    def curve(self, target: Target, team: int, cell: int, heads: int) -> tuple[float, float]:
        """The closed form at the cell's measured rate, and its standard error from that rate's."""
        rate, error = self.rate[team, cell], self.rate_error[team, cell]
        value = self.kpi(target, team, heads, rate)
        if not error > 0:
            return value, 0.0
        spread = abs(self.kpi(target, team, heads, rate + error) - self.kpi(target, team, heads, max(rate - error, 0)))
        return value, spread / 2 if math.isfinite(spread) else math.inf


@dataclass
class Fit:
    """A trial's fitted KPI curves: per target, each cell's deviation from its closed form (shrunk
    across the team's cells) and its variance; NaN where a target has no closed form."""

    heads: np.ndarray
    deviation: np.ndarray  # targets × teams × cells
    variance: np.ndarray
    ok: np.ndarray  # teams × cells: every target met at ``heads``


@dataclass
class Judge:
    """Whether cells meet their goals, and the headcount each would need, from a trial's estimate."""

    targets: tuple[Target, ...]
    load: Load
    goals: np.ndarray  # targets × teams × cells
    traffic: np.ndarray
    ceiling: Fit | None = None  # the curves at generous headcount: where each deviation tends

    def fit(self, estimate: Estimate, heads: np.ndarray) -> Fit:
        """The curves of a trial at ``heads`` and which cells pass: a cell passes a target with a closed
        form when its fitted bound meets the goal and its own days show no clear miss; one without a
        closed form by its own bound."""
        shape = (len(self.targets), *heads.shape)
        deviation, variance = np.full(shape, np.nan), np.full(shape, np.nan)
        ok = np.ones(heads.shape, dtype=bool)
        for i, target in enumerate(self.targets):
            measured = estimate.measured(i)
            value, error = estimate.value(i), estimate.error(i)
            passed = np.where(measured, _meets(target, estimate.bound(i), self.goals[i]), estimate.offered == 0)
            if target.definition.erlang is not None:
                curve = np.array([[self.load.curve(target, g, k, int(heads[g, k])) if measured[g, k] else (np.nan, 0.0)
                                   for k in range(heads.shape[1])] for g in range(heads.shape[0])])
                floor = _error_floor(target, value, estimate.counted(i))
                deviation[i], variance[i] = _shrink(value - curve[..., 0], np.fmax(np.nan_to_num(error), floor))
                fitted = curve[..., 0] + deviation[i]
                margin = estimate.quantile * np.sqrt(variance[i] + curve[..., 1] ** 2)
                bound = fitted - margin if target.higher_is_better else fitted + margin
                pooled = _meets(target, bound, self.goals[i]) & _meets(target, estimate.bound(i, True), self.goals[i])
                passed = np.where(measured & np.isfinite(deviation[i]), pooled, passed)
            ok &= passed
        return Fit(heads, deviation, variance, ok)

    def propose(self, fit: Fit, low: np.ndarray, high: np.ndarray, quantile: float) -> np.ndarray:
        """Per cell, the smallest headcount in (low, high] the fitted curves pass; a target without a
        closed form (or a cell it could not fit) steps one agent from the trial's. Between the trial's
        headcount and the ceiling's the deviation moves from the one to the other as the closed form does
        (the workflow's delays keep a service level from opening below the closed form's, at any headcount)."""
        heads = fit.heads
        proposal = np.where(self.traffic, low + 1, 0)
        for i, target in enumerate(self.targets):
            for g, k in zip(*np.nonzero(self.traffic), strict=True):
                h = int(heads[g, k])
                if not np.isfinite(fit.deviation[i, g, k]):
                    step = h - 1 if fit.ok[g, k] else h + 1
                    proposal[g, k] = max(proposal[g, k], step)
                    continue

                def passes(n: int, i: int = i, g: int = g, k: int = k, h: int = h, target: Target = target) -> bool:
                    value, error = self.load.curve(target, g, k, n)
                    deviation, variance = self._towards_ceiling(fit, i, g, k, target, h, value)
                    margin = quantile * math.sqrt(variance + error ** 2)
                    fitted = value + deviation
                    bound = fitted - margin if target.higher_is_better else fitted + margin
                    return bool(_meets(target, bound, self.goals[i, g, k]))

                n = min(max(h, low[g, k] + 1), high[g, k])
                if passes(n):
                    while n - 1 > low[g, k] and passes(n - 1):
                        n -= 1
                else:
                    while n < high[g, k] and not passes(n):
                        n += 1
                proposal[g, k] = max(proposal[g, k], n)
        return np.clip(proposal, np.where(self.traffic, low + 1, 0), high)

    def _towards_ceiling(self, fit: Fit, i: int, g: int, k: int, target: Target, heads: int,
                         value: float) -> tuple[float, float]:
        """A cell's deviation and its variance where its closed form is ``value``: the trial's, moved
        towards the ceiling's in proportion to the closed form's way from the one to the other."""
        deviation, variance = fit.deviation[i, g, k], fit.variance[i, g, k]
        if self.ceiling is None or not np.isfinite(self.ceiling.deviation[i, g, k]):
            return deviation, variance
        start = self.load.curve(target, g, k, heads)[0]
        end = self.load.curve(target, g, k, int(self.ceiling.heads[g, k]))[0]
        if not (math.isfinite(start) and math.isfinite(end) and math.isfinite(value)) or abs(end - start) < 1e-9:
            return deviation, variance
        w = min(max((value - start) / (end - start), 0.0), 1.0)
        return ((1 - w) * deviation + w * self.ceiling.deviation[i, g, k],
                (1 - w) ** 2 * variance + w ** 2 * self.ceiling.variance[i, g, k])


def _meets(target: Target, value: np.ndarray, goal: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return value >= goal if target.higher_is_better else value <= goal


def _error_floor(target: Target, value: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """The least standard error a cell's KPI is given (its days may all agree: a service level of 1):
    a binomial one for a share, a relative one for a time."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if target.definition.unit == "share":
            share = (np.nan_to_num(value) * denominator + 0.5) / (denominator + 1)
            return np.sqrt(share * (1 - share) / np.maximum(denominator, 1))
        return np.maximum(np.abs(np.nan_to_num(value)), 1.0) / np.sqrt(np.maximum(denominator, 1))


def _shrink(deviation: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per team (row), each cell's deviation shrunk towards the team's mean by empirical Bayes
    (DerSimonian–Laird's between-cell variance), and the variance of the result."""
    mean, variance = np.full(deviation.shape, np.nan), np.full(deviation.shape, np.nan)
    for g in range(deviation.shape[0]):
        cells = np.isfinite(deviation[g]) & np.isfinite(error[g]) & (error[g] > 0)
        d, s2 = deviation[g, cells], error[g, cells] ** 2
        if len(d) < 3:
            mean[g, cells], variance[g, cells] = d, s2
            continue
        s2 = np.maximum(s2, np.median(s2))  # a few days' spread understates a cell's whose bad days never came
        w = 1 / s2
        centre = (w * d).sum() / w.sum()
        q = (w * (d - centre) ** 2).sum()
        between = max(0.0, (q - (len(d) - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
        pooled_w = 1 / (s2 + between)
        pooled = (pooled_w * d).sum() / pooled_w.sum()
        keep = between / (between + s2)  # how much of its own deviation a cell keeps
        mean[g, cells] = pooled + keep * (d - pooled)
        variance[g, cells] = keep * s2 + (1 - keep) ** 2 / pooled_w.sum()
    return mean, variance


def plan(scenario: Scenario, headcount: dict[str, np.ndarray], day: Day) -> Scenario:
    """The scenario with ``headcount[team][cell]`` agents of each team online in each cell of the cycle
    (every day, or each weekday of a week), drawn from the team's agent types in the scenario's
    proportions."""
    agents = []
    per_day = round(DAY / day.width)
    for team, counts in headcount.items():
        kinds = [spec for spec in scenario.agents if spec.team == team]
        taken = np.zeros(len(kinds))
        shares = np.array([spec.count for spec in kinds], dtype=float) / sum(spec.count for spec in kinds)
        for slot in range(1, int(np.max(counts, initial=0)) + 1):
            kind = int(np.argmax(shares * slot - taken))
            taken[kind] += 1
            on = np.asarray(counts) >= slot
            days = [(list(WEEKDAYS), on)] if not day.weekly else [
                ([name], on[d * per_day:(d + 1) * per_day]) for d, name in enumerate(WEEKDAYS)]
            for weekdays, cells in days:
                shifts = [Shift(start=run[0] * day.width, end=(run[-1] + 1) * day.width) for run in _runs(cells)]
                if shifts:
                    suffix = f"-{weekdays[0]}" if day.weekly else ""
                    agents.append(kinds[kind].model_copy(update={
                        "id": f"{team}-{slot:03d}{suffix}", "count": 1, "shifts": shifts, "days": weekdays,
                        "headcount": None}))
    return scenario.model_copy(update={"agents": agents})


def _runs(on: np.ndarray) -> list[np.ndarray]:
    """The runs of consecutive true cells."""
    cells = np.flatnonzero(on)
    return [run for run in np.split(cells, np.flatnonzero(np.diff(cells) > 1) + 1) if len(run)]


def planned(scenario: Scenario, day: Day) -> dict[str, np.ndarray]:
    """The scenario's own headcount: agents of each team online, on average, in each cell of the cycle (a
    headcount table's agent by agent, the n-th online while the table asks for n or more)."""
    exposure = day.exposure()
    result = {}
    for team in scenario.teams:
        shifts = [(1, spec.online(scenario.start, scenario.duration, number)) if spec.headcount is not None
                  else (spec.count, spec.online(scenario.start, scenario.duration))
                  for spec in scenario.agents if spec.team == team
                  for number in (range(1, spec.count + 1) if spec.headcount is not None else (1,))]
        spans = [span for _, online in shifts for span in online]
        counts = [count for count, online in shifts for _ in online]
        online = day.fold(np.array(spans), np.array(counts)) if spans else np.zeros(day.cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            result[team] = np.where(exposure > 0, online / exposure, np.nan)
    return result


def closed_form(model: str, rate: float, handle: float, capacity: float, targets: tuple[Target, ...],
                patience: float | None) -> float:
    """Fewest agents (of ``capacity`` slots each) for which Erlang C (``model="C"``) or Erlang A meets
    every target that has a closed form at ``rate`` arrivals per second; NaN when none does, or no target
    has one. Without patience Erlang A is Erlang C."""
    if rate <= 0:
        return 0.0
    targets = tuple(target for target in targets if target.definition.erlang is not None)
    if not targets:
        return math.nan
    if patience is None:
        model = "C"
    load = rate * handle
    slots = math.floor(load) + 1 if model == "C" else 1
    while slots <= load + 20 * math.sqrt(load) + 100:
        queue = ErlangC(rate, handle, slots) if model == "C" else ErlangA(rate, handle, slots, patience)
        if all(target.met_by(target.closed_form(queue)) for target in targets):
            return float(math.ceil(slots / capacity))
        slots += 1
    return math.nan


@dataclass
class Trials:
    """Simulated trials of headcount plans: ``replications`` days each, on seeds from the scenario's."""

    scenario: Scenario
    strategy: str | None
    targets: tuple[Target, ...]
    day: Day
    replications: int
    confidence: float
    executor: Executor
    simulated: int = 0  # days (or weeks)

    @property
    def teams(self) -> list[str]:
        return list(self.scenario.teams)

    def staffed(self, heads: np.ndarray) -> Scenario:
        return plan(self.scenario, dict(zip(self.teams, heads, strict=True)), self.day)

    def run(self, world: Scenario, phase: str, first_seed: int = 0,
            summary: bool = False) -> tuple[Estimate, list[dict[str, Any]]]:
        jobs = [Evaluation(world, self.strategy, self.scenario.seed + first_seed + r, self.targets, self.day, summary)
                for r in range(self.replications)]
        self.simulated += len(jobs)
        outcomes = self.executor.map(tally, jobs, phase=phase)
        estimate = Estimate(np.stack([tallies for tallies, _ in outcomes]), self.targets, self.confidence)
        return estimate, [row for _, row in outcomes if row is not None]


@dataclass
class Search:
    """The state of a requirement search (see the module's docstring), kept for a roster's closed loop."""

    trials: Trials
    planning: Planning
    load: Load
    judge: Judge
    ample: np.ndarray
    required: np.ndarray
    note: np.ndarray
    estimates: dict[str, Estimate]
    runs: dict[str, list[dict[str, Any]]]
    rounds: int

    @property
    def capped(self) -> np.ndarray:
        """Cells where a target is out of reach, or nearly, at any headcount (their goal is the best less
        a slack)."""
        return np.any([self.judge.goals[i] != t.value for i, t in enumerate(self.trials.targets)], axis=0)

    def study(self) -> Staffing:
        """The study as the results folder keeps it."""
        trials, day = self.trials, self.trials.day
        scenario = trials.scenario
        heads = planned(scenario, day)
        plan_heads = np.stack([heads[team] for team in trials.teams])
        erlang = {model: np.array([[closed_form(model, self.load.measured[g, k], self.load.handle[g],
                                                self.load.capacity[g], trials.targets, self.load.patience)
                                    for k in range(day.cells)] for g in range(len(trials.teams))]) for model in "CA"}
        table = _cells(trials.teams, day, self.load, self.required, erlang, plan_heads, self.judge.traffic,
                       self.note, self.planning, self.estimates)
        kpis = pd.concat([_day_kpis(self.runs[name], name) for name in ("scenario plan", "requirement")],
                         ignore_index=True)
        settings = {"scenario": scenario.name, "source": scenario.source,
                    "strategy": trials.strategy or scenario.strategy.name,
                    "targets": [str(t) for t in trials.targets], "confidence": trials.confidence,
                    "replications": trials.replications, "interval": day.width,
                    "cycle": "week" if day.weekly else "day", "rounds": self.rounds,
                    "simulated_days": round(trials.simulated * scenario.duration / DAY), "teams": trials.teams,
                    **self.planning.settings(),
                    "cost_per_hour": {team: self.planning.rate(scenario, team) for team in trials.teams}}
        return Staffing(table, kpis, settings)


def requirement(scenario: Scenario | str | Path, targets: Sequence[Target | str], strategy: str | None = None,
                interval: float | None = None, replications: int = 20, confidence: float = 0.9,
                workers: int | None = 1, progress: bool = False, scheduler: str | None = None,
                planning: Planning | None = None) -> Staffing:
    """The fewest agents per team and interval (of the day, or of each weekday when the scenario spans a
    week) that meet every target (``"service_level_from_queue>=0.8@60s"`` or a :class:`Target`), by
    simulation (see the module's docstring), beside Erlang C and A and the scenario's plan, with
    ``planning``'s shrinkage, occupancy cap and cost. The simulated days go to ``workers`` local
    processes, or with ``scheduler`` to a Dask cluster (see :class:`Executor`)."""
    with Executor(workers, scheduler, progress, "staffing", "day") as executor:
        return search(scenario, targets, strategy, interval, replications, confidence, executor, planning).study()


def search(scenario: Scenario | str | Path, targets: Sequence[Target | str], strategy: str | None,
           interval: float | None, replications: int, confidence: float, executor: Executor,
           planning: Planning | None = None) -> Search:
    """The search of :func:`requirement`, its settings checked, its simulated days run by ``executor``."""
    if not isinstance(scenario, Scenario):
        scenario = scenario_file.load(scenario)
    targets = tuple(Target.parse(t) if isinstance(t, str) else t for t in targets)
    if not targets:
        raise ConvsimError("staffing needs at least one target, e.g. service_level>=0.8@60s")
    width = scenario.interval if interval is None else interval
    if width <= 0 or DAY % width:
        raise ConvsimError(f"interval {width:g} s: the intervals must divide a day (15m, 30m, 1h …)")
    if replications < 2:
        raise ConvsimError(f"replications {replications}: confidence bounds need at least 2")
    if not 0.5 <= confidence < 1:
        raise ConvsimError(f"confidence {confidence:g}: a one-sided confidence is at least 0.5 and below 1 "
                           "(0.9 means: 90 % sure each interval meets its targets)")
    idle = [team for team in scenario.teams if not any(spec.team == team for spec in scenario.agents)]
    if idle:
        raise ConvsimError(f"{scenario.source}: team(s) {', '.join(idle)} have no agents to model added ones on "
                           "(skills, capacity, speed); give each at least one agent group")
    planning = planning or Planning()
    quiet = scenario.model_copy(update={"record_events": False})
    trials = Trials(quiet, strategy, targets, Day.of(scenario, width), replications, confidence, executor)
    return _search(trials, planning)


def _search(trials: Trials, planning: Planning) -> Search:
    day, teams, scenario = trials.day, trials.teams, trials.scenario
    current, plan_runs = trials.run(scenario, "plan", summary=True)
    per_replication = day.exposure()
    offered = current.tallies[..., OFFERED]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(per_replication > 0, offered.mean(axis=0) / per_replication, 0.0)
        rate_error = np.where(per_replication > 0, offered.std(axis=0, ddof=1) / math.sqrt(len(offered))
                              / per_replication, 0.0)
        handle = current.tallies[..., HANDLE_SUM].sum(axis=(0, 2)) / current.tallies[..., HANDLE_COUNT].sum(axis=(0, 2))
    handle = np.where(np.isnan(handle), [_typical_handle(scenario, team) for team in teams], handle)
    capacity = np.array([_capacity(scenario, team) for team in teams])
    patience = _typical(scenario.contacts.patience) if scenario.contacts.patience is not None else None
    load = Load.smoothed(rate, rate_error, handle, capacity, patience, reach=max(1, round(3600 / day.width)))
    traffic = current.offered > 0
    floor = np.where(traffic, np.maximum(planning.occupancy_floor(load.busy), 1), 0).astype(np.int64)
    guess = np.array([[closed_form("A", rate[g, k], handle[g], capacity[g], trials.targets, patience)
                       for k in range(day.cells)] for g in range(len(teams))])
    guess = np.where(np.isnan(guess), np.ceil(load.busy) + 1, guess)
    ample = np.where(traffic, np.maximum(np.ceil(2 * (load.busy + 4 * np.sqrt(load.busy)) + 3), guess + 2), 0)
    ample = np.maximum(ample, floor).astype(np.int64)
    ceiling, _ = trials.run(trials.staffed(ample), "ceiling")
    judge = Judge(trials.targets, load, ceiling.goals(), traffic)
    judge.ceiling = judge.fit(ceiling, ample)
    low = np.maximum(floor - 1, 0)  # the largest headcount known to fail (or not allowed)
    high = ample.copy()  # the smallest known to pass
    heads = np.clip(np.maximum(guess, floor), low + 1, high).astype(np.int64) * traffic
    rounds = 0
    while rounds < ROUNDS:
        rounds += 1
        estimate, _ = trials.run(trials.staffed(heads), f"fitted search, trial {rounds}")
        fit = judge.fit(estimate, heads)
        high = np.where(fit.ok & traffic, np.minimum(high, heads), high)
        low = np.where(~fit.ok & traffic, np.maximum(low, heads), low)
        low = np.minimum(low, high - 1)
        proposal = judge.propose(fit, low, high, estimate.quantile)
        untried = (proposal != heads) & (proposal != high)
        heads = proposal
        if not untried.any():
            break
    final, final_runs = trials.run(trials.staffed(heads), "verification", trials.replications, summary=True)
    failing = ~judge.fit(final, heads).ok & traffic
    if failing.any():  # one agent more where the fresh seeds fail; unconfirmed where that fails too
        heads = heads + failing
        final, final_runs = trials.run(trials.staffed(heads), "verification, one more", trials.replications,
                                       summary=True)
        failing &= ~judge.fit(final, heads).ok
    found = Search(trials, planning, load, judge, ample, heads, np.full(heads.shape, ""),
                   {"requirement": final, "plan": current, "ceiling": ceiling},
                   {"scenario plan": plan_runs, "requirement": final_runs}, rounds)
    found.note = np.select([~traffic, failing, found.capped], ["", "unconfirmed", "capped"], "")
    return found


def _typical(dist: Any) -> float:
    """One figure for a distribution, for the closed forms: its mean; for one by case, its ``otherwise``'s."""
    return (dist.otherwise if isinstance(dist, ByCase) else dist).mean


def _typical_handle(scenario: Scenario, team: str) -> float:
    """A team's handle time where its intervals measured none: the scenario's mean (message by message:
    the mean exchanges times a reply and an answer)."""
    handling = scenario.handling
    spec = scenario.teams[team].handle_time or handling.handle_time
    if spec is None and handling.messages is not None:
        turns = handling.messages
        return turns.mean_exchanges * (turns.reply_time.mean + turns.think_time.mean)
    return _typical(spec)


def _capacity(scenario: Scenario, team: str) -> float:
    kinds = [spec for spec in scenario.agents if spec.team == team]
    return sum(spec.capacity * spec.count for spec in kinds) / sum(spec.count for spec in kinds)


def _cells(teams: list[str], day: Day, load: Load, required: np.ndarray, erlang: dict[str, np.ndarray],
           plan_heads: np.ndarray, traffic: np.ndarray, note: np.ndarray, planning: Planning,
           estimates: dict[str, Estimate]) -> pd.DataFrame:
    measured = {}  # column: values per team × cell
    for name, estimate in estimates.items():
        for i, target in enumerate(estimate.targets):
            label = f"{name}:{target.kpi}" + (f"@{target.within:g}s" if target.within is not None else "")
            measured[label] = estimate.value(i)
            if name == "requirement":
                measured[f"{label}:bound"] = estimate.bound(i)
    floor = planning.occupancy_floor(load.busy) * traffic
    scheduled = planning.scheduled(required)
    rows = []
    for g, team in enumerate(teams):
        for k in range(day.cells):
            need, have = required[g, k], plan_heads[g, k]
            status = ("no traffic" if not traffic[g, k] else "under" if have < need - 1e-9
                      else "over" if have >= need + 1 else "ok")
            row = {"team": team, "interval": k, "start": day.label(k), "start_seconds": k * day.width,
                   "offered_per_interval": load.measured[g, k] * day.width, "handle_time": load.handle[g],
                   "load": load.busy[g, k], "required": int(need), "occupancy_floor": int(floor[g, k]),
                   "scheduled": int(scheduled[g, k]), "erlang_c": erlang["C"][g, k], "erlang_a": erlang["A"][g, k],
                   "planned": have, "gap": have - need, "status": status, "note": str(note[g, k]),
                   **{column: values[g, k] for column, values in measured.items()}}
            rows.append(row)
    return pd.DataFrame(rows)


def _day_kpis(runs: list[dict[str, Any]], name: str) -> pd.DataFrame:
    summary = pd.DataFrame(runs).assign(strategy=name)
    compared = comparison.compare(comparison.tidy(summary))
    return compared[["strategy", "kpi", "mean", "ci_low", "ci_high"]].rename(columns={"strategy": "plan"})


def describe(study: Staffing) -> list[str]:
    """The study as lines a person reads: per interval with traffic, each team's requirement by
    simulation, Erlang C, Erlang A and the plan; then agent-hours, scheduled heads, FTE and cost, and the
    intervals that need a look."""
    cells = study.cells
    settings = study.settings
    teams = list(dict.fromkeys(cells["team"]))
    lines = [f"targets: {', '.join(settings['targets'])} (confidence {settings['confidence']:g}, "
             f"{settings['replications']} {settings.get('cycle', 'day')}s a trial, strategy {settings['strategy']})",
             "agents per interval — sim: simulated requirement, C: Erlang C, A: Erlang A, plan: the scenario's",
             *(["warning: fewer than 10 days a trial — intervals near their best are decided by noise; "
                "use --replications 20 or more for a plan"] if settings["replications"] < 10 else []),
             f"{'':<10}" + "".join(f"{team:>24}" for team in teams),
             f"{'start':<10}" + f"{'sim    C    A  plan':>24}" * len(teams)]
    wide = cells.pivot(index="interval", columns="team")
    busy = cells.groupby("interval")["status"].agg(lambda s: (s != "no traffic").any())

    def number(value: float) -> str:
        return "-" if value != value else f"{value:g}"

    for interval in wide.index[busy.reindex(wide.index).to_numpy()]:
        row = wide.loc[interval]
        parts = []
        for team in teams:
            mark = {"capped": "*", "unconfirmed": "?"}.get(row[("note", team)], "")
            required = number(row[("required", team)]) + mark
            parts.append(f"{required:>8}{number(row[('erlang_c', team)]):>5}{number(row[('erlang_a', team)]):>5}"
                         f"{row[('planned', team)]:>6.1f}")
        lines.append(f"{row[('start', teams[0])]:<10}" + "".join(parts))
    lines.append("")
    totals = study.agent_hours()
    per = "a week" if settings.get("cycle") == "week" else "a day"
    for team in teams:
        own, total = cells[cells["team"] == team], totals.loc[team]
        short = own[own["status"] == "under"]
        lines.append(f"{team}: agent-hours {per} — simulation {total['required']:,.1f}, Erlang C "
                     f"{total['erlang_c']:,.1f}, Erlang A {total['erlang_a']:,.1f}, plan {total['planned']:,.1f}; "
                     f"scheduled with {settings.get('shrinkage', 0):.0%} shrinkage {total['scheduled']:,.1f} "
                     f"({total['fte']:,.1f} FTE" + (f", cost {total['cost_per_week']:,.0f} a week"
                                                   if total["cost_per_week"] > 0 else "") + "); "
                     f"under-staffed in {len(short)} interval(s)"
                     + (f", short by up to {-short['gap'].min():g}" if len(short) else ""))
        for status, meaning in (("capped", "* capped: a target is out of reach, or nearly, at any headcount"),
                                ("unconfirmed", "? unconfirmed on fresh seeds: raise --replications")):
            marked = own[own["note"] == status]
            if len(marked):
                lines.append(f"  {meaning} in {len(marked)} interval(s) "
                             f"({', '.join(marked['start'].head(6))}{' …' if len(marked) > 6 else ''})")
    return lines
