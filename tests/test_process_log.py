"""The process-mining export: what pm4py reads from it is the run's event log, case for case."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from helpers import make_scenario, make_trace, run
from sim.analysis import metrics
from sim.errors import ConvsimError
from sim.io import results as output
from sim.io.process_log import CONTACT_EVENTS, export, process_log, write_xes

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pm4py

LABELS = {"contact", "workflow", "user"}  # org:resource of events no agent did


def read_xes(path: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pm4py suggests a faster optional parser
        return pm4py.read_xes(str(path), show_progress_bar=False)


def run_folder(result: sim.Result, folder: Path) -> Path:
    output.write(result, folder)  # the folder convsim run leaves, events.parquet included
    return folder


@pytest.fixture(scope="module")
def one_strategy(default_result: sim.Result) -> sim.Result:
    """The default day under round_robin alone (a third of the events: pm4py's XES reader is slow)."""
    keep = {name: getattr(default_result, name) for name in ("conversations", "events", "agents", "intervals")}
    for name, table in keep.items():
        keep[name] = table[table["strategy"] == "round_robin"].reset_index(drop=True)
    return sim.Result(**keep, summary=default_result.summary.iloc[:1])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_pm4py_reads_one_case_per_conversation(default_result: sim.Result, tmp_path: Path, fmt: str) -> None:
    path = export(run_folder(default_result, tmp_path), fmt)
    assert path == tmp_path / f"process_log.{fmt}"
    if fmt == "csv":
        log = pd.read_csv(path, parse_dates=["time:timestamp"], dtype={"case:contact_id": str})
    else:
        log = pd.read_parquet(path)
    conversations, events = default_result.conversations, default_result.events
    outcome = conversations["outcome"].astype(str)

    assert len(pm4py.convert_to_event_log(log)) == len(conversations)
    assert len(log) == len(events)
    assert pm4py.get_start_activities(log) == {"conversation_opened": len(conversations)}
    ends = pm4py.get_end_activities(log)
    assert ends.pop("conversation_closed") == (outcome != "open_at_end").sum()
    assert sum(ends.values()) == (outcome == "open_at_end").sum()
    abandoned = pm4py.filter_event_attribute_values(log, "concept:name", ["abandoned"], level="case")
    assert abandoned["case:concept:name"].nunique() == (outcome == "abandoned").sum()

    resources = pm4py.get_event_attribute_values(log, "org:resource")
    by_agent = events["agent_id"].notna() & ~events["event"].astype(str).isin(CONTACT_EVENTS)
    worked = events.loc[by_agent, "agent_id"].astype(str).value_counts().to_dict()
    assert {r: n for r, n in resources.items() if r not in LABELS} == worked
    assert set(worked) <= set(default_result.agents["agent_id"])
    assert sum(n for r, n in resources.items() if r in LABELS) == (~by_agent).sum()
    assert resources["contact"] >= events["event"].astype(str).isin(CONTACT_EVENTS).sum()


def test_every_event_kept_in_the_logs_order_within_its_case(default_result: sim.Result) -> None:
    events = default_result.events
    log = process_log(events)
    key = ["strategy", "seed", "conversation_id"]
    expected = events.sort_values(key, kind="stable")  # the log's own order within a conversation
    assert log["concept:name"].tolist() == expected["event"].astype(str).tolist()
    assert log["case:contact_id"].tolist() == expected["contact_id"].tolist()
    stamps = expected["timestamp"].to_numpy()
    delta = stamps - log["time:timestamp"].to_numpy().astype(stamps.dtype)
    assert (delta >= np.timedelta64(0, "ns")).all() and (delta < np.timedelta64(1, "us")).all()
    assert log.groupby("case:concept:name", sort=False)["time:timestamp"].is_monotonic_increasing.all()


def test_xes_read_back_by_pm4py_is_the_table(one_strategy: sim.Result, tmp_path: Path) -> None:
    path = export(run_folder(one_strategy, tmp_path), "xes")
    assert path == tmp_path / "process_log.xes"
    table = process_log(one_strategy.events)
    back = read_xes(path)

    assert len(back) == len(table)
    assert back["case:concept:name"].nunique() == len(one_strategy.conversations)
    for column in ("case:concept:name", "concept:name", "org:resource", "case:strategy", "case:contact_id",
                   "case:source"):
        assert back[column].tolist() == table[column].tolist(), column
    assert back["case:seed"].tolist() == table["case:seed"].astype(str).tolist()
    assert back["org:group"].fillna("").tolist() == table["org:group"].fillna("").tolist()
    assert str(back["time:timestamp"].dt.tz) == "UTC"
    assert (back["time:timestamp"].dt.tz_localize(None).to_numpy() == table["time:timestamp"].to_numpy()).all()


def test_two_strategies_give_distinct_case_ids(default_result: sim.Result) -> None:
    events = default_result.events[default_result.events["strategy"].isin(["round_robin", "least_busy"])]
    log = process_log(events)
    per_strategy = events.groupby("strategy", observed=True)["conversation_id"].nunique()
    assert log["case:concept:name"].nunique() == per_strategy.sum()
    assert {"round_robin/7/0", "least_busy/7/0"} <= set(log["case:concept:name"])
    assert log.groupby("case:concept:name")["case:strategy"].nunique().max() == 1


def test_odd_contact_ids_and_zoned_start_survive_xes(tmp_path: Path) -> None:
    scenario = make_scenario(start="2026-11-02T00:00:00+01:00")
    odd = 'a & <b> "c"\tñ'
    result = run(scenario, make_trace((10, odd), (20, "plain")))
    log = process_log(result.events)
    assert str(log["time:timestamp"].dt.tz) == "UTC"
    assert log["time:timestamp"].iloc[0] == pd.Timestamp("2026-11-01T23:00:10", tz="UTC")
    write_xes(log, tmp_path / "log.xes")
    back = read_xes(tmp_path / "log.xes")
    assert back["case:contact_id"].tolist() == log["case:contact_id"].tolist()
    assert (back["time:timestamp"] == log["time:timestamp"]).all()


def test_a_character_xml_cannot_carry_is_an_error(tmp_path: Path) -> None:
    result = run(make_scenario(), make_trace((10, "bell\x07")))
    with pytest.raises(ConvsimError, match=r"log\.xes: .bell.*XML"):
        write_xes(process_log(result.events), tmp_path / "log.xes")
    assert list(tmp_path.iterdir()) == []  # no partial file left


def test_missing_or_empty_event_log_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConvsimError, match=r"events\.parquet") as missing:
        export(tmp_path)
    assert str(tmp_path) in str(missing.value)
    metrics.events(None, output._EMPTY).to_parquet(tmp_path / "events.parquet")
    with pytest.raises(ConvsimError, match=r"events\.parquet: the event log is empty"):
        export(tmp_path, "xes")
    assert not (tmp_path / "process_log.xes").exists()


def test_unknown_format_names_it_and_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ConvsimError, match=r"'json'.*allowed: csv, parquet, xes"):
        export(tmp_path, "json")


def test_convsim_process_log_writes_what_pm4py_reads(tmp_path: Path) -> None:
    import subprocess
    import sys

    convsim = str(Path(sys.executable).parent / "convsim")
    ran = subprocess.run([convsim, "run", "scenarios/default.yaml", "--out", str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    done = subprocess.run([convsim, "process-log", str(tmp_path), "--format", "xes"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"process log written: {tmp_path / 'process_log.xes'}" in done.stdout
    log = pm4py.read_xes(str(tmp_path / "process_log.xes"))
    assert log["case:concept:name"].nunique() == len(pd.read_parquet(tmp_path / "conversations.parquet"))
