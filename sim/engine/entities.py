"""The run's entities: teams, agents, assignments, contact attributes and conversations.

Agents, teams and conversations are what strategies see through the read-only views of
:mod:`strategies.base` (they provide exactly those attributes, plus the engine's own state).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import simpy

from sim.engine import events as ev
from sim.model.scenario import AgentSpec
from sim.model.streams import Draws, Fixed, Given
from strategies import Strategy

# a conversation's phase: in the workflow, waiting for an agent, waiting for the agent's first
# message, waiting for a silent contact's reply, being handled, closed
WORKFLOW, WAITING, ANSWERING, SILENT, WORKING, CLOSED = range(6)


class Team:
    """A team: its roster, the agents with a free slot (and those online), and its queues — conversations
    waiting oldest first, and those handed back at a shift's end, served first."""

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
    """An agent; strategies see it as a :class:`strategies.base.AgentView` (``id``, ``team``, ``rank`` in
    the team roster, ``skills``, ``capacity``, ``open`` conversations, ``online``, ``idle_since``)."""

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
    """One conversation, from opening to closing; strategies see it as a
    :class:`strategies.base.ConversationView` (``channel`` by name, ``channel_code`` for the records).

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

    def __init__(self, number: int, contact: int, source: int, channel: str, channel_code: int, root: int,
                 generation: int, now: float, previous_agent: Agent | None) -> None:
        self.id = number
        self.contact = contact  # the contact's index
        self.previous_agent = previous_agent
        self.source = source
        self.channel = channel
        self.channel_code = channel_code
        self.root = root
        self.generation = generation
        self.opened_at = now
        self.fields: dict[str, str] = {}

    @property
    def is_open(self) -> bool:
        return self.closed_at != self.closed_at  # NaN until closed

    def __repr__(self) -> str:
        return f"Conversation({self.id}, contact={self.contact}, opened_at={self.opened_at:g})"
