"""Capacity planning: how many agents each team needs in each interval of the day to meet the service
targets, found by simulation, beside the Erlang C and Erlang A requirements and the scenario's own plan.

The simulated requirement keeps all the model has: the workflow's delays, concurrent chats and their
slowdown, skills and the strategy, patience, and queues carried from one interval into the next. The
closed forms see each team and interval as one stationary queue with agents × capacity servers and the
measured handle time per conversation, as a spreadsheet would.

The search runs every team × interval of the day (a *cell*) at once, each round ``replications`` days
on the same seeds (common random numbers):

1. the plan: the scenario as written → offered load and handle time per cell, the plan's own KPIs;
2. the ceiling: generous headcount everywhere → the best each cell can do. Where that misses a target
   (the workflow's own delays can keep a service level out of reach at any headcount) or meets it by
   less than a slack (2 points of a share, 10 % of a time), the cell is *capped*: its goal becomes the
   best less the slack — more agents would buy almost nothing, or staff for noise;
3. bisection: each cell keeps the largest headcount known to fail and the smallest known to pass and
   tries their midpoint, starting from the Erlang requirement. A cell's result depends on its
   neighbours through the queue they leave it, so rounds alternate between even and odd intervals,
   the others held at the smallest headcount known to pass;
4. trim: each cell's best again, generous in it alone with its neighbours as found (even cells, then
   odd), its goals from that, and a second bisection from one agent fewer;
5. verification on fresh seeds: a cell that fails gets one agent more if that passes; one that still
   fails keeps the headcount the search found and is *unconfirmed* (noise near a cell's ceiling, mostly:
   more replications would tell). Adding agents until a noisy bound happens to pass would staff for noise.

A cell meets a target when the one-sided ``confidence`` bound of its KPI — a ratio over the
replications, with the ratio estimator's standard error — is on the target's side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim import units
from sim.analysis import comparison, metrics
from sim.analysis.kpis import KPIS, Conversations, Kpi
from sim.analysis.result import tables
from sim.analysis.theory import ErlangA, ErlangC
from sim.errors import ConvsimError
from sim.experiments.executor import Executor
from sim.experiments.runner import simulate
from sim.io.results import Staffing
from sim.model.scenario import WEEKDAYS, Scenario, Shift

DAY = 86400.0
SLACK = {"share": 0.02, "time": 0.1}  # how near the best reachable a capped interval is staffed
OFFERED, HANDLE_SUM, HANDLE_COUNT = 0, 1, 2  # the tallies of a cell before the targets' (numerator, denominator)


def target_kpis() -> dict[str, Kpi]:
    """The KPIs a target may name: the registry's ratios with a better direction (each tallied per cell
    and bounded by the ratio estimator)."""
    return {name: kpi for name, kpi in KPIS.items() if kpi.better is not None and kpi.ratio}


@dataclass(frozen=True)
class Target:
    """A service target on a KPI of :func:`target_kpis`: ``service_level>=0.8@60s``,
    ``abandonment_rate<=0.05``, ``first_response_time_mean<=45s``."""

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
class Day:
    """The intervals of the day (cells of ``width`` seconds from midnight) over a scenario's run."""

    width: float
    offset: float  # the scenario's start, seconds after midnight
    duration: float

    @property
    def cells(self) -> int:
        return round(DAY / self.width)

    def index(self, times: np.ndarray) -> np.ndarray:
        """The interval of the day of times (seconds from the start)."""
        return (((self.offset + times) % DAY) // self.width).astype(np.int64)

    def exposure(self) -> np.ndarray:
        """Seconds of the run that fall in each interval of the day."""
        return self.fold(np.array([[0.0, self.duration]]))

    def fold(self, spans: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Time covered by spans [begin, end) of the run (each counted ``weights`` times), summed per
        interval of the day."""
        grid = np.append(np.arange(-self.offset, self.duration, self.width), self.duration)
        edges = np.unique(np.clip(np.concatenate((grid, [0.0])), 0.0, self.duration))
        covered = metrics.overlap(spans[:, 0], np.minimum(spans[:, 1], self.duration), edges, weights)
        return np.bincount(self.index(edges[:-1]), weights=covered, minlength=self.cells)

    def label(self, cell: int) -> str:
        seconds = cell * self.width
        return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


@dataclass(frozen=True)
class Evaluation:
    """One simulated day of a headcount plan, tallied per team × interval of the day."""

    scenario: Scenario
    strategy: str | None
    seed: int
    targets: tuple[Target, ...]
    day: Day

    @property
    def name(self) -> str:
        return f"seed-{self.seed}"


def tally(job: Evaluation) -> tuple[np.ndarray, dict[str, Any]]:
    """Simulate ``job`` → the tallies of every cell (teams × intervals × [offered, handle-time sum and
    count, then numerator and denominator of each target]) and the run's KPIs."""
    result = tables(simulate(job.scenario, job.strategy, job.seed, check=False))
    frame = result.conversations
    teams = len(job.scenario.teams)
    service_target = job.scenario.service_target
    team = frame["team"].cat.codes.to_numpy().astype(np.int64)
    keep = team >= 0
    cell = (team * job.day.cells + job.day.index(frame["opened_at"].to_numpy()))[keep]
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
    row = result.summary.iloc[0].to_dict()
    return counts.reshape(teams, job.day.cells, len(columns)), row


@dataclass
class Estimate:
    """Each target's KPI per cell over replications: the pooled ratio and its one-sided bound."""

    tallies: np.ndarray  # replications × teams × cells × columns
    targets: tuple[Target, ...]
    confidence: float

    @property
    def offered(self) -> np.ndarray:
        return self.tallies[..., OFFERED].sum(axis=0)

    def value(self, i: int) -> np.ndarray:
        numerator, denominator = self._parts(i)
        with np.errstate(invalid="ignore", divide="ignore"):
            return numerator.sum(axis=0) / denominator.sum(axis=0)

    def bound(self, i: int) -> np.ndarray:
        """The one-sided ``confidence`` bound on the target's side of the estimate."""
        numerator, denominator = self._parts(i)
        n = len(numerator)
        ratio = self.value(i)
        if n < 2:
            return ratio
        residual = numerator - np.nan_to_num(ratio) * denominator
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.sqrt((residual ** 2).sum(axis=0) / (n - 1) / n) / denominator.mean(axis=0)
        margin = stats.t.ppf(self.confidence, n - 1) * se
        return ratio - margin if self.targets[i].higher_is_better else ratio + margin

    def meets(self, goals: np.ndarray | None = None) -> np.ndarray:
        """Cells that meet every target, or each target's ``goals[i]`` per cell (a cell with nothing to
        measure meets it; one whose offered conversations were never answered fails a target over the
        answered)."""
        ok = np.ones(self.offered.shape, dtype=bool)
        for i, target in enumerate(self.targets):
            _, denominator = self._parts(i)
            measured = denominator.sum(axis=0) > 0
            goal = target.value if goals is None else goals[i]
            bound = self.bound(i)
            passed = np.where(measured, bound >= goal if target.higher_is_better else bound <= goal,
                              self.offered == 0)
            ok &= passed
        return ok

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


def plan(scenario: Scenario, headcount: dict[str, np.ndarray], day: Day) -> Scenario:
    """The scenario with ``headcount[team][cell]`` agents of each team online in each interval of the
    day (every day), drawn from the team's agent types in the scenario's proportions."""
    agents = []
    for team, counts in headcount.items():
        kinds = [spec for spec in scenario.agents if spec.team == team]
        taken = np.zeros(len(kinds))
        shares = np.array([spec.count for spec in kinds], dtype=float) / sum(spec.count for spec in kinds)
        for slot in range(1, int(counts.max(initial=0)) + 1):
            kind = int(np.argmax(shares * slot - taken))
            taken[kind] += 1
            on = np.flatnonzero(counts >= slot)
            runs = np.split(on, np.flatnonzero(np.diff(on) > 1) + 1)
            shifts = [Shift(start=run[0] * day.width, end=(run[-1] + 1) * day.width) for run in runs]
            agents.append(kinds[kind].model_copy(update={
                "id": f"{team}-{slot:03d}", "count": 1, "shifts": shifts, "days": list(WEEKDAYS)}))
    return scenario.model_copy(update={"agents": agents})


def planned(scenario: Scenario, day: Day) -> dict[str, np.ndarray]:
    """The scenario's own headcount: agents of each team online, on average, in each interval of the day."""
    exposure = day.exposure()
    result = {}
    for team in scenario.teams:
        shifts = [(spec.count, spec.online(scenario.start, scenario.duration))
                  for spec in scenario.agents if spec.team == team]
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


def requirement(scenario: Scenario, targets: list[Target] | tuple[Target, ...], strategy: str | None = None,
                interval: float | None = None, replications: int = 20, confidence: float = 0.9,
                workers: int | None = 1, progress: bool = False, scheduler: str | None = None) -> Staffing:
    """The fewest agents per team and interval of the day that meet every target, by simulation (see
    the module's docstring), beside Erlang C and A and the scenario's plan. The simulated days go to
    ``workers`` local processes, or with ``scheduler`` to a Dask cluster (see :class:`Executor`)."""
    targets = tuple(targets)
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
    with Executor(workers, scheduler, progress, "staffing", "day") as executor:
        return _search(scenario, targets, strategy, width, replications, confidence, executor)


def _search(scenario: Scenario, targets: tuple[Target, ...], strategy: str | None, width: float, replications: int,
            confidence: float, executor: Executor) -> Staffing:
    """The search of :func:`requirement`, its settings checked, its simulated days run by ``executor``."""
    day = Day(width, units.time_of_day(scenario.start), scenario.duration)
    teams = list(scenario.teams)
    simulated = 0  # days

    def staffed(headcount: np.ndarray) -> Scenario:
        return plan(scenario, dict(zip(teams, headcount, strict=True)), day)

    def evaluate(world: Scenario, phase: str, first_seed: int = 0) -> tuple[Estimate, list[dict[str, Any]]]:
        nonlocal simulated
        jobs = [Evaluation(world, strategy, scenario.seed + first_seed + r, targets, day) for r in range(replications)]
        simulated += len(jobs)
        outcomes = executor.map(tally, jobs, phase=phase)
        return Estimate(np.stack([tallies for tallies, _ in outcomes]), targets, confidence), [k for _, k in outcomes]

    current, plan_runs = evaluate(scenario, "plan")
    exposure = day.exposure() * replications
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(exposure > 0, current.offered / exposure, 0.0)
        handle_by_team = current.tallies[..., HANDLE_SUM].sum(axis=(0, 2)) / current.tallies[..., HANDLE_COUNT].sum(
            axis=(0, 2))
    handle_by_team = np.where(np.isnan(handle_by_team), [
        (scenario.teams[team].handle_time or scenario.handling.handle_time).mean for team in teams], handle_by_team)
    capacity = np.array([_capacity(scenario, team) for team in teams])
    patience = scenario.contacts.patience.mean if scenario.contacts.patience is not None else None
    erlang = {model: np.array([[closed_form(model, rate[g, k], handle_by_team[g], capacity[g], targets, patience)
                                for k in range(day.cells)] for g in range(len(teams))]) for model in "CA"}
    traffic = current.offered > 0
    load = rate * handle_by_team[:, None] / capacity[:, None]
    ample = np.where(traffic, np.maximum(np.ceil(2 * (load + 4 * np.sqrt(load)) + 3),
                                         np.nan_to_num(erlang["C"], nan=0) + 2), 0).astype(np.int64)
    ceiling, _ = evaluate(staffed(ample), "ceiling")
    goals = ceiling.goals()
    reachable = np.all([goals[i] == target.value for i, target in enumerate(targets)], axis=0)
    low = np.zeros_like(ample)  # the largest headcount known to fail (conversations need one agent at least)
    high = ample  # the smallest known to pass
    guess = np.nan_to_num(erlang["A"] if patience is not None else erlang["C"], nan=0).astype(np.int64)
    trial = np.clip(guess, low + 1, np.maximum(high - 1, low + 1))
    parity = np.arange(day.cells)[None, :] % 2 + np.zeros((len(teams), 1), dtype=np.int64)
    rounds = 0

    def bisect(low: np.ndarray, high: np.ndarray, trial: np.ndarray, goals: np.ndarray, phase: str) -> np.ndarray:
        """Per cell, the smallest headcount in (low, high] that meets its goals, even and odd intervals
        in turn (the others held at their smallest known to pass)."""
        nonlocal rounds
        turn = 0
        while (high - low > 1).any():
            searching = (high - low > 1) & (parity == turn % 2)
            turn += 1
            if not searching.any():
                continue
            rounds += 1
            candidate = np.where(searching, trial, high)
            ok = evaluate(staffed(candidate), f"{phase}, round {turn}")[0].meets(goals)
            high = np.where(searching & ok, candidate, high)
            low = np.where(searching & ~ok, candidate, low)
            trial = np.where(searching, (low + high) // 2, trial)
        return high

    high = bisect(low, high, trial, goals, "search")
    # The ceiling had every interval generous; with the neighbours as found, an interval's best may be lower
    # (the queue they leave it): its goals again from that best, then one agent fewer tried everywhere.
    for turn in (0, 1):
        alone = parity == turn
        best, _ = evaluate(staffed(np.where(alone, ample, high)), f"ceiling beside the neighbours {turn + 1}/2")
        goals = np.where(alone, best.goals(), goals)
    reachable = np.all([goals[i] == target.value for i, target in enumerate(targets)], axis=0)
    high = bisect(np.zeros_like(high), high, np.maximum(high - 1, 0), goals, "trim")
    final, final_runs = evaluate(staffed(high), "verification", first_seed=replications)
    failing = ~final.meets(goals) & traffic
    if failing.any():  # one agent more where that passes on the fresh seeds; kept as found where it doesn't
        more, more_runs = evaluate(staffed(high + failing), "verification, one more", first_seed=replications)
        fixed = failing & more.meets(goals)
        high, failing = high + fixed, failing & ~fixed
        final, final_runs = (more, more_runs) if not failing.any() else evaluate(
            staffed(high), "verification, final", first_seed=replications)
    required = high.astype(float)
    heads = planned(scenario, day)
    plan_heads = np.stack([heads[team] for team in teams])
    note = np.select([~traffic, failing, ~reachable], ["", "unconfirmed", "capped"], "")
    table = _cells(teams, day, rate, handle_by_team, capacity, required, erlang, plan_heads, traffic, note,
                   {"requirement": final, "plan": current, "ceiling": ceiling})
    kpis = pd.concat([_day_kpis(plan_runs, "scenario plan"), _day_kpis(final_runs, "requirement")],
                     ignore_index=True)
    settings = {"scenario": scenario.name, "source": scenario.source, "strategy": strategy or scenario.strategy.name,
                "targets": [str(t) for t in targets], "confidence": confidence, "replications": replications,
                "interval": width, "rounds": rounds, "simulated_days": simulated, "teams": teams}
    return Staffing(table, kpis, settings)


def _capacity(scenario: Scenario, team: str) -> float:
    kinds = [spec for spec in scenario.agents if spec.team == team]
    return sum(spec.capacity * spec.count for spec in kinds) / sum(spec.count for spec in kinds)


def _cells(teams: list[str], day: Day, rate: np.ndarray, handle: np.ndarray, capacity: np.ndarray,
           required: np.ndarray, erlang: dict[str, np.ndarray], plan_heads: np.ndarray, traffic: np.ndarray,
           note: np.ndarray, estimates: dict[str, Estimate]) -> pd.DataFrame:
    measured = {}  # column: values per team × cell
    for name, estimate in estimates.items():
        for i, target in enumerate(estimate.targets):
            label = f"{name}:{target.kpi}" + (f"@{target.within:g}s" if target.within is not None else "")
            measured[label] = estimate.value(i)
            if name == "requirement":
                measured[f"{label}:bound"] = estimate.bound(i)
    rows = []
    for g, team in enumerate(teams):
        for k in range(day.cells):
            need, have = required[g, k], plan_heads[g, k]
            status = ("no traffic" if not traffic[g, k] else "under" if have < need - 1e-9
                      else "over" if have >= need + 1 else "ok")
            row = {"team": team, "interval": k, "start": day.label(k), "start_seconds": k * day.width,
                   "offered_per_interval": rate[g, k] * day.width, "handle_time": handle[g],
                   "load": rate[g, k] * handle[g] / capacity[g], "required": need,
                   "erlang_c": erlang["C"][g, k], "erlang_a": erlang["A"][g, k], "planned": have,
                   "gap": have - need, "status": status, "note": str(note[g, k]),
                   **{column: values[g, k] for column, values in measured.items()}}
            rows.append(row)
    return pd.DataFrame(rows)


def _day_kpis(runs: list[dict[str, Any]], name: str) -> pd.DataFrame:
    summary = pd.DataFrame(runs).assign(strategy=name)
    compared = comparison.compare(comparison.tidy(summary))
    return compared[["strategy", "kpi", "mean", "ci_low", "ci_high"]].rename(columns={"strategy": "plan"})


def describe(study: Staffing) -> list[str]:
    """The study as lines a person reads: per interval with traffic, each team's requirement by
    simulation, Erlang C, Erlang A and the plan; then agent-hours and the intervals that need a look."""
    cells = study.cells
    teams = list(dict.fromkeys(cells["team"]))
    lines = [f"targets: {', '.join(study.settings['targets'])} (confidence {study.settings['confidence']:g}, "
             f"{study.settings['replications']} days a trial, strategy {study.settings['strategy']})",
             "agents per interval — sim: simulated requirement, C: Erlang C, A: Erlang A, plan: the scenario's",
             *(["warning: fewer than 10 days a trial — intervals near their best are decided by noise; "
                "use --replications 20 or more for a plan"] if study.settings["replications"] < 10 else []),
             f"{'':<8}" + "".join(f"{team:>24}" for team in teams),
             f"{'start':<8}" + f"{'sim    C    A  plan':>24}" * len(teams)]
    wide = cells.pivot(index="start", columns="team")
    busy = cells.groupby("start")["status"].agg(lambda s: (s != "no traffic").any())

    def number(value: float) -> str:
        return "-" if value != value else f"{value:g}"

    for start in wide.index[busy.reindex(wide.index).to_numpy()]:
        parts = []
        for team in teams:
            row = wide.loc[start]
            mark = {"capped": "*", "unconfirmed": "?"}.get(row[("note", team)], "")
            required = number(row[("required", team)]) + mark
            parts.append(f"{required:>8}{number(row[('erlang_c', team)]):>5}{number(row[('erlang_a', team)]):>5}"
                         f"{row[('planned', team)]:>6.1f}")
        lines.append(f"{start:<8}" + "".join(parts))
    lines.append("")
    totals = study.agent_hours()
    for team in teams:
        own, total = cells[cells["team"] == team], totals.loc[team]
        short = own[own["status"] == "under"]
        lines.append(f"{team}: agent-hours a day — simulation {total['required']:,.1f}, Erlang C "
                     f"{total['erlang_c']:,.1f}, Erlang A {total['erlang_a']:,.1f}, plan {total['planned']:,.1f}; "
                     f"under-staffed in {len(short)} interval(s)"
                     + (f", short by up to {-short['gap'].min():g}" if len(short) else ""))
        for status, meaning in (("capped", "* capped: a target is out of reach, or nearly, at any headcount"),
                                ("unconfirmed", "? unconfirmed on fresh seeds: raise --replications")):
            marked = own[own["note"] == status]
            if len(marked):
                lines.append(f"  {meaning} in {len(marked)} interval(s) "
                             f"({', '.join(marked['start'].head(6))}{' …' if len(marked) > 6 else ''})")
    return lines
