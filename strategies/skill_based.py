"""Skill-based: agents holding every required skill, best level first, relaxing after a wait."""

from __future__ import annotations

from collections.abc import Collection

from sim.units import Seconds
from strategies.base import AgentView, ConversationView, Strategy, least_busy


class SkillBased(Strategy):
    """Match the conversation's required skills; rank by the weakest required level, then load.

    ``relax_after`` (seconds, or None never to relax): once the conversation has waited that long in
    the queue, any candidate will do (least busy first).
    """

    name = "skill_based"

    def __init__(self, relax_after: Seconds | None = None) -> None:
        self.relax_after = relax_after
        self.wake_after = relax_after

    def choose(
        self, conversation: ConversationView, candidates: Collection[AgentView], now: float
    ) -> AgentView | None:
        required = conversation.required_skills
        if not required:
            return least_busy(candidates)
        best = None
        best_key = (1, 0, 0.0)  # sorts after any real key
        for agent in candidates:
            skills = agent.skills
            level = 11
            for skill in required:  # the weakest required level; absent: not a match
                held = skills.get(skill)
                if held is None:
                    break
                if held < level:
                    level = held
            else:
                key = (-level, agent.open, agent.idle_since)
                if key < best_key:
                    best, best_key = agent, key
        if best is None and self.relax_after is not None and now - conversation.queued_at >= self.relax_after:
            return least_busy(candidates)
        return best
