"""The results folder: every artefact written and read back by sim.io.results, with its provenance, and
files made with the mode any program's files get."""

import json
import math
import os
import stat

import pandas as pd
import pytest

import sim
from helpers import make_scenario
from sim import files
from sim.analysis import comparison
from sim.experiments import replications as experiment
from sim.io import results
from sim.model import arrivals

STRATEGIES = ["round_robin", "least_busy"]


@pytest.fixture(scope="module")
def scenario():
    return make_scenario(duration="2h", arrivals={"generate": {"profile": [30], "channels": {"whatsapp": 1}}})


def study() -> results.Staffing:
    cells = pd.DataFrame({"team": ["support", "support"], "interval": [0, 1], "start": ["00:00", "01:00"],
                          "required": [2.0, 3.0], "erlang_c": [2.0, 3.0], "erlang_a": [2.0, 2.0],
                          "planned": [2.0, 4.0], "gap": [0.0, 1.0], "status": ["ok", "over"], "note": ["", "capped"]})
    kpis = pd.DataFrame({"plan": ["scenario plan", "requirement"], "kpi": ["service_level"] * 2,
                         "mean": [0.7, 0.85], "ci_low": [0.65, 0.8], "ci_high": [0.75, 0.9]})
    return results.Staffing(cells, kpis, {"interval": 3600.0, "targets": ["service_level>=0.8@60s"]})


def test_every_artefact_reads_back_as_written_with_its_provenance(scenario, tmp_path):
    run = results.Provenance.of(scenario, ["convsim", "run", "day.yaml"])
    result = sim.run(scenario, STRATEGIES, replications=2)
    results.write(result, tmp_path, provenance=run)
    found = results.read(tmp_path)
    for name in ("conversations", "agents", "intervals"):
        pd.testing.assert_frame_equal(getattr(found, name), getattr(result, name), check_categorical=False)
    pd.testing.assert_frame_equal(found.replications, comparison.tidy(result.summary))
    assert found.service_target == scenario.service_target
    assert json.loads((tmp_path / "summary.json").read_text())["replications"] == 2

    staff = results.Provenance.of(scenario, ["convsim", "staff", "day.yaml"])
    results.write_staffing(study(), tmp_path, staff)  # beside the run, as `convsim report` expects them
    found = results.read(tmp_path)
    for name in ("cells", "kpis"):
        pd.testing.assert_frame_equal(getattr(found.study, name), getattr(study(), name))
    assert found.study.settings == study().settings
    assert found.study.agent_hours().loc["support", "required"] == 5.0
    assert found.provenance == {"run": run, "staff": staff}
    assert (run.scenario, run.fingerprint, run.convsim) == (scenario.name, results.fingerprint(scenario), results.VERSION)

    compared = tmp_path / "compare"
    table = experiment.replicate(scenario, STRATEGIES, 3, compared, workers=1)
    results.write_comparison(table, compared, "least_busy", results.Provenance.of(scenario))
    found = results.read(compared)
    pd.testing.assert_frame_equal(found.replications, table)
    assert json.loads((compared / "summary.json").read_text())["baseline"] == "least_busy"
    assert set(pd.read_csv(compared / "comparison.csv")["strategy"]) == set(STRATEGIES)
    assert found.provenance["compare"].command is None
    assert len(list((compared / "runs").glob("*.json"))) == 6

    swept = tmp_path / "sweep"
    results.write_sweep(table.assign(**{"agents.0.count": 2}), swept, results.Provenance.of(scenario, ["convsim"]))
    found = results.read(swept)
    pd.testing.assert_frame_equal(found.sweep, table.assign(**{"agents.0.count": 2}))
    assert found.provenance["sweep"].command == ("convsim",)


def test_run_files_keep_outcomes_for_their_scenario_and_version_only(scenario, tmp_path):
    made = results.Provenance.of(scenario)
    runs = results.RunFiles(tmp_path / "runs", made)
    runs.save("round_robin-r0000", {"service_level": 0.8, "first_response_time_mean": math.nan})
    kept = runs.finished(["round_robin-r0000", "round_robin-r0001"])
    assert list(kept) == ["round_robin-r0000"] and math.isnan(kept["round_robin-r0000"]["first_response_time_mean"])
    saved = json.loads((tmp_path / "runs" / "round_robin-r0000.json").read_text())
    assert saved["provenance"]["fingerprint"] == made.fingerprint
    changed = experiment.with_values(scenario, {"service_target": 30})
    assert results.RunFiles(tmp_path / "runs", results.Provenance.of(changed)).finished(["round_robin-r0000"]) == {}
    older = results.Provenance(made.scenario, made.source, made.fingerprint, convsim="0.0.1")
    assert results.RunFiles(tmp_path / "runs", older).finished(["round_robin-r0000"]) == {}


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)], ids=["umask 022", "umask 027"])
def test_files_get_the_mode_the_umask_gives_any_new_file(scenario, tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        result = sim.run(scenario, "round_robin")
        with results.EventStream(tmp_path, csv=True) as stream:
            stream(result.events)
        results.write(result, tmp_path, csv=True, events=False)
        table = comparison.tidy(result.summary)
        results.write_comparison(table, tmp_path)
        results.write_sweep(table, tmp_path)
        results.write_staffing(study(), tmp_path)
        results.RunFiles(tmp_path / "runs", results.Provenance.of(scenario)).save("round_robin-r0000", {})
        arrivals.write(arrivals.for_scenario(scenario, 1), tmp_path / "trace.csv", scenario.start)
        files.atomic_write(tmp_path / "note.txt", lambda p: p.write_text("written"))
    finally:
        os.umask(previous)
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(written) > 20 and not [path for path in written if path.name.endswith(".tmp")]
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in written} == {
        path.name: oct(mode) for path in written}
