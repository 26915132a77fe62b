"""The SimPy world: contacts, conversations and their lifecycle, agents, team queues and dispatch.

Domain rules kept here: a contact has at most one open conversation; a message opens one only when
none is open, else it joins it; only conversations the contact opened run the inbound workflow; an
agent takes at most ``capacity`` conversations at once; the agent closes the conversation, and only
then may the contact's next message open a new one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Generator
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
import simpy

from sim.engine import events as ev
from sim.engine.invariants import InvariantError, Invariants
from sim.engine.records import Columns, ConversationLog, EventLog, RunInfo, RunRecords
from sim.engine.streams import Draws, Fixed, Given, Streams, uniform
from sim.errors import ScenarioError, TraceError
from sim.model.arrivals import GIVEN
from sim.model.distributions import Constant
from sim.model.scenario import AgentSpec, Ask, Scenario
from strategies import Strategy
from strategies import registry as strategy_registry

Process = Generator[simpy.Event, Any, Any]
PROGRESS_STEPS = 100
TRACE_BLOCK = 1 << 14
# a conversation's phase: in the workflow, waiting for an agent, waiting for the agent's first
# message, waiting for a silent contact's reply, being handled, closed
WORKFLOW, WAITING, ANSWERING, SILENT, WORKING, CLOSED = range(6)


class Team:
    __slots__ = ("agents", "available", "first_response", "free", "handle_time", "index", "name",
                 "offline_ok", "returned", "waiting")

    def __init__(self, index: int, name: str, first_response: Draws | Fixed, handle_time: Draws | Fixed | Given
                 ) -> None:
        self.index = index
        self.name = name
        self.first_response = first_response
        self.handle_time = handle_time
        self.agents: list[Agent] = []
        self.free: dict[Agent, None] = {}  # agents below capacity, online or not
        self.available: dict[Agent, None] = {}  # online agents below capacity
        self.waiting: dict[Conversation, None] = {}  # the queue, oldest first
        self.returned: dict[Conversation, None] = {}  # handed back at a shift's end: served first
        self.offline_ok = 0  # queued conversations that may go to an offline agent

    def __repr__(self) -> str:
        return f"Team({self.name!r})"


class Agent:
    """An agent as strategies see it: ``id``, ``team``, ``rank`` in the team roster, ``skills``,
    ``capacity``, ``open`` conversations, ``online`` and ``idle_since`` (last change of load)."""

    __slots__ = ("busy_slot_time", "busy_time", "capacity", "changed_at", "comes_online", "conversations",
                 "handled", "id", "idle_since", "index", "online", "online_time", "open", "overtime", "rank",
                 "skills", "speed", "team")

    def __init__(self, index: int, agent_id: str, team: Team, spec: AgentSpec) -> None:
        self.index = index
        self.id = agent_id
        self.team = team
        self.rank = len(team.agents)
        self.skills = dict(spec.skills)
        self.capacity = spec.capacity
        self.speed = spec.speed
        self.open = 0
        self.online = False
        self.idle_since = 0.0
        self.handled = 0
        self.conversations: dict[Conversation, None] = {}
        self.comes_online: simpy.Event | None = None
        self.changed_at = 0.0
        self.online_time = self.busy_time = self.busy_slot_time = self.overtime = 0.0

    def account(self, now: float) -> None:
        """Add the time since the last change to the agent's online, busy and overtime totals."""
        span = now - self.changed_at
        if self.online:
            self.online_time += span
            self.busy_slot_time += self.open * span
            if self.open:
                self.busy_time += span
        elif self.open:
            self.overtime += span
        self.changed_at = now

    def __repr__(self) -> str:
        return f"Agent({self.id!r}, open={self.open}/{self.capacity}, online={self.online})"


