"""Random: any candidate, uniformly, from the strategy's own random stream."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from strategies.base import Strategy
from strategies.registry import register

if TYPE_CHECKING:
    from sim.engine.world import Agent, Conversation


@register("random")
class RandomChoice(Strategy):
    """A baseline that ignores load and skills."""

    def choose(
        self, conversation: Conversation, candidates: Collection[Agent], now: float
    ) -> Agent | None:
        if not candidates:
            return None
        pool = sorted(candidates, key=lambda agent: agent.rank)
        return pool[int(self.rng.integers(len(pool)))]
