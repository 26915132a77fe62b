"""The front doors of the Python API that ``convsim`` goes through too: :func:`compare`, :func:`staff` and
:func:`schedule` take what the command line takes — a scenario's path or shipped name, strategies as
names or comma lists, targets as text (``"service_level>=80%@60s"``), durations (``"30m"``) and shares
(``"30%"``) — parsed by :mod:`sim.experiments.options`, the command line's parser too.

    >>> study = sim.staff("default", targets=["service_level>=80%@60s"], interval="30m", shrinkage="30%")
    >>> print(study.answer())
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.analysis.comparison import Comparison
from sim.errors import ConvsimError
from sim.experiments import options, staffing
from sim.experiments import replications as experiment
from sim.experiments import schedule as rostering
from sim.experiments.staffing import Planning, Target
from sim.io.results import Schedule, Staffing
from sim.model.scenario import Scenario

Strategies = str | Sequence[str] | None


def compare(scenario: Scenario | str | Path, strategy: Strategies, replications: int = 30,
            folder: str | Path | None = None, workers: int | None = None, progress: bool = False,
            scheduler: str | None = None, level: float = 0.95) -> Comparison:
    """Every ``strategy`` (names, or comma lists; the first is the baseline) on the same ``replications``
    days (common random numbers), compared: ``.summary()`` is the KPI table with confidence intervals and
    paired differences, ``.answer()`` which strategy to run. With a ``folder``, finished runs are kept
    there and an interrupted comparison resumes; runs go to ``workers`` processes (default: all cores) or
    to a Dask ``scheduler``."""
    found = options.scenario(scenario)
    names = options.strategies(strategy)
    if not names:
        raise ConvsimError("compare: name the strategies to compare, e.g. 'round_robin,least_busy' (the first is "
                           "the baseline)")
    table = experiment.replicate(found, names, replications, folder, workers, progress, scheduler=scheduler,
                                 phase=f"{len(names)} strategies x {replications} days")
    return Comparison(table, names[0], level)


def staff(scenario: Scenario | str | Path, targets: str | Target | Sequence[str | Target], strategy: Strategies = None,
          interval: float | str | None = None, replications: int = 20, confidence: float = 0.9, *,
          shrinkage: float | str = 0.0, max_occupancy: float | str | None = None, cost: Any = None,
          fte_hours: float = 40.0, days_per_week: int = 7, planning: Planning | None = None, workers: int | None = 1,
          progress: bool = False, scheduler: str | None = None) -> Staffing:
    """The agents each team needs per interval (``"30m"``; default: the scenario's) to meet every target
    (``"service_level>=80%@60s"``, ``"abandonment_rate<=5%"``), found by simulation beside Erlang C and A
    and the scenario's plan (:func:`sim.experiments.staffing.requirement`), with ``shrinkage`` ("30%"), an
    occupancy cap, ``cost`` per agent-hour (25, ``"support-es=28"``, a list or a mapping) and FTE.
    ``.answer()`` says whether the plan covers it, ``.summary()`` the whole day's KPIs."""
    found, goals, name, width, plan = _study(scenario, targets, strategy, interval, shrinkage, max_occupancy, cost,
                                             fte_hours, days_per_week, planning)
    return staffing.requirement(found, goals, name, width, replications, confidence, workers, progress, scheduler,
                                plan)


def schedule(scenario: Scenario | str | Path, targets: str | Target | Sequence[str | Target],
             shift_templates: str | Path | list[Any], strategy: Strategies = None, interval: float | str | None = None,
             replications: int = 20, confidence: float = 0.9, planning: Planning | None = None, repairs: int = 4,
             workers: int | None = 1, progress: bool = False, scheduler: str | None = None, *,
             shrinkage: float | str = 0.0, max_occupancy: float | str | None = None, cost: Any = None,
             fte_hours: float = 40.0, days_per_week: int = 7) -> Schedule:
    """The requirement of :func:`staff`, then a roster of ``shift_templates`` (a YAML file or a list) that
    covers it at least cost, simulated and repaired until the targets hold
    (:func:`sim.experiments.schedule.schedule`). ``.answer()`` adds the roster's shifts, FTE and cost."""
    found, goals, name, width, plan = _study(scenario, targets, strategy, interval, shrinkage, max_occupancy, cost,
                                             fte_hours, days_per_week, planning)
    return rostering.schedule(found, goals, shift_templates, name, width, replications, confidence, plan, repairs,
                              workers, progress, scheduler)


def _study(scenario: Scenario | str | Path, targets: Any, strategy: Strategies, interval: float | str | None,
           shrinkage: float | str, max_occupancy: float | str | None, cost: Any, fte_hours: float,
           days_per_week: int, planning: Planning | None
           ) -> tuple[Scenario, tuple[Target, ...], str | None, float | None, Planning]:
    """What staff and schedule share, each checked before anything runs: targets, scenario, strategy,
    interval and the planning settings (``planning`` itself, or made from the rest)."""
    goals = options.targets(targets)
    found = options.scenario(scenario)
    name = options.strategy(strategy)
    width = options.interval(interval, found)
    if planning is None:
        planning = options.planning(found, shrinkage, max_occupancy, cost, fte_hours, days_per_week)
    elif (shrinkage, max_occupancy, cost, fte_hours, days_per_week) != (0.0, None, None, 40.0, 7):
        raise ConvsimError("give either planning or shrinkage, max_occupancy, cost, fte_hours and days_per_week")
    return found, goals, name, width, planning
