"""Longest idle: the agent whose last change of load (or coming online) is the oldest."""

from __future__ import annotations

from collections.abc import Collection

from strategies.base import AgentView, ConversationView, Strategy


class LongestIdle(Strategy):
    """Longest-idle round-robin, as some platforms offer it."""

    name = "longest_idle"

    def choose(
        self, conversation: ConversationView, candidates: Collection[AgentView], now: float
    ) -> AgentView | None:
        return min(candidates, key=lambda agent: (agent.idle_since, agent.rank), default=None)
