"""The KPI registry: each KPI declared once — name, unit, which way is better, a label for people and how
it is computed — and read by the summary, comparison, staffing targets, the report and calibration.

A KPI of conversations is a *numerator* per conversation (a mask, or a time in seconds) over a
*denominator* (the conversations it is over): its value is the numerator's mean over the denominator (or
a percentile of it); without a denominator it is a count. Staffing tallies the same two arrays per
interval and bounds their ratio by the ratio estimator, so a ratio with a better direction is at once a
staffing target; ``erlang`` gives its closed forms (Erlang C, Erlang A) beside the simulated requirement.
To add a KPI, add an entry to ``KPIS``.

Definitions (every KPI of ours uses these):
- *offered*: inbound conversations that reached an assign step (bot- and workflow-closed ones never
  did), less those still unanswered at the end and opened within the service target of it (their
  outcome is unknown, so they count in no rate).
- ``first_response_time``: opened → the agent's first message (human replies only).
- ``service_level``: first responded within the target / offered ("answered within t over all
  offered"); ``service_level_of_answered``: the same over answered conversations only.
- ``service_level_from_queue`` and ``asa_from_queue`` (average speed of answer): measured as workforce
  planners measure them, from queue entry — the assign step, so after the workflow's questions and
  look-ups and after a bot's handover to a human — to the agent's first message; the service level
  over all offered, the ASA over the answered.
- ``abandonment_rate``: abandoned / offered.
- ``resolution_time``: opened → closed, for conversations an agent closed (resolved or auto-closed).
- Agents' KPIs are measured over [warm-up, end), as the conversations' are over those opened from the
  warm-up on: the agents table holds each agent's times over that span (online; busy: at least one
  conversation open while online; busy slot-time: slots in use while online, slots = capacity).
- ``occupancy_pooled``: total busy slot-time / total online slot-time of all agents — the share of the
  chat slots online that were in use, as workforce planners and Erlang's ``occupancy`` mean it;
  ``utilisation_pooled``: total busy time / total online time.
- ``agent_occupancy_mean``, ``agent_utilisation_mean``: the unweighted mean over the agents online of each
  agent's own ratio — the typical agent's, where an agent of a two-hour shift counts as much as one of ten;
  the pooled figures weight each agent by its online (slot-)time. They agree when every agent is online
  as long (and has as many slots).

Message-level handling only (``messages=True``: in the summary of such runs alone, and no staffing target):
- ``response_time``: a human agent's reply ← the contact's message it answers, over every reply (the
  first reply's is the first response time); ``longest_response_time``: a conversation's longest wait
  for a reply; ``exchanges``: agent replies per conversation the agent closed (resolved or auto-closed);
- ``agent_concurrency``: conversations an agent holds open, weighted by its online time;
  ``agent_writing_share``: the share of an agent's online time spent writing replies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # (theory imports scipy: 60 MB a run need not hold)
    from sim.analysis.theory import ErlangA, ErlangC

Unit = Literal["count", "share", "seconds", "index", "number"]  # number: a mean of counts
Measure = Callable[["Conversations"], np.ndarray]


@dataclass(frozen=True)
class Conversations:
    """The conversations table of a run of ``duration`` seconds as a KPI's definition reads it: columns
    as arrays (``c["outcome"]``), the offered and answered masks, and the time ``within`` which a service
    level counts (the run's service target, or a staffing target's own)."""

    frame: pd.DataFrame
    duration: float
    service_target: float
    within: float
    messages: pd.DataFrame | None = None  # message-level handling: the run's messages table

    @cached_property
    def replies(self) -> pd.DataFrame:
        """Message-level handling: the human agents' replies to a contact's message in these conversations."""
        m = self.messages
        if m is None:
            return pd.DataFrame({"conversation_id": [], "response_time": []})
        keep = (m["who"] == "agent").to_numpy() & m["response_time"].notna().to_numpy()
        keep &= np.isin(m["conversation_id"].to_numpy(), self.frame["conversation_id"].to_numpy())
        return m[keep]

    def __getitem__(self, column: str) -> np.ndarray:
        return self.frame[column].to_numpy()

    def among(self, column: str, *values: str) -> np.ndarray:
        """Whether each conversation's category ``column`` (outcome, source) is one of ``values``: compared
        by the category's codes, not as an array of a million strings."""
        return self.frame[column].isin(values).to_numpy()

    @cached_property
    def offered(self) -> np.ndarray:
        """Inbound conversations that reached an agent queue and whose service outcome is known."""
        frame = self.frame
        reached = (frame["source"] == "contact").to_numpy() & frame["queued_at"].notna().to_numpy()
        unknown = (frame["first_response_at"].isna() & (frame["outcome"] == "open_at_end")).to_numpy()
        censored = unknown & (frame["opened_at"].to_numpy() > self.duration - self.service_target)
        return reached & ~censored

    @property
    def answered(self) -> np.ndarray:
        """Offered conversations an agent responded to."""
        return self.offered & ~np.isnan(self["first_response_time"])


