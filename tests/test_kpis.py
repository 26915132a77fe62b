"""The KPI registry: every KPI is in the summary with a label and a unit, staffing's targets are the
registry's, and a KPI added to the registry is at once a staffing target."""

from typing import get_args

import numpy as np
import pytest

import sim
from helpers import make_scenario
from sim import units
from sim.analysis import kpis
from sim.analysis.kpis import KPIS, Kpi
from sim.errors import ConvsimError
from sim.experiments import staffing


def busy_day() -> sim.Scenario:
    """Six hours of Poisson arrivals to four single-chat agents, handle times of 5 minutes."""
    return make_scenario(
        duration="6h", interval="1h", record_events=False,
        arrivals={"generate": {"profile": [0, 30, 60, 40, 20, 0], "channels": {"whatsapp": 1}}},
        handling={"handle_time": {"dist": "exponential", "mean": 300}},
        agents=[{"id": "a", "team": "support", "count": 4}])


def test_every_kpi_is_in_the_summary_with_a_label_and_a_unit():
    summary = sim.run(busy_day()).summary
    assert set(kpis.measured()) <= set(summary.columns)  # message-level handling's: in its runs only
    for kpi in KPIS.values():
        assert kpi.label and kpi.unit in get_args(kpis.Unit), kpi.name
        assert (kpi.numerator is None) != (kpi.agents is None), f"{kpi.name}: of conversations or of agents"
        assert kpis.format_kpi(kpi.name, 0.5) != "-"


def written(kpi: Kpi) -> str:
    """A target on ``kpi`` as people write it."""
    value = {"seconds": "45s", "share": "50%"}.get(kpi.unit, "1")
    return f"{kpi.name}{'<=' if kpi.better == 'lower' else '>='}{value}" + ("@60s" if kpi.timed else "")


def test_staffing_targets_are_exactly_the_registry_ratios_with_a_direction():
    for kpi in KPIS.values():
        if kpi.better is not None and kpi.ratio:
            target = staffing.Target.parse(written(kpi))
            assert target.kpi == kpi.name and target.higher_is_better == (kpi.better == "higher")
            assert str(staffing.Target.parse(str(target))) == str(target)
        else:
            with pytest.raises(ConvsimError, match=f"{kpi.name} is not a ratio with a better direction"):
                staffing.Target.parse(written(kpi))
    assert {"service_level", "service_level_of_answered", "abandonment_rate",
            "first_response_time_mean"} <= set(staffing.target_kpis())


def test_a_kpi_added_to_the_registry_is_at_once_in_the_summary_and_a_staffing_target(monkeypatch):
    resolved_within = Kpi("resolution_level", "share", "resolved within t", "higher", timed=True,
                          numerator=lambda c: c["resolution_time"] <= c.within,
                          denominator=lambda c: c["outcome"] == "resolved")
    monkeypatch.setitem(KPIS, resolved_within.name, resolved_within)
    scenario = busy_day()
    target = staffing.Target.parse("resolution_level>=80%@1m")  # the scenario's service target: the summary's t
    assert target == staffing.Target("resolution_level", 0.8, scenario.service_target)
    day = staffing.Day(3600.0, units.time_of_day(scenario.start), scenario.duration)
    tallies, row = staffing.tally(staffing.Evaluation(scenario, None, 3, (target,), day))
    numerator, denominator = tallies[..., 3].sum(), tallies[..., 4].sum()
    assert denominator > 50 and row["resolution_level"] == numerator / denominator
    estimate = staffing.Estimate(tallies[None], (target,), 0.9)
    cells = tallies[0, :, 4] > 0
    assert np.array_equal(estimate.value(0)[0, cells], tallies[0, cells, 3] / tallies[0, cells, 4])
    # no closed form: Erlang C and A size for the targets that have one, and say nothing for this one alone
    assert np.isnan(staffing.closed_form("C", 0.01, 300.0, 1.0, (target,), None))
    level = staffing.Target.parse("service_level>=0.8@60s")
    assert staffing.closed_form("C", 0.01, 300.0, 1.0, (target, level), None) == staffing.closed_form(
        "C", 0.01, 300.0, 1.0, (level,), None)
