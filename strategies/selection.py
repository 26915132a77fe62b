"""Conversation selection: which waiting conversation an agent with a free slot takes first.

``oldest_first`` (the default): the agent's own team's queue first, then the other queues it serves in
its order of preference, each oldest first. ``longest_waiting``: the longest-waiting conversation across
every queue it serves. ``priority``: by a contact field's level, a level gained per minute waited so that
nobody waits forever, then the longest waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import chain

from sim.units import Seconds
from strategies.base import ConversationView, Selection


class OldestFirst(Selection):
    """Queue by queue in the agent's order of preference, oldest first (handed-back conversations ahead)."""

    name = "oldest_first"
    in_queue_order = True

    def order(self, queues: Sequence[Iterable[ConversationView]], now: float) -> Iterable[ConversationView]:
        return chain.from_iterable(queues)


class LongestWaiting(Selection):
    """The longest-waiting conversation across every queue the agent serves (ContactCenters' rule)."""

    name = "longest_waiting"

    def order(self, queues: Sequence[Iterable[ConversationView]], now: float) -> Iterable[ConversationView]:
        return sorted(chain.from_iterable(queues), key=lambda conversation: conversation.queued_at)


class Priority(Selection):
    """Highest priority first by a contact field, aging with the wait so that nobody waits forever.

    A conversation's priority is the level of its contact field ``field`` (``levels``: value → level;
    others 0) plus ``aging`` levels per ``per`` waited; the highest goes first, ties to the longest
    waiting. A lower level overtakes a higher one that arrived more than (gap / aging) × per after it;
    ``aging: 0`` is strict non-preemptive priority classes."""

    name = "priority"

    def __init__(self, field: str, levels: Mapping[str, float], aging: float = 0.0, per: Seconds = 60.0) -> None:
        if aging < 0 or per <= 0:
            raise ValueError(f"aging must be >= 0 and per > 0, got aging={aging}, per={per}")
        self.field = field
        self.levels = dict(levels)
        self.aging = aging
        self.per = per

    def level(self, conversation: ConversationView, now: float) -> float:
        base = self.levels.get(conversation.fields.get(self.field, ""), 0.0)
        return base + self.aging * (now - conversation.queued_at) / self.per

    def order(self, queues: Sequence[Iterable[ConversationView]], now: float) -> Iterable[ConversationView]:
        return sorted(chain.from_iterable(queues), key=lambda c: (-self.level(c, now), c.queued_at))
