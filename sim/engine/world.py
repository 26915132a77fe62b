"""The SimPy world: a compiled run's dynamics — contacts' messages, conversations and their lifecycle,
team queues and dispatch, the agent side, shifts — and its records.

Domain rules kept here: a contact has at most one open conversation; a message opens one only when
none is open, else it joins it; only conversations the contact opened run the inbound workflow; an
agent takes at most ``capacity`` conversations at once; the agent closes the conversation, and only
then may the contact's next message open a new one.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Generator
from itertools import chain
from typing import Any

import numpy as np
import simpy

from sim.engine import events as ev
from sim.engine.compiled import CompiledRun
from sim.engine.entities import (
    CLOSED,
    EPS,
    INF,
    WAITING,
    WORKFLOW,
    Agent,
    Assignment,
    Conversation,
    Team,
)
from sim.engine.handling import Lumped, Messages
from sim.engine.headcount import Headcounts
from sim.engine.invariants import InvariantError, Invariants
from sim.engine.records import Columns, ConversationLog, EventLog, MessageConversationLog, RunInfo, RunRecords
from sim.errors import StrategyError

Process = Generator[simpy.Event, Any, Any]
PROGRESS_STEPS = 100
TRACE_BLOCK = 1 << 14


class WrongChoice(InvariantError, StrategyError):
    """A strategy chose an agent it was not offered: a broken rule of the run, and its author's error to
    report (in one line, by the command)."""


class World:
    """One compiled run in motion: :meth:`run` it, then take its :meth:`records`. With ``check`` the
    invariants watch it (:mod:`sim.engine.invariants`); ``event_sink`` takes the event log a chunk at a
    time instead of its being kept, ``message_sink`` the messages of message-level handling."""

    def __init__(self, run: CompiledRun, event_sink: Callable[[Columns, RunInfo], None] | None = None,
                 check: bool = True, message_sink: Callable[[Columns, RunInfo], None] | None = None) -> None:
        scenario = run.scenario
        self.compiled = run
        self.scenario = scenario
        self.seed = run.seed
        self.strategy_name = run.strategy_name
        self.env = simpy.Environment()
        sink = None if event_sink is None else (lambda columns: event_sink(columns, self.info))
        self.events = EventLog(self.env, sink) if scenario.record_events else None
        self.log = _ignore if self.events is None else self.events.add
        messages = scenario.handling.mode == "messages"
        self.conversation_log = (MessageConversationLog if messages else ConversationLog)(run.learnable_fields)
        self.teams = run.teams
        self.first_team = next(iter(self.teams.values()))
        self.agents = run.agents
        for agent in self.agents:
            agent.comes_online = self.env.event()  # every agent starts offline
        self.workflow = run.workflow
        self.default_strategy = run.default_strategy
        self.selection = run.selection
        self.weights = run.channel_weights  # None: a conversation takes one slot
        finite = [w for w in self.weights or () if w != INF]
        self.min_weight = min(finite, default=1.0)
        self.channels = run.channels
        self.contact_ids = run.contact_ids
        self.open_conversation: list[Conversation | None] = [None] * len(run.contact_ids)
        self.last_agent: list[Agent | None] = [None] * len(run.contact_ids)
        self.known_fields = run.known_fields
        contacts = scenario.contacts
        self.patience = run.patience
        self.returning = contacts.returning.probability if contacts.returning else 0.0
        self.return_draw, self.return_delay = run.return_draw, run.return_delay
        self.outbound_opened = 0
        self.return_times: list[float] = []
        self.conversations = 0
        self.horizon = scenario.duration  # the run's end (later when draining)
        self.handling: Lumped | Messages = Lumped(self) if not messages else Messages(
            self, None if message_sink is None else (lambda columns: message_sink(columns, self.info)))
        self.headcounts = Headcounts(self)
        self.invariants = Invariants.watch(self) if check else None
        self.at_warmup: Columns | None = None  # the agents' totals when the warm-up ends

    # ------------------------------------------------------------------------------------- running

    def run(self, progress: Callable[[float], None] | None = None) -> World:
        """Simulate to the scenario's end; ``progress`` is told the simulated time as it advances."""
        env = self.env
        for agent, intervals in zip(self.agents, self.compiled.shifts, strict=True):
            if intervals:
                env.process(self._shift_process(agent, intervals))
        for group, changes in self.compiled.groups:
            env.process(self.headcounts.process(group, changes))
        self._deliver_trace()
        trace_length = len(self.compiled.trace_time)
        for number, outbound in enumerate(self.scenario.outbound):
            timer = env.timeout(outbound.at)
            timer.callbacks.append(lambda _e, o=outbound, root=trace_length + number: self._open_outbound(o, root))
        horizon = self.scenario.duration
        if 0 < self.scenario.warmup < horizon:  # the agents' KPIs are measured from its end, as the rest
            env.timeout(self.scenario.warmup).callbacks.append(self._end_warmup)
        if progress is None:
            env.run(until=horizon)
        else:
            for step in range(1, PROGRESS_STEPS + 1):
                env.run(until=horizon * step / PROGRESS_STEPS)
                progress(env.now)
        if self.scenario.drain:  # arrivals have stopped: on until every conversation is closed
            while any(c is not None for c in self.open_conversation) and env.peek() < float("inf"):
                env.step()
            horizon = self.horizon = max(env.now, horizon)
        for agent in self.agents:
            agent.account(horizon)
            if agent.online:
                agent.online_spans.append((agent.online_since, horizon))
        for conversation in self.open_conversation:
            if conversation is not None:
                if conversation.queue is not None:  # still waiting: its wait so far
                    conversation.waited += horizon - conversation.entered_queue
                self.conversation_log.add(conversation)
        return self

    def _deliver_trace(self) -> None:
        """Deliver the trace's messages in order; each delivery schedules the next (a chain of
        timeouts costs a third of a process resumed per message). The arrays become Python lists a
        block at a time, which keeps a long trace compact."""
        env, compiled = self.env, self.compiled
        trace_time, trace_contact, trace_channel = compiled.trace_time, compiled.trace_contact, compiled.trace_channel
        n = len(trace_time)
        position = [0, -1]  # the next message; the start of the block held as lists
        block: list[list] = []

        def deliver(_event: simpy.Event) -> None:
            i, now = position[0], env.now
            while True:  # every message of this instant
                start = i - i % TRACE_BLOCK
                if start != position[1]:
                    end = start + TRACE_BLOCK
                    block[:] = [trace_time[start:end].tolist(), trace_contact[start:end].tolist(),
                                trace_channel[start:end].tolist()]
                    position[1] = start
                times, contacts, channels = block
                self.message(contacts[i - start], channels[i - start], i, 0)
                i += 1
                if i == n:
                    return
                if (times[i - start] if i - start < TRACE_BLOCK else trace_time[i]) > now:
                    break
            position[0] = i
            env.timeout(float(trace_time[i]) - now).callbacks.append(deliver)

        if n:
            env.timeout(float(trace_time[0])).callbacks.append(deliver)

    def message(self, contact: int, channel: int, root: int, generation: int) -> None:
        """An inbound message of the contact (an index): it joins the contact's open conversation,
        or opens one."""
        if generation:
            self.return_times.append(self.env.now)
        conversation = self.open_conversation[contact]
        if conversation is None:
            conversation = self._open(contact, ev.CONTACT, channel, root, generation)
            self.log(ev.WORKFLOW_STARTED, conversation)
            self.workflow.start(self, conversation)
            return
        conversation.messages += 1
        self.log(ev.MESSAGE_JOINED, conversation)
        self.handling.reply(conversation)

    def _open_outbound(self, outbound: Any, root: int) -> None:
        contact = self.compiled.contact_index[outbound.contact_id]
        conversation = self.open_conversation[contact]
        if conversation is not None:  # the business writes into the open conversation
            self.log(ev.MESSAGE_JOINED, conversation)
            return
        self.outbound_opened += 1
        conversation = self._open(contact, ev.USER, self.channels.index(outbound.channel), root, 0)
        team = self.teams[outbound.team]
        assignment = Assignment(None, self.default_strategy, patience=False, weighted=self.weights is not None)
        self.request_agent(conversation, assignment, team)

    def _open(self, contact: int, source: int, channel: int, root: int, generation: int) -> Conversation:
        conversation = Conversation(self.conversations, contact, source, self.channels[channel], channel, root,
                                    generation, self.env.now, self.last_agent[contact])
        self.conversations += 1
        if self.weights is not None:
            conversation.weight = self.weights[channel]
        self.open_conversation[contact] = conversation
        if source == ev.CONTACT:
            for field, attribute in self.known_fields:
                value = attribute.of(root)
                if value is not None:
                    conversation.fields[field] = value
        self.log(ev.CONVERSATION_OPENED, conversation)
        return conversation

    def after(self, delay: float, action: Callable[[Conversation], None], conversation: Conversation) -> None:
        """Call ``action(conversation)`` after ``delay``, unless its state has changed by then."""
        token = conversation.token

        def fire(_event: simpy.Event) -> None:
            if conversation.token == token:
                action(conversation)

        self.env.timeout(delay).callbacks.append(fire)

    # ------------------------------------------------------------------------- queue and dispatch

    def request_agent(self, conversation: Conversation, assignment: Assignment, team: Team) -> None:
        """Hand the conversation to an agent of ``team`` now if the strategy finds one, else queue it
        (the contact's patience, the step's timeout and the strategy's wake-up then run)."""
        now = self.env.now
        conversation.assignment = assignment
        conversation.team = team
        conversation.teams = assignment.teams or team.alone
        conversation.queued_at = now
        if not (team.waiting or team.returned):
            # nobody ahead in the queue: the strategy chooses among the agents free now straight away
            if assignment.plain:
                candidates = team.available
            elif any(server.available for server in team.servers):
                candidates = assignment.candidates(conversation)
            else:
                candidates = None
            agent = assignment.strategy.choose(conversation, candidates, now) if candidates else None
            if agent is not None:
                if agent not in candidates:
                    self._wrong_choice(conversation, assignment, agent)
                conversation.left_queue_at = now
                self._assign(conversation, agent)
                return
        self._queue(conversation, team.waiting)
        if conversation.agent is not None:
            return
        self.log(ev.QUEUED, conversation)
        if assignment.patience and self.patience is not None:
            patience = self.patience.of(conversation)
            if patience < float("inf"):
                self.after(patience, self._abandon, conversation)
        if assignment.timeout is not None:
            self.after(assignment.timeout, self._assign_timeout, conversation)
        wake_after = assignment.strategy.wake_after
        if wake_after is not None:
            for wait in wake_after if isinstance(wake_after, tuple) else (wake_after,):
                self.after(wait, self._wake, conversation)

    def _queue(self, conversation: Conversation, queue: dict[Conversation, None]) -> None:
        conversation.phase = WAITING
        conversation.token += 1
        conversation.queue = queue
        queue[conversation] = None
        conversation.entered_queue = self.env.now
        team = conversation.team
        if not conversation.assignment.only_online:
            team.offline_ok += 1
        self.dispatch(team)

    def _leave_queue(self, conversation: Conversation) -> None:
        now = self.env.now
        del conversation.queue[conversation]
        if not conversation.assignment.only_online:
            conversation.team.offline_ok -= 1
        conversation.queue = None
        conversation.left_queue_at = now
        conversation.waited += now - conversation.entered_queue

    def _abandon(self, conversation: Conversation) -> None:
        self._leave_queue(conversation)
        self.log(ev.ABANDONED, conversation)
        self.close(conversation, ev.ABANDONED)

    def _assign_timeout(self, conversation: Conversation) -> None:
        self._leave_queue(conversation)
        conversation.phase = WORKFLOW
        conversation.token += 1
        self.log(ev.ASSIGN_TIMEOUT, conversation)
        self.workflow.start(self, conversation, conversation.assignment.on_timeout)

    def _wake(self, conversation: Conversation) -> None:
        self.dispatch(conversation.team)

    def dispatch(self, team: Team) -> None:
        """Hand conversations waiting in ``team``'s queue to agents, for as long as the strategies agree."""
        if not team.simple:
            self._dispatch([team])
            return
        # one queue that only its own team serves, in queue order: oldest first, handed back ahead
        returned, waiting, now = team.returned, team.waiting, self.env.now
        while (waiting or returned) and (team.available or (team.offline_ok and team.free)):
            for conversation in chain(returned, waiting) if returned else waiting:
                assignment = conversation.assignment
                candidates = assignment.candidates(conversation)
                if not candidates:
                    continue
                agent = assignment.strategy.choose(conversation, candidates, now)
                if agent is not None:
                    break
            else:
                return
            if agent not in candidates:
                self._wrong_choice(conversation, assignment, agent)
            self._leave_queue(conversation)
            self._assign(conversation, agent)

    def _dispatch(self, queues: list[Team]) -> None:
        """Hand conversations waiting in ``queues`` (in an agent's order of preference) to agents, in the
        order the conversation selection policy gives, for as long as the strategies agree."""
        now = self.env.now
        selection = self.selection
        while any(q.waiting or q.returned for q in queues) and any(
                server.available or (q.offline_ok and server.free) for q in queues for server in q.servers):
            waiting = [chain(q.returned, q.waiting) for q in queues]
            ordered = chain.from_iterable(waiting) if selection.in_queue_order else selection.order(waiting, now)
            for conversation in ordered:
                assignment = conversation.assignment
                candidates = assignment.candidates(conversation)
                if not candidates:
                    continue
                agent = assignment.strategy.choose(conversation, candidates, now)
                if agent is not None:
                    break
            else:
                return
            if agent not in candidates:
                self._wrong_choice(conversation, assignment, agent)
            self._leave_queue(conversation)
            self._assign(conversation, agent)

    def offer(self, agent: Agent) -> None:
        """The agent has a free slot or came online: the queues it serves are dispatched (an offline
        agent's slot too: conversations that may go to an offline agent wait for it)."""
        queues = agent.queues
        if len(queues) > 1 or not queues[0].simple:
            self._dispatch(queues)
        elif queues[0].waiting or queues[0].returned:
            self.dispatch(queues[0])

    def _wrong_choice(self, conversation: Conversation, assignment: Assignment, agent: Agent) -> None:
        raise WrongChoice(f"conversation {conversation.id} at t={self.env.now:g}: strategy "
                          f"{assignment.strategy!r:.200} chose {agent!r:.200}, not one of the candidates")

    def _assign(self, conversation: Conversation, agent: Agent) -> None:
        now = self.env.now
        agent.account(now)
        agent.open += 1
        agent.idle_since = now
        if self.weights is None:  # one slot each
            agent.load += 1.0
            full = agent.open >= agent.capacity
        else:
            weight = conversation.weight
            agent.load += agent.capacity if weight == INF else weight
            full = self.full(agent)
        if full:
            for team in agent.teams:
                del team.free[agent]
                team.available.pop(agent, None)
        agent.conversations[conversation] = None
        conversation.agent = agent
        if conversation.assigned_at != conversation.assigned_at:
            conversation.assigned_at = now
        required = conversation.required_skills
        if required:
            conversation.skill_match = int(all(skill in agent.skills for skill in required))
        self.log(ev.ASSIGNED, conversation)
        self.handling.answer(conversation)

    def _release(self, conversation: Conversation) -> Agent:
        agent = conversation.agent
        now = self.env.now
        agent.account(now)
        if agent.open >= agent.capacity if self.weights is None else self.full(agent):
            takes = agent.online and not agent.draining
            for team in agent.teams:
                team.free[agent] = None
                if takes:
                    team.available[agent] = None
        agent.open -= 1
        weight = conversation.weight
        agent.load -= 1.0 if self.weights is None else agent.capacity if weight == INF else weight
        agent.idle_since = now
        del agent.conversations[conversation]
        return agent

    def full(self, agent: Agent) -> bool:
        """Whether the agent has no room for another conversation (in units: not even the lightest)."""
        if self.weights is None:
            return agent.open >= agent.capacity
        return agent.capacity - agent.load < self.min_weight - EPS

    def _hand_back(self, conversation: Conversation) -> None:
        """The agent's shift ended: the conversation goes back to the front of the team's queue."""
        self.handling.interrupt(conversation)
        conversation.handbacks += 1
        self._release(conversation)
        self.log(ev.HANDED_BACK, conversation)
        conversation.agent = None
        self._queue(conversation, conversation.team.returned)

    def close(self, conversation: Conversation, outcome: int, category: str = "") -> None:
        """Close the conversation: free its agent and its contact, record it, maybe the contact returns."""
        now = self.env.now
        conversation.phase = CLOSED
        conversation.token += 1
        conversation.closed_at = now
        conversation.outcome = outcome
        conversation.category = category or ev.NAMES[outcome]
        agent = conversation.agent
        if agent is not None:
            self._release(conversation)
            agent.handled += 1
            self.last_agent[conversation.contact] = agent
        self.open_conversation[conversation.contact] = None
        self.log(ev.CONVERSATION_CLOSED, conversation)
        self.conversation_log.add(conversation)
        conversation.agent = None
        if agent is not None:
            if agent.draining:
                if not agent.open:
                    self.headcounts.leave(agent)
            else:
                self.offer(agent)
        if self.returning and now < self.scenario.duration and self.return_draw.of(conversation) < self.returning:
            contact, channel = conversation.contact, conversation.channel_code
            root, generation = conversation.root, conversation.generation + 1
            self.env.timeout(self.return_delay.of(conversation)).callbacks.append(
                lambda _e: self.message(contact, channel, root, generation))

    # --------------------------------------------------------------------------------------- shifts

    def _shift_process(self, agent: Agent, intervals: list[tuple[float, float]]) -> Process:
        env = self.env
        for begin, end in intervals:
            if begin > env.now:
                yield env.timeout(begin - env.now)
            self.go_online(agent, begin)
            if end == float("inf"):
                return
            yield env.timeout(end - env.now)
            self.go_offline(agent, end)

    def go_online(self, agent: Agent, since: float | None = None) -> None:
        """The agent comes online (``since``: its shift's start as planned, for the records)."""
        now = self.env.now
        agent.account(now)
        agent.online = True
        agent.online_since = now if since is None else since
        agent.idle_since = now
        if not self.full(agent):
            for team in agent.teams:
                team.available[agent] = None
        if agent.comes_online is not None:
            agent.comes_online.succeed()
            agent.comes_online = None
        self.offer(agent)

    def go_offline(self, agent: Agent, until: float | None = None) -> None:
        """The agent goes offline (``until``: its shift's end as planned, for the records)."""
        now = self.env.now
        agent.account(now)
        agent.online = False
        agent.draining = False
        agent.online_spans.append((agent.online_since, now if until is None else until))
        for team in agent.teams:
            team.available.pop(agent, None)
        agent.comes_online = self.env.event()
        if self.scenario.on_shift_end == "handback":
            for conversation in list(agent.conversations):
                self._hand_back(conversation)

    def _end_warmup(self, _event: simpy.Event) -> None:
        """Keep every agent's totals as they stand at the warm-up's end (the run itself is untouched)."""
        now = self.env.now
        for agent in self.agents:
            agent.account(now)
        self.at_warmup = self._agent_totals(writing_until=now)

    # ------------------------------------------------------------------------------------- records

    def _agent_totals(self, writing_until: float | None = None) -> Columns:
        """The agents' totals so far: conversations handled, online, busy, busy slot and overtime seconds (and
        message-level handling's writing seconds, a reply being written counted up to ``writing_until``, and
        ``levels``: online seconds with each number of conversations open)."""
        agents = self.agents
        table = {
            "handled": np.array([a.handled for a in agents]),
            "online_time": np.array([a.online_time for a in agents]),
            "busy_time": np.array([a.busy_time for a in agents]),
            "busy_slot_time": np.array([a.busy_slot_time for a in agents]),
            "overtime": np.array([a.overtime for a in agents]),
        }
        if isinstance(self.handling, Messages):
            levels = np.zeros((len(agents), max((len(a.levels) for a in agents), default=1)))
            for row, agent in zip(levels, agents, strict=True):
                row[:len(agent.levels)] = agent.levels
            table["levels"] = levels
            table["writing_time"] = np.array([
                a.writing_time + (writing_until - a.writing_since
                                  if writing_until is not None and a.writing is not None else 0.0) for a in agents])
        return table

    @functools.cached_property
    def info(self) -> RunInfo:
        """What the run is (computed once the run is over: its end is later than the scenario's when it
        drains)."""
        info = self.compiled.info
        return info if self.horizon == info.duration else dataclasses.replace(info, duration=self.horizon)

    def records(self) -> RunRecords:
        """What the run produced, as columns: call after :meth:`run`."""
        agents = self.agents
        events = self.events
        if events is not None and events.sink is not None:
            events.flush()
        table = {
            "team": np.array([a.team.index for a in agents]),
            "capacity": np.array([a.capacity for a in agents]),
        } | self._agent_totals()
        levels = table.pop("levels", None)
        extra: dict[str, Any] = {}
        if isinstance(self.handling, Messages):  # the messages, each agent's writing and concurrency
            log = self.handling.log
            if log.sink is not None:
                log.flush()  # the last chunk
            streamed = log.sink is not None
            extra = {"messages": None if streamed else log.columns(), "concurrency": levels,
                     "replies": log.reply_columns() if streamed else None}
        at_warmup = self.at_warmup
        if at_warmup is not None and "levels" in at_warmup and levels is not None:  # padded to the run's width
            before = at_warmup["levels"]
            padded = np.zeros_like(levels)
            padded[:, :before.shape[1]] = before
            at_warmup = at_warmup | {"levels": padded}
        return RunRecords(
            info=self.info,
            conversations=self.conversation_log.columns(),
            categories=list(self.conversation_log.categories),
            events=None if events is None or events.sink is not None else events.columns(),
            agents=table,
            online=[agent.online_spans for agent in agents],
            at_warmup=at_warmup,
            arrivals=np.concatenate([np.asarray(self.compiled.trace_time), np.asarray(self.return_times)]),
            **extra,
        )


def _ignore(event: int, conversation: Conversation) -> None:
    """The event log when it is off."""
