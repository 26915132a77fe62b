"""Replications on common random numbers, paired intervals, resuming, and runs that survive a dying worker."""

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from helpers import make_scenario
from sim.analysis import comparison
from sim.experiments import replications as experiment
from sim.experiments.executor import defined_here

STRATEGIES = ["round_robin", "least_busy", "skill_based"]


@pytest.fixture(scope="module")
def default_table():
    return experiment.replicate(sim.load("scenarios/default.yaml"), STRATEGIES, 12, workers=2)


def test_common_random_numbers_make_the_paired_difference_far_less_variable(default_table):
    wide = default_table[default_table["kpi"] == "service_level"].pivot(
        index="replication", columns="strategy", values="value")
    for strategy in ("least_busy", "skill_based"):
        paired = (wide[strategy] - wide["round_robin"]).var(ddof=1)
        unpaired = wide[strategy].var(ddof=1) + wide["round_robin"].var(ddof=1)
        assert paired / unpaired < 0.1, (strategy, paired / unpaired)


def test_the_tidy_table_and_the_comparison(default_table):
    assert set(default_table.columns) == {"strategy", "replication", "seed", "kpi", "value"}
    assert len(default_table) == 3 * 12 * len(sim.analysis.kpis.measured())
    compared = comparison.compare(default_table)
    row = compared[(compared.kpi == "service_level") & (compared.strategy == "skill_based")].iloc[0]
    values = default_table[(default_table.kpi == "service_level") & (default_table.strategy == "skill_based")]["value"]
    assert row["mean"] == pytest.approx(values.mean())
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert row["significant"] == (not row["difference_ci_low"] <= 0 <= row["difference_ci_high"])
    baseline = compared[compared.strategy == "round_robin"]
    assert baseline["difference"].isna().all() and not baseline["significant"].any()


def test_confidence_intervals_cover_a_known_mean_at_about_the_right_rate():
    # the bot resolves each conversation with probability 0.3: the mean of the runs' bot resolution
    # rates is 0.3 exactly; 95 % intervals over 5 replications should cover it in 95 % of experiments
    scenario = make_scenario(
        duration="3h", record_events=False,
        arrivals={"generate": {"profile": [20], "channels": {"whatsapp": 1}}},
        workflow=[{"type": "bot", "resolve_probability": 0.3, "duration": {"dist": "constant", "value": 1}},
                  {"type": "assign"}])
    experiments, covered = 120, 0
    for k in range(experiments):
        table = experiment.replicate(scenario.model_copy(update={"seed": 1000 * k}), ["round_robin"], 5, workers=1)
        compared = comparison.compare(table)
        row = compared[compared.kpi == "bot_resolution_rate"].iloc[0]
        covered += row["ci_low"] <= 0.3 <= row["ci_high"]
    rate = covered / experiments
    assert abs(rate - 0.95) < 4 * math.sqrt(0.95 * 0.05 / experiments), rate


def test_a_rerun_runs_only_what_is_missing(tmp_path):
    scenario = make_scenario(duration="2h", arrivals={"generate": {"profile": [30], "channels": {"whatsapp": 1}}})
    calls = []

    def counting(job):
        calls.append(job.name)
        return experiment.run_job(job)

    first = experiment.replicate(scenario, ["round_robin", "least_busy"], 3, tmp_path, workers=1, worker=counting)
    assert len(calls) == 6
    (tmp_path / "runs" / "least_busy-r0001.json").unlink()  # as if interrupted before this one finished
    calls.clear()
    again = experiment.replicate(scenario, ["round_robin", "least_busy"], 3, tmp_path, workers=1, worker=counting)
    assert calls == ["least_busy-r0001"]
    pd.testing.assert_frame_equal(first, again)
    changed = scenario.model_copy(update={"service_target": 30.0})
    calls.clear()
    experiment.replicate(changed, ["round_robin", "least_busy"], 3, tmp_path, workers=1, worker=counting)
    assert len(calls) == 6  # another scenario: nothing stale is reused


def test_the_process_pool_gives_the_same_table_as_one_process():
    scenario = sim.load("scenarios/default.yaml")
    one = experiment.replicate(scenario, STRATEGIES, 3, workers=1)
    pool = experiment.replicate(scenario, STRATEGIES, 3, workers=2)
    pd.testing.assert_frame_equal(one, pool, check_exact=True)


def dies_once(job):
    """A worker that dies (the whole process, as a kill would) the first time it meets one run."""
    marker = Path(os.environ["CONVSIM_TEST_MARKER"])
    if job.name == "least_busy-r0002" and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return experiment.run_job(job)


