"""A run's event log in the process-mining layout (pm4py's column names, XES files), to mine the simulated
process beside a real one.

Choices, for analysts who read the files:
- a case is a conversation; its id is ``strategy/seed/conversation_id`` (``round_robin/7/123``), unique
  across a table holding several strategies and seeds;
- ``org:resource`` is ``contact`` for what the contact does (opens a conversation, writes, answers,
  abandons, goes silent — even while an agent holds the conversation); otherwise the agent's id where the
  event names one, ``user`` for the opening of a
  conversation the business started (source ``user``), and ``workflow`` for the platform's own steps
  (questions, lookups, routing, queueing, closes without an agent);
- ``org:group`` is the team, missing before routing;
- ``time:timestamp`` is the scenario's wall-clock time to the microsecond (the precision of XES readers and
  of Python's datetime), naive as in the event log, or in UTC when the scenario's start carries a zone; XES
  files state it with the offset ``+00:00``: a naive clock is written as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.errors import ConvsimError
from sim.files import atomic_write

FORMATS = ("csv", "parquet", "xes")
CASE, ACTIVITY, TIMESTAMP, RESOURCE, GROUP = (
    "case:concept:name", "concept:name", "time:timestamp", "org:resource", "org:group")
CASE_ATTRIBUTES = {"case:strategy": "strategy", "case:seed": "seed", "case:contact_id": "contact_id",
                   "case:source": "source"}  # column: the event log's column (and the XES trace attribute)
COLUMNS = (CASE, ACTIVITY, TIMESTAMP, RESOURCE, GROUP, *CASE_ATTRIBUTES)
CONTACT_EVENTS = ("message_joined", "question_answered", "contact_silent", "abandoned")
NEEDED = ("strategy", "seed", "conversation_id", "contact_id", "timestamp", "event", "source", "team", "agent_id")


def _values(column: pd.Series) -> np.ndarray:
    """A column as an object array, missing values as None (categories and string dtypes alike)."""
    values = column.astype(object).to_numpy(copy=True)
    values[column.isna().to_numpy()] = None
    return values


def _clock(timestamps: pd.Series) -> tuple[np.ndarray, bool]:
    """Timestamps as naive datetime64[ns] (zoned ones converted to UTC first), and whether they were zoned."""
    timestamps = pd.to_datetime(timestamps)
    zoned = isinstance(timestamps.dtype, pd.DatetimeTZDtype)
    if zoned:
        timestamps = timestamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return timestamps.to_numpy(dtype="datetime64[ns]"), zoned


def process_log(events: pd.DataFrame) -> pd.DataFrame:
    """The event log (``sim.analysis.metrics.events``'s layout; several strategies and seeds may share it) as a
    process-mining table: a row per event, sorted by case (in the order strategies first appear, then
    seed and conversation id) and time, events at the same time in the log's order."""
    missing = [name for name in NEEDED if name not in events.columns]
    if missing:
        raise ConvsimError(f"the event log lacks the column(s) {', '.join(missing)}")
    if events["timestamp"].isna().any():
        rows = np.flatnonzero(events["timestamp"].isna().to_numpy())[:5].tolist()
        raise ConvsimError(f"the event log has rows without a timestamp (rows {rows})")
    clock, zoned = _clock(events["timestamp"])
    strategy_code, strategies = pd.factorize(events["strategy"].astype(object), use_na_sentinel=False)
    seed = events["seed"].to_numpy(dtype=np.int64)
    conversation = events["conversation_id"].to_numpy(dtype=np.int64)
    order = np.lexsort((np.arange(len(events)), clock.view(np.int64), conversation, seed, strategy_code))

    strategy_code, seed, conversation = strategy_code[order], seed[order], conversation[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (np.diff(strategy_code) != 0) | (np.diff(seed) != 0) | (np.diff(conversation) != 0)
    case_index = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    names = list(strategies)
    case_ids = np.array([f"{names[s]}/{k}/{c}" for s, k, c in
                         zip(strategy_code[first], seed[first], conversation[first], strict=True)], dtype=object)

    activity = _values(events["event"])[order]
    source = _values(events["source"])[order]
    by_contact = np.isin(activity, CONTACT_EVENTS)
    resource = np.where(by_contact, "contact", "workflow").astype(object)
    opened = activity == "conversation_opened"
    resource[opened] = np.where(source[opened] == "user", "user", "contact")
    by_agent = events["agent_id"].notna().to_numpy()[order] & ~by_contact
    resource[by_agent] = _values(events["agent_id"])[order][by_agent]
    timestamp = pd.Series(clock[order]).dt.floor("us").dt.as_unit("us")
    log = pd.DataFrame({
        CASE: case_ids[case_index],
        ACTIVITY: activity,
        TIMESTAMP: timestamp.dt.tz_localize("UTC") if zoned else timestamp,
        RESOURCE: resource,
        GROUP: _values(events["team"])[order],
        "case:strategy": np.asarray(strategies, dtype=object)[strategy_code],
        "case:seed": seed,
        "case:contact_id": _values(events["contact_id"])[order],
        "case:source": source,
    })
    for column in ("case:contact_id", "case:source"):
        values = log[column].to_numpy()
        if (values != values[first][case_index]).any():
            raise ConvsimError(f"the event log gives one conversation two values of {CASE_ATTRIBUTES[column]}")
    return log


_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                          "\t": "&#9;"})