class Assignment:
    """How one assign step (or outbound opening) hands conversations to agents."""

    __slots__ = ("max_open", "on_timeout", "only_online", "patience", "skills_from", "strategy", "team",
                 "timeout")

    def __init__(self, team: Team | None, strategy: Strategy, only_online: bool = True,
                 max_open: int | None = None, skills_from: tuple[str, ...] = (),
                 timeout: float | None = None, on_timeout: int | None = None, patience: bool = True) -> None:
        self.team = team
        self.on_timeout = on_timeout
        self.strategy = strategy
        self.only_online = only_online
        self.max_open = max_open
        self.skills_from = skills_from
        self.timeout = timeout
        self.patience = patience

    def candidates(self, team: Team) -> Collection[Agent]:
        pool = team.available if self.only_online else team.free
        if self.max_open is None:
            return pool
        return {agent: None for agent in pool if agent.open < self.max_open}


class Attribute:
    """A contact attribute of the trace: a category code per message (-1: not given)."""

    __slots__ = ("categories", "codes")

    def __init__(self, codes: np.ndarray, categories: list[str]) -> None:
        self.codes = codes
        self.categories = categories

    def of(self, message: int) -> str | None:
        """The value given with the trace's ``message``-th row, or None."""
        code = self.codes[message]
        return None if code < 0 else self.categories[code]


class Conversation:
    """One conversation, from opening to closing; strategies read ``team``, ``fields``,
    ``required_skills``, ``queued_at`` and ``previous_agent`` (who handled the contact's last one).

    ``token`` changes at every change of state, so a timer set in one state does nothing when it
    fires in another (the agent answered before the contact's patience ran out, say). Attributes most
    conversations never change are class-level defaults: one is made for every opening."""

    team: Team | None = None
    agent: Agent | None = None
    assignment: Assignment | None = None
    required_skills: tuple[str, ...] = ()
    queue: dict[Conversation, None] | None = None
    phase = WORKFLOW
    token = 0
    queued_at = left_queue_at = assigned_at = first_response_at = closed_at = float("nan")
    outcome = ev.OPEN_AT_END
    category = ""
    messages = 1
    handbacks = 0
    work_done = work_started = 0.0
    waited = 0.0  # time spent waiting for an agent, every stay in a queue
    entered_queue = float("nan")
    stretch = 1.0
    skill_match = -1  # 1 or 0 once assigned with required skills
    bot = False

    def __init__(self, number: int, contact: int, source: int, channel: int, root: int,
                 generation: int, now: float, previous_agent: Agent | None) -> None:
        self.id = number
        self.contact = contact  # the contact's index
        self.previous_agent = previous_agent
        self.source = source
        self.channel = channel
        self.root = root
        self.generation = generation
        self.opened_at = now
        self.fields: dict[str, str] = {}

    @property
    def is_open(self) -> bool:
        return self.closed_at != self.closed_at  # NaN until closed

    def __repr__(self) -> str:
        return f"Conversation({self.id}, contact={self.contact}, opened_at={self.opened_at:g})"


