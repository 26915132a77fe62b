"""Round-robin: the next agent in the team's rotation that is online with a free slot."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from strategies.base import Strategy
from strategies.registry import register

if TYPE_CHECKING:
    from sim.engine.world import Agent, Conversation, Team


@register("round_robin")
class RoundRobin(Strategy):
    """Rotate through each team's roster; skip agents that cannot take the conversation now."""

    def __init__(self) -> None:
        self._last: dict[Team, int] = {}

    def choose(
        self, conversation: Conversation, candidates: Collection[Agent], now: float
    ) -> Agent | None:
        last = self._last.get(conversation.team, -1)
        after = first = None
        for agent in candidates:
            rank = agent.rank
            if rank > last:
                if after is None or rank < after.rank:
                    after = agent
            elif first is None or rank < first.rank:
                first = agent
        chosen = after or first
        if chosen is not None:
            self._last[conversation.team] = chosen.rank
        return chosen
