"""Tables and KPIs from a run's records, named as the platform's reports name them; each KPI's definition
is in :mod:`sim.analysis.kpis`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import kpis
from sim.engine import events as ev
from sim.engine.records import WHO, Columns, EventLog, MessageLog, RunInfo, RunRecords

CONVERSATION_COLUMNS = (  # the fixed columns of conversations; the contact fields learned come beside them
    "strategy", "seed", "conversation_id", "contact_id", "source", "channel", "team", "agent_id", "opened_at",
    "queued_at", "left_queue_at", "assigned_at", "first_response_at", "closed_at", "outcome", "category",
    "messages", "generation", "handbacks", "skill_match", "bot", "queue_time", "time_to_assignment",
    "first_response_time", "resolution_time", "opened_ts", "first_response_ts", "closed_ts",
    "exchanges", "response_time_max")  # the last two: message-level handling only


def fields(columns: Iterable[str]) -> list[str]:
    """The contact fields among a conversations table's columns: those beyond the fixed ones."""
    return [c for c in columns if c not in CONVERSATION_COLUMNS]


def _category(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=names)


def _distinct(codes: np.ndarray, names: pd.Index) -> pd.Categorical:
    """Codes of names known to be distinct (the contact ids): pandas would check that they are by building
    a hash table of them as Python strings, about 60 bytes a contact kept with the run's ids."""
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    dtype = pd.CategoricalDtype(names) if fastpath is None else fastpath(names, False)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _learned(values: np.ndarray) -> pd.Categorical:
    """A learned field's values (None: unknown) as ``pd.Categorical(values)`` has them, sorted categories,
    in one pass (pandas' constructor hashes the strings twice)."""
    codes, uniques = pd.factorize(values, sort=True)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques))


