"""A run killed mid-write leaves no partial file under a final name."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

CONVSIM = str(Path(sys.executable).parent / "convsim")


def test_a_killed_run_leaves_only_complete_files(tmp_path):
    scenario = yaml.safe_load(Path("scenarios/default.yaml").read_text())
    scenario["duration"] = "60d"  # long enough to be killed while writing
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(scenario))
    out = tmp_path / "out"
    process = subprocess.Popen([CONVSIM, "run", str(path), "--out", str(out)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(out.glob(".events.parquet.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # well into the run, the event log half written
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert list(out.glob(".*.tmp")), "the run was killed before it started writing"
    for name in ("events.parquet", "conversations.parquet", "agents.parquet", "intervals.parquet", "summary.json"):
        final = out / name
        if final.exists() and name.endswith(".parquet"):  # only ever complete
            pd.read_parquet(final)
    assert not (out / "events.parquet").exists()
