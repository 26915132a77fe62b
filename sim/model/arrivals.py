"""Arrival traces: inbound messages, loaded from CSV/Parquet or generated.

A trace is a DataFrame, one row per inbound message, sorted by time, with the columns ``time``
(seconds from the scenario's start), ``contact_id``, ``channel`` and any contact attributes
(``language``, ``intent``, ``tier`` …): the contact's true field values, which the workflow learns by
asking or looking up. Optional ``handle_time`` and ``patience`` columns (seconds) replace the drawn
values for the conversations those messages open, to replay a real log exactly.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sim import memory, units
from sim.errors import ScenarioError, TraceError
from sim.files import atomic_write
from sim.model.scenario import WEEKDAYS, ContactType, Generate, Scenario, TraceFile
from sim.model.streams import Streams

REQUIRED = ("timestamp", "contact_id", "channel")
GIVEN = ("handle_time", "patience")  # optional: seconds that replace the drawn ones
MAX_INTERVALS = 2_000_000  # profile intervals laid over the scenario
MAX_ARRIVALS = 20_000_000  # messages a generated trace may hold (about 10 GB of a run at most)
_SHOWN = 5
_SLICE = 1 << 18  # rows of text converted to times at once


def for_scenario(scenario: Scenario, seed: int | None = None) -> pd.DataFrame:
    """The scenario's trace: its file, or days generated from ``seed`` (default: the scenario's)."""
    arrivals = scenario.arrivals
    if arrivals.trace is not None:
        return load(scenario.base_dir / arrivals.trace.path, scenario, arrivals.trace)
    assert arrivals.generate is not None
    rng = Streams(scenario.seed if seed is None else seed).generator("arrivals")
    try:
        return generate(arrivals.generate, scenario.duration, rng, scenario.start)
    except ScenarioError as exc:
        raise ScenarioError(f"{scenario.source}: {exc}") from None


def rates(spec: Generate, duration: float, start: dt.datetime, kind: ContactType | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """The profile (of contact type ``kind``, if given) laid over the scenario: interval edges (seconds
    from the start) and the rate (per second) in each, weekday multipliers applied (before any day-level
    overdispersion)."""
    midnight = -units.time_of_day(start)
    profile = spec.profile if kind is None else kind.profile
    step = spec.profile_step if kind is None or kind.profile_step is None else kind.profile_step
    assert profile is not None
    first = int(np.floor(-midnight / step))
    count = int(np.ceil((duration - midnight) / step)) - first
    edges = np.clip(midnight + (first + np.arange(count + 1)) * step, 0.0, duration)
    index = (first + np.arange(count)) % len(profile)
    rate = np.asarray(profile, dtype=float)[index] * spec.volume / 3600.0
    if spec.weekdays:
        day = np.floor((edges[:-1] - midnight) / 86400).astype(int)
        multiplier = np.array([spec.weekdays.get(WEEKDAYS[d], 1.0) for d in range(7)])
        rate = rate * multiplier[(start.weekday() + day) % 7]
    return edges, rate


def generate(spec: Generate, duration: float, rng: np.random.Generator,
             start: dt.datetime = dt.datetime(2026, 1, 5)) -> pd.DataFrame:
    """Arrivals of new contacts over ``duration`` seconds, with their follow-ups and returns.

    Each interval's count is Poisson (given the day's Gamma multiplier, when overdispersed), its
    arrivals uniform within it; each contact's channel and attributes are drawn from the shares."""
    kinds: list[ContactType | None] = list(spec.types.values()) or [None]
    layouts = []
    for kind in kinds:
        step = spec.profile_step if kind is None or kind.profile_step is None else kind.profile_step
        steps = (duration + 86400) / step
        if steps > MAX_INTERVALS:
            raise ScenarioError(f"arrivals.generate.profile_step: {step:g} s lays {steps:,.0f} intervals "
                                f"over the scenario, more than {MAX_INTERVALS:,}")
        layouts.append(rates(spec, duration, start, kind))
    expected = sum(float((rate * np.diff(edges)).sum()) for edges, rate in layouts) * (1 + 10 * spec.overdispersion)
    messages = expected * (1 + (spec.returns.share if spec.returns else 0.0)) * (
        1 + (spec.follow_ups.mean if spec.follow_ups else 0.0))  # returns and follow-ups are messages too
    if not messages <= MAX_ARRIVALS:
        raise ScenarioError(f"arrivals.generate.profile: about {expected:,.0f} contacts and {messages:,.0f} messages "
                            f"(follow-ups and returns counted) over the scenario, more than {MAX_ARRIVALS:,} "
                            "(rates are contacts per hour)")
    midnight = -units.time_of_day(start)
    busyness = None
    if spec.overdispersion > 1e-6:  # the day's busyness, one multiplier a day shared by every type (below: none)
        shape = spec.overdispersion**-2
        days = max(int(np.floor((edges[-2] - midnight) / 86400)) + 1 for edges, _ in layouts if len(edges) > 1)
        busyness = rng.gamma(shape, 1 / shape, days)
    parts = []
    for kind, (edges, rate) in zip(kinds, layouts, strict=True):
        if busyness is not None:
            rate = rate * busyness[np.floor((edges[:-1] - midnight) / 86400).astype(int)]
        counts = rng.poisson(rate * np.diff(edges))
        times = np.sort(rng.uniform(np.repeat(edges[:-1], counts), np.repeat(edges[1:], counts)))
        n = len(times)
        columns = {"channel": _categorical(spec.channels if kind is None or kind.channels is None else kind.channels,
                                           rng, n)}
        attributes = spec.attributes if kind is None else {**spec.attributes, **kind.attributes}
        columns |= {field: _categorical(shares, rng, n) for field, shares in attributes.items()}
        parts.append((times, columns))
    times, columns = parts[0] if len(parts) == 1 else _merged(parts, list(spec.types))
    n = len(times)
    contact = np.arange(n)
    if spec.returns is not None and n:
        back = np.flatnonzero(rng.random(n) < spec.returns.share)
        later = times[back] + spec.returns.delay.sample(rng, len(back))
        inside = later < duration
        times, contact = np.concatenate((times, later[inside])), np.concatenate((contact, back[inside]))
    if spec.follow_ups is not None and len(times):
        follow = rng.poisson(spec.follow_ups.mean, len(times))
        owner = np.repeat(np.arange(len(times)), follow)  # the message each follow-up follows
        gaps = spec.follow_ups.delay.sample(rng, len(owner))
        cumulative = np.cumsum(gaps)
        first = np.cumsum(follow) - follow  # each message's first follow-up position
        before = np.repeat(np.concatenate(([0.0], cumulative))[first], follow)
        follow_times = times[owner] + cumulative - before
        inside = follow_times < duration
        times = np.concatenate((times, follow_times[inside]))
        contact = np.concatenate((contact, contact[owner[inside]]))
    order = np.argsort(times, kind="stable")
    names = pc.binary_join_element_wise("c", pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 6, "0"), "")
    contact_ids = pd.Categorical.from_codes(contact[order], dtype=_distinct(pd.Index(pd.array(names, dtype="str"))))
    frame = pd.DataFrame({"time": times[order], "contact_id": contact_ids})
    for name, values in columns.items():
        frame[name] = values[contact[order]]
    memory.release()  # the drawing's scratch arrays, back to the system before the run
    return frame


