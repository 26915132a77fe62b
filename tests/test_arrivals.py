"""Loading traces (with column mapping and every bad-row report) and generating days."""

import numpy as np
import pandas as pd
import pytest

import sim
from helpers import BASE, merge
from sim.errors import TraceError
from sim.model import arrivals


def with_arrivals(arrivals_section, base_dir=None, **over):
    return sim.parse({**merge(BASE, over), "arrivals": arrivals_section}, base_dir=base_dir)


def scenario_for(tmp_path, text, **trace):
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return with_arrivals({"trace": {"path": "trace.csv", **trace}}, tmp_path)


def load(tmp_path, text, **trace):
    return arrivals.for_scenario(scenario_for(tmp_path, text, **trace))


def test_sample_trace_loads_with_its_column_mapping_sorted():
    scenario = sim.load("scenarios/sample_trace.yaml")
    trace = arrivals.for_scenario(scenario)
    assert list(trace.columns[:3]) == ["time", "contact_id", "channel"]
    assert {"language", "intent"} <= set(trace.columns)
    assert trace["time"].is_monotonic_increasing
    assert trace["time"].iloc[0] == pytest.approx(8 * 3600 + 16.306)


def test_unsorted_rows_are_sorted_and_seconds_are_accepted(tmp_path):
    trace = load(tmp_path, "timestamp,contact_id,channel,tier\n30,b,whatsapp,vip\n10,a,webchat,\n")
    assert trace["time"].tolist() == [10.0, 30.0]
    assert trace["contact_id"].tolist() == ["a", "b"]
    assert trace["tier"].isna().tolist() == [True, False]


def test_iso_timestamps_with_and_without_zone(tmp_path):
    text = "timestamp,contact_id,channel\n2026-11-02T01:00:00,a,whatsapp\n2026-11-02T03:00:00+01:00,b,whatsapp\n"
    assert load(tmp_path, text)["time"].tolist() == [3600.0, 7200.0]


@pytest.mark.parametrize("rows, message", [
    ("x,a,whatsapp", "1 row(s) with unparseable timestamp (row 2: timestamp='x')"),
    ("10,a,fax", "1 row(s) with unknown channel (row 2: channel='fax')"),
    (",a,whatsapp", "1 row(s) with missing timestamp (row 2: timestamp=nan)"),
    ("10,,whatsapp", "1 row(s) with missing contact_id (row 2: contact_id=nan)"),
    ("10,a,whatsapp\n10,a,whatsapp", "1 row(s) with duplicated row (row 3: ('10', 'a', 'whatsapp'))"),
    ("99999999,a,whatsapp", "1 row(s) with timestamp at or after the scenario's end (row 2: timestamp='99999999')"),
    ("-5,a,whatsapp", "1 row(s) with timestamp before the scenario's start (row 2: timestamp='-5')"),
])
def test_each_bad_row_is_reported_with_row_number_and_value(tmp_path, rows, message):
    with pytest.raises(TraceError) as info:
        load(tmp_path, "timestamp,contact_id,channel\n" + rows + "\n")
    assert str(info.value).startswith(str(tmp_path / "trace.csv"))
    assert message in str(info.value)


def test_many_bad_rows_are_summarised(tmp_path):
    rows = "".join(f"{i},c{i},fax\n" for i in range(12))
    with pytest.raises(TraceError, match=r"12 row\(s\) with unknown channel .* and 7 more"):
        load(tmp_path, "timestamp,contact_id,channel\n" + rows)


def test_bad_rows_can_be_dropped_and_counted(tmp_path):
    text = "timestamp,contact_id,channel\n10,a,whatsapp\nx,b,whatsapp\n20,c,fax\n"
    with pytest.warns(UserWarning, match="dropped 2 bad row"):
        trace = load(tmp_path, text, on_bad_rows="drop")
    assert trace["contact_id"].tolist() == ["a"]
    assert trace.attrs["dropped_rows"] == 2


def test_missing_columns_and_files_are_named(tmp_path):
    with pytest.raises(TraceError, match=r"missing column\(s\) 'channel'"):
        load(tmp_path, "timestamp,contact_id\n1,a\n")
    with pytest.raises(TraceError, match=r"missing column\(s\) 'sent_at'"):
        load(tmp_path, "timestamp,contact_id,channel\n1,a,whatsapp\n", columns={"timestamp": "sent_at"})
    scenario = with_arrivals({"trace": {"path": "nope.csv"}}, tmp_path)
    with pytest.raises(TraceError, match=r"nope\.csv: trace file not found"):
        arrivals.for_scenario(scenario)


def test_parquet_traces_load(tmp_path):
    frame = pd.DataFrame({"ts": [5.0, 1.0], "contact_id": ["a", "b"], "channel": ["whatsapp", "webchat"]})
    frame.to_parquet(tmp_path / "t.parquet")
    scenario = with_arrivals({"trace": {"path": "t.parquet", "columns": {"timestamp": "ts"}}}, tmp_path)
    assert arrivals.for_scenario(scenario)["contact_id"].tolist() == ["b", "a"]


def test_generated_counts_follow_the_profile():
    scenario = with_arrivals({"generate": {
        "profile": [10, 100], "profile_step": "12h", "channels": {"whatsapp": 0.7, "webchat": 0.3},
        "attributes": {"tier": {"vip": 0.1, "std": 0.9}}}}, duration="20d")
    trace = arrivals.for_scenario(scenario)
    night = (trace["time"] % 86400 < 43200).sum()
    day = len(trace) - night
    # Poisson totals: 20 days x 12 h x 10/h = 2400 and x 100/h = 24000; 4 standard errors
    assert abs(night - 2400) < 4 * np.sqrt(2400)
    assert abs(day - 24000) < 4 * np.sqrt(24000)
    share = (trace["channel"] == "whatsapp").mean()
    assert abs(share - 0.7) < 4 * np.sqrt(0.7 * 0.3 / len(trace))
    assert trace["contact_id"].is_unique


def test_follow_ups_come_after_their_opening_message():
    scenario = with_arrivals({"generate": {
        "profile": [50], "channels": {"whatsapp": 1},
        "follow_ups": {"mean": 2, "delay": {"dist": "constant", "value": 60}}}})
    trace = arrivals.for_scenario(scenario)
    per_contact = trace.groupby("contact_id")["time"]
    firsts = per_contact.transform("min")
    gaps = per_contact.diff().dropna()
    assert np.allclose(gaps, 60.0)
    assert (trace["time"] >= firsts).all()
    assert abs(len(trace) / per_contact.ngroups - 3) < 0.2  # 1 + mean 2, truncated at the horizon
