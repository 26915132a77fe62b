"""The ``convsim`` command's grammar: one way to name strategies, global flags, help on everything, a
quick --help, a progress bar per phase, and Ctrl-C that exits 130 leaving no partial file."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim import cli

CONVSIM = str(Path(sys.executable).parent / "convsim")
SCENARIO = Path("scenarios/default.yaml")


def small_scenario(tmp_path: Path, duration: str = "2h") -> Path:
    data = yaml.safe_load(SCENARIO.read_text())
    data["duration"] = duration
    path = tmp_path / f"small-{duration}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def parsers(parser: argparse.ArgumentParser, name: str = "convsim"):
    """Every parser of the command, with its name: the top one and each (sub)command's."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from parsers(sub, f"{name} {command}")


def test_every_option_positional_and_command_has_help():
    missing = []
    for name, parser in parsers(cli.parser()):
        assert parser.description, f"{name} has no description"
        for action in parser._actions:
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name}: {action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{name} {choice.dest}" for choice in action._choices_actions if not choice.help]
    assert not missing, missing


def test_the_top_help_describes_the_tool_in_a_paragraph():
    text = cli.parser().format_help()
    assert "The ``convsim`` command." not in text
    assert "simulates" in text and "--strategy" in text and "examples:" in text


COMMANDS_WITH_STRATEGIES = {
    "run": ["run", "default"],
    "compare": ["compare", "default"],
    "sweep": ["sweep", "default", "--grid", "g.yaml"],
    "concurrency": ["concurrency", "default"],
    "staff": ["staff", "default", "--target", "service_level>=0.8@60s"],
    "schedule": ["schedule", "default", "--target", "service_level>=0.8@60s", "--templates", "t.yaml"],
    "trace fit": ["trace", "fit", "conversations.parquet"],
}


@pytest.mark.parametrize("command", list(COMMANDS_WITH_STRATEGIES))
def test_strategy_is_repeatable_and_takes_comma_lists_wherever_a_strategy_is_chosen(command):
    argv = [*COMMANDS_WITH_STRATEGIES[command], "--strategy", "round_robin, least_busy", "--strategy", "skill_based"]
    args = cli.parser().parse_args(argv)
    assert args.strategy == ["round_robin", "least_busy", "skill_based"]


def test_global_flags_go_before_or_after_the_command():
    parse = cli.parser().parse_args
    assert parse(["-q", "run", "default"]).quiet and parse(["run", "default", "--quiet"]).quiet
    assert parse(["--verbose", "trace", "fit", "x.parquet"]).verbose and parse(["strategies", "-v"]).verbose
    assert not hasattr(parse(["strategies"]), "quiet")
    with pytest.raises(SystemExit):
        parse(["run", "default", "-q", "-v"])


def test_version_comes_from_the_package_metadata():
    done = subprocess.run([CONVSIM, "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, f"convsim {version('convsim')}")


def test_help_imports_no_heavy_module_and_is_quick():
    probe = ("import sys, time; started = time.perf_counter(); import sim.cli; sim.cli.parser().format_help(); "
             "print(sorted(m for m in ('pandas', 'numpy', 'pydantic', 'scipy', 'matplotlib', 'pyarrow', 'simpy', "
             "'tqdm', 'yaml') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([CONVSIM, "--help"], capture_output=True, timeout=60, check=True)
        times.append(time.perf_counter() - started)
    print(f"convsim --help: {sorted(times)[1]:.2f} s (median of 3)")


def test_compare_strategies_is_a_deprecated_alias_whose_first_is_still_the_baseline(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["compare", str(small_scenario(tmp_path)), "--strategies", "least_busy,round_robin",
                     "--replications", "2", "--workers", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "--strategies is deprecated: use --strategy" in captured.err
    assert "vs least_busy" in captured.out.splitlines()[0]
    assert json.loads((out / "summary.json").read_text())["baseline"] == "least_busy"


def test_quiet_prints_only_the_results_and_verbose_a_line_per_run(tmp_path, capsys):
    scenario = str(small_scenario(tmp_path))
    assert cli.main(["run", scenario, "--strategy", "round_robin,least_busy", "--out", str(tmp_path / "a")]) == 0
    plain = capsys.readouterr()
    assert "files in" in plain.out
    assert cli.main(["-q", "run", scenario, "--strategy", "round_robin,least_busy", "--out", str(tmp_path / "b")]) == 0
    quiet = capsys.readouterr()
    assert "files in" not in quiet.out and quiet.err == ""
    assert quiet.out.splitlines()[0].split() == ["strategy", "round_robin", "least_busy"]
    assert cli.main(["run", scenario, "--strategy", "round_robin", "--strategy", "least_busy", "--verbose",
                     "--out", str(tmp_path / "c")]) == 0
    verbose = capsys.readouterr()
    lines = verbose.err.splitlines()
    assert any(line.startswith("convsim: scenario ") for line in lines)
    assert sum(" done (" in line for line in lines) == 2, lines


def test_each_phase_has_its_own_progress_bar_with_a_fixed_total(monkeypatch):
    from sim.experiments import executor

    bars = []

    class Recorder:
        def __init__(self, total, initial=0, desc="", **_):
            self.total, self.n, self.desc = total, initial, desc
            bars.append(self)

        def update(self, n=1):
            self.n += n
            assert self.n <= self.total, f"{self.desc}: {self.n} of {self.total}"

        def write(self, *_, **__):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *_):
            pass

    monkeypatch.setattr(executor, "tqdm", Recorder)
    jobs = [type("Job", (), {"name": f"j{i}", "strategy": None})() for i in range(3)]
    with executor.Executor(1, progress=True, description="staffing") as runner:
        runner.map(lambda job: job.name, jobs, phase="plan")
        runner.map(lambda job: job.name, jobs[:2], phase="ceiling")
    assert [(bar.desc, bar.total, bar.n) for bar in bars] == [("staffing: plan", 3, 3), ("staffing: ceiling", 2, 2)]


def _interrupt(argv: list[str], ready, tmp_path: Path) -> subprocess.CompletedProcess:
    process = subprocess.Popen([CONVSIM, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not ready() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    assert process.poll() is None, "the command ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_ctrl_c_during_a_run_exits_130_in_one_line_and_leaves_no_partial_file(tmp_path):
    out = tmp_path / "out"
    done = _interrupt(["run", str(small_scenario(tmp_path, "30d")), "--out", str(out)],
                      lambda: bool(list(out.glob(".events.parquet.*.tmp"))), tmp_path)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == ["convsim: interrupted"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not (out / "events.parquet").exists() and not (out / "summary.json").exists()


def test_ctrl_c_during_a_compare_exits_130_and_leaves_only_complete_run_files(tmp_path):
    out = tmp_path / "out"
    done = _interrupt(["compare", str(small_scenario(tmp_path, "3d")), "--strategy", "round_robin,least_busy",
                       "--replications", "40", "--workers", "2", "--out", str(out)],
                      lambda: len(list((out / "runs").glob("*.json"))) >= 1, tmp_path)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == ["convsim: interrupted"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not (out / "replications.parquet").exists()
    for run in (out / "runs").glob("*.json"):
        json.loads(run.read_text())  # every run file kept is whole: a rerun resumes from them


def test_trace_fit_counts_a_folder_of_several_strategies_once_and_writes_beside_the_log(tmp_path, capsys):
    scenario = str(small_scenario(tmp_path, "1d"))
    assert cli.main(["-q", "run", scenario, "--strategy", "round_robin,least_busy", "--out", str(tmp_path / "two")]) == 0
    assert cli.main(["-q", "run", scenario, "--strategy", "round_robin", "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()

    def volume(fragment: Path) -> float:
        return sum(yaml.safe_load(fragment.read_text())["arrivals"]["generate"]["profile"]) / 4

    log = tmp_path / "two" / "conversations.parquet"
    assert cli.main(["trace", "fit", str(tmp_path / "one" / "conversations.parquet")]) == 0
    single = volume(tmp_path / "one" / "conversations.fit.yaml")  # beside the log, not in the working folder
    assert cli.main(["trace", "fit", str(log), "--strategy", "round_robin", "--out", str(tmp_path / "rr.yaml")]) == 0
    assert volume(tmp_path / "rr.yaml") == pytest.approx(single, rel=1e-9)  # was double: both strategies' added
    assert cli.main(["trace", "fit", str(log)]) == 0  # both runs, averaged (the same contacts; conversations differ)
    assert volume(tmp_path / "two" / "conversations.fit.yaml") == pytest.approx(single, rel=0.02)
    assert cli.main(["trace", "fit", str(log), "--strategy", "sticky", "--out", str(tmp_path / "x.yaml")]) == 2
    assert "no run of sticky" in capsys.readouterr().err


def test_trace_fit_maps_an_exports_columns_as_trace_show_does(tmp_path, capsys):
    assert cli.main(["-q", "run", str(small_scenario(tmp_path, "1d")), "--out", str(tmp_path / "run")]) == 0
    export = tmp_path / "export.csv"
    pd.read_parquet(tmp_path / "run" / "conversations.parquet").rename(
        columns={"opened_ts": "created_at", "outcome": "status"}).to_csv(export, index=False)
    assert cli.main(["trace", "fit", str(export), "--columns", "opened_ts=created_at,outcome=status"]) == 0
    fragment = yaml.safe_load((tmp_path / "export.fit.yaml").read_text())
    assert "patience" in fragment["contacts"]  # the outcome column was read under our name
    assert cli.main(["trace", "fit", str(export), "--columns", "opened_ts=nope"]) == 2
    assert "no column(s) 'nope'" in capsys.readouterr().err
