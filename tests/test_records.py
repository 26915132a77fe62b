"""Records kept in chunks, and the event log streamed to a file, give the same tables as in memory."""

import pandas as pd
import pytest

import sim
from sim.engine import records
from sim.io import results as output


def test_chunked_records_equal_unchunked(monkeypatch, default_result):
    monkeypatch.setattr(records, "CHUNK", 997)
    chunked = sim.run("scenarios/default.yaml", strategy=["round_robin", "least_busy", "skill_based"])
    for name in ("conversations", "events", "agents", "intervals", "summary"):
        pd.testing.assert_frame_equal(getattr(chunked, name), getattr(default_result, name), check_exact=True)


def test_streamed_event_log_equals_the_one_in_memory(tmp_path, monkeypatch, default_result):
    monkeypatch.setattr(records, "CHUNK", 5000)
    chunks = []
    with output.EventStream(tmp_path, csv=True) as stream:
        result = sim.run("scenarios/default.yaml", strategy=["round_robin", "least_busy", "skill_based"],
                         event_sink=lambda chunk: (chunks.append(len(chunk)), stream(chunk)))
    assert len(chunks) > 3 and result.events.empty
    on_disk = pd.read_parquet(tmp_path / "events.parquet")
    expected = default_result.events
    assert len(on_disk) == len(expected)
    for column in expected.columns:
        assert on_disk[column].astype(str).tolist() == expected[column].astype(str).tolist(), column
    assert len(pd.read_csv(tmp_path / "events.csv")) == len(expected)
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_interrupted_stream_leaves_no_file(tmp_path):
    try:
        with output.EventStream(tmp_path) as stream:
            sim.run("scenarios/default.yaml", strategy="least_busy", event_sink=stream)
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert list(tmp_path.iterdir()) == []


def test_kpis_by_segment_add_up_to_the_whole():
    result = sim.run("scenarios/default.yaml", ["round_robin", "skill_based"])
    assert result.fields == ["intent", "tier", "language"]
    whole, parts = result.kpis(), result.kpis(by="language")
    assert "(not known)" in parts["round_robin"]  # a failed CRM lookup leaves the language unknown
    for strategy in ("round_robin", "skill_based"):
        offered = parts.loc["offered", strategy]
        assert offered.sum() == whole.loc["offered", strategy]
        level = (parts.loc["service_level", strategy] * offered).sum() / offered.sum()
        assert level == pytest.approx(whole.loc["service_level", strategy], rel=1e-12)
    assert "agent_occupancy_mean" not in parts.index  # agents are not segments of conversations
    with pytest.raises(sim.ConvsimError, match=r"cannot segment by 'colour'.*intent, tier, language"):
        result.kpis(by="colour")
    days = sim.run("scenarios/default.yaml", "round_robin", replications=3)
    team = days.conversations["team"].astype(object).fillna("(not known)")  # out of hours: never routed
    per_day = days.conversations.groupby(["seed", team]).size().groupby(level=1).mean()
    assert days.kpis(by="team").loc["conversations_opened", "round_robin"].sort_index().equals(per_day.sort_index())


def test_strategies_compared_within_a_segment():
    result = sim.run("scenarios/default.yaml", ["round_robin", "skill_based"], replications=3)
    compared = result.compare(by="tier")
    vip = compared[(compared["tier"] == "vip") & (compared["kpi"] == "first_response_time_mean")].set_index("strategy")
    means = result.kpis(by="tier").loc["first_response_time_mean"]
    assert vip.loc["skill_based", "mean"] == pytest.approx(means[("skill_based", "vip")])
    runs = result.segments("tier")
    runs = runs[runs["tier"] == "vip"].pivot(index="seed", columns="strategy", values="first_response_time_mean")
    assert vip.loc["skill_based", "difference"] == pytest.approx((runs["skill_based"] - runs["round_robin"]).mean())


def test_a_finished_world_is_freed():
    """Nothing keeps a run's world alive after its records are out (a method cache once kept every one)."""
    import gc
    import weakref

    from sim.engine.compiled import compile_run
    from sim.engine.world import World
    from sim.model import arrivals

    scenario = sim.load("scenarios/default.yaml")
    world = World(compile_run(scenario, arrivals.for_scenario(scenario)))
    records = world.run().records()
    freed = weakref.ref(world)
    del world
    gc.collect()
    assert freed() is None and records.info.strategy == "skill_based"
