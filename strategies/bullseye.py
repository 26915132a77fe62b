"""Bullseye: rings of widening agent pools, each opening after a wait."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sim.units import Seconds
from strategies.base import AgentView, ConversationView, Strategy, least_busy


class Bullseye(Strategy):
    """Rings of widening agent pools, each opening after a wait (Genesys' bullseye routing).

    The conversation's teams are the rings, innermost first (an assign step's ``team: [a, b, c]``); ring
    k+1 opens when the wait reaches ``after[k]`` (one value: every outer ring at once), or at once when
    ``when_busy`` and no agent of the open rings is free. The innermost open ring with a candidate
    serves, least busy first."""

    name = "bullseye"

    def __init__(self, after: Seconds | Sequence[Seconds] = 60.0, when_busy: bool = False) -> None:
        self.after = tuple(after) if isinstance(after, Sequence) else (after,)
        if any(b < a for a, b in zip(self.after, self.after[1:], strict=False)) or min(self.after) < 0:
            raise ValueError(f"after: ring opening waits must be >= 0 and in order, got {list(self.after)}")
        self.when_busy = when_busy
        self.wake_after = tuple(sorted(set(self.after) - {0.0})) or None

    def open_rings(self, waited: float) -> int:
        """How many rings are open after a wait of ``waited`` seconds."""
        return 1 + sum(1 for opening in self.after if waited >= opening)

    def choose(self, conversation: ConversationView, candidates: Collection[AgentView],
               now: float) -> AgentView | None:
        rings = conversation.teams
        by_ring: dict[int, list[AgentView]] = {}
        for agent in candidates:  # an agent's ring: the innermost ring whose team it serves
            ring = next((k for k, team in enumerate(rings) if team in agent.teams), len(rings))
            by_ring.setdefault(ring, []).append(agent)
        reach = self.open_rings(now - conversation.queued_at)
        for ring in sorted(by_ring):
            if ring < reach or self.when_busy:
                return least_busy(by_ring[ring])
        return None
