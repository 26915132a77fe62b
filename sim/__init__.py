"""convsim: a discrete-event simulation lab for inbound customer conversations.

    >>> import sim
    >>> result = sim.run("scenarios/default.yaml", strategy=["round_robin", "least_busy"])
    >>> result.kpis()

The API's names are imported when first used, so ``import sim`` (and ``convsim --help``) stays light.
"""

from importlib import import_module
from typing import Any

from sim.errors import ConvsimError, ScenarioError, StrategyError, TraceError

_API = {
    "Result": "sim.analysis.result", "tables": "sim.analysis.result",
    "run": "sim.experiments.runner", "simulate": "sim.experiments.runner",
    "requirement": "sim.experiments.staffing", "Planning": "sim.experiments.staffing",
    "schedule": "sim.experiments.schedule",
    "Scenario": "sim.model.scenario", "load": "sim.model.scenario", "parse": "sim.model.scenario",
}

__all__ = ["ConvsimError", "Planning", "Result", "Scenario", "ScenarioError", "StrategyError", "TraceError", "load",
           "parse", "requirement", "run", "schedule", "simulate", "tables"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
