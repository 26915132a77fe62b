"""The strategy protocol every assignment strategy follows."""

from __future__ import annotations

import inspect
from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.engine.world import Agent, Conversation


class Strategy:
    """Base class: subclasses set their parameters in ``__init__`` and implement :meth:`choose`.

    ``wake_after`` (seconds or None) asks the world to re-run dispatch for a conversation that has
    waited that long, for strategies whose choice changes with the wait (skill relaxation).
    """

    name: str = ""
    wake_after: float | None = None
    rng: np.random.Generator

    def prepare(self, rng: np.random.Generator) -> None:
        """Called once before a run with the strategy's own random stream."""
        self.rng = rng

    def choose(
        self, conversation: Conversation, candidates: Collection[Agent], now: float
    ) -> Agent | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        shown = ", ".join(f"{p}={getattr(self, p)!r}" for p in params if p != "self" and hasattr(self, p))
        return f"{type(self).__name__}({shown})"


def least_busy(candidates: Collection[Agent]) -> Agent | None:
    """The candidate with the fewest open conversations, ties to the one idle the longest."""
    best = None
    for agent in candidates:
        if best is None or (agent.open, agent.idle_since) < (best.open, best.idle_since):
            best = agent
    return best
