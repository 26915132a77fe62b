"""``convsim validate``: the full simulator against queueing theory, where theory is exact.

Each case is an M/M/c (or M/M/c+M) queue run through the whole simulator — a scenario with capacity-1
agents, a workflow of one assign step, first response at assignment — over independent replications.
With priority classes, a generated contact attribute names each contact's class and the ``priority``
selection (no aging) serves them: each class's mean wait is Cobham's. In message-level handling, one agent
holding N never-ending chats (exponential think and reply times, its attention first come first served)
is the finite-source queue M/M/1//N: its mean response time and utilisation are the machine-repairman's.
Every replication starts empty; arrivals of a warm-up period are left out, and arrivals stop early
enough that every counted contact is answered or abandons before the run ends (nothing censored).
A metric passes when the exact value lies within ``Z_LIMIT`` standard errors of the replications' mean.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis import theory
from sim.engine import events as ev
from sim.engine.records import RunRecords
from sim.experiments.executor import Executor
from sim.experiments.runner import simulate
from sim.model.scenario import Scenario, parse

MEAN_HANDLE = 300.0  # seconds
TARGET = 60.0  # the service-level target, seconds
Z_LIMIT = 4.0  # |z| beyond this fails: about 6 in 100,000 for a correct simulator
SIZES = {"quick": (12, 4_000), "full": (30, 40_000)}  # replications, arrivals counted per replication
CLASS_FIELD = "priority_class"  # the contact attribute that carries a priority class: "1" (highest), "2" …


@dataclass(frozen=True)
class Case:
    """One queue: ``agents`` at ``load`` (offered load per agent, λ / (c μ)), infinite patience unless
    ``patience`` (mean seconds) is given. ``loads`` makes the arrival rate change between intervals
    separated by idle gaps; each interval is compared with its own closed form. ``shares`` splits the
    arrivals into non-preemptive priority classes, highest priority first. A ``full_only`` case runs at
    the full size only (the quick size stays quick)."""

    name: str
    agents: int
    load: float = 0.0
    patience: float | None = None
    loads: tuple[float, ...] = field(default=())
    shares: tuple[float, ...] = field(default=())
    full_only: bool = False
    chats: int = 0  # message-level handling: one agent holding this many never-ending chats (M/M/1//N)


CASES = (
    Case("M/M/1", 1, 0.5),
    Case("M/M/3", 3, 0.8),
    Case("M/M/10", 10, 0.9),
    Case("M/M/50", 50, 0.95),
    Case("M/M/200", 200, 0.97),
    Case("M/M/10+M", 10, 0.9, patience=MEAN_HANDLE),
    Case("M/M/20+M overload", 20, 1.2, patience=5 * MEAN_HANDLE),
    Case("M/M/50+M", 50, 1.0, patience=0.5 * MEAN_HANDLE),
    Case("M/M/10 time-varying", 10, loads=(0.6, 0.9)),
    Case("M/M/5 two priority classes", 5, 0.8, shares=(0.3, 0.7), full_only=True),  # also tests/test_routing_theory
    Case("M/M/20 three priority classes", 20, 0.9, shares=(0.2, 0.3, 0.5)),
    *(Case(f"M/M/1//{n} one agent, {n} chats", 1, chats=n) for n in range(1, 7)),
)
MEAN_THINK, MEAN_REPLY = 120.0, 30.0  # seconds: the chats' contacts think, the agent writes a reply


def _arrival_rate(case: Case, load: float) -> float:
    return load * case.agents / MEAN_HANDLE


def _classes(case: Case) -> list[str]:
    """The values of ``CLASS_FIELD``, highest priority first."""
    return [str(k) for k in range(1, len(case.shares) + 1)]


def scenario(case: Case, arrivals: int, seed: int) -> tuple[Scenario, list[tuple[float, float, float]]]:
    """The case as a scenario, and its measured windows (start, end, load).

    Each interval of arrivals (a warm-up, then the counted span) is followed by an idle gap as long,
    at least 60 mean handle times, in which the queue drains."""
    loads = case.loads or (case.load,)
    rates = [_arrival_rate(case, load) for load in loads]
    span = arrivals / len(loads) / min(rates)
    warm_up = 0.1 * span + 20 * MEAN_HANDLE
    step = max(warm_up + span, 60 * MEAN_HANDLE)
    windows = [(2 * k * step + warm_up, (2 * k + 1) * step, load) for k, load in enumerate(loads)]
    data = {
        "name": case.name, "duration": 2 * step * len(loads), "seed": seed, "channels": ["chat"],
        "record_events": False, "service_target": TARGET, "strategy": "round_robin",
        "arrivals": {"generate": {"profile": [v for rate in rates for v in (rate * 3600, 0.0)],
                                  "profile_step": step, "channels": {"chat": 1}}},
        "handling": {"handle_time": {"dist": "exponential", "mean": MEAN_HANDLE}},
        "teams": {"queue": {}}, "agents": [{"id": "agent", "count": case.agents, "team": "queue"}],
        "workflow": [{"type": "assign"}],
    }
    if case.patience is not None:
        data["contacts"] = {"patience": {"dist": "exponential", "mean": case.patience}}
    if case.shares:
        classes = _classes(case)
        data["arrivals"]["generate"]["attributes"] = {CLASS_FIELD: dict(zip(classes, case.shares, strict=True))}
        data["contacts"] = {"known_fields": [CLASS_FIELD]}
        data["selection"] = {"name": "priority", "field": CLASS_FIELD, "aging": 0,
                             "levels": {name: len(classes) - k for k, name in enumerate(classes)}}
    return parse(data), windows


def _overlap(begin: np.ndarray, end: np.ndarray, start: float, stop: float) -> float:
    return float(np.clip(np.minimum(end, stop) - np.maximum(begin, start), 0, None).sum())


def measure(records: RunRecords, window: tuple[float, float, float],
            classes: Sequence[str] = ()) -> dict[str, float]:
    """One replication's estimates over one measured window (and each priority class's mean wait)."""
    start, stop, _ = window
    c = records.conversations
    opened, left = c["opened_at"], c["left_queue_at"]
    closed = np.where(np.isnan(c["closed_at"]), np.inf, c["closed_at"])
    counted = (opened >= start) & (opened < stop)
    waits = (left - opened)[counted]
    answered = (c["outcome"] == ev.RESOLVED)[counted]
    abandoned = (c["outcome"] == ev.ABANDONED)[counted]
    if np.isnan(waits).any():
        raise RuntimeError(f"{records.info.strategy}: a counted contact was still waiting at the end")
    length = stop - start
    queue = _overlap(opened, left, start, stop) / length
    system = _overlap(opened, closed, start, stop) / length
    if np.isinf(closed[counted]).any():
        raise RuntimeError(f"{records.info.strategy}: a counted contact was still in the system at the end")
    return {
        "p_wait": float((waits > 0).mean()),
        "mean_wait": float(waits.mean()),
        "service_level": float((answered & (waits <= TARGET)).mean()),
        "p_abandon": float(abandoned.mean()),
        "mean_wait_answered": float(waits[answered].mean()),
        "queue_length": queue,
        # Little's law, L − λW: the time-average number present less the counted time spent per unit time
        "littles_law_queue": queue - waits.sum() / length,
        "littles_law_system": system - (closed - opened)[counted].sum() / length,
    } | {f"mean_wait_class_{name}": float(waits[c[f"field:{CLASS_FIELD}"][counted] == name].mean())
         for name in classes}


def exact(case: Case, load: float) -> dict[str, float]:
    """The closed forms for one window, keyed like :func:`measure`."""
    rate = _arrival_rate(case, load)
    if case.chats:
        m = theory.MachineRepairman(case.chats, MEAN_THINK, MEAN_REPLY)
        return {"response_time_mean": m.mean_response, "utilisation": m.utilisation}
    if case.shares:
        p = theory.PriorityErlangC([rate * share for share in case.shares], MEAN_HANDLE, case.agents)
        values = {"p_wait": p.pooled.p_wait, "mean_wait": p.mean_wait}  # both as without priorities
        values |= {f"mean_wait_class_{name}": wait for name, wait in zip(_classes(case), p.mean_waits, strict=True)}
        values["queue_length"] = p.pooled.mean_queue
    elif case.patience is None:
        c = theory.ErlangC(rate, MEAN_HANDLE, case.agents)
        values = {"p_wait": c.p_wait, "mean_wait": c.mean_wait, "service_level": c.service_level(TARGET),
                  "queue_length": c.mean_queue}
    else:
        a = theory.ErlangA(rate, MEAN_HANDLE, case.agents, case.patience)
        values = {"p_wait": a.p_wait, "mean_wait": a.mean_wait,
                  "service_level": a.service_level_answered_of_all(TARGET), "p_abandon": a.p_abandon,
                  "mean_wait_answered": a.mean_wait_answered, "queue_length": a.mean_queue}
    return values | {"littles_law_queue": 0.0, "littles_law_system": 0.0}


@dataclass(frozen=True)
class Replication:
    """One independent run of a case: ``arrivals`` counted, on ``seed``."""

    case: Case
    arrivals: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.case.name}-s{self.seed}"

    @property
    def strategy(self) -> None:
        return None  # the case's scenario names its own


def _replicate(job: Replication) -> list[dict[str, float]]:
    """A replication's estimates, one dict per measured window of its case."""
    if job.case.chats:
        built, window = _chats(job.case, job.arrivals, job.seed)
        trace = pd.DataFrame({"time": 0.0, "contact_id": [f"c{k}" for k in range(job.case.chats)], "channel": "chat"})
        return [_measure_chats(simulate(built, trace=trace), window)]
    built, windows = scenario(job.case, job.arrivals, job.seed)
    records = simulate(built)
    return [measure(records, window, _classes(job.case)) for window in windows]


