"""Handling: what happens between an agent's assignment and the close, in one of two modes.

The lumped mode (the default, and the fast path): the agent's first message after a delay, then one
handle time stretched by the agent's concurrent load (``× (1 + slowdown × (open − 1))``); a contact who
goes silent after the first message is auto-closed unless a reply comes first.

The message-level mode: the conversation is a sequence of turns — the contact's message, the agent's
reply (a reply time drawn per message), the contact's answer after a think time — until the conversation's
number of exchanges is reached and the agent closes it, or the contact goes silent (auto-close). An
agent writes one reply at a time; the replies its open chats await queue for its attention, first come
first served, so its response time grows with its load because of the model itself.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.engine import events as ev
from sim.engine.entities import ANSWERING, CLOSED, INF, SILENT, WORKING, ChatAgent, Conversation
from sim.engine.records import AGENT, CONTACT, MessageLog, Sink
from sim.model.distributions import Constant
from sim.model.scenario import Counts, Scenario
from sim.model.streams import KEPT, Draws, Fixed, Streams

if TYPE_CHECKING:
    from sim.engine.world import World

NAN = float("nan")
ROOT_BITS, TURN_BITS = 8, 4  # a block of turn draws: 256 conversations x 16 turns
TURNS = 1 << TURN_BITS


class TurnDraws:
    """Lazily drawn variates of one purpose for each turn of each conversation: ``at(conversation, turn)``.

    Common random numbers, as :class:`sim.model.streams.Draws` for a conversation: the variate of a turn
    is a pure function of (seed, purpose, the conversation's opening message and generation, turn),
    drawn in blocks of 256 conversations x 16 turns; the oldest blocks are dropped past ``KEPT``."""

    __slots__ = ("_blocks", "_key", "_sampler", "_streams")

    def __init__(self, streams: Streams, dist: Any, *key: str | int) -> None:
        self._streams = streams
        self._sampler = dist.sample
        self._key = key
        self._blocks: dict[tuple[int, int, int], array] = {}

    def at(self, conversation: Conversation, turn: int) -> float:
        root = conversation.root
        key = (conversation.generation, root >> ROOT_BITS, turn >> TURN_BITS)
        block = self._blocks.get(key)
        if block is None:
            block = self._draw(key)
        return block[((root & ((1 << ROOT_BITS) - 1)) << TURN_BITS) | (turn & ((1 << TURN_BITS) - 1))]

    def row(self, conversation: Conversation) -> array:
        """The conversation's variates of its first ``TURNS`` turns (0, 1 …)."""
        root = conversation.root
        key = (conversation.generation, root >> ROOT_BITS, 0)
        block = self._blocks.get(key)
        if block is None:
            block = self._draw(key)
        start = (root & ((1 << ROOT_BITS) - 1)) << TURN_BITS
        return block[start:start + TURNS]

    def _draw(self, key: tuple[int, int, int]) -> array:
        blocks = self._blocks
        if len(blocks) >= KEPT:
            del blocks[next(iter(blocks))]
        rng = self._streams.generator(*self._key, *key)
        block = blocks[key] = array("d", self._sampler(rng, 1 << (ROOT_BITS + TURN_BITS)).astype(float).tobytes())
        return block


class MessageDraws:
    """What message-level handling draws: per turn, the agent's reply time and the contact's think time;
    per conversation, its number of exchanges (agent replies; INF: never-ending) and the reply after which
    its contact goes silent (INF: never)."""

    __slots__ = ("exchanges", "reply", "silent_at", "think")

    def __init__(self, scenario: Scenario, streams: Streams) -> None:
        spec = scenario.handling.messages
        assert spec is not None, "message-level handling without its messages section"
        self.reply = TurnDraws(streams, spec.reply_time, "reply_time")
        self.think = TurnDraws(streams, spec.think_time, "think_time")
        exchanges = spec.exchanges
        if isinstance(exchanges, Constant):
            self.exchanges: Draws | Fixed = Fixed(float(max(1, round(exchanges.value))))
        elif isinstance(exchanges, Counts):
            counts, shares = np.array(list(exchanges.shares), dtype=float), np.array(list(exchanges.shares.values()))
            self.exchanges = streams.draws(lambda rng, n: rng.choice(counts, size=n, p=shares), "exchanges")
        elif exchanges is not None:
            self.exchanges = streams.draws(lambda rng, n: np.maximum(1.0, np.rint(exchanges.sample(rng, n))),
                                           "exchanges")
        else:
            p = spec.resolve_probability
            self.exchanges = Fixed(INF) if p == 0 else streams.draws(
                lambda rng, n: rng.geometric(p, n).astype(float), "exchanges")
        q = spec.silent_probability
        self.silent_at: Draws | Fixed = Fixed(INF) if q == 0 else streams.draws(
            lambda rng, n: rng.geometric(q, n).astype(float), "silent_at")


class Lumped:
    """The lumped handling of one world's conversations."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.env = world.env
        self.after = world.after
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
            self.after(delay, self.first_response, conversation)
        else:
            self.first_response(conversation)

    def first_response(self, conversation: Conversation) -> None:
        world = self.world
        conversation.first_response_at = self.env.now
        world.log(ev.FIRST_RESPONSE, conversation)
        if self.silent is not None and self.silent.of(conversation) < self.silent_share:
            conversation.phase = SILENT
            conversation.token += 1
            world.log(ev.CONTACT_SILENT, conversation)
            self.after(self.auto_close_after, self.auto_close, conversation)
        else:
            self.work(conversation)

    def work(self, conversation: Conversation) -> None:
        """The agent handles the conversation: its handle time, stretched by the agent's load."""
        agent = conversation.agent
        conversation.phase = WORKING
        conversation.token += 1
        conversation.work_started = self.env.now
        conversation.stretch = stretch = (1.0 + self.slowdown * (agent.open - 1)) / agent.speed
        work = conversation.team.handle_time.of(conversation) - conversation.work_done
        self.after(work * stretch, self.resolve, conversation)

    def reply(self, conversation: Conversation) -> None:
        """The contact wrote: a silent contact's reply cancels the auto-close."""
        if conversation.phase == SILENT:
            self.work(conversation)

    def interrupt(self, conversation: Conversation) -> None:
        """The agent leaves mid-way (a handback): the work done so far is kept for the next agent."""
        if conversation.phase == WORKING:
            conversation.work_done += (self.env.now - conversation.work_started) / conversation.stretch

    def resolve(self, conversation: Conversation) -> None:
        self.world.close(conversation, ev.RESOLVED)

    def auto_close(self, conversation: Conversation) -> None:
        self.world.close(conversation, ev.AUTO_CLOSED)


class Messages:
    """The message-level handling of one world's conversations; its messages go to ``log``.

    The hot path (a dozen messages a conversation) keeps to few calls: a conversation's first 16 turns'
    reply and think times are fetched once, a timer carries its conversation as the timeout's value to a
    bound method, and a message is seven values added to the log's flat list."""

    def __init__(self, world: World, sink: Sink | None = None) -> None:
        self.world = world
        self.env = world.env
        draws = world.compiled.messages
        assert draws is not None, "message-level handling compiled without its draws"
        self.reply_time, self.think_time = draws.reply, draws.think
        self.exchanges, self.silent_at = draws.exchanges, draws.silent_at
        self.silent = world.compiled.silent  # contacts.silent_share: silent after the agent's first reply
        self.silent_share = world.scenario.contacts.silent_share
        self.auto_close_after = world.scenario.handling.auto_close
        self.log = MessageLog(sink)
        self.rows = self.log.rows
        self.timeout = world.env.timeout

    def answer(self, conversation: Conversation) -> None:
        """The conversation is assigned (again, after a handback): the contact's message that awaits a
        reply goes to the agent's inbox (once the agent is online, for the first reply)."""
        conversation.token += 1
        if conversation.exchanges < 0:
            self._begin(conversation)
        if conversation.silent:
            conversation.phase = SILENT
            self.world.after(self.auto_close_after, self.auto_close, conversation)
            return
        if conversation.awaiting != conversation.awaiting:  # the contact is writing its answer
            conversation.phase = WORKING
            return
        agent = conversation.agent
        if conversation.first_response_at != conversation.first_response_at:
            conversation.phase = ANSWERING
            if not agent.online:
                token = conversation.token
                agent.comes_online.callbacks.append(
                    lambda _e: self.answer(conversation) if conversation.token == token else None)
                return
        else:
            conversation.phase = WORKING
        if agent.writing is None:
            self._write(agent, conversation, self.env.now)
        else:
            agent.inbox.append(conversation)

    def _begin(self, conversation: Conversation) -> None:
        """First assignment: the conversation's exchanges, silence and first turns' times are drawn; a
        contact's opening message is its first turn's (the business writes first in one it opened)."""
        conversation.exchanges = self.exchanges.of(conversation)
        silent_at = self.silent_at.of(conversation)
        if self.silent is not None and self.silent.of(conversation) < self.silent_share:
            silent_at = 1.0
        conversation.silent_at = silent_at
        conversation.replies = self.reply_time.row(conversation)
        conversation.thinks = self.think_time.row(conversation)
        if conversation.source == ev.CONTACT:
            conversation.awaiting = conversation.opened_at
            self._row(conversation.id, 1, CONTACT, -1, conversation.opened_at, NAN, False)
        else:
            conversation.awaiting = self.env.now

    def _row(self, *values: Any) -> None:
        rows = self.rows
        rows += values
        if len(rows) >= self.log.full:
            self.log.flush()

    def _write(self, agent: ChatAgent, conversation: Conversation, now: float) -> None:
        """The agent's attention goes to its reply to the conversation, from ``now``."""
        agent.writing = conversation
        agent.writing_since = now
        turn = conversation.turn
        delay = conversation.replies[turn] if turn < TURNS else self.reply_time.at(conversation, turn)
        self.timeout(delay / agent.speed, (conversation, conversation.token)).callbacks.append(self._sent)

    def _sent(self, event: Any) -> None:
        """The agent's reply is sent (unless the conversation was handed back meanwhile): its attention
        turns to the next reply awaited; the conversation is resolved, or its contact goes silent, or
        thinks and answers."""
        conversation, token = event._value
        if conversation.token != token:
            return
        agent = conversation.agent
        now = self.env.now
        turn = conversation.turn = conversation.turn + 1
        response = now - conversation.awaiting
        conversation.awaiting = NAN
        if turn == 1 and conversation.source != ev.CONTACT:
            response = NAN  # the business's opening message answers nothing
        elif not response <= conversation.response_time_max:  # NaN: the first
            conversation.response_time_max = response
        agent.writing_time += now - agent.writing_since
        closes = turn >= conversation.exchanges
        rows = self.rows
        rows += (conversation.id, turn, AGENT, agent.index, now, response, closes)
        if len(rows) >= self.log.full:
            self.log.flush()
        if conversation.first_response_at != conversation.first_response_at:
            conversation.first_response_at = now
            self.world.log(ev.FIRST_RESPONSE, conversation)
        agent.writing = None
        if agent.inbox:  # first come, first served
            self._write(agent, agent.inbox.popleft(), now)
        if closes:
            self.world.close(conversation, ev.RESOLVED)
        elif turn >= conversation.silent_at:
            conversation.phase = SILENT
            conversation.silent = True
            conversation.token += 1
            self.world.log(ev.CONTACT_SILENT, conversation)
            self.world.after(self.auto_close_after, self.auto_close, conversation)
        else:
            conversation.phase = WORKING
            think = conversation.thinks[turn] if turn < TURNS else self.think_time.at(conversation, turn)
            self.timeout(think, (conversation, turn)).callbacks.append(self._thought)

    def _thought(self, event: Any) -> None:
        """The contact has answered (unless the turn is over meanwhile)."""
        conversation, turn = event._value
        if conversation.turn == turn and conversation.phase != CLOSED:
            self._contact_writes(conversation)

    def _contact_writes(self, conversation: Conversation) -> None:
        """The contact's message: it awaits the agent's reply (if handed back, the next agent's)."""
        now = self.env.now
        conversation.awaiting = now
        rows = self.rows
        rows += (conversation.id, conversation.turn + 1, CONTACT, -1, now, NAN, False)
        if len(rows) >= self.log.full:
            self.log.flush()
        agent = conversation.agent
        if agent is not None:
            if agent.writing is None:
                self._write(agent, conversation, now)
            else:
                agent.inbox.append(conversation)

    def reply(self, conversation: Conversation) -> None:
        """The contact wrote outside the turns (a message of the trace): a silent contact's message
        cancels the auto-close and awaits a reply; any other joins the turn under way."""
        if not conversation.silent:
            return
        conversation.silent = False
        if conversation.agent is not None:
            conversation.token += 1  # cancels the auto-close
            conversation.phase = WORKING
        self._contact_writes(conversation)

    def interrupt(self, conversation: Conversation) -> None:
        """The agent leaves mid-way (a handback): the reply it was writing, or that waited for it, is
        left for the next agent (the contact's message still awaits one)."""
        agent = conversation.agent
        if agent.writing is conversation:
            agent.writing_time += self.env.now - agent.writing_since
            agent.writing = None
            if agent.inbox:
                self._write(agent, agent.inbox.popleft(), self.env.now)
        elif conversation in agent.inbox:
            agent.inbox.remove(conversation)

    def auto_close(self, conversation: Conversation) -> None:
        self.world.close(conversation, ev.AUTO_CLOSED)
