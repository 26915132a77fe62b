"""convsim: a discrete-event simulation lab for inbound customer conversations.

    >>> import sim
    >>> result = sim.run("scenarios/default.yaml", strategy=["round_robin", "least_busy"])
    >>> result.kpis()
    >>> print(sim.compare("default", "round_robin,least_busy", replications=20).answer())
    >>> study = sim.staff("default", targets=["service_level>=80%@60s"], interval="30m", shrinkage="30%")
    >>> print(study.answer())

``sim.compare``, ``sim.staff`` and ``sim.schedule`` take what ``convsim compare``, ``staff`` and ``schedule``
take, in the same words (the command line calls them): a scenario's path or shipped name, strategies as
names or comma lists, targets as text, durations such as "30m" and shares such as "30%".

The API's names are imported when first used, so ``import sim`` (and ``convsim --help``) stays light.
"""

from importlib import import_module
from typing import Any

from sim.errors import ConvsimError, ScenarioError, StrategyError, TraceError

_API = {
    "Result": "sim.analysis.result", "tables": "sim.analysis.result",
    "run": "sim.experiments.runner", "simulate": "sim.experiments.runner",
    "requirement": "sim.experiments.staffing", "Planning": "sim.experiments.staffing",
    "Target": "sim.experiments.staffing",
    "compare": "sim.experiments.api", "staff": "sim.experiments.api", "schedule": "sim.experiments.api",
    "Comparison": "sim.analysis.comparison", "Staffing": "sim.io.results", "Schedule": "sim.io.results",
    "Scenario": "sim.model.scenario", "load": "sim.model.scenario", "parse": "sim.model.scenario",
}

__all__ = ["Comparison", "ConvsimError", "Planning", "Result", "Scenario", "ScenarioError", "Schedule", "Staffing",
           "StrategyError", "Target", "TraceError", "compare", "load", "parse", "requirement", "run", "schedule",
           "simulate", "staff", "tables"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
