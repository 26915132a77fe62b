"""The Dask path: a real `dask scheduler` and `dask worker` started here on loopback."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim
from helpers import BASE, merge
from sim.cli import main
from sim.experiments import replications as experiment
from sim.io import results

DASK = str(Path(sys.executable).parent / "dask")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def cluster(tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--dashboard-address", ":0", "--no-show"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = [subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                 "--dashboard-address", ":0", "--local-directory", str(tmp_path / f"w{i}")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(2)]
    try:
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for process in [*workers, scheduler]:
            process.terminate()
        for process in [*workers, scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_dask_and_the_process_pool_give_identical_tables(cluster, tmp_path):
    address, _ = cluster
    scenario = sim.load("scenarios/default.yaml")
    started = time.monotonic()
    on_dask = experiment.replicate(scenario, ["round_robin", "least_busy"], 4, tmp_path / "dask",
                                   scheduler=address)
    assert time.monotonic() - started < 300
    on_pool = experiment.replicate(scenario, ["round_robin", "least_busy"], 4, workers=2)
    pd.testing.assert_frame_equal(on_dask, on_pool, check_exact=True)
    assert len(list((tmp_path / "dask" / "runs").glob("*.json"))) == 8


def test_a_dask_worker_killed_mid_sweep_loses_no_run(cluster, tmp_path):
    address, workers = cluster
    scenario = sim.load("scenarios/default.yaml").model_copy(update={"duration": 5 * 86400.0})
    import threading

    def killer():
        while not list((tmp_path / "runs").glob("*.json")):
            time.sleep(0.05)
        workers[0].kill()  # a worker dies with runs in flight

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    table = experiment.replicate(scenario, ["round_robin", "least_busy"], 5, tmp_path, scheduler=address)
    thread.join(timeout=5)
    assert workers[0].poll() is not None  # it really died
    finished = sorted(p.stem for p in (tmp_path / "runs").glob("*.json"))
    assert len(finished) == 10
    assert table["value"].notna().any() and len(table) == 10 * len(sim.analysis.kpis.measured())


def test_a_local_dask_cluster_gives_the_same_table():
    scenario = sim.load("scenarios/default.yaml")
    local = experiment.replicate(scenario, ["round_robin"], 2, scheduler="local", workers=2)
    pool = experiment.replicate(scenario, ["round_robin"], 2, workers=1)
    pd.testing.assert_frame_equal(local, pool, check_exact=True)


def test_a_staffing_study_on_a_local_dask_cluster_finds_what_one_process_finds(tmp_path):
    scenario = tmp_path / "queue.yaml"
    scenario.write_text(yaml.safe_dump(merge(BASE, {
        "duration": "6h", "interval": "1h", "record_events": False,
        "arrivals": {"generate": {"profile": [0, 60, 120, 240, 120, 0], "channels": {"whatsapp": 1}}},
        "handling": {"handle_time": {"dist": "exponential", "mean": 300}},
        "agents": [{"id": "a", "team": "support", "count": 8}]})))
    study = ["staff", str(scenario), "--target", "service_level>=0.8@60s", "--replications", "3"]
    dask = ("--scheduler", "local", "--workers", "2", "--out", str(tmp_path / "dask"))
    assert main([*study, "--workers", "1", "--out", str(tmp_path / "here")]) == 0
    assert main([*study, *dask]) == 0
    here, on_dask = results.read(tmp_path / "here"), results.read(tmp_path / "dask")
    pd.testing.assert_frame_equal(on_dask.study.cells, here.study.cells, check_exact=True)
    pd.testing.assert_frame_equal(on_dask.study.kpis, here.study.kpis, check_exact=True)
    assert on_dask.study.settings == here.study.settings
    assert on_dask.provenance["staff"].command == ("convsim", *study, *dask)
