"""Records kept in chunks, and the event log streamed to a file, give the same tables as in memory."""

import pandas as pd

import sim
from sim import output, records


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