def _attribute(value: object) -> str:
    """A value for an XML attribute (double-quoted), escaped."""
    text = str(value)
    if _INVALID_XML.search(text):
        raise ConvsimError(f"{text!r} holds a character XML cannot carry")
    return text.translate(_ESCAPES)


def _strings(key: str, column: pd.Series) -> np.ndarray:
    """``<string key=... value=.../>`` for each value of the column ("" where it is missing), each distinct
    value escaped once."""
    codes, uniques = pd.factorize(column)
    elements = np.array([f'<string key="{key}" value="{_attribute(v)}"/>' for v in uniques] + [""], dtype=object)
    return elements[codes]  # code -1 (missing) takes the last: ""


_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">
\t<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
\t<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
\t<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
\t<global scope="trace">
\t\t<string key="concept:name" value="__INVALID__"/>
\t</global>
\t<global scope="event">
\t\t<string key="concept:name" value="__INVALID__"/>
\t\t<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
\t\t<string key="org:resource" value="__INVALID__"/>
\t</global>
\t<classifier name="Activity" keys="concept:name"/>
\t<classifier name="Resource" keys="org:resource"/>
\t<string key="concept:name" value="convsim"/>
"""


def _xes_lines(log: pd.DataFrame) -> Iterator[str]:
    """The XES document a trace at a time."""
    yield _HEADER
    n = len(log)
    if n == 0:
        yield "</log>\n"
        return
    dates = np.datetime_as_string(_clock(log[TIMESTAMP])[0], unit="us").astype(object)
    activity, resource, group = (_strings(k, log[k]) for k in (ACTIVITY, RESOURCE, GROUP))
    case = log[CASE].to_numpy()
    starts = np.flatnonzero(np.r_[True, case[1:] != case[:-1]])
    ends = np.r_[starts[1:], n]
    trace_attributes = [(_strings(key, log[column].iloc[starts].astype(str)), key)
                        for column, key in [(CASE, "concept:name"), *CASE_ATTRIBUTES.items()]]
    for i, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        head = "".join(f"\t\t{elements[i]}\n" for elements, _ in trace_attributes)
        events = "".join(
            f'\t\t<event>\n\t\t\t{a}\n\t\t\t<date key="time:timestamp" value="{d}+00:00"/>\n\t\t\t{r}\n'
            + (f"\t\t\t{g}\n" if g else "") + "\t\t</event>\n"
            for a, d, r, g in zip(activity[start:end], dates[start:end], resource[start:end], group[start:end],
                                  strict=True))
        yield f"\t<trace>\n{head}{events}\t</trace>\n"
    yield "</log>\n"


def write_xes(log: pd.DataFrame, path: Path) -> None:
    """Write a ``process_log`` table as an XES (IEEE 1849) file, streamed a trace at a time: the case
    attributes as trace-level strings, events with concept:name, time:timestamp, org:resource and
    org:group (where there is a team). The rows of a case must be consecutive, as process_log gives them."""
    missing = [name for name in COLUMNS if name not in log.columns]
    if missing:
        raise ConvsimError(f"{path}: the process log lacks the column(s) {', '.join(missing)}")
    lines = _xes_lines(log)

    def write(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(lines)

    try:
        atomic_write(Path(path), write)
    except ConvsimError as exc:
        raise ConvsimError(f"{path}: {exc}") from None


def export(folder: Path, fmt: str = "csv") -> Path:
    """Read ``events.parquet`` from a run's output folder (``convsim run --out``), write
    ``process_log.<fmt>`` (csv, parquet or xes) beside it and return its path."""
    folder, kind = Path(folder), fmt.lower().lstrip(".")
    if kind not in FORMATS:
        raise ConvsimError(f"unknown process-log format {fmt!r}; allowed: {', '.join(FORMATS)}")
    source = folder / "events.parquet"
    if not source.is_file():
        raise ConvsimError(f"{source}: no event log there (convsim run --out {folder} writes one)")
    try:
        events = pd.read_parquet(source)
    except (OSError, pa.ArrowException) as exc:
        raise ConvsimError(f"{source}: not a readable Parquet file ({exc})") from None
    if events.empty:
        raise ConvsimError(f"{source}: the event log is empty, there is nothing to export")
    try:
        log = process_log(events)
    except ConvsimError as exc:
        raise ConvsimError(f"{source}: {exc}") from None
    path = folder / f"process_log.{kind}"
    if kind == "xes":
        write_xes(log, path)
    elif kind == "parquet":
        atomic_write(path, lambda p: log.to_parquet(p, index=False))
    else:
        atomic_write(path, lambda p: log.to_csv(p, index=False))
    return path
