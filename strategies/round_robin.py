"""Round-robin: the next agent in the team's rotation that is online with a free slot."""

from __future__ import annotations

from collections.abc import Collection

from strategies.base import AgentView, ConversationView, Strategy, TeamView


class RoundRobin(Strategy):
    """Rotate through each team's roster; skip agents that cannot take the conversation now."""

    name = "round_robin"

    def __init__(self) -> None:
        self._last: dict[TeamView, int] = {}

    def choose(
        self, conversation: ConversationView, candidates: Collection[AgentView], now: float
    ) -> AgentView | None:
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
