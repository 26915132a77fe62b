"""The run's records, kept columnar and cheap: appends to lists in the loop, arrays once at the end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.world import Conversation


class EventLog:
    """One row per lifecycle event: time, event code, conversation, agent and team indices."""

    def __init__(self) -> None:
        self.time: list[float] = []
        self.event: list[int] = []
        self.conversation: list[int] = []
        self.agent: list[int] = []
        self.team: list[int] = []

    def add(self, time: float, event: int, conversation: Conversation) -> None:
        self.time.append(time)
        self.event.append(event)
        self.conversation.append(conversation.id)
        agent, team = conversation.agent, conversation.team
        self.agent.append(-1 if agent is None else agent.index)
        self.team.append(-1 if team is None else team.index)

    def columns(self) -> dict[str, np.ndarray]:
        return {
            "time": np.asarray(self.time, dtype=float),
            "event": np.asarray(self.event, dtype=np.int16),
            "conversation_id": np.asarray(self.conversation, dtype=np.int64),
            "agent": np.asarray(self.agent, dtype=np.int32),
            "team": np.asarray(self.team, dtype=np.int32),
        }


class ConversationLog:
    """One row per conversation, written when it closes (or at the end, if still open)."""

    FIELDS = ("id", "contact", "source", "channel", "team", "agent", "opened_at", "queued_at", "left_queue_at",
              "assigned_at", "first_response_at", "closed_at", "outcome", "category", "messages", "generation",
              "handbacks", "skill_match", "bot")

    def __init__(self) -> None:
        self.rows: dict[str, list] = {field: [] for field in self.FIELDS}

    def add(self, c: Conversation) -> None:
        rows = self.rows
        rows["id"].append(c.id)
        rows["contact"].append(c.contact.index)
        rows["source"].append(c.source)
        rows["channel"].append(c.channel)
        rows["team"].append(-1 if c.team is None else c.team.index)
        rows["agent"].append(-1 if c.agent is None else c.agent.index)
        rows["opened_at"].append(c.opened_at)
        rows["queued_at"].append(c.queued_at)
        rows["left_queue_at"].append(c.left_queue_at)
        rows["assigned_at"].append(c.assigned_at)
        rows["first_response_at"].append(c.first_response_at)
        rows["closed_at"].append(c.closed_at)
        rows["outcome"].append(c.outcome)
        rows["category"].append(c.category)
        rows["messages"].append(c.messages)
        rows["generation"].append(c.generation)
        rows["handbacks"].append(c.handbacks)
        rows["skill_match"].append(c.skill_match)
        rows["bot"].append(c.bot)

    def columns(self) -> dict[str, np.ndarray | list]:
        rows = self.rows
        order = np.argsort(np.asarray(rows["id"], dtype=np.int64), kind="stable")
        out: dict[str, np.ndarray | list] = {}
        for field, values in rows.items():
            if field in ("category", "skill_match"):
                out[field] = [values[i] for i in order]
            else:
                out[field] = np.asarray(values)[order] if values else np.asarray(values)
        return out


@dataclass(frozen=True)
class RunRecords:
    """Everything one run produced, as plain columns and the names their codes stand for."""

    strategy: str
    seed: int
    duration: float
    start: dt.datetime
    interval: float
    service_target: float
    conversations: dict[str, np.ndarray | list]
    events: dict[str, np.ndarray] | None
    agents: dict[str, np.ndarray | list]
    online: list[list[tuple[float, float]]]  # per agent: online intervals within the run
    arrivals: np.ndarray  # times of inbound messages, follow-ups and returns included
    contact_ids: list[str]
    channels: list[str]
    teams: list[str]
    agent_ids: list[str]