def _chats(case: Case, replies: int, seed: int) -> tuple[Scenario, tuple[float, float]]:
    """One agent holding ``case.chats`` chats, all opened at 0, never ending; and the measured window,
    long enough for about ``replies`` replies after a warm-up."""
    model = theory.MachineRepairman(case.chats, MEAN_THINK, MEAN_REPLY)
    span = replies / model.throughput
    warm_up = 0.1 * span + 20 * (MEAN_THINK + MEAN_REPLY)
    exponential = {"dist": "exponential"}
    data = {
        "name": case.name, "duration": warm_up + span, "seed": seed, "channels": ["chat"], "record_events": False,
        "arrivals": {"generate": {"profile": [0.0], "channels": {"chat": 1}}},  # the chats are given
        "handling": {"mode": "messages", "messages": {
            "reply_time": exponential | {"mean": MEAN_REPLY}, "think_time": exponential | {"mean": MEAN_THINK},
            "resolve_probability": 0}},
        "teams": {"queue": {}}, "agents": [{"id": "agent", "team": "queue", "capacity": case.chats}],
        "workflow": [{"type": "assign"}],
    }
    return parse(data), (warm_up, warm_up + span)


def _measure_chats(records: RunRecords, window: tuple[float, float]) -> dict[str, float]:
    """One replication's mean response time (replies sent within the window) and the agent's utilisation
    (its time writing within the window: each reply from its message, or the previous reply, to its send)."""
    start, stop = window
    m = records.messages
    agent = m["who"] == 1
    sent, response = m["sent_at"][agent], m["response_time"][agent]
    order = np.argsort(sent, kind="stable")
    sent, response = sent[order], response[order]
    began = np.maximum(sent - response, np.concatenate(([0.0], sent[:-1])))
    counted = (sent >= start) & (sent < stop)
    return {"response_time_mean": float(response[counted].mean()),
            "utilisation": _overlap(began, sent, start, stop) / (stop - start)}


