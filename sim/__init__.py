"""convsim: a discrete-event simulation lab for inbound customer conversations.

    >>> import sim
    >>> result = sim.run("scenarios/default.yaml", strategy=["round_robin", "least_busy"])
    >>> result.kpis()
"""

from sim.analysis.result import Result, tables
from sim.errors import ConvsimError, ScenarioError, StrategyError, TraceError
from sim.experiments.runner import run, simulate
from sim.model.scenario import Scenario, load, parse

__all__ = ["ConvsimError", "Result", "Scenario", "ScenarioError", "StrategyError", "TraceError", "load",
           "parse", "run", "simulate", "tables"]