class World:
    """One run of a scenario under one strategy: build it, then :meth:`run` it."""

    def __init__(self, scenario: Scenario, trace: pd.DataFrame, strategy: str | None = None,
                 seed: int | None = None, event_sink: Callable[[Columns, RunInfo], None] | None = None,
                 check: bool = True) -> None:
        from sim.engine.workflow import Workflow

        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.env = simpy.Environment()
        self.streams = Streams(self.seed)
        sink = None if event_sink is None else (lambda columns: event_sink(columns, self.info))
        self.events = EventLog(self.env, sink) if scenario.record_events else None
        self.log = _ignore if self.events is None else self.events.add
        self.conversation_log = ConversationLog(self._learnable_fields())
        self.invariants = Invariants(self) if check else None
        self.outbound_opened = 0
        self.return_times: list[float] = []
        self._build_trace(trace)
        self._build_teams()
        self._strategies: dict[tuple[str, str], Strategy] = {}
        # A strategy named for the run takes the parameters the scenario gives it anywhere.
        self.strategy_name = strategy or scenario.strategy.name
        params = next((s.params for s in scenario.strategies() if s.name == self.strategy_name), {})
        self.default_strategy = self.strategy(self.strategy_name, params)
        self.workflow = Workflow(self, scenario.workflow, override=strategy is not None)
        self._check_skills()
        handling = scenario.handling
        self.slowdown = handling.slowdown
        self.auto_close = handling.auto_close
        contacts = scenario.contacts
        self.patience = self.draws(contacts.patience, "patience") if contacts.patience else None
        if "patience" in self.given:
            self.patience = Given(self.given["patience"], self.patience)
        self.silent = self.streams.draws(uniform, "silent") if contacts.silent_share else None
        self.silent_share = contacts.silent_share
        unknown = [f for f in contacts.known_fields if f not in self.attributes]
        if unknown:
            raise ScenarioError(f"{scenario.source}: contacts.known_fields: {', '.join(map(repr, unknown))} not in "
                                f"the trace, whose "
                                f"attributes are: {', '.join(self.attributes) or 'none'}")
        self.known_fields = [(f, self.attributes[f]) for f in contacts.known_fields]
        returning = contacts.returning
        self.returning = returning.probability if returning else 0.0
        if returning is not None:
            self.return_draw = self.streams.draws(uniform, "return")
            self.return_delay = self.draws(returning.delay, "return_delay")
        self.conversations = 0

    # ------------------------------------------------------------------------------------ building

    def _check_skills(self) -> None:
        """Every value a skills_from field can take must be a skill some agent holds."""
        held = {skill for agent in self.agents for skill in agent.skills}
        for i, step in enumerate(self.scenario.workflow):
            for field in getattr(step, "skills_from", ()):
                values = set(self.attributes[field].categories) if field in self.attributes else set()
                for other in self.scenario.workflow:
                    if isinstance(other, Ask) and other.field == field:
                        values |= set(other.answers)
                    values |= set(getattr(other, "fields", {}).get(field, {}))
                missing = sorted(values - held)
                if missing:
                    raise ScenarioError(f"{self.scenario.source}: workflow.{i}.skills_from: field {field!r} can be "
                                        f"{', '.join(map(repr, missing))}, a skill no agent has")

    def _learnable_fields(self) -> tuple[str, ...]:
        """Contact fields a conversation may come to know: read at opening, asked, or looked up."""
        names = list(self.scenario.contacts.known_fields)
        for step in self.scenario.workflow:
            names += [step.field] if isinstance(step, Ask) else list(getattr(step, "fields", {}))
        return tuple(dict.fromkeys(names))

    def draws(self, dist: Any, *key: str | int) -> Draws | Fixed:
        if isinstance(dist, Constant):
            return Fixed(dist.value)
        return self.streams.draws(dist.sample, *key)

    def strategy(self, name: str, params: dict[str, Any]) -> Strategy:
        """One instance per distinct strategy and parameters in a run, fresh for every run."""
        key = (name, repr(sorted(params.items())))
        if key not in self._strategies:
            strategy = strategy_registry.make(name, params)
            strategy.prepare(self.streams.generator("strategy", name))
            self._strategies[key] = strategy
        return self._strategies[key]

    def _build_trace(self, trace: pd.DataFrame) -> None:
        """The trace as compact arrays; contacts are indices, their state kept in two lists."""
        self.trace_time = trace["time"].to_numpy(dtype=float)
        contacts = trace["contact_id"].astype("category")
        self.trace_contact = contacts.cat.codes.to_numpy()
        ids = contacts.cat.categories.astype(str)
        extra = pd.Index([o.contact_id for o in self.scenario.outbound]).difference(ids)
        self.contact_ids = ids.append(extra) if len(extra) else ids  # contacts the business writes to first
        self.contact_index = {contact_id: int(self.contact_ids.get_loc(contact_id))
                              for contact_id in dict.fromkeys(o.contact_id for o in self.scenario.outbound)}
        self.open_conversation: list[Conversation | None] = [None] * len(self.contact_ids)
        self.last_agent: list[Agent | None] = [None] * len(self.contact_ids)
        self.channels = list(self.scenario.channels)
        channel = pd.Categorical(trace["channel"].astype(str), categories=self.channels).codes
        if (channel < 0).any():
            row = int(np.flatnonzero(channel < 0)[0])
            raise TraceError(f"trace row {row}: channel {trace['channel'].iloc[row]!r} is not one of the "
                             f"scenario's channels ({', '.join(self.channels)})")
        self.trace_channel = channel
        self.given = {column: trace[column].to_numpy(dtype=float).tolist() for column in GIVEN if column in trace}
        self.attributes: dict[str, Attribute] = {}
        for column in trace.columns.difference(["time", "contact_id", "channel", *GIVEN]):
            values = trace[column].astype("category")
            self.attributes[column] = Attribute(values.cat.codes.to_numpy(),
                                                [str(c) for c in values.cat.categories])

    def _build_teams(self) -> None:
        handling = self.scenario.handling
        self.teams: dict[str, Team] = {}
        for index, (name, spec) in enumerate(self.scenario.teams.items()):
            first = spec.first_response or handling.first_response
            handle = spec.handle_time or handling.handle_time
            handle_times = self.draws(handle, "handle_time", name)
            if "handle_time" in self.given:
                handle_times = Given(self.given["handle_time"], handle_times)
            self.teams[name] = Team(index, name, self.draws(first, "first_response", name), handle_times)
        self.first_team = next(iter(self.teams.values()))
        self.agents: list[Agent] = []
        self._shifts: list[tuple[Agent, list[tuple[float, float]]]] = []
        for spec in self.scenario.agents:
            team = self.teams[spec.team]
            for agent_id in spec.ids():
                agent = Agent(len(self.agents), agent_id, team, spec)
                team.agents.append(agent)
                team.free[agent] = None
                agent.comes_online = self.env.event()  # every agent starts offline
                self.agents.append(agent)
                self._shifts.append((agent, spec.online(self.scenario.start, self.scenario.duration)))

    # ------------------------------------------------------------------------------------- running

    def run(self, progress: Callable[[float], None] | None = None) -> World:
        """Simulate to the scenario's end; ``progress`` is told the simulated time as it advances."""
        env = self.env
        for agent, intervals in self._shifts:
            env.process(self._shift_process(agent, intervals))
        self._deliver_trace()
        trace_length = len(self.trace_time)
        for number, outbound in enumerate(self.scenario.outbound):
            timer = env.timeout(outbound.at)
            timer.callbacks.append(lambda _e, o=outbound, root=trace_length + number: self._open_outbound(o, root))
        horizon = self.scenario.duration
        if progress is None:
            env.run(until=horizon)
        else:
            for step in range(1, PROGRESS_STEPS + 1):
                env.run(until=horizon * step / PROGRESS_STEPS)
                progress(env.now)
        for agent in self.agents:
            agent.account(horizon)
        for conversation in self.open_conversation:
            if conversation is not None:
                if conversation.queue is not None:  # still waiting: its wait so far
                    conversation.waited += horizon - conversation.entered_queue
                self.conversation_log.add(conversation)
        if self.invariants is not None:
            self.invariants.finish(self.conversation_log.messages, self.outbound_opened, self.conversation_log.waited)
        return self

    def _deliver_trace(self) -> None:
        """Deliver the trace's messages in order; each delivery schedules the next (a chain of
        timeouts costs a third of a process resumed per message). The arrays become Python lists a
        block at a time, which keeps a long trace compact."""
        env = self.env
        n = len(self.trace_time)
        position = [0, -1]  # the next message; the start of the block held as lists
        block: list[list] = []

        def deliver(_event: simpy.Event) -> None:
            i, now = position[0], env.now
            while True:  # every message of this instant
                start = i - i % TRACE_BLOCK
                if start != position[1]:
                    end = start + TRACE_BLOCK
                    block[:] = [self.trace_time[start:end].tolist(), self.trace_contact[start:end].tolist(),
                                self.trace_channel[start:end].tolist()]
                    position[1] = start
                times, contacts, channels = block
                self.message(contacts[i - start], channels[i - start], i, 0)
                i += 1
                if i == n:
                    return
                if (times[i - start] if i - start < TRACE_BLOCK else self.trace_time[i]) > now:
                    break
            position[0] = i
            env.timeout(float(self.trace_time[i]) - now).callbacks.append(deliver)

        if n:
            env.timeout(float(self.trace_time[0])).callbacks.append(deliver)

    def message(self, contact: int, channel: int, root: int, generation: int) -> None:
        """An inbound message of the contact (an index): it joins the contact's open conversation,
        or opens one."""
        if generation:
            self.return_times.append(self.env.now)
        if self.invariants is not None:
            self.invariants.message()
        conversation = self.open_conversation[contact]
        if conversation is None:
            conversation = self._open(contact, ev.CONTACT, channel, root, generation)
            self.log(ev.WORKFLOW_STARTED, conversation)
            self.workflow.start(conversation)
            return
        conversation.messages += 1
        self.log(ev.MESSAGE_JOINED, conversation)
        if conversation.phase == SILENT:  # a reply cancels the auto-close
            self._work(conversation)

    def _open_outbound(self, outbound: Any, root: int) -> None:
        contact = self.contact_index[outbound.contact_id]
        conversation = self.open_conversation[contact]
        if conversation is not None:  # the business writes into the open conversation
            self.log(ev.MESSAGE_JOINED, conversation)
            return
        self.outbound_opened += 1
        conversation = self._open(contact, ev.USER, self.channels.index(outbound.channel), root, 0)
        team = self.teams[outbound.team]
        self.request_agent(conversation, Assignment(team, self.default_strategy, patience=False), team)

    def _open(self, contact: int, source: int, channel: int, root: int, generation: int) -> Conversation:
        conversation = Conversation(self.conversations, contact, source, channel, root, generation, self.env.now,
                                    self.last_agent[contact])
        self.conversations += 1
        if self.invariants is not None:
            self.invariants.opening(conversation)
        self.open_conversation[contact] = conversation
        if source == ev.CONTACT:
            for field, attribute in self.known_fields:
                value = attribute.of(root)
                if value is not None:
                    conversation.fields[field] = value
        self.log(ev.CONVERSATION_OPENED, conversation)
        return conversation

    def _after(self, delay: float, action: Callable[[Conversation], None], conversation: Conversation) -> None:
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
        conversation.queued_at = now
        available = team.available
        if available and not (team.waiting or team.returned) and assignment.max_open is None:
            # nobody ahead in the queue: the strategy chooses among the online agents straight away
            agent = assignment.strategy.choose(conversation, available, now)
            if agent is not None:
                if agent not in available:
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
                self._after(patience, self._abandon, conversation)
        if assignment.timeout is not None:
            self._after(assignment.timeout, self._assign_timeout, conversation)
        if assignment.strategy.wake_after is not None:
            self._after(assignment.strategy.wake_after, self._wake, conversation)

    def _queue(self, conversation: Conversation, queue: dict[Conversation, None]) -> None:
        conversation.phase = WAITING
        conversation.token += 1
        conversation.queue = queue
        queue[conversation] = None
        conversation.entered_queue = self.env.now
        if self.invariants is not None:
            self.invariants.queue_changed()
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
        if self.invariants is not None:
            self.invariants.queue_changed()

    def _abandon(self, conversation: Conversation) -> None:
        self._leave_queue(conversation)
        self.log(ev.ABANDONED, conversation)
        self.close(conversation, ev.ABANDONED)

    def _assign_timeout(self, conversation: Conversation) -> None:
        self._leave_queue(conversation)
        conversation.phase = WORKFLOW
        conversation.token += 1
        self.log(ev.ASSIGN_TIMEOUT, conversation)
        self.workflow.start(conversation, conversation.assignment.on_timeout)

    def _wake(self, conversation: Conversation) -> None:
        self.dispatch(conversation.team)

    def dispatch(self, team: Team) -> None:
        """Hand waiting conversations to agents, oldest first, for as long as the strategies agree."""
        returned, waiting, now = team.returned, team.waiting, self.env.now
        while (waiting or returned) and (team.available or (team.offline_ok and team.free)):
            for conversation in chain(returned, waiting) if returned else waiting:
                assignment = conversation.assignment
                candidates = assignment.candidates(team)
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

    def _wrong_choice(self, conversation: Conversation, assignment: Assignment, agent: Agent) -> None:
        raise InvariantError(f"conversation {conversation.id} at t={self.env.now:g}: strategy "
                         f"{assignment.strategy!r} chose {agent!r}, not one of the candidates")

    def _assign(self, conversation: Conversation, agent: Agent) -> None:
        if self.invariants is not None:
            self.invariants.assigning(conversation, agent, conversation.assignment)
        now = self.env.now
        agent.account(now)
        agent.open += 1
        agent.idle_since = now
        if agent.open >= agent.capacity:
            del agent.team.free[agent]
            agent.team.available.pop(agent, None)
        agent.conversations[conversation] = None
        conversation.agent = agent
        if conversation.assigned_at != conversation.assigned_at:
            conversation.assigned_at = now
        required = conversation.required_skills
        if required:
            conversation.skill_match = int(all(skill in agent.skills for skill in required))
        self.log(ev.ASSIGNED, conversation)
        self._answer(conversation)

    def _release(self, conversation: Conversation) -> Agent:
        agent = conversation.agent
        now = self.env.now
        agent.account(now)
        if agent.open >= agent.capacity:
            agent.team.free[agent] = None
            if agent.online:
                agent.team.available[agent] = None
        agent.open -= 1
        agent.idle_since = now
        del agent.conversations[conversation]
        return agent

    # -------------------------------------------------------------------------------- the agent side

    def _answer(self, conversation: Conversation) -> None:
        """The assigned agent's first message comes after a delay (once the agent is online)."""
        conversation.token += 1
        if conversation.first_response_at == conversation.first_response_at:
            self._work(conversation)  # answered before a handback: the new agent carries on
            return
        conversation.phase = ANSWERING
        agent = conversation.agent
        if not agent.online:
            token = conversation.token
            agent.comes_online.callbacks.append(
                lambda _e: self._answer(conversation) if conversation.token == token else None)
            return
        delay = conversation.team.first_response.of(conversation) / agent.speed
        if delay > 0:
            self._after(delay, self._first_response, conversation)
        else:
            self._first_response(conversation)

    def _first_response(self, conversation: Conversation) -> None:
        conversation.first_response_at = self.env.now
        self.log(ev.FIRST_RESPONSE, conversation)
        if self.silent is not None and self.silent.of(conversation) < self.silent_share:
            conversation.phase = SILENT
            conversation.token += 1
            self.log(ev.CONTACT_SILENT, conversation)
            self._after(self.auto_close, self._auto_close, conversation)
        else:
            self._work(conversation)

    def _work(self, conversation: Conversation) -> None:
        """The agent handles the conversation: its handle time, stretched by the agent's load."""
        agent = conversation.agent
        conversation.phase = WORKING
        conversation.token += 1
        conversation.work_started = self.env.now
        conversation.stretch = stretch = (1.0 + self.slowdown * (agent.open - 1)) / agent.speed
        work = conversation.team.handle_time.of(conversation) - conversation.work_done
        self._after(work * stretch, self._resolve, conversation)

    def _resolve(self, conversation: Conversation) -> None:
        self.close(conversation, ev.RESOLVED)

    def _auto_close(self, conversation: Conversation) -> None:
        self.close(conversation, ev.AUTO_CLOSED)

    def _hand_back(self, conversation: Conversation) -> None:
        """The agent's shift ended: the conversation goes back to the front of the team's queue."""
        if conversation.phase == WORKING:
            conversation.work_done += (self.env.now - conversation.work_started) / conversation.stretch
        conversation.handbacks += 1
        self._release(conversation)
        self.log(ev.HANDED_BACK, conversation)
        conversation.agent = None
        self._queue(conversation, conversation.team.returned)

    def close(self, conversation: Conversation, outcome: int, category: str = "") -> None:
        """Close the conversation: free its agent and its contact, record it, maybe the contact returns."""
        if self.invariants is not None:
            self.invariants.closing(conversation)
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
        if agent is not None and (agent.team.waiting or agent.team.returned):
            self.dispatch(agent.team)
        if self.returning and self.return_draw.of(conversation) < self.returning:
            contact, channel = conversation.contact, conversation.channel
            root, generation = conversation.root, conversation.generation + 1
            self.env.timeout(self.return_delay.of(conversation)).callbacks.append(
                lambda _e: self.message(contact, channel, root, generation))

    # --------------------------------------------------------------------------------------- shifts

    def _shift_process(self, agent: Agent, intervals: list[tuple[float, float]]) -> Process:
        env = self.env
        for begin, end in intervals:
            if begin > env.now:
                yield env.timeout(begin - env.now)
            self._go_online(agent)
            if end == float("inf"):
                return
            yield env.timeout(end - env.now)
            self._go_offline(agent)

    def _go_online(self, agent: Agent) -> None:
        agent.account(self.env.now)
        agent.online = True
        agent.idle_since = self.env.now
        if agent.open < agent.capacity:
            agent.team.available[agent] = None
        if agent.comes_online is not None:
            agent.comes_online.succeed()
            agent.comes_online = None
        self.dispatch(agent.team)

    def _go_offline(self, agent: Agent) -> None:
        agent.account(self.env.now)
        agent.online = False
        agent.team.available.pop(agent, None)
        agent.comes_online = self.env.event()
        if self.scenario.on_shift_end == "handback":
            for conversation in list(agent.conversations):
                self._hand_back(conversation)

    # ------------------------------------------------------------------------------------- records

    @functools.cached_property
    def info(self) -> RunInfo:
        """What the run is (computed once: its contacts are fixed once the world is built)."""
        scenario = self.scenario
        return RunInfo(
            strategy=self.strategy_name,
            seed=self.seed,
            start=scenario.start,
            duration=scenario.duration,
            interval=scenario.interval,
            service_target=scenario.service_target,
            warmup=scenario.warmup,
            contact_ids=self.contact_ids,
            channels=self.channels,
            teams=list(self.teams),
            agent_ids=[a.id for a in self.agents],
        )

    def records(self) -> RunRecords:
        """What the run produced, as columns: call after :meth:`run`."""
        agents, horizon = self.agents, self.scenario.duration
        events = self.events
        if events is not None and events.sink is not None:
            events.flush()
        return RunRecords(
            info=self.info,
            conversations=self.conversation_log.columns(),
            categories=list(self.conversation_log.categories),
            events=None if events is None or events.sink is not None else events.columns(),
            agents={
                "team": np.array([a.team.index for a in agents]),
                "capacity": np.array([a.capacity for a in agents]),
                "handled": np.array([a.handled for a in agents]),
                "online_time": np.array([a.online_time for a in agents]),
                "busy_time": np.array([a.busy_time for a in agents]),
                "busy_slot_time": np.array([a.busy_slot_time for a in agents]),
                "overtime": np.array([a.overtime for a in agents]),
            },
            online=[[(b, min(e, horizon)) for b, e in shifts] for _, shifts in self._shifts],
            arrivals=np.concatenate([np.asarray(self.trace_time), np.asarray(self.return_times)]),
        )


def _ignore(event: int, conversation: Conversation) -> None:
    """The event log when it is off."""
