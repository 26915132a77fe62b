"""Least busy: fewest open conversations, ties to the agent idle the longest."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from strategies import base
from strategies.registry import register

if TYPE_CHECKING:
    from sim.engine.world import Agent, Conversation


@register("least_busy")
class LeastBusy(base.Strategy):
    """The platform's "least open contacts" rule."""

    def choose(
        self, conversation: Conversation, candidates: Collection[Agent], now: float
    ) -> Agent | None:
        return base.least_busy(candidates)
