"""The ``convsim`` command as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

CONVSIM = str(Path(sys.executable).parent / "convsim")
CONVERSATION_COLUMNS = {"strategy", "conversation_id", "contact_id", "source", "channel", "team", "agent_id",
                        "opened_at", "assigned_at", "first_response_at", "closed_at", "outcome"}
EVENT_COLUMNS = {"strategy", "conversation_id", "contact_id", "time", "event", "source", "team", "agent_id"}
KPIS = {"conversations_opened", "conversations_closed", "abandonment_rate", "service_level",
        "first_response_time_mean", "first_response_time_p90", "resolution_time_mean", "time_to_assignment_mean",
        "agent_occupancy_mean"}


def convsim(*args):
    return subprocess.run([CONVSIM, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    done = convsim("run", "scenarios/default.yaml", "--strategy", "round_robin", "--strategy", "least_busy",
                   "--strategy", "skill_based", "--out", str(out), "--csv")
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_run_writes_every_table_as_parquet_and_csv(demo):
    out, _ = demo
    conversations = pd.read_parquet(out / "conversations.parquet")
    assert set(conversations.columns) >= CONVERSATION_COLUMNS
    assert set(conversations["strategy"]) == {"round_robin", "least_busy", "skill_based"}
    assert set(conversations["outcome"]) <= {"resolved", "abandoned", "bot_resolved", "closed_by_workflow",
                                             "auto_closed", "open_at_end"}
    events = pd.read_parquet(out / "events.parquet")
    assert set(events.columns) >= EVENT_COLUMNS
    assert {"conversation_opened", "workflow_started", "routed", "queued", "assigned", "first_response",
            "abandoned", "conversation_closed"} <= set(events["event"])
    agents = pd.read_parquet(out / "agents.parquet")
    assert {"agent_id", "handled", "occupancy", "utilisation", "online_time"} <= set(agents.columns)
    intervals = pd.read_parquet(out / "intervals.parquet")
    assert {"arrivals", "opened", "queue_length_mean", "service_level", "abandonment_rate"} <= set(intervals.columns)
    assert len(intervals) == 3 * 96  # 15-minute rows over 24 h, per strategy
    assert len(pd.read_csv(out / "conversations.csv")) == len(conversations)
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_summary_json_holds_the_kpis_per_strategy(demo):
    out, _ = demo
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"round_robin", "least_busy", "skill_based"}
    for kpis in summary.values():
        assert set(kpis) >= KPIS
        assert 0 <= kpis["service_level"] <= 1


def test_run_prints_the_kpis_side_by_side_and_where_the_files_are(demo):
    out, stdout = demo
    header = stdout.splitlines()[0].split()
    assert header == ["strategy", "round_robin", "least_busy", "skill_based"]
    assert "service_level" in stdout and f"files in {out}" in stdout


def test_errors_are_one_readable_line_and_exit_code_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("duration: soon\n")
    done = convsim("run", str(bad))
    assert done.returncode == 2
    assert done.stderr.startswith(f"convsim: error: {bad}: ")
    assert len(done.stderr.strip().splitlines()) == 1
    done = convsim("run", "scenarios/default.yaml", "--strategy", "fastest")
    assert (done.returncode, "unknown strategy 'fastest'" in done.stderr) == (2, True)


def test_strategies_lists_the_registry():
    done = convsim("strategies")
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert {"round_robin", "least_busy", "skill_based", "bullseye", "least_open_below_cap"} <= set(names)
    assert {"oldest_first", "longest_waiting", "priority"} <= set(names)
