"""Sticky: the contact's last agent when that agent can take it, else least busy."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from strategies import base
from strategies.registry import register

if TYPE_CHECKING:
    from sim.engine.world import Agent, Conversation


@register("sticky")
class Sticky(base.Strategy):
    """Returning contacts go back to the agent who helped them before."""

    def choose(
        self, conversation: Conversation, candidates: Collection[Agent], now: float
    ) -> Agent | None:
        last = conversation.previous_agent
        if last is not None and last in candidates:
            return last
        return base.least_busy(candidates)
