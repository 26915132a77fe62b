"""The run's records, kept columnar and cheap.

In the loop a record is one tuple appended to a list; every ``CHUNK`` rows the tuples become numpy
columns, so memory stays near 10 bytes a field whatever the run's length. The event log can hand its
chunks to a sink (a file writer) instead of keeping them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import simpy

    from sim.world import Conversation

CHUNK = 1 << 16
Columns = dict[str, np.ndarray]
Sink = Callable[[Columns], None]


class _Chunked:
    """Rows appended as tuples, turned into numpy columns a chunk at a time."""

    def __init__(self, schema: tuple[tuple[str, str], ...], sink: Sink | None = None) -> None:
        self.schema = schema
        self.rows: list[tuple] = []
        self.chunks: list[Columns] = []
        self.sink = sink

    def flush(self) -> None:
        if not self.rows:
            return
        columns = {name: np.array(values, dtype=dtype)
                   for (name, dtype), values in zip(self.schema, zip(*self.rows, strict=True), strict=True)}
        self.rows.clear()
        if self.sink is None:
            self.chunks.append(columns)
        else:
            self.sink(columns)

    def columns(self) -> Columns:
        self.flush()
        if not self.chunks:
            return {name: np.empty(0, dtype=dtype) for name, dtype in self.schema}
        return {name: np.concatenate([chunk[name] for chunk in self.chunks]) for name, _ in self.schema}


class EventLog(_Chunked):
    """One row per lifecycle event: time, event code, and the conversation's id, contact, source,
    agent and team (indices; -1 for none)."""

    SCHEMA = (("time", "f8"), ("event", "i2"), ("conversation_id", "i8"), ("contact", "i8"), ("source", "i2"),
              ("agent", "i4"), ("team", "i4"))

    def __init__(self, env: simpy.Environment, sink: Sink | None = None) -> None:
        super().__init__(self.SCHEMA, sink)
        self.env = env

    def add(self, event: int, c: Conversation) -> None:
        agent, team = c.agent, c.team
        self.rows.append((self.env.now, event, c.id, c.contact.index, c.source,
                          -1 if agent is None else agent.index, -1 if team is None else team.index))
        if len(self.rows) >= CHUNK:
            self.flush()


class ConversationLog(_Chunked):
    """One row per conversation, written when it closes (or at the end, if still open)."""

    SCHEMA = (("id", "i8"), ("contact", "i8"), ("source", "i2"), ("channel", "i2"), ("team", "i4"), ("agent", "i4"),
              ("opened_at", "f8"), ("queued_at", "f8"), ("left_queue_at", "f8"), ("assigned_at", "f8"),
              ("first_response_at", "f8"), ("closed_at", "f8"), ("outcome", "i2"), ("category", "i4"),
              ("messages", "i4"), ("generation", "i4"), ("handbacks", "i4"), ("skill_match", "i1"), ("bot", "?"))

    def __init__(self) -> None:
        super().__init__(self.SCHEMA)
        self.categories: dict[str, int] = {}

    def add(self, c: Conversation) -> None:
        category = self.categories.setdefault(c.category, len(self.categories))
        agent, team = c.agent, c.team
        self.rows.append((c.id, c.contact.index, c.source, c.channel, -1 if team is None else team.index,
                          -1 if agent is None else agent.index, c.opened_at, c.queued_at, c.left_queue_at,
                          c.assigned_at, c.first_response_at, c.closed_at, c.outcome, category, c.messages,
                          c.generation, c.handbacks, c.skill_match, c.bot))
        if len(self.rows) >= CHUNK:
            self.flush()

    def columns(self) -> Columns:
        columns = super().columns()
        order = np.argsort(columns["id"], kind="stable")
        return {name: values[order] for name, values in columns.items()}


@dataclass(frozen=True)
class RunInfo:
    """What a run was, and the names its records' codes stand for."""

    strategy: str
    seed: int
    start: dt.datetime
    duration: float
    interval: float
    service_target: float
    contact_ids: list[str]
    channels: list[str]
    teams: list[str]
    agent_ids: list[str]


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
