"""The run's records, kept columnar and cheap.

In the loop a record is a value appended to a list per column; every ``CHUNK`` rows the lists become
numpy arrays, so memory stays near 8 bytes a field whatever the run's length. The event log can hand its
chunks to a sink (a file writer) instead of keeping them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim import memory

if TYPE_CHECKING:
    import simpy

    from sim.engine.entities import Conversation

CHUNK = 1 << 16
ROWS = 1 << 13  # the conversation log's chunk: its two dozen lists of Python objects cost 30 bytes a value
Columns = dict[str, np.ndarray]
Sink = Callable[[Columns], None]


class _Chunked:
    """Rows appended field by field to a list per column, turned into numpy arrays a chunk at a time."""

    def __init__(self, schema: tuple[tuple[str, str], ...], sink: Sink | None = None) -> None:
        self.schema = schema
        self.lists: list[list] = [[] for _ in schema]
        self.appends = tuple(values.append for values in self.lists)  # unpacked by add()
        self.chunks: list[Columns] = []
        self.sink = sink

    def flush(self) -> None:
        if not self.lists[0]:
            return
        columns = {name: np.array(values, dtype=dtype) for (name, dtype), values in zip(self.schema, self.lists,
                                                                                      strict=True)}
        for values in self.lists:
            values.clear()
        if self.sink is None:
            self.chunks.append(columns)
        else:
            self.sink(columns)

    def columns(self, order: np.ndarray | None = None) -> Columns:
        """All rows as one array per column (rearranged by ``order`` if given); the chunks are let go
        of a column at a time, so no more than one column is ever held twice."""
        self.flush()
        columns = {}
        for name, dtype in self.schema:
            parts = [chunk.pop(name) for chunk in self.chunks]
            column = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
            columns[name] = column if order is None else column[order]
            del parts, column
            if len(self.chunks) > 8:
                memory.release()  # each column's chunks back to the system as soon as joined: no stacking
        self.chunks.clear()
        memory.release()
        return columns


class EventLog(_Chunked):
    """One row per lifecycle event: time, event code, and the conversation's id, contact, source,
    agent and team (indices; -1 for none)."""

    SCHEMA = (("time", "f8"), ("event", "i2"), ("conversation_id", "i8"), ("contact", "i8"), ("source", "i2"),
              ("agent", "i4"), ("team", "i4"))

    def __init__(self, env: simpy.Environment, sink: Sink | None = None) -> None:
        super().__init__(self.SCHEMA, sink)
        self.env = env

    def add(self, event: int, c: Conversation) -> None:
        time, code, conversation, contact, source, agent, team = self.appends
        time(self.env.now)
        code(event)
        conversation(c.id)
        contact(c.contact)
        source(c.source)
        agent(-1 if c.agent is None else c.agent.index)
        team(-1 if c.team is None else c.team.index)
        if len(self.lists[0]) >= CHUNK:
            self.flush()


class ConversationLog(_Chunked):
    """One row per conversation, written when it closes (or at the end, if still open)."""

    SCHEMA = (("id", "i8"), ("contact", "i4"), ("source", "i2"), ("channel", "i2"), ("team", "i4"), ("agent", "i4"),
              ("opened_at", "f8"), ("queued_at", "f8"), ("left_queue_at", "f8"), ("assigned_at", "f8"),
              ("first_response_at", "f8"), ("closed_at", "f8"), ("outcome", "i2"), ("category", "i4"),
              ("messages", "i4"), ("generation", "i4"), ("handbacks", "i4"), ("skill_match", "i1"), ("bot", "?"),
              ("queue_time", "f8"))

    def __init__(self, fields: tuple[str, ...] = ()) -> None:
        """``fields``: the contact fields the workflow may learn; each becomes a column (None: unknown)."""
        super().__init__(self.SCHEMA + tuple((f"field:{name}", "O") for name in fields))
        self.categories: dict[str, int] = {}
        self.fields = fields
        self.field_appends = self.appends[len(self.SCHEMA):]
        self.messages = 0  # contact messages over every conversation recorded
        self.waited = 0.0  # queue time over every conversation recorded

    def add(self, c: Conversation) -> None:
        (number, contact, source, channel, team, agent, opened, queued, left_queue, assigned, first_response,
         closed, outcome, category, messages, generation, handbacks, skill_match, bot, queue_time
         ) = self.appends[:20]
        number(c.id)
        contact(c.contact)
        source(c.source)
        channel(c.channel_code)
        team(-1 if c.team is None else c.team.index)
        agent(-1 if c.agent is None else c.agent.index)
        opened(c.opened_at)
        queued(c.queued_at)
        left_queue(c.left_queue_at)
        assigned(c.assigned_at)
        first_response(c.first_response_at)
        closed(c.closed_at)
        outcome(c.outcome)
        category(self.categories.setdefault(c.category, len(self.categories)))
        messages(c.messages)
        self.messages += c.messages
        generation(c.generation)
        handbacks(c.handbacks)
        skill_match(c.skill_match)
        bot(c.bot)
        queue_time(c.waited)
        self.waited += c.waited
        known = c.fields
        for name, append in zip(self.fields, self.field_appends, strict=True):
            append(known.get(name))
        if len(self.lists[0]) >= ROWS:
            self.flush()

    def columns(self, order: np.ndarray | None = None) -> Columns:
        """The rows in the order the conversations opened."""
        self.flush()
        ids = np.concatenate([chunk["id"] for chunk in self.chunks]) if self.chunks else np.empty(0, dtype="i8")
        return super().columns(np.argsort(ids, kind="stable"))


class MessageConversationLog(ConversationLog):
    """The conversation log of message-level handling: a row also says how many replies the agent sent
    (its ``exchanges``) and the longest a message of the contact waited for one."""

    SCHEMA = (*ConversationLog.SCHEMA, ("exchanges", "i4"), ("response_time_max", "f8"))

    def __init__(self, fields: tuple[str, ...] = ()) -> None:
        super().__init__(fields)
        self.exchanges = 0  # agent replies over every conversation recorded

    def add(self, c: Conversation) -> None:
        exchanges, response_time_max = self.appends[len(ConversationLog.SCHEMA):len(self.SCHEMA)]
        exchanges(c.turn)
        self.exchanges += c.turn
        response_time_max(c.response_time_max)
        super().add(c)


CONTACT, AGENT = 0, 1  # who wrote a message
WHO = ("contact", "agent")


class MessageLog:
    """Message-level handling's messages, one row each: the conversation's id, its turn (from 1: the
    contact's message and the agent's reply to it), who wrote it, the agent who wrote it (index; -1: the
    contact), when it was sent, for an agent's reply its response time (since the contact's message it
    answers; NaN otherwise), and whether the agent closed the conversation with it.

    A dozen rows a conversation must cost little: a row's seven values are appended to one flat list
    (``rows += (…)``; the writer calls :meth:`flush` once ``len(rows) >= LIMIT``), which becomes one
    array of doubles and then the columns a chunk at a time, kept or handed to the ``sink``."""

    SCHEMA = (("conversation_id", "i8"), ("turn", "i4"), ("who", "i1"), ("agent", "i4"), ("sent_at", "f8"),
              ("response_time", "f8"), ("closes", "?"))
    LIMIT = CHUNK * len(SCHEMA)

    def __init__(self, sink: Sink | None = None) -> None:
        self.rows: list[float] = []
        self.chunks: list[Columns] = []
        self.sink = sink
        self.replies: list[Columns] = []  # with a sink: the agents' replies' response times, for the KPIs

    def flush(self) -> None:
        if not self.rows:
            return
        table = np.array(self.rows, dtype=float).reshape(-1, len(self.SCHEMA))
        columns = {name: table[:, k].astype(dtype) for k, (name, dtype) in enumerate(self.SCHEMA)}
        self.rows.clear()
        if self.sink is None:
            self.chunks.append(columns)
            return
        replies = columns["who"] == AGENT
        self.replies.append({"conversation_id": columns["conversation_id"][replies],
                             "response_time": columns["response_time"][replies]})
        self.sink(columns)

    def reply_columns(self) -> Columns:
        """With a sink: every agent reply's conversation and response time (16 bytes a reply)."""
        self.flush()
        return {name: np.concatenate([chunk[name] for chunk in self.replies]) if self.replies else
                np.empty(0, dtype=dtype) for name, dtype in (("conversation_id", "i8"), ("response_time", "f8"))}

    def columns(self) -> Columns:
        """All rows as one array per column (the chunks let go of a column at a time)."""
        self.flush()
        columns = {}
        for name, dtype in self.SCHEMA:
            parts = [chunk.pop(name) for chunk in self.chunks]
            columns[name] = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
        self.chunks.clear()
        return columns


@dataclass(frozen=True)
class RunInfo:
    """What a run was, and the names its records' codes stand for."""

    strategy: str
    seed: int
    start: dt.datetime
    duration: float
    interval: float
    service_target: float
    warmup: float
    contact_ids: pd.Index  # contact ids by index
    channels: list[str]
    teams: list[str]
    agent_ids: list[str]
    handling: str = "lumped"  # or "messages": message-level handling


@dataclass(frozen=True)
class RunRecords:
    """Everything one run produced, as plain columns."""

    info: RunInfo
    conversations: Columns
    categories: list[str]  # closing categories, by code
    events: Columns | None  # None when not recorded, or streamed to a sink
    agents: Columns
    online: list[list[tuple[float, float]]]  # per agent: online intervals within the run
    arrivals: np.ndarray  # times of inbound messages, follow-ups and returns included
    messages: Columns | None = None  # message-level handling: the messages (None when streamed, or lumped)
    replies: Columns | None = None  # message-level handling with the messages streamed: the replies' response times
    concurrency: np.ndarray | None = None  # message-level handling: per agent, online time with k open
