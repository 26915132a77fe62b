"""Calibrate a scenario from a conversation log: arrival profile, overdispersion, mix, handle and patience.

The log has a row per conversation; our own ``conversations.parquet`` is the reference format:
``opened_ts`` (or ``opened_at`` seconds with a start), ``queued_at``/``left_queue_at`` or
``assigned_at``, ``first_response_at``, ``closed_at``, ``outcome``, ``channel``, ``team`` and any
contact attributes. Distributions are fitted by maximum likelihood among exponential, lognormal and
gamma and the one with the lowest AIC is kept; patience is fitted to waits that ended in abandonment,
the waits of answered contacts counting as right-censored (their patience was longer).

A message-level log (our ``messages.parquet``: a row per message with ``conversation_id``, ``turn``,
``who``, ``agent_id``, ``sent_at`` or ``sent_ts``, and ``response_time`` and ``closes`` where known) gives
message-level handling instead (:func:`fit_messages`): reply and think times, the number of exchanges
and the contacts' silence.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis import metrics
from sim.errors import TraceError
from sim.model.scenario import WEEKDAYS

SLOT = 900.0  # seconds: the profile's resolution
FAMILIES = {"exponential": stats.expon, "lognormal": stats.lognorm, "gamma": stats.gamma}


@dataclass(frozen=True)
class Fit:
    """A fitted duration distribution: family, mean and sd in seconds, log-likelihood, AIC, sample size."""

    family: str
    mean: float
    sd: float
    log_likelihood: float
    aic: float
    n: int

    def spec(self) -> dict[str, Any]:
        """As a scenario's distribution."""
        if self.family == "exponential":
            return {"dist": "exponential", "mean": round(self.mean, 3)}
        return {"dist": self.family, "mean": round(self.mean, 3), "sd": round(self.sd, 3)}


def fit_durations(observed: np.ndarray, censored: np.ndarray | None = None) -> list[Fit]:
    """Every family fitted to positive durations (``censored``: lower bounds of longer ones), best first."""
    observed = np.asarray(observed, dtype=float)
    observed = observed[observed > 0]
    censored = np.asarray([] if censored is None else censored, dtype=float)
    censored = censored[censored > 0]
    if len(observed) < 2:
        raise TraceError(f"too few durations to fit a distribution ({len(observed)} observed)")
    data = stats.CensoredData(uncensored=observed, right=censored) if len(censored) else observed
    fits = []
    for family, dist in FAMILIES.items():
        if family == "exponential":
            scale = (observed.sum() + censored.sum()) / len(observed)  # the closed-form censored MLE
            params: tuple[float, ...] = (0.0, scale)
        else:
            params = dist.fit(data, floc=0)
        frozen = dist(*params)
        log_likelihood = float(frozen.logpdf(observed).sum() + frozen.logsf(censored).sum())
        k = 1 if family == "exponential" else 2
        fits.append(Fit(family, float(frozen.mean()), float(frozen.std()), log_likelihood,
                        2 * k - 2 * log_likelihood, len(observed) + len(censored)))
    return sorted(fits, key=lambda f: f.aic)


def _opened(log: pd.DataFrame, start: dt.datetime | None) -> pd.Series:
    if "opened_ts" in log:
        return pd.to_datetime(log["opened_ts"])
    if "opened_at" in log and start is not None:
        return pd.Timestamp(start) + pd.to_timedelta(log["opened_at"], unit="s")
    raise TraceError("the log needs an opened_ts column (or opened_at seconds and a start)")