def test_a_worker_killed_mid_run_loses_no_run(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVSIM_TEST_MARKER", str(tmp_path / "marker"))
    scenario = make_scenario(duration="2h", arrivals={"generate": {"profile": [30], "channels": {"whatsapp": 1}}})
    table = experiment.replicate(scenario, ["round_robin", "least_busy"], 4, tmp_path, workers=2, worker=dies_once)
    assert (tmp_path / "marker").exists()  # a worker did die
    assert len(table) == 2 * 4 * len(sim.analysis.kpis.measured()) and table["value"].notna().any()
    assert len(list((tmp_path / "runs").glob("*.json"))) == 8
    clean = experiment.replicate(scenario, ["round_robin", "least_busy"], 4, workers=1)
    np.testing.assert_array_equal(table["value"].fillna(-1), clean["value"].fillna(-1))


def test_convsim_compare_writes_its_files_and_prints_the_table(tmp_path):
    import subprocess
    import sys

    convsim = str(Path(sys.executable).parent / "convsim")
    done = subprocess.run([convsim, "compare", "scenarios/default.yaml", "--strategies", "round_robin,least_busy",
                           "--replications", "4", "--out", str(tmp_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split()[:3] == ["kpi", "strategy", "mean"]
    assert "vs round_robin" in done.stdout.splitlines()[0]
    table = pd.read_parquet(tmp_path / "replications.parquet")
    assert len(table) == 2 * 4 * len(sim.analysis.kpis.measured())
    assert {"kpi", "strategy", "mean", "difference", "significant"} <= set(pd.read_csv(tmp_path / "comparison.csv"))
    assert "least_busy" in (tmp_path / "summary.json").read_text()


def test_a_sweep_varies_dotted_parameters_into_one_tidy_table(tmp_path):
    scenario = sim.load("scenarios/default.yaml")
    grid = {"arrivals.generate.volume": [0.6, 1.4], "agents.2.count": [3]}
    table = experiment.sweep(scenario, grid, 3, ["least_busy"], tmp_path, workers=2)
    assert {"arrivals.generate.volume", "agents.2.count", "strategy", "replication", "kpi", "value"} <= set(table)
    assert len(table) == 2 * 3 * len(sim.analysis.kpis.measured())
    level = table[table.kpi == "service_level"].groupby("arrivals.generate.volume")["value"].mean()
    assert level[0.6] > level[1.4]  # more contacts for the same agents: a lower service level
    busier = experiment.with_values(scenario, {"arrivals.generate.volume": 1.4, "agents.2.count": 3})
    assert busier.arrivals.generate.volume == 1.4 and busier.agents[2].count == 3
    assert busier.workflow == scenario.workflow  # everything else as it was
    assert len(list(tmp_path.glob("point-*/runs/*.json"))) == 6
    with pytest.raises(sim.ScenarioError, match=r"parameter 'agents.9.count': the scenario has no such field"):
        experiment.with_values(scenario, {"agents.9.count": 3})
    with pytest.raises(sim.ScenarioError, match=r"parameter 'agents.nobody.count': the scenario has no such field"):
        experiment.with_values(scenario, {"agents.nobody.count": 3})
    with pytest.raises(sim.ScenarioError, match=r"agents.2.count: Input should be greater than or equal to 1 \(got -1\)"):
        experiment.with_values(scenario, {"agents.2.count": -1})


def test_convsim_sweep_runs_the_shipped_grid(tmp_path):
    import subprocess
    import sys

    convsim = str(Path(sys.executable).parent / "convsim")
    done = subprocess.run([convsim, "sweep", "scenarios/default.yaml", "--grid",
                           "scenarios/grids/volume_and_headcount.yaml", "--out", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    table = pd.read_parquet(tmp_path / "sweep.parquet")
    assert len(table) == 3 * 3 * 2 * 5 * len(sim.analysis.kpis.measured())
    assert "90 runs" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: [1, 2]\n")
    failed = subprocess.run([convsim, "sweep", "scenarios/default.yaml", "--grid", str(bad)], capture_output=True,
                            text=True, check=False)
    assert failed.returncode == 2 and "expected a mapping with 'parameters'" in failed.stderr


def test_a_strategy_defined_in_a_notebook_runs_in_this_process():
    from strategies import registry
    from strategies.base import Strategy, least_busy
    from strategies.registry import register

    processes = set()

    class Notebook(Strategy):
        def choose(self, conversation, candidates, now):
            processes.add(os.getpid())
            return least_busy(candidates)

    Notebook.__module__ = "__main__"  # as a class written in a notebook's cell is
    register("notebook_defined")(Notebook)
    try:
        assert defined_here("notebook_defined") and not defined_here("least_busy")
        scenario = make_scenario(duration="1h", arrivals={"generate": {"profile": [30], "channels": {"whatsapp": 1}}})
        table = experiment.replicate(scenario, ["notebook_defined", "least_busy"], 2, workers=2)
    finally:
        registry._BUILT_IN.pop("notebook_defined")
    assert processes == {os.getpid()}  # chose in this process: a forked worker would have another id
    wide = table.pivot_table(index=["kpi", "replication"], columns="strategy", values="value", observed=True)
    assert wide.loc["service_level"]["notebook_defined"].equals(wide.loc["service_level"]["least_busy"])


def test_list_items_are_named_by_id_or_all_at_once():
    scenario = sim.load("scenarios/default.yaml")
    changed = experiment.with_values(scenario, {"agents.support-es.count": 5, "agents.*.capacity": 2,
                                                "workflow.purpose.timeout": 30})
    assert [a.count for a in changed.agents if a.id == "support-es"] == [5]
    assert {a.capacity for a in changed.agents} == {2}
    assert changed.workflow[0].timeout == 30
    assert [a.count for a in changed.agents if a.id != "support-es"] == [
        a.count for a in scenario.agents if a.id != "support-es"]
