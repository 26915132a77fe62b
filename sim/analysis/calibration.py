"""Calibrate a scenario from a conversation log: arrival profile, overdispersion, mix, handle and patience.

The log has a row per conversation; our own ``conversations.parquet`` is the reference format:
``opened_ts`` (or ``opened_at`` seconds with a start), ``queued_at``/``left_queue_at`` or
``assigned_at``, ``first_response_at``, ``closed_at``, ``outcome``, ``channel``, ``team`` and any
contact attributes. Distributions are fitted by maximum likelihood among exponential, lognormal and
gamma and the one with the lowest AIC is kept; patience is fitted to waits that ended in abandonment,
the waits of answered contacts counting as right-censored (their patience was longer).
"""

from __future__ import annotations

import datetime as dt
import math
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


def arrival_profile(opened: pd.Series) -> tuple[list[float], dict[str, float], float, pd.DataFrame]:
    """The separable fit: a daily profile (contacts per hour per 15 minutes), weekday multipliers,
    and the overdispersion of day totals around it (method of moments), with the per-day table."""
    first = opened.min().normalize()
    days = int((opened.max().normalize() - first).days) + 1
    offset = (opened - first).dt.total_seconds().to_numpy()
    day = (offset // 86400).astype(int)
    slot = ((offset % 86400) // SLOT).astype(int)
    slots = int(86400 // SLOT)
    counts = np.zeros((days, slots))
    np.add.at(counts, (day, slot), 1)
    weekday = (first.weekday() + np.arange(days)) % 7
    totals = counts.sum(axis=1)
    per_weekday = np.array([totals[weekday == w].mean() if (weekday == w).any() else np.nan for w in range(7)])
    mean_day = np.nanmean(per_weekday)
    multipliers = {WEEKDAYS[w]: float(per_weekday[w] / mean_day) for w in range(7) if np.isfinite(per_weekday[w])}
    scale = np.array([multipliers.get(WEEKDAYS[w], 1.0) for w in weekday])
    shape = (counts / scale[:, None]).mean(axis=0)  # mean contacts per slot on an average weekday
    profile = (shape * 3600 / SLOT).tolist()
    expected = scale * shape.sum()
    excess = ((totals - expected) ** 2 - expected).sum() / (expected**2).sum()
    table = pd.DataFrame({"day": first + pd.to_timedelta(np.arange(days), unit="D"), "contacts": totals,
                          "expected": expected})
    return profile, multipliers, math.sqrt(max(excess, 0.0)), table


def shares(column: pd.Series) -> dict[str, float]:
    counts = column.dropna().astype(str).value_counts(normalize=True).sort_index()
    return {key: round(float(value), 6) for key, value in counts.items()}


def fit(log: pd.DataFrame, start: dt.datetime | None = None) -> tuple[dict[str, Any], dict[str, list[Fit]]]:
    """A scenario fragment (arrivals.generate, handling.handle_time, contacts.patience) fitted from the
    log, and every distribution fit considered (for the report)."""
    inbound = log[log["source"].astype(str) == "contact"] if "source" in log else log
    if inbound.empty:
        raise TraceError("the log has no inbound conversations to fit")
    profile, weekdays, overdispersion, _ = arrival_profile(_opened(inbound, start))
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


def read_log(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError:
        raise TraceError(f"{path}: log file not found") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read the log: {exc}") from None
