"""Hostile input, stale resumes, special files and exhausted machines (issue 18): each class of what an
outside attack found, closed at its root. Every output path here lives in the test's own temporary
folder: FIFOs, links and full disks are made there, never in the machine's /dev or system folders."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim import cli

SCENARIO = Path("scenarios/default.yaml").resolve()


def convsim(capsys, *args: str) -> tuple[int, str, str]:
    """The command in this process: exit status, stdout, stderr."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def small_scenario(tmp_path: Path, **over) -> Path:
    data = yaml.safe_load(SCENARIO.read_text())
    data["duration"] = "2h"
    data.update(over)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Reader(threading.Thread):
    """Reads a FIFO to its end, as a pipe's other side would."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.data = path, b""

    def run(self) -> None:
        with open(self.path, "rb") as handle:
            self.data = handle.read()


# ----------------------------------------------------------------------------- 1. special files


def test_trace_generate_into_a_fifo_streams_and_keeps_the_fifo(tmp_path, capsys):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    reader = Reader(fifo)
    reader.start()
    code, _out, err = convsim(capsys, "trace", "generate", small_scenario(tmp_path), "--out", fifo)
    reader.join(30)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert reader.data.startswith(b"timestamp,contact_id,channel")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_an_output_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path, capsys):
    target = tmp_path / "data" / "trace.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, _, err = convsim(capsys, "trace", "generate", small_scenario(tmp_path), "--out", link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("timestamp,")
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_trace_fit_and_show_keep_special_outputs(tmp_path, capsys):
    trace = tmp_path / "trace.csv"
    assert convsim(capsys, "trace", "generate", small_scenario(tmp_path), "--out", trace)[0] == 0
    target = tmp_path / "profile.png"
    target.write_bytes(b"")
    link = tmp_path / "shown.png"
    link.symlink_to(target)
    code, _, err = convsim(capsys, "trace", "show", trace, "--png", link)
    assert code == 0, err
    assert link.is_symlink() and target.read_bytes().startswith(b"\x89PNG")
    out = tmp_path / "run"
    assert convsim(capsys, "run", small_scenario(tmp_path), "--out", out)[0] == 0
    fifo = tmp_path / "fragment.yaml"
    os.mkfifo(fifo)
    reader = Reader(fifo)
    reader.start()
    code, _, err = convsim(capsys, "trace", "fit", out / "conversations.parquet", "--out", fifo)
    reader.join(30)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert b"arrivals:" in reader.data


def test_a_run_writes_its_tables_through_links_in_the_folder(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    kept = tmp_path / "kept.parquet"
    (out / "events.parquet").symlink_to(kept)
    assert convsim(capsys, "run", small_scenario(tmp_path), "--out", out)[0] == 0
    assert (out / "events.parquet").is_symlink()
    assert len(pd.read_parquet(kept)) > 0


@pytest.mark.parametrize("kind", ["folder", "under a file", "link loop", "socket", "empty"])
def test_outputs_that_cannot_be_written_are_one_line_errors(tmp_path, capsys, kind):
    import socket

    scenario = small_scenario(tmp_path)
    (tmp_path / "file").write_text("x")
    out = {"folder": tmp_path, "under a file": tmp_path / "file" / "t.csv", "link loop": tmp_path / "loop.csv",
           "socket": tmp_path / "s.csv", "empty": ""}[kind]
    if kind == "link loop":
        out.symlink_to(out)
    held = None
    if kind == "socket":
        held = socket.socket(socket.AF_UNIX)
        held.bind(str(out))
    try:
        code, _, err = convsim(capsys, "trace", "generate", scenario, "--out", out)
    finally:
        if held is not None:
            held.close()
    assert code == 2
    assert err.startswith("convsim: error: ") and err.count("\n") == 1, err
    if kind == "socket":
        assert stat.S_ISSOCK(os.lstat(out).st_mode), "the socket was replaced"


# ----------------------------------------------------------------------------- 2. stale or wrong results


def _trace_scenario(tmp_path: Path, rows: int = 40) -> Path:
    lines = ["timestamp,contact_id,channel"] + [f"{60 * i + 7},c{i % 9},whatsapp" for i in range(rows)]
    (tmp_path / "trace.csv").write_text("\n".join(lines) + "\n")
    data = {"start": "2026-11-02T08:00:00", "duration": "1h", "seed": 3, "channels": ["whatsapp"],
            "arrivals": {"trace": {"path": "trace.csv"}},
            "handling": {"handle_time": {"dist": "exponential", "mean": 300}},
            "teams": {"support": {}}, "agents": [{"id": "a", "count": 2, "team": "support"}],
            "workflow": [{"type": "assign"}]}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_resume_reruns_when_the_trace_file_changes(tmp_path, capsys):
    scenario = _trace_scenario(tmp_path)
    out = tmp_path / "out"
    args = ("compare", scenario, "--strategies", "round_robin,least_busy", "--replications", "2",
            "--workers", "1", "--out", out)
    assert convsim(capsys, *args)[0] == 0
    before = pd.read_parquet(out / "replications.parquet")
    _trace_scenario(tmp_path, rows=10)  # the same scenario text, a quarter of the messages
    assert convsim(capsys, *args)[0] == 0
    after = pd.read_parquet(out / "replications.parquet")
    opened = after[after["kpi"] == "conversations_opened"]["value"]
    assert (opened <= 10).all(), "the runs of the old trace were reused"
    assert not before.equals(after)


def test_the_fingerprint_covers_the_trace_file_a_strategy_module_and_convsim_code(tmp_path, monkeypatch):
    from sim.io import results
    from sim.model import scenario as scenario_file

    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    one = scenario_file.load(_trace_scenario(first))
    other = scenario_file.load(_trace_scenario(second, rows=12))  # same text, another file beside it
    assert results.fingerprint(one) != results.fingerprint(other)
    module = tmp_path / "my_policy.py"
    module.write_text("class P:\n    def choose(self, c, candidates, now):\n        return candidates[0]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = results.fingerprint(one, ["my_policy:P"])
    module.write_text("class P:\n    def choose(self, c, candidates, now):\n        return candidates[-1]\n")
    assert results.fingerprint(one, ["my_policy:P"]) != before
    monkeypatch.setattr(results, "_digests", {("code",): "another convsim"})
    assert results.fingerprint(one, ["my_policy:P"]) != before


def test_a_damaged_run_file_is_run_again(tmp_path, capsys):
    scenario = _trace_scenario(tmp_path)
    out = tmp_path / "out"
    args = ("compare", scenario, "--strategies", "round_robin", "--replications", "2", "--workers", "1", "--out", out)
    assert convsim(capsys, *args)[0] == 0
    before = pd.read_parquet(out / "replications.parquet")
    runs = sorted((out / "runs").glob("*.json"))
    runs[0].write_text(runs[0].read_text()[:40])  # truncated
    runs[1].write_text(runs[1].read_text().replace('"conversations_opened": ', '"conversations_opened": 1'))  # edited
    code, _, err = convsim(capsys, *args)
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_parquet(out / "replications.parquet"), before)


@pytest.mark.parametrize("kind", ["utc", "naive", "zoned", "ms", "duration"])
def test_parquet_timestamps_are_read_as_times(tmp_path, kind):
    from sim.model import arrivals
    from sim.model import scenario as scenario_file

    seconds = pd.Series([60.0, 1800.5, 3000.0])
    start = pd.Timestamp("2026-11-02T08:00:00")
    stamps = start + pd.to_timedelta(seconds, unit="s")
    column = {"utc": stamps.dt.tz_localize("UTC"), "naive": stamps,
              "zoned": stamps.dt.tz_localize("UTC").dt.tz_convert("Europe/Madrid"),
              "ms": stamps.astype("datetime64[ms]"), "duration": pd.to_timedelta(seconds, unit="s")}[kind]
    pd.DataFrame({"timestamp": column, "contact_id": ["a", "b", "c"], "channel": "whatsapp"}).to_parquet(
        tmp_path / "trace.parquet")
    scenario = scenario_file.load(_trace_scenario(tmp_path))
    trace = arrivals.load(tmp_path / "trace.parquet", scenario, scenario.arrivals.trace)
    assert trace["time"].tolist() == [60.0, 1800.5, 3000.0]
    if kind != "duration":
        shown = arrivals.read_plain(tmp_path / "trace.parquet", {})
        assert shown["timestamp"].iloc[0] == pd.Timestamp("2026-11-02T08:01:00", tz="UTC")


def test_a_row_at_the_scenarios_end_is_an_error_in_files_and_frames(tmp_path):
    import sim
    from sim.errors import TraceError
    from sim.model import arrivals
    from sim.model import scenario as scenario_file

    path = _trace_scenario(tmp_path)
    (tmp_path / "trace.csv").write_text("timestamp,contact_id,channel\n10,a,whatsapp\n3600,b,whatsapp\n")
    scenario = scenario_file.load(path)
    with pytest.raises(TraceError, match=r"1 row\(s\) with timestamp at or after the scenario's end"):
        arrivals.load(tmp_path / "trace.csv", scenario, scenario.arrivals.trace)
    frame = pd.DataFrame({"time": [10.0, 3600.0], "contact_id": ["a", "b"], "channel": "whatsapp"})
    with pytest.raises(TraceError, match=r"1 row\(s\) with a time outside the scenario's \[0, 3600\) s"):
        sim.run(scenario, trace=frame)


def test_business_hours_past_midnight_are_the_night(tmp_path):
    import sim

    data = yaml.safe_load(_trace_scenario(tmp_path).read_text())
    data.update(start="2026-11-02T00:00:00", duration="2d")  # Monday and Tuesday
    data["workflow"] = [{"type": "hours", "open": "22:00", "close": "06:00", "days": ["mon"], "outside": "shut"},
                        {"type": "assign"}, {"type": "close", "id": "shut", "category": "out_of_hours"}]
    scenario = sim.parse(data)
    hour = 3600.0
    frame = pd.DataFrame({"time": [12 * hour, 23 * hour, 27 * hour, 31 * hour, 47 * hour],
                          "contact_id": list("abcde"), "channel": "whatsapp"})
    result = sim.run(scenario, trace=frame)
    outside = result.conversations.set_index("contact_id")["category"].eq("out_of_hours")
    # Monday noon: closed; Monday 23:00 and Tuesday 03:00: the night; Tuesday 07:00, 23:00: not a Monday night
    assert outside.to_dict() == {"a": True, "b": False, "c": False, "d": True, "e": True}


def test_hours_that_open_and_close_at_once_are_an_error():
    import sim
    from sim.errors import ScenarioError

    data = yaml.safe_load(SCENARIO.read_text())
    data["workflow"].insert(0, {"type": "hours", "open": "08:00", "close": "08:00", "outside": data["workflow"][-1]
                                .get("id", "x")})
    with pytest.raises(ScenarioError, match="open and close are the same time"):
        sim.parse(data)


def test_draws_that_cannot_be_finite_are_refused_and_the_invariant_demands_finite_times(tmp_path, monkeypatch):
    import numpy as np

    import sim
    from sim.engine.invariants import InvariantError
    from sim.errors import ScenarioError
    from sim.model import distributions

    data = yaml.safe_load(_trace_scenario(tmp_path).read_text())
    data["handling"]["handle_time"] = {"dist": "gamma", "mean": 1e200, "sd": 1e-200}
    with pytest.raises(ScenarioError, match=r"handling\.handle_time.*gamma"):
        sim.parse(data, base_dir=tmp_path)
    data["handling"]["handle_time"] = {"dist": "gamma", "mean": 300, "sd": 100}
    scenario = sim.parse(data, base_dir=tmp_path)
    monkeypatch.setattr(distributions.Gamma, "sample", lambda self, rng, n: np.full(n, np.nan))
    with pytest.raises(InvariantError, match="finite times"):
        sim.run(scenario)


def test_two_commands_into_one_folder_the_second_is_refused(tmp_path, capsys):
    from sim import files

    out = tmp_path / "out"
    with files.locked(out):
        code, _, err = convsim(capsys, "run", small_scenario(tmp_path), "--out", out)
    assert code == 2
    assert "another convsim command" in err and err.count("\n") == 1
    assert not (out / "conversations.parquet").exists()
    assert convsim(capsys, "run", small_scenario(tmp_path), "--out", out)[0] == 0  # released


def test_a_key_given_twice_is_an_error_naming_the_key_and_line(tmp_path):
    from sim.errors import ScenarioError
    from sim.model import scenario as scenario_file

    text = SCENARIO.read_text() + "\nduration: 3d\n"
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    line = text.count("\n")
    with pytest.raises(ScenarioError, match=rf"line {line}: key 'duration' given twice \(first on line \d+\)"):
        scenario_file.load(path)


# ----------------------------------------------------------------------------- 3. crashes in ordinary use


def test_the_event_file_keeps_one_schema_whatever_its_first_chunk_holds(tmp_path):
    from sim.io import results

    start = pd.Timestamp("2026-11-02", tz="UTC")
    whole = pd.DataFrame({"time": [0.0, 1.0], "timestamp": start + pd.to_timedelta([0.0, 1.0], unit="s")})
    fine = pd.DataFrame({"time": [0.5], "timestamp": start + pd.to_timedelta([0.000000636], unit="s")})
    assert str(whole["timestamp"].dtype) != str(fine["timestamp"].dtype)  # pandas picks the unit by value
    with results.EventStream(tmp_path) as stream:
        stream(whole)
        stream(fine)
    back = pd.read_parquet(tmp_path / "events.parquet")
    assert back["timestamp"].iloc[2] == fine["timestamp"].iloc[0]


def test_a_sweep_over_seed_fails_before_any_run(tmp_path, capsys, monkeypatch):
    from sim.experiments import replications

    monkeypatch.setattr(replications, "_replicate", lambda *a, **k: pytest.fail("a run started"))
    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  seed: [1, 2]\nreplications: 2\n")
    code, _, err = convsim(capsys, "sweep", small_scenario(tmp_path), "--grid", grid, "--out", tmp_path / "out")
    assert code == 2 and "parameters.seed" in err and err.count("\n") == 1, err


def test_staff_with_an_interval_under_a_minute_fails_before_the_study(tmp_path, capsys, monkeypatch):
    from sim.experiments import staffing

    monkeypatch.setattr(staffing, "requirement", lambda *a, **k: pytest.fail("the study started"))
    code, _, err = convsim(capsys, "staff", small_scenario(tmp_path), "--target", "service_level>=0.8@60s",
                           "--interval", "30s", "--out", tmp_path / "out")
    assert code == 2 and "under a minute" in err and err.count("\n") == 1, err


# ----------------------------------------------------------------------------- 5. one line and exit 2


def _scenario_text(tmp_path: Path, name: str, **over) -> Path:
    data = yaml.safe_load(SCENARIO.read_text())
    data["duration"] = "1h"
    data.update(over)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


MISUSE = {  # name: (files to make: name -> text or bytes, the command line)
    "nesting 600 levels": ({"deep.yaml": "duration: 1h\nx: " + "[" * 600 + "]" * 600 + "\n"}, ["run", "deep.yaml"]),
    "nesting in a grid": ({"g.yaml": "parameters:\n  duration: " + "[" * 600 + "]" * 600 + "\n"},
                          ["sweep", "s.yaml", "--grid", "g.yaml"]),
    "alias bomb": ({"bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
        + "duration: *i\n"}, ["run", "bomb.yaml"]),
    "duplicate channels": ({}, ["run", "dup.yaml"]),
    "start before 1677": ({}, ["run", "early.yaml"]),
    "seed 2**64 in the file": ({}, ["run", "bigseed.yaml"]),
    "strategy ':'": ({}, ["run", "s.yaml", "--strategy", ":"]),
    "strategy '..:x'": ({}, ["run", "s.yaml", "--strategy", "..:x"]),
    "strategy raises at import": ({"raising_policy.py": "raise RuntimeError('boom')\n"},
                                  ["run", "s.yaml", "--strategy", "raising_policy:P"]),
    "strategy exits at import": ({"exiting_policy.py": "import sys\nsys.exit(0)\n"},
                                 ["run", "s.yaml", "--strategy", "exiting_policy:P"]),
    "trace column clash": ({"clash.csv": "timestamp,sent_at,contact_id,channel\n1,2,a,whatsapp\n"}, ["run", "clash.yaml"]),
    "trace show header only": ({"header.csv": "timestamp,contact_id,channel\n"},
                               ["trace", "show", "header.csv", "--png", "h.png"]),
    "--out a file": ({"afile": "x"}, ["run", "s.yaml", "--out", "afile"]),
    "--out under a file": ({"afile": "x"}, ["run", "s.yaml", "--out", "afile/x"]),
    "--out too long": ({}, ["run", "s.yaml", "--out", "a" * 300]),
    "--out a link loop": ({}, ["run", "s.yaml", "--out", "loop"]),
    "--out empty": ({}, ["run", "s.yaml", "--out", ""]),
    "compare --strategies ,": ({}, ["compare", "s.yaml", "--strategies", ","]),
    "grid scalar": ({"g.yaml": "parameters:\n  duration: 2h\n"}, ["sweep", "s.yaml", "--grid", "g.yaml"]),
    "grid empty list": ({"g.yaml": "parameters:\n  duration: []\n"}, ["sweep", "s.yaml", "--grid", "g.yaml"]),
    "grid bad replications": ({"g.yaml": "parameters:\n  duration: [2h]\nreplications: abc\n"},
                              ["sweep", "s.yaml", "--grid", "g.yaml"]),
    "grid binary": ({"g.yaml": b"\xff\xfe\x00parameters"}, ["sweep", "s.yaml", "--grid", "g.yaml"]),
    "report on damaged Parquet": ({"rep/conversations.parquet": b"PAR1junk", "rep/summary.parquet": b"junk"},
                                  ["report", "rep"]),
    "YAML syntax": ({"syntax.yaml": "duration: [1h\nseed: 1\n"}, ["run", "syntax.yaml"]),
    "a file name with a terminal escape": ({}, ["run", "no\x1b[31m\nsuch.yaml"]),
    "a strategy name with a terminal escape": ({}, ["run", "s.yaml", "--strategy", "no\x1b[31msuch\nthing"]),
}
ARGPARSE = {  # refused by the command line's own parser (usage and one error line, exit 2)
    "--seed -1": ["run", "s.yaml", "--seed", "-1"],
    "--seed 2**64": ["run", "s.yaml", "--seed", str(2**64)],
    "--scheduler garbage": ["compare", "s.yaml", "--strategies", "round_robin", "--scheduler", "garbage"],
    "--replications 10**9": ["compare", "s.yaml", "--strategies", "round_robin", "--replications", str(10**9)],
}


@pytest.mark.parametrize("case", list(MISUSE))
def test_misuse_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, case):
    made, argv = MISUSE[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    _scenario_text(tmp_path, "s.yaml")
    _scenario_text(tmp_path, "dup.yaml", channels=["whatsapp", "whatsapp", "webchat", "email", "messenger"])
    _scenario_text(tmp_path, "early.yaml", start="1500-01-01T00:00:00")
    _scenario_text(tmp_path, "bigseed.yaml", seed=2**64)
    clash = yaml.safe_load((tmp_path / "s.yaml").read_text())
    clash["arrivals"] = {"trace": {"path": "clash.csv", "columns": {"timestamp": "sent_at"}}}
    (tmp_path / "clash.yaml").write_text(yaml.safe_dump(clash))
    (tmp_path / "loop").symlink_to("loop")
    for name, content in made.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    argv = [*argv, "--out", str(tmp_path / "out")] if "--out" not in argv and argv[0] in ("run", "compare", "sweep") else argv
    code, _, err = convsim(capsys, *argv)
    assert code == 2, err
    assert err.startswith("convsim: error: ") and err.count("\n") == 1, err
    assert "\x1b" not in err


@pytest.mark.parametrize("case", list(ARGPARSE))
def test_bad_options_are_refused_before_anything_runs(tmp_path, capsys, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    _scenario_text(tmp_path, "s.yaml")
    with pytest.raises(SystemExit) as exit_:
        cli.main([*ARGPARSE[case], "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def _mount(tmp_path: Path, options: str) -> Path:
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("a small or read-only file system is mounted only as root (tmpfs under tmp_path)")
    where = tmp_path / "mnt"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    return where


@pytest.mark.parametrize("options", ["size=16k", "size=64k,ro"], ids=["full disk", "read-only"])
def test_a_full_or_read_only_disk_is_one_line_and_leaves_no_partial_file(tmp_path, capsys, options):
    import subprocess

    where = _mount(tmp_path, options)
    try:
        for argv in (["run", small_scenario(tmp_path), "--out", where / "out"],
                     ["trace", "generate", small_scenario(tmp_path), "--out", where / "t.csv"]):
            code, _, err = convsim(capsys, *argv)
            assert code == 2, err
            assert err.startswith("convsim: error: ") and err.count("\n") == 1, err
            assert "No space left" in err or "Read-only" in err
            assert not [p for p in where.rglob("*") if p.name.endswith(".tmp")]
            for table in where.rglob("*.parquet"):
                pd.read_parquet(table)  # only ever complete
    finally:
        subprocess.run(["umount", str(where)], check=True)


# ----------------------------------------------------------------------------- 4. hangs and blow-ups


def _with(**over):
    data = yaml.safe_load(SCENARIO.read_text())
    data["duration"] = "1h"
    data.update(over)
    return data


LOOPS = {
    "assign timing out into itself at once": ([{"type": "assign", "id": "a", "timeout": 0, "on_timeout": "a"}],
                                             "under 1 s"),
    "ask whose on_no_answer is itself": ([{"type": "ask", "id": "q", "field": "x", "answers": {"y": 1},
                                           "answer_probability": 0.5, "on_no_answer": "q"}, {"type": "assign"}],
                                         "never leaves"),
    "branch whose goto is itself": ([{"type": "branch", "id": "b", "rules": [{"when": {"x": "y"}, "goto": "b"}],
                                      "default": "support"}, {"type": "assign"}], "never leaves"),
    "hours whose outside is itself": ([{"type": "hours", "id": "h", "open": "09:00", "close": "17:00",
                                        "outside": "h"}, {"type": "assign"}], "under 1 s"),
}


@pytest.mark.parametrize("case", list(LOOPS))
def test_endless_loops_are_scenario_errors_naming_the_steps(case):
    import sim
    from sim.errors import ScenarioError

    workflow, reason = LOOPS[case]
    data = _with(workflow=workflow, teams={"support": {}}, agents=[{"id": "a1", "team": "support"}])
    with pytest.raises(ScenarioError, match=rf"workflow: steps 0 \(\w+ '\w+'\).*{reason}"):
        sim.parse(data)


def test_a_loop_that_waits_for_an_agent_or_the_clock_is_allowed():
    import sim

    workflow = [{"type": "hours", "id": "h", "open": "09:00", "close": "17:00", "outside": "wait"},
                {"type": "assign", "id": "a", "timeout": "5m", "on_timeout": "a"},
                {"type": "ask", "id": "wait", "field": "x", "answers": {"y": 1}, "answer_probability": 0,
                 "timeout": "10m", "on_no_answer": "h"}]
    sim.parse(_with(workflow=workflow, teams={"support": {}}, agents=[{"id": "a1", "team": "support"}]))


def test_contacts_returning_at_once_forever_are_refused():
    import sim
    from sim.errors import ScenarioError

    data = _with(contacts={"returning": {"probability": 1, "delay": {"dist": "constant", "value": 0}}})
    with pytest.raises(ScenarioError, match=r"contacts\.returning"):
        sim.parse(data)


def test_a_hundred_thousand_agents_are_checked_in_linear_time():
    import time

    import sim

    data = _with(agents=[{"id": f"g{i}", "count": 1000, "team": "support"} for i in range(100)],
                 teams={"support": {}}, workflow=[{"type": "assign"}])
    started = time.perf_counter()
    scenario = sim.parse(data)
    assert sum(spec.count for spec in scenario.agents) == 100_000
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("over, field", [
    ({"interval": 0.0001}, "interval"),
    ({"arrivals": {"generate": {"profile": [50_000_000], "channels": {"whatsapp": 1}}}}, "arrivals.generate.profile"),
    ({"arrivals": {"generate": {"profile": [500_000], "channels": {"whatsapp": 1},
                                "follow_ups": {"mean": 100, "delay": 1}}}}, "arrivals.generate.profile"),
])
def test_work_is_bounded_by_what_the_scenario_asks_and_names_the_field(over, field):
    import sim
    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")):
        sim.run(sim.parse(_with(**over)))


def test_workers_are_never_more_than_the_cores():
    from sim.experiments.executor import Executor

    assert Executor(workers=64)._processes() <= (os.cpu_count() or 1)


# ----------------------------------------------------------------------------- 6. hygiene


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def test_pool_workers_of_a_killed_compare_die_with_it(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to find the workers")
    scenario = _scenario_text(tmp_path, "long.yaml", duration="20d")
    convsim_ = str(Path(sys.executable).parent / "convsim")
    process = subprocess.Popen([convsim_, "compare", str(scenario), "--strategies", "round_robin,least_busy",
                                "--replications", "4", "--workers", "2", "--out", str(tmp_path / "out")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        workers = {pid for pid in _children(process.pid) if _children(pid) == set()}
    assert workers, "no worker started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.2)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    for pid in alive:  # leave nothing behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not alive, "workers outlived their killed parent"


def test_a_dead_writers_temporary_files_are_cleaned_on_the_next_run(tmp_path, capsys):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".events.parquet.{dead.pid}.0123abcd.tmp"
    stale.write_bytes(b"half a file")
    mine = out / f".notes.txt.{os.getpid()}.0123abcd.tmp"  # a live writer's (this process): kept
    mine.write_text("busy")
    assert convsim(capsys, "run", small_scenario(tmp_path), "--out", out)[0] == 0
    assert not stale.exists()
    assert mine.exists()


def test_a_yaml_syntax_error_is_one_line_with_its_place(tmp_path):
    from sim.errors import ScenarioError
    from sim.model import scenario as scenario_file

    path = tmp_path / "broken.yaml"
    path.write_text("duration: 1h\nchannels: [whatsapp\nseed: 1\n")
    with pytest.raises(ScenarioError) as info:
        scenario_file.load(path)
    assert "\n" not in str(info.value)
    assert "line " in str(info.value) and "column " in str(info.value)


def test_names_with_terminal_escapes_are_printed_escaped(tmp_path, capsys):
    out = tmp_path / "x\x1b[31m.csv"
    code, printed, _ = convsim(capsys, "trace", "generate", small_scenario(tmp_path), "--out", out)
    assert code == 0 and out.exists()
    assert "\x1b" not in printed and "\\x1b[31m" in printed


def test_a_user_strategy_that_fails_during_the_run_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "failing_policy.py").write_text(
        "class P:\n    def choose(self, conversation, candidates, now):\n        raise KeyError('oops')\n")
    (tmp_path / "silent_policy.py").write_text(  # a plain class: no wake_after, waits for every agent
        "class Q:\n    def choose(self, conversation, candidates, now):\n        return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    day = small_scenario(tmp_path, duration="10h")  # (the agents' shifts start at eight)
    code, _, err = convsim(capsys, "run", day, "--strategy", "failing_policy:P", "--out", tmp_path / "out")
    assert code == 2 and "failing_policy:P" in err and "KeyError" in err and err.count("\n") == 1, err
    code, _, err = convsim(capsys, "run", day, "--strategy", "silent_policy:Q", "--out", tmp_path / "out")
    assert code == 0, err


# ----------------------------------------------------------------------------- 7. memory at a million
# (the figures themselves: make bench, or benchmarks/run.py --only memory; here, that the loader's frugal
# paths give exactly what the plain ones gave)


def _messy_trace(tmp_path: Path, rows: int = 400) -> tuple[Path, Path]:
    """The same messy trace as Parquet (contact ids a categorical: a dictionary in the file) and CSV:
    repeated rows, rows sharing a time, unparseable and missing timestamps, an unknown channel."""
    import numpy as np

    rng = np.random.default_rng(5)
    seconds = rng.integers(-5, 3700, rows).astype(float)
    stamps = (pd.Timestamp("2026-11-02T08:00:00") + pd.to_timedelta(seconds, unit="s")).strftime("%Y-%m-%dT%H:%M:%S")
    stamps = pd.Series(stamps, dtype=object)
    stamps[::37], stamps[5::41] = "yesterday", None
    frame = pd.DataFrame({"timestamp": stamps, "contact_id": rng.choice(["b", "a", "é", "c10", "c9"], rows),
                          "channel": rng.choice(["whatsapp", "whatsapp", "fax"], rows)})
    frame = pd.concat([frame, frame.iloc[::9]], ignore_index=True)
    frame["contact_id"] = pd.Categorical(frame["contact_id"], categories=["é", "c9", "c10", "b", "a", "unused"])
    frame.to_parquet(tmp_path / "trace.parquet", index=False)
    frame.to_csv(tmp_path / "trace.csv", index=False)
    return tmp_path / "trace.parquet", tmp_path / "trace.csv"


def test_the_loader_checks_duplicates_only_among_rows_that_share_a_time(tmp_path, monkeypatch):
    """Hashing every row's text (a million timestamps) cost the replay of a million conversations its peak:
    only rows whose time repeats are compared now, with the same rows found as the whole table's check."""
    import numpy as np

    from sim.model import arrivals
    from sim.model import scenario as scenario_file

    scenario = scenario_file.load(_trace_scenario(tmp_path))
    parquet, csv = _messy_trace(tmp_path)
    for path in (parquet, csv):
        raw = arrivals._read_mapped(path, {})
        time = arrivals._seconds(raw["timestamp"], scenario)
        found = arrivals._duplicated(raw, time)
        assert found.to_numpy().tolist() == raw.duplicated(keep="first").to_numpy().tolist()
        assert found.sum() > 0
    compared: list[int] = []
    whole = pd.DataFrame.duplicated
    monkeypatch.setattr(pd.DataFrame, "duplicated", lambda self, *a, **k: compared.append(len(self)) or whole(
        self, *a, **k))
    rows = 5000  # unique times but for one repeated row: one pair is compared, not 5,001 rows
    text = "".join(f"{i * 0.5:.1f},c{i % 50},whatsapp\n" for i in range(rows)) + "10.0,c20,whatsapp\n"
    (tmp_path / "trace.csv").write_text("timestamp,contact_id,channel\n" + text)
    spec = scenario.arrivals.trace.model_copy(update={"on_bad_rows": "drop"})
    with pytest.warns(UserWarning, match="1 row"):
        trace = arrivals.load(tmp_path / "trace.csv", scenario, spec)
    assert compared == [2] and len(trace) == rows
    assert np.all(np.diff(trace["time"].to_numpy()) >= 0)