@dataclass(frozen=True)
class Kpi:
    """A KPI as tables and targets name it, its unit, which way is ``better`` (None: neither) and a
    ``label`` for people; computed from the conversations (``numerator``, ``denominator``, ``percentile``)
    or from the agents online (``agents``)."""

    name: str
    unit: Unit
    label: str
    better: Literal["higher", "lower"] | None = None
    numerator: Measure | None = None  # per conversation: a mask, or a time
    denominator: Measure | None = None  # the conversations it is over (a mask); None: a count of the numerator
    percentile: float | None = None  # this percentile of the numerator instead of its mean
    timed: bool = False  # counts within a time t: a target names it, e.g. @60s
    erlang: tuple[Callable[[ErlangC, float], float], Callable[[ErlangA, float], float]] | None = None  # at t
    agents: Callable[[pd.DataFrame], float] | None = None  # of the agents table (those online)
    messages: bool = False  # of message-level handling: only in the summary of its runs

    @property
    def ratio(self) -> bool:
        """The numerator's mean over the denominator: a ratio tallied per interval (of conversations)."""
        return self.denominator is not None and self.percentile is None and not self.messages

    def value(self, c: Conversations) -> float:
        """The KPI over the conversations of ``c`` (NaN when the denominator is empty)."""
        assert self.numerator is not None, f"{self.name} is a KPI of agents"
        numerator = self.numerator(c)
        if self.denominator is None:
            return int(numerator.sum())
        values = numerator[self.denominator(c)]
        if self.percentile is not None:
            return float(np.percentile(values, self.percentile)) if len(values) else float("nan")
        return _mean(values)

    def parts(self, c: Conversations) -> tuple[np.ndarray, np.ndarray]:
        """A ratio's numerator and denominator per conversation, the numerator zero outside the
        denominator (a mask within it, for a share)."""
        assert self.numerator is not None and self.denominator is not None, f"{self.name} is not a ratio"
        numerator, counted = self.numerator(c), self.denominator(c)
        if numerator.dtype == bool:
            return numerator & counted, counted
        return np.where(counted, numerator, 0.0), counted


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, towards 1 when one has all."""
    values = np.sort(np.asarray(values, dtype=float))
    n, total = len(values), values.sum()
    if n == 0 or total == 0:
        return float("nan")
    return float((2 * np.arange(1, n + 1) - n - 1) @ values / (n * total))


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _known(values: np.ndarray) -> np.ndarray:
    return ~np.isnan(values)


def _from_queue(c: Conversations) -> np.ndarray:
    """Queue entry (the assign step: after the workflow, or the bot's handover to a human) → the agent's
    first message."""
    return c["first_response_at"] - c["queued_at"]


def _every_reply(c: Conversations) -> np.ndarray:
    return np.ones(len(c.replies), bool)


def _pooled(busy: pd.Series, online: pd.Series) -> float:
    """Total busy over total online (NaN with nobody online)."""
    total = float(online.to_numpy(dtype=float).sum())
    return float(busy.to_numpy(dtype=float).sum()) / total if total > 0 else float("nan")


def _time_weighted(values: pd.Series, weights: pd.Series) -> float:
    values, weights = values.to_numpy(dtype=float), weights.to_numpy(dtype=float)
    return float(values @ weights / weights.sum()) if weights.sum() > 0 else float("nan")


KPIS = {kpi.name: kpi for kpi in (
    Kpi("conversations_opened", "count", "conversations opened", numerator=lambda c: np.ones(len(c.frame), bool)),
    Kpi("conversations_closed", "count", "conversations closed",
        numerator=lambda c: ~c.among("outcome", "open_at_end")),
    Kpi("offered", "count", "conversations offered", numerator=lambda c: c.offered),
    Kpi("abandonment_rate", "share", "abandonment rate", "lower",
        numerator=lambda c: c.among("outcome", "abandoned"), denominator=lambda c: c.offered,
        erlang=(lambda q, t: 0.0, lambda q, t: q.p_abandon)),
    Kpi("service_level", "share", "service level", "higher", timed=True,
        numerator=lambda c: c["first_response_time"] <= c.within, denominator=lambda c: c.offered,
        erlang=(lambda q, t: q.service_level(t), lambda q, t: q.service_level_answered_of_all(t))),
    Kpi("service_level_of_answered", "share", "service level of answered", "higher", timed=True,
        numerator=lambda c: c["first_response_time"] <= c.within, denominator=lambda c: c.answered,
        erlang=(lambda q, t: q.service_level(t), lambda q, t: q.service_level_answered_of_answered(t))),
    Kpi("service_level_from_queue", "share", "service level from queue entry", "higher", timed=True,
        numerator=lambda c: _from_queue(c) <= c.within, denominator=lambda c: c.offered,
        erlang=(lambda q, t: q.service_level(t), lambda q, t: q.service_level_answered_of_all(t))),
    Kpi("asa_from_queue", "seconds", "average speed of answer from queue entry", "lower",
        numerator=_from_queue, denominator=lambda c: c.answered,
        erlang=(lambda q, t: q.mean_wait, lambda q, t: q.mean_wait_answered)),
    Kpi("first_response_time_mean", "seconds", "mean first response time", "lower",
        numerator=lambda c: c["first_response_time"], denominator=lambda c: c.answered,
        erlang=(lambda q, t: q.mean_wait, lambda q, t: q.mean_wait_answered)),
    Kpi("first_response_time_p90", "seconds", "first response time, 90th percentile", "lower",
        numerator=lambda c: c["first_response_time"], denominator=lambda c: c.answered, percentile=90),
    Kpi("resolution_time_mean", "seconds", "mean resolution time", "lower",
        numerator=lambda c: c["resolution_time"],
        denominator=lambda c: c.among("outcome", "resolved", "auto_closed")),
    Kpi("time_to_assignment_mean", "seconds", "mean time to assignment", "lower",
        numerator=lambda c: c["time_to_assignment"], denominator=lambda c: _known(c["time_to_assignment"])),
    Kpi("assignment_to_first_response_mean", "seconds", "mean assignment to first response", "lower",
        numerator=lambda c: c["first_response_at"] - c["assigned_at"],
        denominator=lambda c: _known(c["first_response_at"] - c["assigned_at"])),
    Kpi("agent_occupancy_mean", "share", "agent occupancy, mean over agents",
        agents=lambda a: _mean(a["occupancy"].to_numpy())),
    Kpi("agent_utilisation_mean", "share", "agent utilisation, mean over agents",
        agents=lambda a: _mean(a["utilisation"].to_numpy())),
    Kpi("occupancy_pooled", "share", "occupancy (busy slot-time / online slot-time)",
        agents=lambda a: _pooled(a["busy_slot_time"], a["online_time"] * a["capacity"])),
    Kpi("utilisation_pooled", "share", "utilisation (busy time / online time)",
        agents=lambda a: _pooled(a["busy_time"], a["online_time"])),
    Kpi("workload_gini", "index", "workload Gini", "lower", agents=lambda a: gini(a["handled"].to_numpy())),
    Kpi("skill_match_rate", "share", "skill-match rate", "higher",
        numerator=lambda c: c.frame["skill_match"].to_numpy(dtype=bool, na_value=False),
        denominator=lambda c: c.frame["skill_match"].notna().to_numpy()),
    Kpi("bot_resolution_rate", "share", "bot resolution rate", "higher",
        numerator=lambda c: c.among("outcome", "bot_resolved"), denominator=lambda c: c["bot"]),
    Kpi("returning_share", "share", "share of returning contacts",
        numerator=lambda c: c["generation"] > 0, denominator=lambda c: c.among("source", "contact")),
    Kpi("response_time_mean", "seconds", "mean response time", "lower", messages=True,
        numerator=lambda c: c.replies["response_time"].to_numpy(), denominator=_every_reply),
    Kpi("response_time_p90", "seconds", "response time, 90th percentile", "lower", messages=True,
        numerator=lambda c: c.replies["response_time"].to_numpy(), denominator=_every_reply, percentile=90),
    Kpi("longest_response_time_mean", "seconds", "mean longest wait for a reply", "lower", messages=True,
        numerator=lambda c: c["response_time_max"], denominator=lambda c: _known(c["response_time_max"])),
    Kpi("exchanges_mean", "number", "mean exchanges per conversation", messages=True,
        numerator=lambda c: c["exchanges"].astype(float),
        denominator=lambda c: c.among("outcome", "resolved", "auto_closed") & (c["exchanges"] > 0)),
    Kpi("agent_concurrency_mean", "number", "mean open conversations per online agent", messages=True,
        agents=lambda a: _time_weighted(a["concurrency_mean"], a["online_time"])),
    Kpi("agent_writing_share_mean", "share", "mean share of online time writing replies", messages=True,
        agents=lambda a: _mean(a["writing_share"].to_numpy())),
)}


def measured(messages: bool = False) -> list[str]:
    """The KPIs a run's summary holds: every one, less message-level handling's unless the run has it."""
    return [name for name, kpi in KPIS.items() if messages or not kpi.messages]


def format_kpi(kpi: str, value: float, signed: bool = False) -> str:
    """A KPI's value as people read it, by its unit: 67.5%, 72.2 s, 0.108, 1,632; ``signed`` for a
    difference (a share's in percentage points: +0.3 pts)."""
    if value != value:
        return "-"
    sign = "+" if signed else ""
    unit = KPIS[kpi].unit
    if unit == "share":
        return f"{value * 100:{sign}.1f} pts" if signed else f"{value * 100:.1f}%"
    if unit == "seconds":
        return f"{value:{sign}.1f} s"
    if unit == "index":
        return f"{value:{sign}.3f}"
    if unit == "number":
        return f"{value:{sign},.2f}"
    return f"{value:{sign},.0f}"