def arrival_profile(opened: pd.Series, runs: pd.Series | None = None
                    ) -> tuple[list[float], dict[str, float], float, pd.DataFrame]:
    """The separable fit: a daily profile (contacts per hour per 15 minutes), weekday multipliers,
    and the overdispersion of day totals around it (method of moments), with the per-day table.

    ``runs`` labels each conversation's run (a results folder's strategy and seed): every run's days are
    days of their own, so a folder of several strategies (the same contacts each) or seeds (the same
    dates) gives the volume of one, not their sum."""
    first = opened.min().normalize()
    span = int((opened.max().normalize() - first).days) + 1
    offset = (opened - first).dt.total_seconds().to_numpy()
    run = np.zeros(len(opened), dtype=int) if runs is None else pd.factorize(runs)[0]
    count = int(run.max()) + 1 if len(run) else 1
    days = span * count
    day = run * span + (offset // 86400).astype(int)
    slot = ((offset % 86400) // SLOT).astype(int)
    slots = int(86400 // SLOT)
    counts = np.zeros((days, slots))
    np.add.at(counts, (day, slot), 1)
    weekday = (first.weekday() + np.arange(days) % span) % 7
    totals = counts.sum(axis=1)
    per_weekday = np.array([totals[weekday == w].mean() if (weekday == w).any() else np.nan for w in range(7)])
    mean_day = np.nanmean(per_weekday)
    multipliers = {WEEKDAYS[w]: float(per_weekday[w] / mean_day) for w in range(7) if np.isfinite(per_weekday[w])}
    scale = np.array([multipliers.get(WEEKDAYS[w], 1.0) for w in weekday])
    shape = (counts / scale[:, None]).mean(axis=0)  # mean contacts per slot on an average weekday
    profile = (shape * 3600 / SLOT).tolist()
    expected = scale * shape.sum()
    excess = ((totals - expected) ** 2 - expected).sum() / (expected**2).sum()
    table = pd.DataFrame({"run": np.arange(days) // span,
                          "day": first + pd.to_timedelta(np.arange(days) % span, unit="D"),
                          "contacts": totals, "expected": expected})
    return profile, multipliers, math.sqrt(max(excess, 0.0)), table


def shares(column: pd.Series) -> dict[str, float]:
    counts = column.dropna().astype(str).value_counts(normalize=True).sort_index()
    return rounded(dict(counts.items()))


def rounded(shares: dict[Any, float], digits: int = 6) -> dict[Any, float]:
    """Shares to ``digits`` decimals, still adding up to 1 (as a scenario requires): the largest takes the
    rounding's remainder."""
    out = {key: round(float(value), digits) for key, value in shares.items()}
    largest = max(out, key=out.__getitem__)
    out[largest] = round(1.0 - sum(value for key, value in out.items() if key != largest), digits)
    return out


RUNS = ("strategy", "seed")  # the columns that tell a results folder's runs apart


def select(log: pd.DataFrame, strategies: Sequence[str] | None = None,
           columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The log with an export's ``columns`` renamed to ours (ours: theirs, as a trace's ``columns:``) and,
    from a results folder, only the runs of ``strategies`` (None: every one)."""
    if columns:
        missing = [theirs for theirs in columns.values() if theirs not in log]
        if missing:
            raise TraceError(f"the log has no column(s) {', '.join(map(repr, missing))} to map; its columns: "
                             f"{', '.join(map(str, log.columns[:30]))}")
        log = log.rename(columns={theirs: ours for ours, theirs in columns.items()})
    if strategies:
        if "strategy" not in log:
            raise TraceError("the log has no strategy column to choose runs by: fit it without a strategy")
        held = list(dict.fromkeys(log["strategy"].astype(str)))
        unknown = [name for name in strategies if name not in held]
        if unknown:
            raise TraceError(f"the log holds no run of {', '.join(unknown)}; its strategies: {', '.join(held)}")
        log = log[log["strategy"].astype(str).isin(list(strategies))]
    return log


def _runs(log: pd.DataFrame) -> pd.Series | None:
    """Each row's run (strategy and seed) in a results folder's log; None for a plain export."""
    keys = [column for column in RUNS if column in log]
    if not keys:
        return None
    return log[keys].astype(str).agg("/".join, axis=1)


def fit(log: pd.DataFrame, start: dt.datetime | None = None,
        strategies: Sequence[str] | None = None) -> tuple[dict[str, Any], dict[str, list[Fit]]]:
    """A scenario fragment (arrivals.generate, handling.handle_time, contacts.patience) fitted from the
    log, and every distribution fit considered (for the report); from a message-level log, the
    fragment of message-level handling (:func:`fit_messages`). From a results folder's log of several
    runs (strategies, seeds), the arrivals are those of one run on average; ``strategies`` keeps only
    their runs."""
    log = select(log, strategies)
    if {"who", "turn"} <= set(log.columns):
        return fit_messages(log)
    inbound = log[log["source"].astype(str) == "contact"] if "source" in log else log
    if inbound.empty:
        raise TraceError("the log has no inbound conversations to fit")
    profile, weekdays, overdispersion, _ = arrival_profile(_opened(inbound, start), _runs(inbound))
    generate: dict[str, Any] = {"profile": [round(v, 4) for v in profile], "profile_step": "15m",
                                "weekdays": {k: round(v, 4) for k, v in weekdays.items()},
                                "overdispersion": round(overdispersion, 4)}
    if "channel" in inbound:
        generate["channels"] = shares(inbound["channel"])
    attributes = {c: shares(inbound[c]) for c in metrics.fields(inbound.columns) if inbound[c].nunique() <= 50}
    if attributes:
        generate["attributes"] = attributes
    fragment: dict[str, Any] = {"arrivals": {"generate": generate}}
    fits: dict[str, list[Fit]] = {}
    outcome = inbound["outcome"].astype(str) if "outcome" in inbound else pd.Series("resolved", index=inbound.index)
    resolved = inbound[outcome == "resolved"]
    if {"first_response_at", "closed_at"} <= set(inbound.columns) and len(resolved) > 1:
        fits["handle_time"] = fit_durations((resolved["closed_at"] - resolved["first_response_at"]).dropna())
        fragment["handling"] = {"handle_time": fits["handle_time"][0].spec()}
    if {"queued_at", "left_queue_at"} <= set(inbound.columns):
        waited = inbound["left_queue_at"] - inbound["queued_at"]
        abandoned = (outcome == "abandoned").to_numpy()
        if abandoned.sum() > 1:
            fits["patience"] = fit_durations(waited[abandoned].dropna(), waited[~abandoned].dropna())
            fragment["contacts"] = {"patience": fits["patience"][0].spec()}
    return fragment, fits


def fit_messages(log: pd.DataFrame) -> tuple[dict[str, Any], dict[str, list[Fit]]]:
    """Message-level handling fitted from a message log: a scenario fragment (``handling: {mode: messages,
    messages: …}``) and every fit considered.

    - reply times: an agent writes one reply at a time, first come first served, so a reply was written
      from the later of its message and the agent's previous reply to its send (a conversation's first
      reply is left out: it waited for the assignment too, which the log does not hold);
    - think times: a contact's message (turn 2 on) less the agent's reply before it;
    - silence: the share of replies that neither closed the conversation nor got an answer (replies
      too close to the log's end to tell are left out);
    - exchanges: agent replies of the conversations the agent closed, as shares of counts or as a
      resolution probability per reply (geometric), whichever has the lower AIC; both corrected for the
      conversations that silence ended first (a longer one is likelier to be cut short)."""
    m = _message_frame(log)
    agent = m["who"] == "agent"
    replies = m[agent]
    if len(replies) < 2:
        raise TraceError("the message log has too few agent replies to fit")
    # reply times: from max(the message answered, the agent's previous reply) to the send
    awaited = replies["sent_at"] - replies["response_time"]
    previous = replies.groupby("agent_key", sort=False)["sent_at"].shift(1)
    began = np.fmax(awaited.to_numpy(), previous.to_numpy())
    writing = (replies["sent_at"].to_numpy() - began)[(replies["turn"] > 1).to_numpy() & ~np.isnan(began)]
    fits = {"reply_time": fit_durations(writing)}
    # think times: the contact's message at turn k after the agent's reply at turn k - 1
    sent = m.set_index(["conversation_key", "turn", "who"])["sent_at"]
    contacts = m[(~agent) & (m["turn"] > 1)]
    before = sent.reindex(pd.MultiIndex.from_arrays([contacts["conversation_key"], contacts["turn"] - 1,
                                                     np.full(len(contacts), "agent")]))
    thinks = contacts["sent_at"].to_numpy() - before.to_numpy()
    fits["think_time"] = fit_durations(thinks[~np.isnan(thinks)])
    # silence: a reply that did not close, answered by the contact or not (unknowable near the end)
    answered = pd.MultiIndex.from_arrays([contacts["conversation_key"], contacts["turn"] - 1])
    open_replies = replies[~replies["closes"]]
    known = open_replies["sent_at"] <= m["sent_at"].max() - np.percentile(thinks[~np.isnan(thinks)], 99.9)
    keys = pd.MultiIndex.from_arrays([open_replies["conversation_key"], open_replies["turn"]])[known.to_numpy()]
    silent = 1 - float(np.mean(keys.isin(answered))) if len(keys) else 0.0
    # exchanges: agent replies of the conversations closed by the agent's last reply
    closed = replies[replies["closes"]]
    counts = replies[replies["conversation_key"].isin(closed["conversation_key"])].groupby(
        "conversation_key", sort=False).size().to_numpy()
    if len(counts) < 2:
        raise TraceError("the message log has too few conversations closed by an agent to fit their exchanges")
    fits["exchanges"], ending = _fit_exchanges(counts, silent)
    messages = {"reply_time": fits["reply_time"][0].spec(), "think_time": fits["think_time"][0].spec(), **ending,
                "silent_probability": round(silent, 6)}
    return {"handling": {"mode": "messages", "messages": messages}}, fits


def _message_frame(log: pd.DataFrame) -> pd.DataFrame:
    """The log's messages with seconds, keys per conversation and per agent (several runs may share a
    log: strategy and seed tell them apart), ``response_time`` and ``closes`` filled in where missing."""
    m = log.copy()
    if "sent_at" not in m:
        if "sent_ts" not in m:
            raise TraceError("the message log needs a sent_at (seconds) or sent_ts (timestamp) column")
        stamps = pd.to_datetime(m["sent_ts"])
        m["sent_at"] = (stamps - stamps.min()).dt.total_seconds()
    missing = [c for c in ("conversation_id", "turn", "who", "agent_id") if c not in m]
    if missing:
        raise TraceError(f"the message log lacks the column(s) {', '.join(missing)}")
    m["who"] = m["who"].astype(str)
    runs = [c for c in ("strategy", "seed") if c in m]
    m["conversation_key"] = m.groupby([*runs, "conversation_id"], sort=False, observed=True).ngroup()
    m["agent_key"] = m.groupby([*runs, "agent_id"], sort=False, observed=True, dropna=False).ngroup()
    m = m.sort_values(["sent_at", "conversation_key", "turn"], kind="stable")
    if "response_time" not in m:  # the agent's reply at turn k answers the contact's message at turn k
        sent = m[m["who"] == "contact"].set_index(["conversation_key", "turn"])["sent_at"]
        asked = sent.reindex(pd.MultiIndex.from_arrays([m["conversation_key"], m["turn"]])).to_numpy()
        m["response_time"] = np.where(m["who"] == "agent", m["sent_at"].to_numpy() - asked, np.nan)
    if "closes" not in m:  # every conversation's last message, if the agent's, closed it
        last = m.groupby("conversation_key", sort=False)["sent_at"].transform("max")
        m["closes"] = (m["who"] == "agent") & (m["sent_at"] == last)
    m["closes"] = m["closes"].astype(bool)
    return m


def _fit_exchanges(counts: np.ndarray, silent: float) -> tuple[list[Fit], dict[str, Any]]:
    """The number of exchanges: a geometric resolution per reply, or shares of counts, best AIC first.

    A conversation of k exchanges is seen to close only if its contact stayed through k − 1 replies, with
    probability (1 − silent)^(k − 1); both fits divide that out."""
    stay = 1 - silent
    values, seen = np.unique(counts, return_counts=True)
    weights = seen / stay ** (values - 1.0)
    shares = weights / weights.sum()
    n = len(counts)
    observed = 1 / counts.mean()  # the geometric of the closed ones: resolve, and stay, at each reply
    resolve = float(np.clip(1 - (1 - observed) / stay, 1e-9, 1.0))
    # log-likelihoods of what was seen: the closed conversations' counts
    p_seen = 1 - (1 - resolve) * stay
    geometric_ll = float(np.sum((counts - 1) * np.log1p(-min(p_seen, 1 - 1e-12)) + np.log(p_seen)))
    seen_shares = seen / n
    counts_ll = float(np.sum(seen * np.log(seen_shares)))
    mean = float(shares @ values)
    sd = float(math.sqrt(max(shares @ values**2 - mean**2, 0.0)))
    candidates = [
        (Fit("geometric", 1 / resolve, math.sqrt(1 - resolve) / resolve, geometric_ll, 2 - 2 * geometric_ll, n),
         {"resolve_probability": round(resolve, 6)}),
        (Fit("counts", mean, sd, counts_ll, 2 * (len(values) - 1) - 2 * counts_ll, n),
         {"exchanges": rounded({int(v): float(s) for v, s in zip(values, shares, strict=True)})}),
    ]
    candidates.sort(key=lambda pair: pair[0].aic)
    return [fit for fit, _ in candidates], candidates[0][1]


def read_log(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError:
        raise TraceError(f"{path}: log file not found") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read the log: {exc}") from None
