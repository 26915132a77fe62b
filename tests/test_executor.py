"""The one batch executor: order kept, dying workers' jobs retried, the same tables wherever jobs run."""

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import sim
from helpers import make_scenario
from sim.experiments import validation
from sim.experiments.executor import ATTEMPTS, Executor

REPLICATE = validation._replicate


def dies_once(job: validation.Replication) -> list[dict[str, float]]:
    """A validation worker that dies (the whole process, as a kill would) the first time it meets seed 2."""
    marker = Path(os.environ["CONVSIM_TEST_MARKER"])
    if job.seed == 2 and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return REPLICATE(job)


def test_validation_runs_on_the_executor_and_loses_nothing_to_a_dying_worker(tmp_path, monkeypatch):
    cases = (validation.Case("M/M/2", 2, 0.7), validation.Case("M/M/2+M", 2, 0.9, patience=600.0))
    here = validation.run(replications=3, workers=1, cases=cases)
    monkeypatch.setenv("CONVSIM_TEST_MARKER", str(tmp_path / "marker"))
    monkeypatch.setattr(validation, "_replicate", dies_once)
    pooled = validation.run(replications=3, workers=2, cases=cases)
    assert (tmp_path / "marker").exists()  # a worker did die
    pd.testing.assert_frame_equal(pooled, here, check_exact=True)


@dataclass(frozen=True)
class Doomed:
    number: int
    strategy: None = None

    @property
    def name(self) -> str:
        return f"doomed-{self.number}"


def always_dies(job: Doomed) -> int:
    os._exit(1)


def test_a_job_whose_worker_always_dies_fails_after_its_attempts():
    with Executor(workers=2) as executor, pytest.raises(RuntimeError, match=f"failed {ATTEMPTS} times"):
        executor.map(always_dies, [Doomed(0)])


def test_sim_run_on_a_pool_gives_the_tables_of_one_process():
    scenario = make_scenario(duration="2h", arrivals={"generate": {"profile": [30], "channels": {"whatsapp": 1}}})
    here = sim.run(scenario, ["round_robin", "least_busy"], replications=3)
    pooled = sim.run(scenario, ["round_robin", "least_busy"], replications=3, workers=2)
    for name in ("conversations", "events", "agents", "intervals", "summary"):
        pd.testing.assert_frame_equal(getattr(pooled, name), getattr(here, name), check_exact=True)
