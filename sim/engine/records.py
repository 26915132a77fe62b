"""The run's records, kept columnar and cheap.

In the loop a record's numbers extend one flat list (``rows += (…)``: the cheapest in the loop, and no
object the garbage collector tracks is left behind), its objects (a learned field's value) another;
every chunk of rows becomes one numpy array per column, so memory stays near 8 bytes a field whatever
the run's length. The event log can hand its chunks to a sink (a file writer) instead of keeping them.
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
ROWS = 1 << 13  # the conversation log's chunk: its two dozen values a row cost 30 bytes each until flushed
Columns = dict[str, np.ndarray]
Sink = Callable[[Columns], None]


class _Chunked:
    """Rows whose numbers (the schema's columns but those of dtype ``O``, in order) extend ``rows`` and
    whose objects extend ``objects``, turned into a numpy array per column every ``limit`` rows."""

    def __init__(self, schema: tuple[tuple[str, str], ...], limit: int, sink: Sink | None = None) -> None:
        self.schema = schema
        self.numbers = [(name, dtype) for name, dtype in schema if dtype != "O"]
        self.others = [name for name, dtype in schema if dtype == "O"]
        self.rows: list[float] = []
        self.objects: list[object] = []
        self.full = limit * len(self.numbers)  # the writer flushes once len(rows) reaches it
        self.chunks: list[Columns] = []
        self.sink = sink

    def flush(self) -> None:
        if not self.rows:
            return
        table = np.array(self.rows, dtype=float).reshape(-1, len(self.numbers))
        made = {name: table[:, k].astype(dtype) for k, (name, dtype) in enumerate(self.numbers)}
        if self.others:
            objects = np.empty(len(self.objects), dtype=object)
            objects[:] = self.objects
            made |= {name: objects[k::len(self.others)] for k, name in enumerate(self.others)}
        columns = {name: made[name] for name, _ in self.schema}
        self.rows.clear()
        self.objects.clear()
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
        super().__init__(self.SCHEMA, CHUNK, sink)
        self.env = env

    def add(self, event: int, c: Conversation) -> None:
        rows = self.rows
        rows += (self.env.now, event, c.id, c.contact, c.source, -1 if c.agent is None else c.agent.index,
                 -1 if c.team is None else c.team.index)
        if len(rows) >= self.full:
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
        super().__init__(self.SCHEMA + tuple((f"field:{name}", "O") for name in fields), ROWS)
        self.categories: dict[str, int] = {}
        self.fields = fields
        self.messages = 0  # contact messages over every conversation recorded
        self.waited = 0.0  # queue time over every conversation recorded

    def add(self, c: Conversation) -> None:
        self.messages += c.messages
        self.waited += c.waited
        self.rows += self.row(c)
        if self.fields:
            known = c.fields
            self.objects += [known.get(name) for name in self.fields]
        if len(self.rows) >= self.full:
            self.flush()

    def row(self, c: Conversation) -> tuple[float, ...]:
        """The conversation's numbers, in the order of the schema."""
        return (c.id, c.contact, c.source, c.channel_code, -1 if c.team is None else c.team.index,
                -1 if c.agent is None else c.agent.index, c.opened_at, c.queued_at, c.left_queue_at, c.assigned_at,
                c.first_response_at, c.closed_at, c.outcome,
                self.categories.setdefault(c.category, len(self.categories)), c.messages, c.generation, c.handbacks,
                c.skill_match, c.bot, c.waited)

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
        self.exchanges += c.turn
        super().add(c)

    def row(self, c: Conversation) -> tuple[float, ...]:
        return (*super().row(c), c.turn, c.response_time_max)


CONTACT, AGENT = 0, 1  # who wrote a message
WHO = ("contact", "agent")


class MessageLog(_Chunked):
    """Message-level handling's messages, one row each: the conversation's id, its turn (from 1: the
    contact's message and the agent's reply to it), who wrote it, the agent who wrote it (index; -1: the
    contact), when it was sent, for an agent's reply its response time (since the contact's message it
    answers; NaN otherwise), and whether the agent closed the conversation with it. A dozen rows a
    conversation: the writer extends ``rows`` itself and calls :meth:`flush` once ``len(rows) >= full``."""

    SCHEMA = (("conversation_id", "i8"), ("turn", "i4"), ("who", "i1"), ("agent", "i4"), ("sent_at", "f8"),
              ("response_time", "f8"), ("closes", "?"))

    def __init__(self, sink: Sink | None = None) -> None:
        super().__init__(self.SCHEMA, CHUNK, None if sink is None else self._keep_replies)
        self.kept_sink = sink
        self.replies: list[Columns] = []  # with a sink: the agents' replies' response times, for the KPIs

    def _keep_replies(self, columns: Columns) -> None:
        replies = columns["who"] == AGENT
        self.replies.append({"conversation_id": columns["conversation_id"][replies],
                             "response_time": columns["response_time"][replies]})
        self.kept_sink(columns)

    def reply_columns(self) -> Columns:
        """With a sink: every agent reply's conversation and response time (16 bytes a reply)."""
        self.flush()
        return {name: np.concatenate([chunk[name] for chunk in self.replies]) if self.replies else
                np.empty(0, dtype=dtype) for name, dtype in (("conversation_id", "i8"), ("response_time", "f8"))}


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
    at_warmup: Columns | None = None  # with a warm-up: the ``agents`` totals (and concurrency ``levels``) at its end
