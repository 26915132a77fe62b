"""Least open contacts below a cap: respond.io's Assign To with "only users with fewer than N open"."""

from __future__ import annotations

from collections.abc import Collection

from strategies.base import AgentView, ConversationView, Strategy, least_busy


class LeastOpenBelowCap(Strategy):
    """Fewest open conversations among the agents below a cap of open ones (respond.io's Assign To).

    Ties go to the longest idle; nobody below ``cap`` leaves the conversation waiting."""

    name = "least_open_below_cap"

    def __init__(self, cap: int = 3) -> None:
        if cap < 1:
            raise ValueError(f"cap must be at least 1, got {cap}")
        self.cap = cap

    def choose(self, conversation: ConversationView, candidates: Collection[AgentView],
               now: float) -> AgentView | None:
        return least_busy([agent for agent in candidates if agent.open < self.cap])
