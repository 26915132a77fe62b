"""Invariants checked on every run: a model bug stops the run instead of becoming a quiet wrong number.

An observer: :meth:`Invariants.watch` wraps the world's state changes (a message arrives, a
conversation opens, joins or leaves a queue, is assigned, closes; the run ends) with checks of a
comparison or two. A world run without checks has no observer at all, so the dynamics carry no guards.
A broken rule raises :class:`InvariantError` naming the rule, the conversation and the simulated time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.engine import events as ev
from sim.engine.entities import fits, taken

if TYPE_CHECKING:
    from sim.engine.entities import Agent, Conversation
    from sim.engine.world import World


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
        self.asked = self.answered = self.replies = 0  # message-level handling: contact messages, replies

    @classmethod
    def watch(cls, world: World) -> Invariants:
        """Checks attached to ``world``'s state changes."""
        checks = cls(world)
        checks._around("message", before=lambda *_: checks.message())
        checks._around("_open", before=checks.opening)
        checks._around("_queue", after=checks.queue_changed)
        checks._around("_leave_queue", after=checks.queue_changed)
        checks._around("_assign", before=checks.assigning)
        checks._around("close", before=checks.closing)
        checks._around("close", before=checks.finite_times)
        checks._around("run", after=checks.finish)
        if world.scenario.handling.mode == "messages":
            handling = world.handling
            checks._around("_begin", before=checks.beginning, target=handling)
            checks._around("_write", before=checks.writing, target=handling)
            checks._around("_sent", before=checks.sending, target=handling)
            checks._around("_contact_writes", before=checks.contact_writing, target=handling)
        return checks

    def _around(self, name: str, before: Callable[..., None] | None = None,
                after: Callable[[], None] | None = None, target: Any = None) -> None:
        target = self.world if target is None else target
        method = getattr(target, name)

        @functools.wraps(method)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                before(*args)
            result = method(*args, **kwargs)
            if after is not None:
                after()
            return result

        setattr(target, name, checked)

    def _broken(self, rule: str, number: int, contact: int, detail: str) -> None:
        raise InvariantError(f"invariant broken: {rule}: conversation {number} "
                             f"(contact {self.world.contact_ids[contact]}) at t={self.world.env.now:g}: {detail}")

    def message(self) -> None:
        self.delivered += 1

    def opening(self, contact: int, *_: Any) -> None:
        already = self.world.open_conversation[contact]
        if already is not None:
            self._broken("one open conversation per contact", self.world.conversations, contact,
                         f"conversation {already.id} of the same contact is still open")

    def assigning(self, conversation: Conversation, agent: Agent) -> None:
        if self.world.weights is None and agent.open >= agent.capacity:
            self._broken("capacity", conversation.id, conversation.contact,
                         f"agent {agent.id} already has {agent.open} of {agent.capacity} open")
        if self.world.weights is not None and not fits(agent, conversation.weight):
            self._broken("capacity units", conversation.id, conversation.contact,
                         f"agent {agent.id} holds {agent.load:g} of {agent.capacity} units, the conversation takes "
                         f"{taken(agent, conversation.weight):g}")
        if conversation.assignment.only_online and not agent.online:
            self._broken("only online agents", conversation.id, conversation.contact, f"agent {agent.id} is offline")
        if not any(team in conversation.teams for team in agent.teams):
            routed = ", ".join(team.name for team in conversation.teams)
            self._broken("routed team", conversation.id, conversation.contact, f"agent {agent.id} is in "
                         f"{agent.team.name}, the conversation in {routed}")

    def queue_changed(self) -> None:
        """Called whenever a conversation joins or leaves a queue: integrate the real queue lengths."""
        now = self.world.env.now
        self.queue_area += self.waiting * (now - self.changed_at)
        self.changed_at = now
        self.waiting = sum(len(team.waiting) + len(team.returned) for team in self.world.teams.values())

    def closing(self, conversation: Conversation, *_: Any) -> None:
        if not conversation.is_open:
            self._broken("exactly one outcome", conversation.id, conversation.contact,
                         f"closed again, already {ev.NAMES[conversation.outcome]} at {conversation.closed_at:g}")
        o, a, f, c = (conversation.opened_at, conversation.assigned_at, conversation.first_response_at,
                      self.world.env.now)
        if a < o or f < a or f < o or c < f or c < a or c < o:  # each False when a time is NaN (not yet)
            times = {"opened": o, "assigned": a, "first response": f, "closed": c}
            shown = ", ".join(f"{name} {t:g}" for name, t in times.items())
            self._broken("timestamps in order", conversation.id, conversation.contact, f"out of order: {shown}")

    def finite_times(self, conversation: Conversation, *_: Any) -> None:
        """Every time of a closing conversation is a finite number (those not reached yet NaN), the
        clock too: a draw of NaN or infinity never becomes a quiet wrong number."""
        times = {"opened": conversation.opened_at, "assigned": conversation.assigned_at,
                 "first response": conversation.first_response_at, "closed": self.world.env.now}
        bad = {name: t for name, t in times.items()
               if math.isinf(t) or (math.isnan(t) and name in ("opened", "closed"))}
        if bad:
            shown = ", ".join(f"{name} {t:g}" for name, t in bad.items())
            self._broken("finite times", conversation.id, conversation.contact, f"not finite: {shown}")

    def beginning(self, conversation: Conversation) -> None:
        if conversation.source == ev.CONTACT:
            self.asked += 1  # the opening message is the first turn's

    def writing(self, agent: Agent, conversation: Conversation, *_: Any) -> None:
        """Message-level handling: an agent writes one reply at a time, to a conversation it holds."""
        if conversation.agent is not agent:
            self._broken("replies by the conversation's agent", conversation.id, conversation.contact,
                         f"agent {agent.id} writes to a conversation held by {conversation.agent!r}")
        if agent.writing is not None and agent.writing is not conversation:
            self._broken("one reply at a time", conversation.id, conversation.contact,
                         f"agent {agent.id} is still writing to conversation {agent.writing.id}")

    def sending(self, event: Any) -> None:
        """Message-level handling: a reply answers a message already sent, in the turn's order; the
        agent is never above capacity."""
        conversation, token = event._value
        if conversation.token != token:
            return  # handed back meanwhile: no reply
        self.replies += 1
        agent, now = conversation.agent, self.world.env.now
        if agent is None or agent.writing is not conversation:
            self._broken("one reply at a time", conversation.id, conversation.contact,
                         "a reply was sent that no agent was writing")
        if not conversation.awaiting <= now:  # NaN too: nothing awaited a reply
            self._broken("no reply before its message", conversation.id, conversation.contact,
                         f"turn {conversation.turn + 1}: the reply is sent at {now:g}, the message it answers "
                         f"at {conversation.awaiting:g}")
        if self.world.weights is None and agent.open > agent.capacity:
            self._broken("capacity", conversation.id, conversation.contact,
                         f"agent {agent.id} holds {agent.open} of {agent.capacity}")
        if conversation.source == ev.CONTACT or conversation.turn > 0:  # the business's opening answers none
            self.answered += 1

    def contact_writing(self, conversation: Conversation) -> None:
        """Message-level handling: the contact answers once the agent's reply to its last message is out."""
        self.asked += 1
        if conversation.awaiting == conversation.awaiting:
            self._broken("each turn's order", conversation.id, conversation.contact,
                         f"turn {conversation.turn + 1}: the contact writes again before the agent's reply to its "
                         f"message of {conversation.awaiting:g}")
        if not conversation.is_open:
            self._broken("each turn's order", conversation.id, conversation.contact,
                         "the contact writes in a closed conversation's turns")

    def finish(self) -> None:
        """End of run: every arrival accounted for (each inbound message recorded in a conversation; the
        business's openings apart), and Little's law on the queues: ∫ queue length dt equals the sum of
        the recorded waits."""
        self.queue_changed()
        log = self.world.conversation_log
        joined_or_opened = log.messages - self.world.outbound_opened
        if joined_or_opened != self.delivered:
            raise InvariantError(f"invariant broken: every arrival accounted for: {self.delivered} inbound "
                                 f"messages delivered, {joined_or_opened} opened or joined a conversation")
        if not math.isclose(self.queue_area, log.waited, rel_tol=1e-9, abs_tol=1e-6):
            raise InvariantError(f"invariant broken: Little's law on the queues: time-integral of the queue "
                                 f"{self.queue_area:.6g} contact-seconds, sum of the recorded waits {log.waited:.6g}")
        if self.world.scenario.handling.mode == "messages":
            self.messages_conserved()

    def messages_conserved(self) -> None:
        """Message-level handling at the end: every contact message of the turns is answered or still
        awaits a reply; the replies add up to the conversations' exchanges."""
        awaiting = sum(1 for c in self.world.open_conversation  # (the business's opening message is no answer)
                       if c is not None and c.awaiting == c.awaiting and (c.source == ev.CONTACT or c.turn > 0))
        if self.asked != self.answered + awaiting:
            raise InvariantError(f"invariant broken: every message answered or awaiting: {self.asked} contact "
                                 f"messages, {self.answered} answered, {awaiting} awaiting at the end")
        exchanges = self.world.conversation_log.exchanges
        if exchanges != self.replies:
            raise InvariantError(f"invariant broken: replies add up: {self.replies} agent messages sent, "
                                 f"{exchanges} exchanges over the conversations")
