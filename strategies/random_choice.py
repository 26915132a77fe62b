"""Random: any candidate, uniformly, from the strategy's own random stream."""

from __future__ import annotations

from collections.abc import Collection

from strategies.base import AgentView, ConversationView, Strategy


class RandomChoice(Strategy):
    """A baseline that ignores load and skills."""

    name = "random"

    def choose(
        self, conversation: ConversationView, candidates: Collection[AgentView], now: float
    ) -> AgentView | None:
        if not candidates:
            return None
        pool = sorted(candidates, key=lambda agent: agent.rank)
        return pool[int(self.rng.integers(len(pool)))]