def _optional(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    """Codes where -1 means "none" (no team, no agent)."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=names, validate=False)


def conversations(records: RunRecords) -> pd.DataFrame:
    """A row per conversation: who, where, when each milestone happened, how it ended."""
    c, info = records.conversations, records.info
    opened, assigned = c["opened_at"], c["assigned_at"]
    first, closed = c["first_response_at"], c["closed_at"]
    skill = c["skill_match"]
    columns = {
        "strategy": pd.Categorical.from_codes(np.zeros(len(opened), dtype=np.int8), categories=[info.strategy]),
        "seed": np.full(len(opened), info.seed),
        "conversation_id": c["id"],
        "contact_id": _distinct(c["contact"], info.contact_ids),
        "source": _category(c["source"], list(ev.NAMES)).set_categories(list(ev.SOURCES)),
        "channel": _category(c["channel"], info.channels),
        "team": _optional(c["team"], info.teams),
        "agent_id": _optional(c["agent"], info.agent_ids),
        "opened_at": opened,
        "queued_at": c["queued_at"],
        "left_queue_at": c["left_queue_at"],
        "assigned_at": assigned,
        "first_response_at": first,
        "closed_at": closed,
        "outcome": _category(c["outcome"], list(ev.NAMES)).set_categories(list(ev.OUTCOMES)),
        "category": _category(c["category"], records.categories),
        "messages": c["messages"],
        "generation": c["generation"],
        "handbacks": c["handbacks"],
        "skill_match": pd.array(np.where(skill < 0, None, skill == 1), dtype="boolean"),
        "bot": c["bot"],
        "queue_time": c["queue_time"],
    }
    for column in [name for name in c if name.startswith("field:")]:
        name = column.removeprefix("field:")
        columns[column if name in columns else name] = _learned(c[column])
    columns["time_to_assignment"] = assigned - opened
    columns["first_response_time"] = first - opened
    columns["resolution_time"] = closed - opened
    start = pd.Timestamp(info.start)
    for column in ("opened_at", "first_response_at", "closed_at"):
        columns[column.replace("_at", "_ts")] = start + pd.to_timedelta(c[column], unit="s")
    if "exchanges" in c:  # message-level handling: agent replies, and the longest wait for one
        columns["exchanges"] = c["exchanges"]
        columns["response_time_max"] = c["response_time_max"]
    # one frame of the columns as they are (not a copy of the records'; copy-on-write guards both)
    frame = pd.DataFrame(columns, copy=False)
    return frame


def messages(columns: Columns | None, info: RunInfo) -> pd.DataFrame:
    """Message-level handling's messages (or one chunk of them): a row per message of a conversation's
    turns — the contact's, and the agent's reply with its response time (since the message it answers).

    Category columns have fixed categories, so chunks written one after another share a schema."""
    if columns is None:
        columns = {name: np.empty(0, dtype=dtype) for name, dtype in MessageLog.SCHEMA}
    n = len(columns["sent_at"])
    return pd.DataFrame({
        "strategy": pd.Categorical([info.strategy] * n),
        "seed": np.full(n, info.seed),
        "conversation_id": columns["conversation_id"],
        "turn": columns["turn"],
        "who": _category(columns["who"], list(WHO)),
        "agent_id": _optional(columns["agent"], info.agent_ids),
        "sent_at": columns["sent_at"],
        "sent_ts": pd.Timestamp(info.start) + pd.to_timedelta(columns["sent_at"], unit="s"),
        "response_time": columns["response_time"],
        "closes": columns["closes"],
    })


def replies(records: RunRecords) -> pd.DataFrame:
    """Message-level handling: the agents' replies as the KPIs read them (conversation, response time) —
    from the messages, or, when those were streamed, from what the run kept of them."""
    if records.messages is not None:
        return messages(records.messages, records.info)
    kept = records.replies or {"conversation_id": np.empty(0, dtype="i8"), "response_time": np.empty(0)}
    return pd.DataFrame({"conversation_id": kept["conversation_id"],
                         "who": pd.Categorical(["agent"] * len(kept["conversation_id"]), categories=list(WHO)),
                         "response_time": kept["response_time"]})


def concurrency(records: RunRecords) -> pd.DataFrame:
    """Message-level handling: per agent, its online time with each number of conversations open (the
    time-weighted distribution of its concurrency) and that time's share of its online time."""
    _, levels = measured_totals(records)
    if levels is None:
        return pd.DataFrame(columns=["strategy", "seed", "agent_id", "team", "open", "online_time", "share"])
    agents, width = levels.shape
    online = levels.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(online > 0, levels / online, np.nan)
    return pd.DataFrame({
        "strategy": pd.Categorical([records.info.strategy] * (agents * width)),
        "seed": records.info.seed,
        "agent_id": np.repeat(records.info.agent_ids, width),
        "team": np.repeat(_category(records.agents["team"], records.info.teams), width),
        "open": np.tile(np.arange(width), agents),
        "online_time": levels.ravel(),
        "share": share.ravel(),
    })


def events(columns: Columns | None, info: RunInfo) -> pd.DataFrame:
    """The event log (or one chunk of it): a row per lifecycle event.

    Category columns have fixed categories, so chunks written one after another share a schema."""
    if columns is None:
        columns = {name: np.empty(0, dtype=dtype) for name, dtype in EventLog.SCHEMA}
    n = len(columns["time"])
    return pd.DataFrame({
        "strategy": pd.Categorical([info.strategy] * n),
        "seed": np.full(n, info.seed),
        "conversation_id": columns["conversation_id"],
        "contact_id": info.contact_ids.take(columns["contact"]),
        "time": columns["time"],
        "timestamp": pd.Timestamp(info.start) + pd.to_timedelta(columns["time"], unit="s"),
        "event": _category(columns["event"], list(ev.NAMES)).set_categories(list(ev.EVENTS)),
        "source": _category(columns["source"], list(ev.NAMES)).set_categories(list(ev.SOURCES)),
        "team": _optional(columns["team"], info.teams),
        "agent_id": _optional(columns["agent"], info.agent_ids),
    })


def measured_totals(records: RunRecords) -> tuple[Columns, np.ndarray | None]:
    """The agents' totals (handled, online, busy, busy slot, overtime and writing seconds) and message-level
    handling's concurrency levels over the span the KPIs measure, [warm-up, end): the run's totals less
    those at the warm-up's end."""
    a, levels, before = records.agents, records.concurrency, records.at_warmup
    if before is None:
        return a, levels
    a = {name: column - before[name] if name in before else column for name, column in a.items()}
    return a, None if levels is None else levels - before["levels"]


def agents(records: RunRecords) -> pd.DataFrame:
    """A row per agent: conversations handled (closed), online time, busy time (at least one conversation
    open) and busy slot-time, occupancy and utilisation — over [warm-up, end), the span the KPIs measure."""
    a, levels = measured_totals(records)
    online = a["online_time"]
    with np.errstate(invalid="ignore", divide="ignore"):
        occupancy = np.where(online > 0, a["busy_slot_time"] / (online * a["capacity"]), np.nan)
        utilisation = np.where(online > 0, a["busy_time"] / online, np.nan)
    return pd.DataFrame({
        "strategy": pd.Categorical([records.info.strategy] * len(online)),
        "seed": records.info.seed,
        "agent_id": records.info.agent_ids,
        "team": _category(a["team"], records.info.teams),
        "capacity": a["capacity"],
        "handled": a["handled"],
        "online_time": online,
        "busy_time": a["busy_time"],
        "busy_slot_time": a["busy_slot_time"],
        "overtime": a["overtime"],
        "occupancy": occupancy,
        "utilisation": utilisation,
    } | (_attention(a, levels, online) if levels is not None else {}))


def _attention(a: Columns, levels: np.ndarray, online: np.ndarray) -> dict[str, np.ndarray]:
    """Message-level handling: each agent's time writing replies, its share of the online time, and the
    time-weighted mean of the conversations it held open while online."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"writing_time": a["writing_time"],
                "writing_share": np.where(online > 0, a["writing_time"] / online, np.nan),
                "concurrency_mean": np.where(online > 0, levels @ np.arange(levels.shape[1]) / levels.sum(axis=1),
                                             np.nan)}


def overlap(begin: np.ndarray, end: np.ndarray, grid: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Total overlap of the spans [begin, end) with each cell of ``grid`` (cell edges), each span counted
    ``weights`` times (once by default)."""
    weights = None if weights is None else np.asarray(weights, dtype=float)

    def running(values: np.ndarray) -> np.ndarray:  # [0, cumsum(values)…] without a second copy
        total = np.empty(len(values) + 1)
        total[0] = 0.0
        np.cumsum(values, out=total[1:])
        return total

    def integral(points: np.ndarray, at: np.ndarray) -> np.ndarray:
        if weights is None:  # each span once: the same sums, without arrays of ones or of the sort's order
            points = np.sort(points)
            count = np.searchsorted(points, at, side="left")
            return count.astype(float) * at - running(points)[count]
        order = np.argsort(points, kind="stable")
        points, weight = points[order], weights[order]
        count = np.searchsorted(points, at, side="left")
        before = running(weight * points)[count]
        return running(weight)[count] * at - before

    cumulative = integral(begin, grid) - integral(end, grid)
    return np.diff(cumulative)


def intervals(records: RunRecords, frame: pd.DataFrame) -> pd.DataFrame:
    """Per interval (15 minutes by default): arrivals, opened, queue length, service level,
    abandonment, agents online and occupancy; rates by the interval the conversation opened in.

    Queue length spans first queueing to last leaving the queue (for a conversation handed back at a
    shift's end that includes its first agent's time); occupancy is the slot-time of conversations from
    assignment to close (work past a shift's end included) over the online slot-time."""
    width, horizon = records.info.interval, records.info.duration
    grid = np.append(np.arange(0.0, horizon, width), horizon)
    cells = len(grid) - 1

    def per_cell(times: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        times = times if mask is None else times[mask]
        times = times[~np.isnan(times)]
        return np.bincount(np.minimum((times // width).astype(np.int64), cells - 1), minlength=cells)

    opened = frame["opened_at"].to_numpy()
    view = kpis.Conversations(frame, horizon, records.info.service_target, records.info.service_target)
    answered_in_time, is_offered = kpis.KPIS["service_level"].parts(view)
    abandoned, _ = kpis.KPIS["abandonment_rate"].parts(view)
    queued = frame["queued_at"].to_numpy()
    left = np.where(np.isnan(frame["left_queue_at"].to_numpy()), horizon, frame["left_queue_at"].to_numpy())
    in_queue = ~np.isnan(queued)
    assigned = frame["assigned_at"].to_numpy()
    busy_end = np.where(np.isnan(frame["closed_at"].to_numpy()), horizon, frame["closed_at"].to_numpy())
    has_agent = ~np.isnan(assigned)
    online_spans = np.array([span for spans in records.online for span in spans] or np.empty((0, 2)))
    capacity = records.agents["capacity"]
    slots = np.array([cap for cap, spans in zip(capacity, records.online, strict=True) for _ in spans])
    lengths = np.diff(grid)
    online = overlap(online_spans[:, 0], online_spans[:, 1], grid) if len(online_spans) else np.zeros(cells)
    online_slots = overlap(online_spans[:, 0], online_spans[:, 1], grid, slots) if len(slots) else np.zeros(cells)
    busy_slots = overlap(assigned[has_agent], busy_end[has_agent], grid)
    n_offered = per_cell(opened, is_offered)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "strategy": pd.Categorical([records.info.strategy] * cells),
            "seed": records.info.seed,
            "interval_start": grid[:-1],
            "interval_ts": pd.Timestamp(records.info.start) + pd.to_timedelta(grid[:-1], unit="s"),
            "arrivals": per_cell(records.arrivals),
            "opened": per_cell(opened),
            "offered": n_offered,
            "answered_within_target": per_cell(opened, answered_in_time),
            "abandoned": per_cell(opened, abandoned),
            "service_level": per_cell(opened, answered_in_time) / n_offered,
            "abandonment_rate": per_cell(opened, abandoned) / n_offered,
            "queue_length_mean": overlap(queued[in_queue], left[in_queue], grid) / lengths,
            "agents_online_mean": online / lengths,
            "occupancy": busy_slots / online_slots,
        })
    return table


def summary(records: RunRecords, frame: pd.DataFrame, agent_table: pd.DataFrame,
            message_table: pd.DataFrame | None = None) -> dict[str, Any]:
    """The run's KPIs (:mod:`sim.analysis.kpis`), each over what follows the scenario's warm-up: the
    conversations opened from then on, and the agents' time from then to the end (``agent_table``, made by
    :func:`agents`); message-level handling's only for its runs."""
    info = records.info
    working = agent_table[agent_table["online_time"] > 0]
    messages = info.handling == "messages"
    return {
        "strategy": info.strategy, "seed": info.seed, "duration": info.duration,
        "service_target": info.service_target, "warmup": info.warmup,
        **conversation_kpis(frame, info.duration, info.service_target, info.warmup, message_table),
        **{kpi.name: kpi.agents(working) for kpi in kpis.KPIS.values()
           if kpi.agents is not None and (messages or not kpi.messages)},
    }


def conversation_kpis(frame: pd.DataFrame, duration: float, service_target: float,
                      warmup: float = 0.0, messages: pd.DataFrame | None = None) -> dict[str, float]:
    """The KPIs that conversations alone decide (all but the agents'), over those of a run of
    ``duration`` seconds opened after ``warmup`` — for a whole run or for a segment of it. Message-level
    handling's are there for its runs (whose conversations have ``exchanges``), from its ``messages``."""
    frame = frame[frame["opened_at"] >= warmup] if warmup > 0 else frame
    view = kpis.Conversations(frame, duration, service_target, service_target, messages)
    level = "exchanges" in frame
    return {kpi.name: kpi.value(view) for kpi in kpis.KPIS.values()
            if kpi.numerator is not None and (level or not kpi.messages)}
