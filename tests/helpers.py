"""Small hand-made worlds where the right answer is known."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd

import sim

BASE: dict[str, Any] = {
    "start": "2026-11-02T00:00:00",  # a Monday
    "duration": "10h",
    "seed": 1,
    "channels": ["whatsapp", "webchat"],
    "arrivals": {"generate": {"profile": [0], "channels": {"whatsapp": 1}}},  # tests pass their own trace
    "handling": {"handle_time": {"dist": "constant", "value": 100}},
    "teams": {"support": {}},
    "agents": [{"id": "a", "team": "support"}],
    "workflow": [{"type": "assign"}],
}


MERGED = ("handling", "contacts")  # sections whose fields a test overrides one by one; others are replaced


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = {**out.get(key, {}), **value} if key in MERGED and isinstance(value, dict) else value
    return out


def make_scenario(**over: Any) -> sim.Scenario:
    return sim.parse(merge(BASE, over))


def make_trace(*rows: tuple) -> pd.DataFrame:
    """Rows of (time, contact_id) or (time, contact_id, {attribute: value}), all on WhatsApp."""
    records = []
    for row in rows:
        time, contact = row[0], row[1]
        extra = row[2] if len(row) > 2 else {}
        records.append({"time": float(time), "contact_id": contact, "channel": "whatsapp", **extra})
    return pd.DataFrame(records, columns=None if records else ["time", "contact_id", "channel"])


def run(scenario: sim.Scenario, trace: pd.DataFrame, strategy: str | list[str] | None = None) -> sim.Result:
    return sim.run(scenario, strategy=strategy, trace=trace)


def events_of(result: sim.Result, conversation_id: int) -> list[tuple[float, str]]:
    e = result.events[result.events["conversation_id"] == conversation_id]
    return list(zip(e["time"].round(9), e["event"].astype(str), strict=True))
