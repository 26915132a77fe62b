"""Least busy: fewest open conversations, ties to the agent idle the longest."""

from __future__ import annotations

from collections.abc import Collection

from strategies.base import AgentView, ConversationView, Strategy, least_busy


class LeastBusy(Strategy):
    """The platform's "least open contacts" rule."""

    name = "least_busy"

    def choose(
        self, conversation: ConversationView, candidates: Collection[AgentView], now: float
    ) -> AgentView | None:
        return least_busy(candidates)
