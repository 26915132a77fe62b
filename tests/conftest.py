"""Shared fixtures."""

import pytest

import sim


@pytest.fixture(scope="session")
def default_result() -> sim.Result:
    return sim.run("scenarios/default.yaml", strategy=["round_robin", "least_busy", "skill_based"])