def _distinct(names: pd.Index) -> pd.CategoricalDtype:
    """The categories of names known to be distinct (c000000, c000001 …): pandas would check that they are
    by building a hash table of them as Python strings, about 60 bytes a contact kept as long as the trace."""
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    return pd.CategoricalDtype(names) if fastpath is None else fastpath(names, False)


def _merged(parts: list[tuple[np.ndarray, dict[str, pd.Categorical]]], types: list[str]
            ) -> tuple[np.ndarray, dict[str, pd.Categorical]]:
    """The new contacts of every type in one time order, each with its ``type``."""
    times = np.concatenate([t for t, _ in parts])
    order = np.argsort(times, kind="stable")
    names = list(dict.fromkeys(name for _, columns in parts for name in columns))
    columns = {}
    for name in names:
        values = pd.Series(pd.concat([pd.Series(columns.get(name, pd.Categorical([None] * len(t))), dtype=object)
                                      for t, columns in parts], ignore_index=True))
        columns[name] = pd.Categorical(values.to_numpy()[order])
    kind = np.repeat(np.arange(len(parts)), [len(t) for t, _ in parts])[order]
    columns["type"] = pd.Categorical.from_codes(kind, categories=types)
    return times[order], columns


def write(trace: pd.DataFrame, path: str | Path, start: dt.datetime) -> Path:
    """Write a trace in the loader's layout (ISO ``timestamp``, ``contact_id``, ``channel``, attributes),
    as CSV or Parquet by the file's suffix."""
    path = Path(path)
    frame = trace.drop(columns=["time"])
    stamps = pd.Timestamp(start) + pd.to_timedelta(trace["time"], unit="s")
    frame.insert(0, "timestamp", stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f"))
    if path.suffix.lower() in (".parquet", ".pq"):
        atomic_write(path, lambda p: frame.to_parquet(p, index=False))
    else:
        atomic_write(path, lambda p: frame.to_csv(p, index=False))
    return path


def read_plain(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    """A trace file read without a scenario (for a look at it): ``timestamp`` as wall-clock times."""
    raw = _read_mapped(path, columns)
    if raw.empty:
        raise TraceError(f"{path}: no messages (the file has a header and no rows)")
    numeric = pd.Series(np.nan, index=raw.index) if _is_time(raw["timestamp"]) else pd.to_numeric(
        raw["timestamp"], errors="coerce")
    if pd.api.types.is_timedelta64_dtype(raw["timestamp"]):
        numeric = raw["timestamp"].dt.total_seconds()
    if numeric.notna().all():
        stamps = pd.Timestamp("2026-01-05") + pd.to_timedelta(numeric, unit="s")
    else:
        stamps = _utc(raw["timestamp"])
        bad = np.flatnonzero(stamps.isna().to_numpy())
        if len(bad):
            raise TraceError(f"{path}: {len(bad)} unparseable timestamp(s), first at row {bad[0] + 2}: "
                             f"{raw['timestamp'].iloc[bad[0]]!r}")
    raw["timestamp"] = stamps
    return raw


def _categorical(shares: dict[str, float], rng: np.random.Generator, n: int) -> pd.Categorical:
    labels = list(shares)
    codes = rng.choice(len(labels), size=n, p=list(shares.values()))
    return pd.Categorical.from_codes(codes, categories=labels)


def load(path: Path, scenario: Scenario, spec: TraceFile) -> pd.DataFrame:
    """Read a trace file; bad rows are an error naming them, or dropped and counted on request."""
    raw = _read_mapped(path, spec.columns, text=spec.columns.get("contact_id", "contact_id"))
    memory.release()  # the reader's buffers (Arrow keeps a file's decoded pages), before the checks
    problems: dict[str, pd.Series] = {}
    for column in REQUIRED:
        problems[f"missing {column}"] = raw[column].isna()
    time = _seconds(raw["timestamp"], scenario)
    problems["unparseable timestamp"] = time.isna() & raw["timestamp"].notna()
    problems["unknown channel"] = raw["channel"].notna() & ~raw["channel"].astype(str).isin(scenario.channels)
    problems["timestamp at or after the scenario's end"] = time >= scenario.duration  # it covers [start, end)
    problems["timestamp before the scenario's start"] = time < 0
    problems["duplicated row"] = _duplicated(raw, time)
    given = {column: pd.to_numeric(raw[column], errors="coerce") for column in GIVEN if column in raw}
    for column, values in given.items():
        problems[f"unparseable, negative or infinite {column}"] = raw[column].notna() & ~(
            (values >= 0) & np.isfinite(values))
    bad = pd.Series(False, index=raw.index)
    messages = []
    for name, mask in problems.items():
        if mask.any():
            bad |= mask
            rows = np.flatnonzero(mask.to_numpy())
            shown = ", ".join(f"row {r + 2}: {_row_text(raw, r, name)}" for r in rows[:_SHOWN])
            more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
            messages.append(f"{len(rows)} row(s) with {name} ({shown}{more})")
    if messages:
        report = f"{path}: " + "; ".join(messages)
        if spec.on_bad_rows == "error":
            raise TraceError(report + " (set on_bad_rows: drop to drop them)")
        warnings.warn(f"dropped {int(bad.sum())} bad row(s) of {len(raw)}: {report}", stacklevel=2)
    keep = ~bad.to_numpy()
    frame = raw.drop(columns=["timestamp"])
    if not keep.all():
        frame = frame.loc[keep]
    frame.insert(0, "time", time[keep].to_numpy(dtype=float))
    # As text categories in sorted order (a million contacts' ids held once, not once a message).
    frame["contact_id"] = _text_categories(frame["contact_id"])
    frame["channel"] = _text_categories(frame["channel"])
    for column, values in given.items():
        frame[column] = values[keep].to_numpy(dtype=float)
    if not frame["time"].is_monotonic_increasing:  # (an export is mostly in order already: no copy then)
        frame = frame.sort_values("time", kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs["dropped_rows"] = int(bad.sum())
    del raw, problems, bad, time
    memory.release()  # the checks' scratch memory (the raw text, the parsed times), back to the system
    return frame


def _text_categories(column: pd.Series) -> pd.Series:
    """The column's values as text, categories in sorted order: ``column.astype(str).astype("category")``,
    made without a Python string or a hash table entry per distinct value (a million contact ids would
    cost pandas over 100 MB): from a categorical's categories, or by Arrow's dictionary encoding of text."""
    if column.isna().any():
        return column.astype(str).astype("category")
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        used = np.flatnonzero(np.bincount(codes, minlength=len(column.cat.categories)))
        names = column.cat.categories[used].astype(str)
    elif isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        arrow = pa.array(column.array)
        encoded = pc.dictionary_encode(arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        used = np.arange(len(encoded.dictionary))
        names = pd.Index(encoded.dictionary.to_pandas().array)
    else:
        return column.astype(str).astype("category")
    order = names.argsort()
    ranked = names[order]
    if (ranked[1:] == ranked[:-1]).any():  # distinct values the same as text
        return column.astype(str).astype("category")
    rank = np.zeros(int(used[-1]) + 1 if len(used) else 0, dtype=np.int64)
    rank[used[order]] = np.arange(len(order))
    return pd.Series(pd.Categorical.from_codes(rank[codes], dtype=_distinct(ranked)), index=column.index,
                     name=column.name)


def _duplicated(raw: pd.DataFrame, time: pd.Series) -> pd.Series:
    """``raw.duplicated(keep="first")`` without hashing every row's text: rows alike have the same time (or
    none), so only the rows whose time is not unique are compared (a real export's times are mostly unique;
    a million rows' timestamps as text would cost hundreds of MB to hash)."""
    candidates = np.flatnonzero(time.duplicated(keep=False).to_numpy())
    found = np.zeros(len(raw), dtype=bool)
    if len(candidates):
        found[candidates] = raw.iloc[candidates].duplicated(keep="first").to_numpy()
    return pd.Series(found, index=raw.index)


def _read_mapped(path: Path, columns: dict[str, str], text: str | None = None) -> pd.DataFrame:
    """The file with its columns renamed to ours (``columns``: ours -> theirs); a required column it
    lacks is named as the file would name it. ``text``: see :func:`_read`."""
    raw = _read(path, text)
    missing = [columns.get(c, c) for c in REQUIRED if columns.get(c, c) not in raw.columns]
    if missing:
        raise TraceError(f"{path}: missing column(s) {', '.join(map(repr, missing))}; has {_names(raw.columns)}")
    theirs = [name for name in columns.values() if name in raw.columns]
    if len(set(theirs)) < len(theirs):
        raise TraceError(f"{path}: columns: one file column mapped to several of ours ({columns!r})")
    renamed = raw.rename(columns={theirs: ours for ours, theirs in columns.items()})
    clashes = sorted({str(c) for c in renamed.columns[renamed.columns.duplicated()]} | (
        {"time"} & set(map(str, renamed.columns))))
    if clashes:
        raise TraceError(f"{path}: column(s) {', '.join(map(repr, clashes))} given twice (after the columns "
                         "mapping) or reserved ('time' is the loader's own; name seconds 'timestamp')")
    return renamed


def _read_parquet(path: Path, text: str | None) -> pd.DataFrame:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    meta = schema.pandas_metadata or {}
    if (text is None or schema.names.count(text) != 1 or len(schema.names) < 2 or len(set(schema.names)) <
            len(schema.names) or any(isinstance(i, str) for i in meta.get("index_columns", []))
            or any(c.get("field_name") == text and c.get("name") != text for c in meta.get("columns", []))):
        return pd.read_parquet(path)
    kind = schema.field(text).type
    if not (pa.types.is_dictionary(kind) and (pa.types.is_string(kind.value_type)
                                              or pa.types.is_large_string(kind.value_type))):
        return pd.read_parquet(path)
    frame = pd.read_parquet(path, columns=[name for name in schema.names if name != text])
    values = pq.read_table(path, columns=[text], schema=pa.schema([pa.field(text, pa.large_string())])).column(0)
    memory.release()  # the dictionary's decoding
    frame.insert(schema.names.index(text), text, pd.Series(values.to_pandas().array, index=frame.index))
    return frame


def _names(columns: pd.Index) -> str:
    shown = [str(c) for c in columns[:20]]
    return repr(shown)[:-1] + (f", … {len(columns) - 20} more]" if len(columns) > 20 else "]")


def _read(path: Path, text: str | None = None) -> pd.DataFrame:
    """The file as it is; a Parquet file's column ``text`` (the contact ids), if the file keeps it as a
    dictionary of strings (as pandas writes a categorical), is read as plain text: pandas would make a
    categorical of it, whose million distinct ids cost it twice the memory of the text and a hash table."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return _read_parquet(path, text)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{path}: trace file not found") from None
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise TraceError(f"{path}: cannot read the trace: {exc}") from None


def _utc(column: pd.Series) -> pd.Series:
    """ISO-8601 text, or times (a Parquet file's timestamps, dates), as UTC times (a time without a zone
    is taken as UTC); NaT where unparseable."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.tz_localize("UTC") if column.dt.tz is None else column.dt.tz_convert("UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if all(isinstance(value, str) for value in column.dropna()):
            return pd.to_datetime(column, errors="coerce", utc=True, format="ISO8601")
        return pd.to_datetime(column.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v),
                              errors="coerce", utc=True, format="ISO8601")


def _is_time(column: pd.Series) -> bool:
    """Whether a column holds times (datetime, or dates and times as objects), not numbers or text."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    return column.dtype == object and any(isinstance(v, dt.date) for v in column.dropna().head(1))


def _seconds(column: pd.Series, scenario: Scenario) -> pd.Series:
    """Seconds from the scenario's start: numbers are seconds already, durations are offsets from the start,
    times (Parquet timestamps of any unit, naive as UTC or zoned) and ISO-8601 text are converted."""
    start = pd.Timestamp(scenario.start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    if pd.api.types.is_timedelta64_dtype(column):
        return column.dt.total_seconds().astype(float)
    if _is_time(column):
        return (_utc(column) - start).dt.total_seconds().astype(float)
    if len(column) <= _SLICE:
        return _numbers_or_text(column, start)
    # a slice at a time (each value is read on its own: the same seconds), not every row's text at once
    return pd.concat([_numbers_or_text(column.iloc[i:i + _SLICE], start) for i in range(0, len(column), _SLICE)])


def _numbers_or_text(column: pd.Series, start: pd.Timestamp) -> pd.Series:
    """Seconds from numbers, or from ISO-8601 text where a value is not a number."""
    seconds = pd.to_numeric(column, errors="coerce").astype(float)
    text = seconds.isna() & column.notna()
    if text.any():
        seconds[text] = (_utc(column[text]) - start).dt.total_seconds()
    return seconds


def _row_text(raw: pd.DataFrame, row: int, problem: str) -> str:
    column = next((c for c in (*REQUIRED, *GIVEN) if c in problem), None)
    if column is None:
        return repr(tuple(raw.iloc[row]))
    return f"{column}={raw[column].iloc[row]!r}"
