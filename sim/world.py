"""The SimPy world: contacts, conversations and their lifecycle, agents, team queues and dispatch.

Domain rules kept here: a contact has at most one open conversation; a message opens one only when
none is open, else it joins it; only conversations the contact opened run the inbound workflow; an
agent takes at most ``capacity`` conversations at once; the agent closes the conversation, and only
then may the contact's next message open a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
import simpy

from sim import events as ev
from sim.errors import ScenarioError
from sim.records import ConversationLog, EventLog, RunRecords
from sim.scenario import WEEKDAYS, AgentSpec, Scenario
from sim.streams import Draws, Streams, uniform
from strategies import Strategy
from strategies import registry as strategy_registry

Process = Generator[simpy.Event, Any, Any]
PROGRESS_STEPS = 100


class ModelError(RuntimeError):
    """A rule of the model was broken: a bug, never a result."""


class Contact:
    __slots__ = ("conversation", "id", "index", "last_agent")

    def __init__(self, index: int, contact_id: str) -> None:
        self.index = index
        self.id = contact_id
        self.conversation: Conversation | None = None
        self.last_agent: Agent | None = None


class Team:
    __slots__ = ("agents", "available", "first_response", "free", "handle_time", "index", "name",
                 "offline_ok", "returned", "waiting")

    def __init__(self, index: int, name: str, first_response: Draws, handle_time: Draws) -> None:
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

    __slots__ = ("max_open", "only_online", "patience", "skills_from", "strategy", "team", "timeout")

    def __init__(self, team: Team | None, strategy: Strategy, only_online: bool = True,
                 max_open: int | None = None, skills_from: tuple[str, ...] = (),
                 timeout: float | None = None, patience: bool = True) -> None:
        self.team = team
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


class Conversation:
    """One conversation, from opening to closing; strategies read ``contact``, ``team``, ``fields``,
    ``required_skills`` and ``queued_at``."""

    __slots__ = ("agent", "assigned_at", "assignment", "bot", "category", "channel", "closed_at", "contact",
                 "fields", "first_response_at", "generation", "hand_back", "handbacks", "id", "in_service",
                 "left_queue_at", "messages", "opened_at", "outcome", "process", "queue", "queued_at",
                 "required_skills", "root", "skill_match", "source", "team", "wakeup", "work_done")

    def __init__(self, number: int, contact: Contact, source: int, channel: int, root: int,
                 generation: int, now: float) -> None:
        self.id = number
        self.contact = contact
        self.source = source
        self.channel = channel
        self.root = root
        self.generation = generation
        self.opened_at = now
        self.fields: dict[str, str] = {}
        self.team: Team | None = None
        self.agent: Agent | None = None
        self.assignment: Assignment | None = None
        self.required_skills: tuple[str, ...] = ()
        self.queue: dict[Conversation, None] | None = None
        self.wakeup: simpy.Event | None = None
        self.process: simpy.Process | None = None
        self.queued_at = self.left_queue_at = self.assigned_at = float("nan")
        self.first_response_at = self.closed_at = float("nan")
        self.outcome = ev.OPEN_AT_END
        self.category = ""
        self.messages = 1
        self.handbacks = 0
        self.work_done = 0.0
        self.skill_match: bool | None = None
        self.bot = False
        self.in_service = self.hand_back = False

    @property
    def is_open(self) -> bool:
        return self.closed_at != self.closed_at  # NaN until closed

    def draw(self, draws: Draws) -> float:
        return draws.at(self.generation, self.root)

    def __repr__(self) -> str:
        return f"Conversation({self.id}, contact={self.contact.id!r}, opened_at={self.opened_at:g})"


class World:
    """One run of a scenario under one strategy: build it, then :meth:`run` it."""

    def __init__(self, scenario: Scenario, trace: pd.DataFrame, strategy: str | None = None,
                 seed: int | None = None) -> None:
        from sim.workflow import Workflow

        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.env = simpy.Environment()
        self.streams = Streams(self.seed)
        self.events = EventLog() if scenario.record_events else None
        self.conversation_log = ConversationLog()
        self.return_times: list[float] = []
        self._build_trace(trace)
        self._build_teams()
        self._strategies: dict[tuple[str, str], Strategy] = {}
        # A strategy named for the run takes the parameters the scenario gives it anywhere.
        self.strategy_name = strategy or scenario.strategy.name
        params = next((s.params for s in scenario.strategies() if s.name == self.strategy_name), {})
        self.default_strategy = self.strategy(self.strategy_name, params)
        self.workflow = Workflow(self, scenario.workflow, override=strategy is not None)
        handling = scenario.handling
        self.slowdown = handling.slowdown
        self.auto_close = handling.auto_close
        contacts = scenario.contacts
        self.patience = self.draws(contacts.patience, "patience") if contacts.patience else None
        self.silent = self.streams.draws(uniform, "silent") if contacts.silent_share else None
        self.silent_share = contacts.silent_share
        unknown = [f for f in contacts.known_fields if f not in self.attributes]
        if unknown:
            raise ScenarioError(f"contacts.known_fields: {', '.join(map(repr, unknown))} not in the trace, whose "
                                f"attributes are: {', '.join(self.attributes) or 'none'}")
        self.known_fields = [(f, self.attributes[f]) for f in contacts.known_fields]
        returning = contacts.returning
        self.returning = returning.probability if returning else 0.0
        if returning is not None:
            self.return_draw = self.streams.draws(uniform, "return")
            self.return_delay = self.draws(returning.delay, "return_delay")
        self.conversations = 0

    # ------------------------------------------------------------------------------------ building

    def draws(self, dist: Any, *key: str | int) -> Draws:
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
        self.trace_time = trace["time"].to_numpy(dtype=float).tolist()
        codes, contact_ids = pd.factorize(trace["contact_id"].astype(str))
        self.trace_contact = codes.tolist()
        self.contacts = [Contact(i, str(c)) for i, c in enumerate(contact_ids)]
        self.contact_by_id = {c.id: c for c in self.contacts}
        self.channels = list(self.scenario.channels)
        channel_index = {c: i for i, c in enumerate(self.channels)}
        self.trace_channel = [channel_index[c] for c in trace["channel"].astype(str)]
        self.attributes: dict[str, list[str | None]] = {}
        for column in trace.columns.difference(["time", "contact_id", "channel"]):
            values = trace[column].astype(object)
            self.attributes[column] = values.where(values.notna(), None).astype(object).tolist()

    def _build_teams(self) -> None:
        handling = self.scenario.handling
        self.teams: dict[str, Team] = {}
        for index, (name, spec) in enumerate(self.scenario.teams.items()):
            first = spec.first_response or handling.first_response
            handle = spec.handle_time or handling.handle_time
            self.teams[name] = Team(index, name, self.draws(first, "first_response", name),
                                    self.draws(handle, "handle_time", name))
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
                self._shifts.append((agent, self._online_intervals(spec)))

    def _online_intervals(self, spec: AgentSpec) -> list[tuple[float, float]]:
        """The agent's shifts as absolute (start, end) seconds over the scenario, merged."""
        horizon = self.scenario.duration
        if not spec.shifts:
            return [(0.0, float("inf"))]
        start = self.scenario.start
        midnight = -(start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6)
        days = {WEEKDAYS.index(d) for d in spec.days}
        intervals: list[tuple[float, float]] = []
        for day in range(-2, int(horizon // 86400) + 2):
            if (start.weekday() + day) % 7 not in days:
                continue
            for shift in spec.shifts:
                begin, end = midnight + day * 86400 + shift.start, midnight + day * 86400 + shift.end
                if end <= 0 or begin >= horizon:
                    continue
                begin = max(begin, 0.0)
                if intervals and begin <= intervals[-1][1]:
                    intervals[-1] = (intervals[-1][0], max(end, intervals[-1][1]))
                else:
                    intervals.append((begin, end))
        return sorted(intervals)

    # ------------------------------------------------------------------------------------- running

    def run(self, progress: Callable[[float], None] | None = None) -> World:
        """Simulate to the scenario's end; ``progress`` is told the simulated time as it advances."""
        env = self.env
        for agent, intervals in self._shifts:
            env.process(self._shift_process(agent, intervals))
        env.process(self._arrival_process())
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
        for contact in self.contacts:
            if contact.conversation is not None:
                self.conversation_log.add(contact.conversation)
        return self

    def _arrival_process(self) -> Process:
        env = self.env
        times, contacts, channels = self.trace_time, self.trace_contact, self.trace_channel
        for index, at in enumerate(times):
            if at > env.now:
                yield env.timeout(at - env.now)
            self.message(self.contacts[contacts[index]], channels[index], index, 0)

    def message(self, contact: Contact, channel: int, root: int, generation: int) -> None:
        """An inbound message: it joins the contact's open conversation, or opens one."""
        if generation:
            self.return_times.append(self.env.now)
        conversation = contact.conversation
        if conversation is not None:
            conversation.messages += 1
            self.log(ev.MESSAGE_JOINED, conversation)
            wakeup = conversation.wakeup
            if wakeup is not None and conversation.agent is not None and not wakeup.triggered:
                wakeup.succeed(ev.MESSAGE_JOINED)  # a reply cancels the auto-close
            return
        conversation = self._open(contact, ev.CONTACT, channel, root, generation)
        conversation.process = self.env.process(self._lifecycle(conversation))

    def _open_outbound(self, outbound: Any, root: int) -> None:
        contact = self.contact_by_id.get(outbound.contact_id)
        if contact is None:
            contact = Contact(len(self.contacts), outbound.contact_id)
            self.contacts.append(contact)
            self.contact_by_id[contact.id] = contact
        if contact.conversation is not None:  # the business writes into the open conversation
            contact.conversation.messages += 1
            self.log(ev.MESSAGE_JOINED, contact.conversation)
            return
        conversation = self._open(contact, ev.USER, self.channels.index(outbound.channel), root, 0)
        assignment = Assignment(self.teams[outbound.team], self.default_strategy, patience=False)
        conversation.process = self.env.process(self._lifecycle(conversation, assignment))

    def _open(self, contact: Contact, source: int, channel: int, root: int, generation: int) -> Conversation:
        conversation = Conversation(self.conversations, contact, source, channel, root, generation, self.env.now)
        self.conversations += 1
        contact.conversation = conversation
        if source == ev.CONTACT:
            for field, values in self.known_fields:
                if values[root] is not None:
                    conversation.fields[field] = values[root]
        self.log(ev.CONVERSATION_OPENED, conversation)
        return conversation

    def _lifecycle(self, conversation: Conversation, outbound: Assignment | None = None) -> Process:
        if outbound is None:
            self.log(ev.WORKFLOW_STARTED, conversation)
            yield from self.workflow.run(conversation)
        else:
            yield from self.wait_for_agent(conversation, outbound, outbound.team)
        while conversation.agent is not None:
            handed_back = yield from self._serve(conversation)
            if handed_back:
                yield from self.wait_for_agent(conversation, conversation.assignment, conversation.team,
                                               handed_back=True)

    # ------------------------------------------------------------------------- queue and dispatch

    def wait_for_agent(self, conversation: Conversation, assignment: Assignment, team: Team,
                       handed_back: bool = False) -> Process:
        """Queue the conversation for an agent of ``team``; return False if the step's timeout ran out.

        A conversation handed back at a shift's end goes ahead of the queue and cannot abandon."""
        env = self.env
        conversation.assignment = assignment
        conversation.team = team
        if not handed_back:
            conversation.queued_at = env.now
        conversation.queue = queue = team.returned if handed_back else team.waiting
        queue[conversation] = None
        if not assignment.only_online:
            team.offline_ok += 1
        self.dispatch(team)
        if conversation.agent is not None:
            return True
        self.log(ev.QUEUED, conversation)
        conversation.wakeup = wakeup = env.event()
        if assignment.patience and not handed_back and self.patience is not None:
            self._timer(conversation.draw(self.patience), self._abandon, conversation, wakeup)
        if assignment.timeout is not None and not handed_back:
            self._timer(assignment.timeout, self._assign_timeout, conversation, wakeup)
        wake_after = assignment.strategy.wake_after
        if wake_after is not None:
            self._timer(wake_after, self._wake, conversation, wakeup)
        outcome = yield wakeup
        conversation.wakeup = None
        return outcome != ev.ASSIGN_TIMEOUT

    def _timer(self, delay: float, action: Any, conversation: Conversation, wakeup: simpy.Event) -> None:
        def fire(_event: simpy.Event) -> None:
            if conversation.wakeup is wakeup and not wakeup.triggered:
                action(conversation, wakeup)

        self.env.timeout(delay).callbacks.append(fire)

    def _leave_queue(self, conversation: Conversation) -> None:
        del conversation.queue[conversation]
        if not conversation.assignment.only_online:
            conversation.team.offline_ok -= 1
        conversation.queue = None
        conversation.left_queue_at = self.env.now

    def _abandon(self, conversation: Conversation, wakeup: simpy.Event) -> None:
        self._leave_queue(conversation)
        self.log(ev.ABANDONED, conversation)
        self.close(conversation, ev.ABANDONED)
        wakeup.succeed(ev.ABANDONED)

    def _assign_timeout(self, conversation: Conversation, wakeup: simpy.Event) -> None:
        self._leave_queue(conversation)
        self.log(ev.ASSIGN_TIMEOUT, conversation)
        wakeup.succeed(ev.ASSIGN_TIMEOUT)

    def _wake(self, conversation: Conversation, wakeup: simpy.Event) -> None:
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
                raise ModelError(f"conversation {conversation.id} at t={now:g}: strategy "
                                 f"{assignment.strategy!r} chose {agent!r}, not one of the candidates")
            self._leave_queue(conversation)
            self._assign(conversation, agent)

    def _assign(self, conversation: Conversation, agent: Agent) -> None:
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
            conversation.skill_match = all(skill in agent.skills for skill in required)
        self.log(ev.ASSIGNED, conversation)
        wakeup = conversation.wakeup
        if wakeup is not None and not wakeup.triggered:
            wakeup.succeed(ev.ASSIGNED)

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

    def _serve(self, conversation: Conversation) -> Process:
        """The agent answers, talks with the contact, and closes; returns True if handed back."""
        env, agent, team = self.env, conversation.agent, conversation.team
        conversation.in_service = True
        try:
            if conversation.hand_back:  # its agent went off shift at the instant it was assigned
                raise simpy.Interrupt("shift ended")
            if conversation.first_response_at != conversation.first_response_at:
                delay = conversation.draw(team.first_response) / agent.speed
                if delay > 0:
                    yield env.timeout(delay)
                if not agent.online:
                    yield agent.comes_online
                conversation.first_response_at = env.now
                self.log(ev.FIRST_RESPONSE, conversation)
                if self.silent is not None and conversation.draw(self.silent) < self.silent_share:
                    self.log(ev.CONTACT_SILENT, conversation)
                    conversation.wakeup = wakeup = env.event()
                    self._timer(self.auto_close, lambda c, w: w.succeed(ev.AUTO_CLOSED), conversation, wakeup)
                    reply = yield wakeup
                    conversation.wakeup = None
                    if reply == ev.AUTO_CLOSED:
                        self.close(conversation, ev.AUTO_CLOSED)
                        return False
            work = conversation.draw(team.handle_time) - conversation.work_done
            stretch = (1.0 + self.slowdown * (agent.open - 1)) / agent.speed
            started = env.now
            try:
                yield env.timeout(work * stretch)
            except simpy.Interrupt:
                conversation.work_done += (env.now - started) / stretch
                raise
            self.close(conversation, ev.RESOLVED)
            return False
        except simpy.Interrupt:
            conversation.wakeup = None
            conversation.hand_back = False
            conversation.handbacks += 1
            self._release(conversation)
            self.log(ev.HANDED_BACK, conversation)
            conversation.agent = None
            return True
        finally:
            conversation.in_service = False

    def close(self, conversation: Conversation, outcome: int, category: str = "") -> None:
        """Close the conversation: free its agent and its contact, record it, maybe the contact returns."""
        now = self.env.now
        conversation.closed_at = now
        conversation.outcome = outcome
        conversation.category = category or ev.NAMES[outcome]
        agent = conversation.agent
        if agent is not None:
            self._release(conversation)
            agent.handled += 1
            conversation.contact.last_agent = agent
        conversation.contact.conversation = None
        self.log(ev.CONVERSATION_CLOSED, conversation)
        self.conversation_log.add(conversation)
        conversation.agent = None
        if agent is not None:
            self.dispatch(agent.team)
        if self.returning and conversation.draw(self.return_draw) < self.returning:
            contact, channel = conversation.contact, conversation.channel
            root, generation = conversation.root, conversation.generation + 1
            self.env.timeout(conversation.draw(self.return_delay)).callbacks.append(
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
                if conversation.in_service:
                    conversation.process.interrupt("shift ended")
                else:
                    conversation.hand_back = True

    # ------------------------------------------------------------------------------------- records

    def log(self, event: int, conversation: Conversation) -> None:
        if self.events is not None:
            self.events.add(self.env.now, event, conversation)

    def records(self) -> RunRecords:
        """What the run produced, as columns: call after :meth:`run`."""
        agents, scenario = self.agents, self.scenario
        horizon = scenario.duration
        return RunRecords(
            strategy=self.strategy_name,
            seed=self.seed,
            duration=horizon,
            start=scenario.start,
            interval=scenario.interval,
            service_target=scenario.service_target,
            conversations=self.conversation_log.columns(),
            events=None if self.events is None else self.events.columns(),
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
            contact_ids=[c.id for c in self.contacts],
            channels=self.channels,
            teams=list(self.teams),
            agent_ids=[a.id for a in agents],
        )