def test_contact_ids_and_channels_load_as_sorted_text_categories_from_either_file(tmp_path):
    """A Parquet file's dictionary of a million ids became a pandas categorical costing over 100 MB more than
    the text: ids are read as text and encoded once, categories sorted as text (what the run's compiling
    made of them before) — the same trace, and the same run, from Parquet and from CSV."""
    import sim
    from sim.model import arrivals
    from sim.model import scenario as scenario_file

    path = _trace_scenario(tmp_path)
    scenario = scenario_file.load(path)
    parquet, csv = _messy_trace(tmp_path)
    spec = scenario.arrivals.trace.model_copy(update={"on_bad_rows": "drop"})
    with pytest.warns(UserWarning):
        loaded = {p.suffix: arrivals.load(p, scenario, spec) for p in (parquet, csv)}
    for trace in loaded.values():
        for column in ("contact_id", "channel"):
            plain = trace[column].astype(str)
            pd.testing.assert_series_equal(trace[column], plain.astype("category"))
            assert list(trace[column].cat.categories) == sorted(set(plain))
    pd.testing.assert_frame_equal(loaded[".parquet"], loaded[".csv"])
    runs = {}
    for p in (parquet, csv):
        data = yaml.safe_load(path.read_text())
        data["arrivals"]["trace"] = {"path": p.name, "on_bad_rows": "drop"}
        with pytest.warns(UserWarning):
            runs[p.suffix] = sim.run(sim.parse(data, base_dir=tmp_path)).conversations
    pd.testing.assert_frame_equal(runs[".parquet"], runs[".csv"])


def test_text_timestamps_are_read_a_slice_at_a_time_with_the_same_seconds(tmp_path, monkeypatch):
    from sim.model import arrivals
    from sim.model import scenario as scenario_file

    scenario = scenario_file.load(_trace_scenario(tmp_path))
    column = pd.Series(["2026-11-02T08:00:01", "60", None, "nope", "2026-11-02T09:00:00+01:00", "1e3",
                        "2026-11-02T08:00:01.5Z", ""] * 5, dtype=object)
    whole = arrivals._seconds(column, scenario)
    monkeypatch.setattr(arrivals, "_SLICE", 3)
    sliced = arrivals._seconds(column, scenario)
    pd.testing.assert_series_equal(sliced, whole)
    assert whole.iloc[:2].tolist() == [1.0, 60.0] and whole.isna().sum() == 15
