"""Generated traces follow their profile and dispersion; fitting a simulated log gives the parameters back."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from helpers import BASE, merge
from sim.analysis import calibration
from sim.model import arrivals

MONDAY = pd.Timestamp("2026-11-02")


def generated(days, **spec):
    generate = {"channels": {"whatsapp": 0.7, "webchat": 0.3}} | spec
    scenario = sim.parse({**merge(BASE, {"duration": f"{days}d", "start": str(MONDAY)}),
                          "arrivals": {"generate": generate}})
    return scenario, arrivals.for_scenario(scenario)


def test_nhpp_interval_counts_match_the_profile_by_chi_square():
    profile = [5, 5, 5, 5, 5, 10, 30, 60, 90, 100, 95, 80, 70, 85, 95, 90, 80, 60, 40, 30, 20, 15, 10, 5]
    days = 40
    _, trace = generated(days, profile=profile, weekdays={"sat": 0.5, "sun": 0.25})
    stamps = MONDAY + pd.to_timedelta(trace["time"], unit="s")
    observed = pd.crosstab(stamps.dt.day_of_week, stamps.dt.hour).reindex(index=range(7), columns=range(24), fill_value=0)
    weekday_count = np.array([len(pd.date_range(MONDAY, periods=days)[pd.date_range(MONDAY, periods=days).day_of_week == w])
                              for w in range(7)])
    multiplier = np.array([1, 1, 1, 1, 1, 0.5, 0.25])
    expected = np.outer(weekday_count * multiplier, profile)
    chi2 = ((observed.to_numpy() - expected) ** 2 / expected).sum()
    dof = expected.size
    assert chi2 < stats.chi2.ppf(0.999, dof), (chi2, dof)


def test_gamma_overdispersion_gives_the_variance_it_should():
    cv, days, per_day = 0.25, 1500, 240.0
    _, trace = generated(days, profile=[per_day / 24], overdispersion=cv)
    totals = np.bincount((trace["time"] // 86400).astype(int), minlength=days).astype(float)
    mean = totals.mean()
    # Poisson given a Gamma(mean 1, cv) day multiplier: Var = m + (m cv)^2
    expected_variance = per_day + (per_day * cv) ** 2
    variance = totals.var(ddof=1)
    fourth = ((totals - mean) ** 4).mean()
    se = math.sqrt((fourth - variance**2) / days)  # standard error of the sample variance
    assert abs(variance - expected_variance) < 4 * se
    assert abs(mean - per_day) < 4 * math.sqrt(expected_variance / days)
    plain_variance = np.bincount((generated(days, profile=[per_day / 24])[1]["time"] // 86400).astype(int)).var(ddof=1)
    assert plain_variance < variance / 4  # without overdispersion the days are Poisson: far less spread


def test_returning_contacts_write_again_with_the_same_id():
    _, trace = generated(10, profile=[20], returns={"share": 0.3, "delay": {"dist": "constant", "value": "1h"}})
    per_contact = trace.groupby("contact_id", observed=True)["time"]
    returned = per_contact.count() == 2
    share = returned.mean()
    n = len(returned)
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / n)
    gaps = per_contact.agg(lambda t: t.max() - t.min())[returned]
    assert np.allclose(gaps, 3600.0)


def test_fitting_picks_the_family_by_likelihood_and_handles_censoring():
    rng = np.random.default_rng(0)
    lognormal = rng.lognormal(math.log(400), 0.6, 4000)
    best = calibration.fit_durations(lognormal)
    assert best[0].family == "lognormal"
    patience = rng.exponential(300, 5000)
    waits = rng.exponential(200, 5000)
    abandoned = patience < waits
    fits = calibration.fit_durations(patience[abandoned], waits[~abandoned])
    exponential = next(f for f in fits if f.family == "exponential")
    assert abs(exponential.mean - 300) < 4 * 300 / math.sqrt(abandoned.sum())


def test_calibration_round_trip_gives_the_parameters_back():
    days = 28
    truth = {"profile": [2] * 7 + [30, 60, 80, 80, 60, 50, 70, 80, 70, 50, 30, 20, 10, 5, 3, 2, 2],
             "weekdays": {"sat": 0.6, "sun": 0.4}, "channels": {"whatsapp": 0.6, "webchat": 0.4},
             "attributes": {"language": {"en": 0.8, "es": 0.2}}}
    handle_mean, handle_sd, patience_mean = 480.0, 300.0, 240.0
    scenario = sim.parse({**merge(BASE, {
        "duration": f"{days}d", "start": str(MONDAY), "record_events": False,
        "handling": {"handle_time": {"dist": "lognormal", "mean": handle_mean, "sd": handle_sd}},
        "contacts": {"patience": {"dist": "exponential", "mean": patience_mean}, "known_fields": ["language"]},
        "agents": [{"id": "a", "count": 7, "team": "support"}]}),
        "arrivals": {"generate": truth}})
    log = sim.run(scenario).conversations
    fragment, fits = calibration.fit(log)
    generate = fragment["arrivals"]["generate"]
    # profile: every 15-minute rate within its Poisson error, jointly (chi-square over the slots); the fit
    # averages the days' counts after dividing out each weekday's multiplier
    # the product profile x multiplier is what the data identify; compare a Monday's rates
    fitted = np.array(generate["profile"]) / 4 * generate["weekdays"]["mon"]  # contacts per 15 minutes
    true_slot = np.repeat(truth["profile"], 4) / 4
    scaled_days = 20 + 4 / 0.6 + 4 / 0.4  # sum over the 28 days of 1 / multiplier
    variance = true_slot * scaled_days / days**2
    chi2 = ((fitted - true_slot) ** 2 / variance).sum()
    assert chi2 < stats.chi2.ppf(0.999, len(true_slot)), chi2
    per_day = sum(truth["profile"])
    mean_multiplier = (5 + 0.6 + 0.4) / 7
    for day, multiplier in truth["weekdays"].items():
        se = multiplier * math.sqrt(1 / (4 * multiplier * per_day) + 1 / (days * mean_multiplier * per_day))
        assert abs(generate["weekdays"][day] / generate["weekdays"]["mon"] - multiplier) < 4 * se
    n = len(log)
    assert abs(generate["channels"]["whatsapp"] - 0.6) < 4 * math.sqrt(0.24 / n)
    assert abs(generate["attributes"]["language"]["en"] - 0.8) < 4 * math.sqrt(0.16 / n)
    handle = fits["handle_time"][0]
    assert handle.family == "lognormal"
    assert abs(handle.mean - handle_mean) < 4 * handle_sd / math.sqrt(handle.n)
    patience = fits["patience"][0]
    abandoned = (log["outcome"] == "abandoned").sum()
    exponential = next(f for f in fits["patience"] if f.family == "exponential")
    assert abs(exponential.mean - patience_mean) < 4 * patience_mean / math.sqrt(abandoned)
    assert patience.family in ("exponential", "gamma")  # gamma nests the exponential
    assert generate["overdispersion"] < 0.1  # the truth is Poisson


def test_only_contact_fields_of_a_conversation_log_are_fitted_as_attributes():
    # well staffed: nobody queues, so queue_time is one value (0) — a column calibration must still know
    scenario = sim.parse({**merge(BASE, {
        "duration": "2d", "start": str(MONDAY), "record_events": False, "contacts": {"known_fields": ["language"]},
        "handling": {"handle_time": {"dist": "exponential", "mean": 300}},
        "agents": [{"id": "a", "count": 20, "team": "support"}]}),
        "arrivals": {"generate": {"profile": [20], "channels": {"whatsapp": 1},
                                  "attributes": {"language": {"en": 0.8, "es": 0.2}}}}})
    log = sim.run(scenario).conversations
    assert (log["queue_time"] == 0).all()
    fragment, _ = calibration.fit(log)
    assert list(fragment["arrivals"]["generate"]["attributes"]) == ["language"]


def test_trace_cli_generate_fit_and_show(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    convsim = str(Path(sys.executable).parent / "convsim")
    out = tmp_path / "week.csv"
    done = subprocess.run([convsim, "trace", "generate", "scenarios/default.yaml", "--days", "7", "--seed", "3",
                           "--out", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns[:3]) == ["timestamp", "contact_id", "channel"] and len(frame) > 10_000
    shown = subprocess.run([convsim, "trace", "show", str(out)], capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "messages per hour" in shown.stdout and (tmp_path / "week.png").stat().st_size > 10_000
    run = subprocess.run([convsim, "run", "scenarios/default.yaml", "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    fitted = subprocess.run([convsim, "trace", "fit", str(tmp_path / "run" / "conversations.parquet"), "--out",
                             str(tmp_path / "fragment.yaml")], capture_output=True, text=True, check=False)
    assert fitted.returncode == 0, fitted.stderr
    fragment = (tmp_path / "fragment.yaml").read_text()
    assert "profile:" in fragment and "handle_time:" in fragment
    with pytest.raises(sim.TraceError, match="log file not found"):
        calibration.read_log(tmp_path / "missing.parquet")
