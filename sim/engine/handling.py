"""Handling: what happens between an agent's assignment and the close, in the lumped mode — the agent's
first message after a delay, then one handle time stretched by the agent's concurrent load
(``× (1 + slowdown × (open − 1))``); a contact who goes silent after the first message is auto-closed
unless a reply comes first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.engine import events as ev
from sim.engine.entities import ANSWERING, SILENT, WORKING, Conversation

if TYPE_CHECKING:
    from sim.engine.world import World


class Lumped:
    """The lumped handling of one world's conversations."""

    def __init__(self, world: World) -> None:
        self.world = world
        handling = world.scenario.handling
        self.slowdown = handling.slowdown
        self.auto_close_after = handling.auto_close
        self.silent = world.compiled.silent
        self.silent_share = world.scenario.contacts.silent_share

    def answer(self, conversation: Conversation) -> None:
        """The assigned agent's first message comes after a delay (once the agent is online)."""
        conversation.token += 1
        if conversation.first_response_at == conversation.first_response_at:
            self.work(conversation)  # answered before a handback: the new agent carries on
            return
        conversation.phase = ANSWERING
        agent = conversation.agent
        if not agent.online:
            token = conversation.token
            agent.comes_online.callbacks.append(
                lambda _e: self.answer(conversation) if conversation.token == token else None)
            return
        delay = conversation.team.first_response.of(conversation) / agent.speed
        if delay > 0:
            self.world.after(delay, self.first_response, conversation)
        else:
            self.first_response(conversation)

    def first_response(self, conversation: Conversation) -> None:
        world = self.world
        conversation.first_response_at = world.env.now
        world.log(ev.FIRST_RESPONSE, conversation)
        if self.silent is not None and self.silent.of(conversation) < self.silent_share:
            conversation.phase = SILENT
            conversation.token += 1
            world.log(ev.CONTACT_SILENT, conversation)
            world.after(self.auto_close_after, self.auto_close, conversation)
        else:
            self.work(conversation)

    def work(self, conversation: Conversation) -> None:
        """The agent handles the conversation: its handle time, stretched by the agent's load."""
        agent = conversation.agent
        conversation.phase = WORKING
        conversation.token += 1
        conversation.work_started = self.world.env.now
        conversation.stretch = stretch = (1.0 + self.slowdown * (agent.open - 1)) / agent.speed
        work = conversation.team.handle_time.of(conversation) - conversation.work_done
        self.world.after(work * stretch, self.resolve, conversation)

    def reply(self, conversation: Conversation) -> None:
        """The contact wrote: a silent contact's reply cancels the auto-close."""
        if conversation.phase == SILENT:
            self.work(conversation)

    def interrupt(self, conversation: Conversation) -> None:
        """The agent leaves mid-way (a handback): the work done so far is kept for the next agent."""
        if conversation.phase == WORKING:
            conversation.work_done += (self.world.env.now - conversation.work_started) / conversation.stretch

    def resolve(self, conversation: Conversation) -> None:
        self.world.close(conversation, ev.RESOLVED)

    def auto_close(self, conversation: Conversation) -> None:
        self.world.close(conversation, ev.AUTO_CLOSED)
