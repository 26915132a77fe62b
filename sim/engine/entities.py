"""The run's entities: teams, agents, assignments, contact attributes and conversations.

Agents, teams and conversations are what strategies see through the read-only views of
:mod:`strategies.base` (they provide exactly those attributes, plus the engine's own state).
"""

from __future__ import annotations

from collections import deque
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
INF = float("inf")
EPS = 1e-9  # slack on sums of capacity units


class Team:
    """A team: its roster (every agent that serves its queue), the agents with a free slot (and those
    online), and its queues — conversations waiting oldest first, and those handed back at a shift's end,
    served first. ``servers`` are the teams whose agents may take from its queue (itself, and those an
    assign step lists after it); ``simple``: itself only, in queue order (the engine's fast path)."""

    __slots__ = ("agents", "alone", "available", "first_response", "free", "handle_time", "index", "name",
                 "offline_ok", "returned", "servers", "simple", "waiting")

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
        self.servers: list[Team] = [self]
        self.simple = True
        self.alone = (self,)  # a conversation routed here alone: its teams

    def __repr__(self) -> str:
        return f"Team({self.name!r})"


class Agent:
    """An agent; strategies see it as a :class:`strategies.base.AgentView` (``id``, ``team``, ``teams``,
    ``rank``, ``skills``, ``capacity``, ``open`` conversations, the ``load`` in capacity units, ``online``,
    ``idle_since``). ``queues``: the teams whose queues it takes from, in its order of preference;
    ``group``: its headcount group, if its agents come and go by a headcount table."""

    __slots__ = ("busy_slot_time", "busy_time", "capacity", "changed_at", "comes_online", "conversations",
                 "draining", "group", "handled", "id", "idle_since", "index", "load", "online", "online_since",
                 "online_spans", "online_time", "open", "overtime", "queues", "rank", "skills", "speed", "team",
                 "teams")

    def __init__(self, index: int, agent_id: str, teams: tuple[Team, ...], spec: AgentSpec) -> None:
        self.index = index
        self.id = agent_id
        self.team = teams[0]
        self.teams = teams
        self.queues: list[Team] = list(teams)
        self.rank = index
        self.group: Group | None = None
        self.draining = False  # online, but takes no new work until its group is down to its headcount
        self.load = 0.0
        self.online_since = 0.0
        self.online_spans: list[tuple[float, float]] = []
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
            self.busy_slot_time += self.load * span
            if self.open:
                self.busy_time += span
        elif self.open:
            self.overtime += span
        self.changed_at = now

    def __repr__(self) -> str:
        return f"Agent({self.id!r}, open={self.open}/{self.capacity}, online={self.online})"


class ChatAgent(Agent):
    """An agent of message-level handling: its attention goes to one reply at a time (``writing``), the
    replies its open chats await queue in its ``inbox`` (first come first served); ``levels[k]`` is its
    online time with ``k`` conversations open, ``writing_time`` the time it spent writing."""

    __slots__ = ("inbox", "levels", "writing", "writing_since", "writing_time")

    def __init__(self, index: int, agent_id: str, teams: tuple[Team, ...], spec: AgentSpec) -> None:
        super().__init__(index, agent_id, teams, spec)
        self.inbox: deque[Conversation] = deque()
        self.writing: Conversation | None = None
        self.writing_since = 0.0
        self.writing_time = 0.0
        self.levels = [0.0] * (self.capacity + 1)

    def account(self, now: float) -> None:
        if self.online:
            levels, open_ = self.levels, self.open
            if open_ >= len(levels):  # more open than slots: capacity counted in units per channel
                levels.extend([0.0] * (open_ + 1 - len(levels)))
            levels[open_] += now - self.changed_at
        super().account(now)


class Group:
    """Agents of one scenario group whose headcount follows a table per period (ContactCenters' rule
    when it drops: idle agents leave first, and none of the group takes new work until no more than
    ``target`` are online)."""

    __slots__ = ("agents", "target")

    def __init__(self, agents: list[Agent]) -> None:
        self.agents = agents
        self.target = 0

    def online(self) -> int:
        return sum(agent.online for agent in self.agents)


class Assignment:
    """How one assign step (or outbound opening) hands conversations to agents: ``teams`` (None: the
    routed team) whose agents may take it, waiting in the first one's queue; ``weighted``: capacity is
    counted in units per channel."""

    __slots__ = ("max_open", "on_timeout", "only_online", "patience", "plain", "skills_from", "strategy", "teams",
                 "timeout", "weighted")

    def __init__(self, teams: tuple[Team, ...] | None, strategy: Strategy, only_online: bool = True,
                 max_open: int | None = None, skills_from: tuple[str, ...] = (),
                 timeout: float | None = None, on_timeout: int | None = None, patience: bool = True,
                 weighted: bool = False) -> None:
        self.teams = teams
        self.weighted = weighted
        self.plain = teams is None and max_open is None and not weighted  # candidates: the team's available
        self.on_timeout = on_timeout
        self.strategy = strategy
        self.only_online = only_online
        self.max_open = max_open
        self.skills_from = skills_from
        self.timeout = timeout
        self.patience = patience

    def candidates(self, conversation: Conversation) -> Collection[Agent]:
        """The agents that may take ``conversation`` now."""
        teams = conversation.teams
        if len(teams) == 1:
            pool = teams[0].available if self.only_online else teams[0].free
        else:
            pool = {agent: None for team in teams for agent in (team.available if self.only_online else team.free)}
        if self.max_open is None and not self.weighted:
            return pool
        cap, weight = self.max_open, conversation.weight
        return {agent: None for agent in pool if (cap is None or agent.open < cap)
                and (not self.weighted or fits(agent, weight))}


def taken(agent: Agent, weight: float) -> float:
    """The capacity units a conversation of ``weight`` takes of ``agent``."""
    return agent.capacity if weight == INF else weight


def fits(agent: Agent, weight: float) -> bool:
    """Whether a conversation of ``weight`` fits in the agent's spare capacity."""
    return agent.load + taken(agent, weight) <= agent.capacity + EPS


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
    teams: tuple[Team, ...] = ()
    weight = 1.0  # capacity units it takes (INF: the agent's whole capacity)
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
    # message-level handling: agent replies sent, the turn ending it (resolved), the turn after which the
    # contact goes silent, when the contact's message now awaiting a reply was sent (NaN: none awaits),
    # whether the contact is silent, the longest wait for a reply so far
    turn = 0
    exchanges = -1.0
    silent_at = INF
    awaiting = float("nan")
    silent = False
    response_time_max = float("nan")
    replies = thinks = ()  # the reply and think times of its first turns

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
