"""Invariants checked on every run: a model bug stops the run instead of becoming a quiet wrong number.

The world calls these hooks where the state changes; each check is a comparison or two. A broken rule
raises :class:`InvariantError` naming the rule, the conversation and the simulated time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.engine import events as ev

if TYPE_CHECKING:
    from sim.engine.world import Agent, Assignment, Conversation, World


class InvariantError(RuntimeError):
    """A rule of the model was broken: a bug in the model or in a strategy, never a result."""


class Invariants:
    """The checks of one run."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.waiting = 0  # conversations in the teams' queues at the last change
        self.queue_area = 0.0  # ∫ waiting dt
        self.changed_at = 0.0
        self.delivered = 0  # inbound messages delivered (trace and returns)

    def _broken(self, rule: str, conversation: Conversation, detail: str) -> None:
        raise InvariantError(f"invariant broken: {rule}: conversation {conversation.id} "
                             f"(contact {self.world.contact_ids[conversation.contact]}) at "
                             f"t={self.world.env.now:g}: {detail}")

    def message(self) -> None:
        self.delivered += 1

    def opening(self, conversation: Conversation) -> None:
        already = self.world.open_conversation[conversation.contact]
        if already is not None:
            self._broken("one open conversation per contact", conversation,
                         f"conversation {already.id} of the same contact is still open")

    def assigning(self, conversation: Conversation, agent: Agent, assignment: Assignment) -> None:
        if agent.open >= agent.capacity:
            self._broken("capacity", conversation,
                         f"agent {agent.id} already has {agent.open} of {agent.capacity} open")
        if assignment.only_online and not agent.online:
            self._broken("only online agents", conversation, f"agent {agent.id} is offline")
        if agent.team is not conversation.team:
            self._broken("routed team", conversation, f"agent {agent.id} is in {agent.team.name}, "
                         f"the conversation in {conversation.team.name}")

    def queue_changed(self) -> None:
        """Called whenever a conversation joins or leaves a queue: integrate the real queue lengths."""
        now = self.world.env.now
        self.queue_area += self.waiting * (now - self.changed_at)
        self.changed_at = now
        self.waiting = sum(len(team.waiting) + len(team.returned) for team in self.world.teams.values())

    def closing(self, conversation: Conversation) -> None:
        if not conversation.is_open:
            self._broken("exactly one outcome", conversation,
                         f"closed again, already {ev.NAMES[conversation.outcome]} at {conversation.closed_at:g}")
        o, a, f, c = (conversation.opened_at, conversation.assigned_at, conversation.first_response_at,
                      self.world.env.now)
        if a < o or f < a or f < o or c < f or c < a or c < o:  # each False when a time is NaN (not yet)
            times = {"opened": o, "assigned": a, "first response": f, "closed": c}
            shown = ", ".join(f"{name} {t:g}" for name, t in times.items())
            self._broken("timestamps in order", conversation, f"out of order: {shown}")

    def finish(self, messages: int, outbound: int, waited: float) -> None:
        """End of run: every arrival accounted for (``messages`` in the records, ``outbound`` of them
        the business's openings), and Little's law on the queues: ∫ queue length dt equals the sum of
        the recorded waits (``waited``)."""
        self.queue_changed()
        joined_or_opened = messages - outbound
        if joined_or_opened != self.delivered:
            raise InvariantError(f"invariant broken: every arrival accounted for: {self.delivered} inbound "
                                 f"messages delivered, {joined_or_opened} opened or joined a conversation")
        if not math.isclose(self.queue_area, waited, rel_tol=1e-9, abs_tol=1e-6):
            raise InvariantError(f"invariant broken: Little's law on the queues: time-integral of the queue "
                                 f"{self.queue_area:.6g} contact-seconds, sum of the recorded waits {waited:.6g}")
