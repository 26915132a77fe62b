"""Sticky: the contact's last agent when that agent can take it, else least busy."""

from __future__ import annotations

from collections.abc import Collection

from strategies.base import AgentView, ConversationView, Strategy, least_busy


class Sticky(Strategy):
    """Returning contacts go back to the agent who helped them before."""

    name = "sticky"

    def choose(
        self, conversation: ConversationView, candidates: Collection[AgentView], now: float
    ) -> AgentView | None:
        last = conversation.previous_agent
        if last is not None and last in candidates:
            return last
        return least_busy(candidates)