def run(size: str = "quick", replications: int | None = None, workers: int = 1,
        cases: tuple[Case, ...] = CASES, progress: bool = False) -> pd.DataFrame:
    """The validation table: a row per case, window and metric, with exact, mean, CI, z, passed."""
    default_replications, arrivals = SIZES[size]
    replications = replications or default_replications
    cases = tuple(case for case in cases if size == "full" or not case.full_only)
    jobs = [Replication(case, arrivals, seed) for case in cases for seed in range(1, replications + 1)]
    with Executor(workers, progress=progress, description="validate") as executor:
        results = executor.map(_replicate, jobs)
    rows = []
    for index, case in enumerate(cases):
        per_replication = results[index * replications:(index + 1) * replications]
        loads = case.loads or (case.load,)
        for w, load in enumerate(loads):
            label = case.name if len(loads) == 1 else f"{case.name}, interval {w + 1} (load {load:g})"
            for metric, value in exact(case, load).items():
                rows.append(_row(label, metric, value, [r[w][metric] for r in per_replication]))
    return pd.DataFrame(rows)


def _row(case: str, metric: str, value: float, samples: list[float]) -> dict[str, object]:
    n = len(samples)
    mean = statistics.fmean(samples)
    se = statistics.stdev(samples) / math.sqrt(n) if n > 1 else math.nan
    half = stats.t.ppf(0.975, n - 1) * se if n > 1 else math.nan
    z = (mean - value) / se if se > 0 else (0.0 if mean == value else math.inf)
    return {"case": case, "metric": metric, "exact": value, "simulated": mean, "ci95": half, "z": z,
            "passed": abs(z) <= Z_LIMIT}


def format_table(table: pd.DataFrame) -> Iterator[str]:
    yield f"{'case':<40} {'metric':<20} {'exact':>11} {'simulated ± 95% CI':>26} {'z':>7}  result"
    for row in table.itertuples():
        simulated = f"{row.simulated:.5g} ± {row.ci95:.2g}"
        yield (f"{row.case:<40} {row.metric:<20} {row.exact:>11.5g} {simulated:>26} {row.z:>7.2f}  "
               f"{'pass' if row.passed else 'FAIL'}")
