"""Longest idle: the agent whose last change of load (or coming online) is the oldest."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from strategies.base import Strategy
from strategies.registry import register

if TYPE_CHECKING:
    from sim.engine.world import Agent, Conversation


@register("longest_idle")
class LongestIdle(Strategy):
    """Longest-idle round-robin, as some platforms offer it."""

    def choose(
        self, conversation: Conversation, candidates: Collection[Agent], now: float
    ) -> Agent | None:
        return min(candidates, key=lambda agent: (agent.idle_since, agent.rank), default=None)
