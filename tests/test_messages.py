"""Message-level handling: turns of agent replies and contact answers, the agent's attention shared among
its chats — checked against exact reductions, the finite-source queue, conservation and its own records."""

import heapq
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.figure import Figure

import sim
from helpers import make_scenario, make_trace, run
from sim.analysis import calibration, kpis, theory
from sim.cli import main
from sim.engine.compiled import compile_run
from sim.engine.handling import Messages
from sim.engine.invariants import InvariantError
from sim.experiments import concurrency, validation
from sim.io import results
from sim.io.concurrency import concurrency_figure

EXPONENTIAL = {"dist": "exponential"}


def messages(**spec):
    """A ``handling`` section in message-level mode (the spec's fields over exponential turns)."""
    turns = {"reply_time": EXPONENTIAL | {"mean": 30}, "think_time": EXPONENTIAL | {"mean": 60}}
    if "exchanges" not in spec:
        turns["resolve_probability"] = 0.25
    return {"mode": "messages", "messages": turns | spec}


def poisson_trace(n, rate, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"time": np.cumsum(rng.exponential(1 / rate, n)),
                         "contact_id": [f"c{i:05d}" for i in range(n)], "channel": "whatsapp"})


# ------------------------------------------------------------------------------------------ scenario


def test_the_handling_section_takes_a_mode_and_its_turns():
    scenario = make_scenario(handling=messages(exchanges={"weights": {2: 1, 6: 3}}, silent_probability=0.1))
    spec = scenario.handling.messages
    assert scenario.handling.mode == "messages" and spec.exchanges.shares == {2: 0.25, 6: 0.75}
    assert spec.mean_exchanges == 5.0
    assert make_scenario(handling=messages(exchanges=4)).handling.messages.exchanges.value == 4
    assert make_scenario().handling.mode == "lumped"  # the default, and the fast path
    with pytest.raises(sim.ScenarioError, match="give exactly one of 'exchanges' or 'resolve_probability'"):
        make_scenario(handling=messages(exchanges=3, resolve_probability=0.5))
    with pytest.raises(sim.ScenarioError, match=r"handling: messages: Field required \(mode messages\)"):
        make_scenario(handling={"mode": "messages"})
    with pytest.raises(sim.ScenarioError, match=r"handling.messages.exchanges: a conversation has at least one"):
        make_scenario(handling=messages(exchanges=0))
    with pytest.raises(sim.ScenarioError, match=r"drain: conversations that never end"):
        compile_run(make_scenario(drain=True, handling=messages(resolve_probability=0)), make_trace((0, "a")))


# ---------------------------------------------------------------------------------------- reductions


def fcfs_waits(arrivals, services, agents):
    free = [0.0] * agents
    waits = []
    for arrival, service in zip(arrivals, services, strict=True):
        start = max(arrival, heapq.heappop(free))
        waits.append(start - arrival)
        heapq.heappush(free, start + service)
    return np.array(waits)


def test_one_chat_per_agent_reduces_to_the_lumped_model_with_the_sum_of_the_turns():
    agents, n = 3, 600
    trace = poisson_trace(n, 0.95 * agents / 300, seed=5)  # a conversation lasts 4 x 30 + 3 x 60 = 300 s
    over = {"duration": trace["time"].iloc[-1] + 1e5, "record_events": False,
            "agents": [{"id": "a", "count": agents, "team": "support"}]}
    chats = make_scenario(**over, handling=messages())
    result = run(chats, trace, "round_robin")
    frame = result.conversations.sort_values("conversation_id")
    assert (frame["outcome"] == "resolved").all()
    # handle time = the sum of the turns: every reply and think time drawn for the conversation
    draws = compile_run(chats, trace, "round_robin").messages
    handle = (frame["closed_at"] - frame["assigned_at"]).to_numpy()
    turns = []
    for root, exchanges in enumerate(frame["exchanges"]):
        key = SimpleNamespace(root=root, generation=0)
        assert exchanges == draws.exchanges.of(key)
        turns.append(math.fsum([draws.reply.at(key, t) for t in range(exchanges)]
                               + [draws.think.at(key, t) for t in range(1, exchanges)]))
    np.testing.assert_allclose(handle, turns, rtol=0, atol=1e-7)
    # the lumped model fed the same handle times (a trace's handle_time column) queues exactly alike
    lumped = make_scenario(**over, handling={"handle_time": EXPONENTIAL | {"mean": 300}})
    replay = run(lumped, trace.assign(handle_time=handle), "round_robin").conversations.sort_values("conversation_id")
    waits = (frame["left_queue_at"] - frame["opened_at"]).to_numpy()
    assert (waits > 0).mean() > 0.3  # a real queue formed
    np.testing.assert_allclose(waits, (replay["left_queue_at"] - replay["opened_at"]).to_numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(frame["closed_at"], replay["closed_at"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(waits, fcfs_waits(trace["time"].to_numpy(), handle, agents), rtol=0, atol=1e-7)
    # one chat at a time: every reply after the first is written at once, its response time its reply time
    m = result.messages
    later = m[(m["who"] == "agent") & (m["turn"] > 1)]
    assert np.isclose(later["response_time"].mean(), 30, rtol=4 / math.sqrt(len(later)))


def test_one_agent_holding_n_chats_is_the_machine_repairman_queue():
    cases = tuple(case for case in validation.CASES if case.chats in (2, 5))
    table = validation.run(replications=6, cases=cases)
    assert set(table["metric"]) == {"response_time_mean", "utilisation"} and len(table) == 4
    assert table["passed"].all(), table
    six = theory.MachineRepairman(6, 120.0, 30.0)
    assert six.mean_at_agent == pytest.approx(six.throughput * six.mean_response)  # Little's law
    assert theory.MachineRepairman(1, 120.0, 30.0).mean_response == pytest.approx(30.0)


# ----------------------------------------------------------------------- conservation, invariants


def busy_day(**handling):
    """Four hours of a busy team: three agents of three chats, silence, auto-close, a handback at a
    shift's end, trace follow-ups and an ask step before routing."""
    return make_scenario(
        duration="4h", on_shift_end="handback", handling=messages(**handling) | {"auto_close": "10m"},
        contacts={"silent_share": 0.1},
        arrivals={"generate": {"profile": [50], "channels": {"whatsapp": 1},
                               "follow_ups": {"mean": 1, "delay": EXPONENTIAL | {"mean": 120}}}},
        agents=[{"id": "a", "count": 2, "team": "support", "capacity": 3},
                {"id": "b", "team": "support", "capacity": 3, "shifts": ["00:00-02:00"]}],
        workflow=[{"type": "ask", "field": "intent", "answers": {"x": 1}, "duration": "20s"}, {"type": "assign"}])


def test_every_run_keeps_the_turns_in_order_and_the_agents_within_capacity():
    result = sim.run(busy_day(silent_probability=0.05))  # the invariants watch the run
    c, m = result.conversations, result.messages
    assert {"auto_closed", "resolved"} <= set(c["outcome"]) and c["handbacks"].sum() > 0
    m = m.sort_values(["conversation_id", "turn", "who"], kind="stable")  # contact before agent in a turn
    for _, turns in m.groupby("conversation_id"):
        who = turns["who"].astype(str).tolist()
        assert who == ["contact", "agent"] * (len(who) // 2) + ["contact"] * (len(who) % 2)
        assert (np.diff(turns["sent_at"].to_numpy()) >= 0).all()  # each turn's order, no reply before its message
        assert turns["turn"].tolist() == [k // 2 + 1 for k in range(len(who))]
    replies = m[m["who"] == "agent"]
    assert (replies["response_time"] >= 0).all()
    counted = replies.groupby("conversation_id").size().reindex(c["conversation_id"], fill_value=0)
    assert (counted.to_numpy() == c["exchanges"].to_numpy()).all()  # the replies add up
    first = c.set_index("conversation_id")["first_response_at"]
    first_reply = replies[replies["turn"] == 1].set_index("conversation_id")["sent_at"]
    assert (first.loc[first_reply.index] == first_reply).all()
    levels = result.concurrency
    assert levels.loc[levels["open"] > 3, "online_time"].sum() == 0  # never above capacity
    shares = levels.groupby("agent_id")["share"].sum()
    assert np.allclose(shares, 1)
    # an agent writes one reply at a time: its writing spans never overlap
    for _, own in replies.groupby("agent_id", observed=True):
        sent = np.sort(own["sent_at"].to_numpy())
        assert (np.diff(sent) > 0).all()


def test_an_agent_writing_two_replies_at_once_stops_the_run(monkeypatch):
    def careless(self, agent, conversation, now):
        original(self, agent, conversation, now)
        agent.writing = None  # forgets it is busy: the next reply starts at once

    original = Messages._write
    monkeypatch.setattr(Messages, "_write", careless)
    with pytest.raises(InvariantError, match="one reply at a time"):
        sim.run(busy_day())


# ----------------------------------------------------------------------------------- turns, KPIs


def test_silence_auto_closes_and_a_late_message_of_the_contact_resumes_the_turns():
    scenario = make_scenario(handling=messages(reply_time="10s", think_time="20s", exchanges=3,
                                               silent_probability=1) | {"auto_close": "5m"},
                             agents=[{"id": "a", "team": "support", "capacity": 2}])
    result = run(scenario, make_trace((0, "a"), (100, "b"), (200, "b")))
    c = result.conversations.set_index("contact_id")
    assert c.loc["a", "outcome"] == "auto_closed" and c.loc["a", "closed_at"] == 10 + 300
    # b: silent after the reply at 110; writes at 200 (the trace): the agent answers at 210, then silence again
    m = result.messages[result.messages["conversation_id"] == c.loc["b", "conversation_id"]]
    assert list(zip(m["turn"], m["who"].astype(str), m["sent_at"], strict=True)) == [
        (1, "contact", 100.0), (1, "agent", 110.0), (2, "contact", 200.0), (2, "agent", 210.0)]
    assert c.loc["b", "closed_at"] == 210 + 300 and c.loc["b", "exchanges"] == 2
    assert c.loc["b", "response_time_max"] == 10


def test_replies_queue_for_the_agents_attention_first_come_first_served():
    # one agent, three chats opened together; constant 10 s replies, 15 s thinks, three exchanges: x, y, z
    # first wait for none, one and two replies; then each answer comes while the agent writes another
    scenario = make_scenario(handling=messages(reply_time="10s", think_time="15s", exchanges=3),
                             agents=[{"id": "a", "team": "support", "capacity": 3}])
    result = run(scenario, make_trace((0, "x"), (0, "y"), (0, "z")))
    m = result.messages[result.messages["who"] == "agent"].sort_values("sent_at")
    assert m["sent_at"].tolist() == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert m["response_time"].tolist() == [10, 20, 30] + [15] * 6
    summary = result.summary.iloc[0]
    assert summary["response_time_mean"] == pytest.approx(150 / 9) and summary["exchanges_mean"] == 3
    assert summary["longest_response_time_mean"] == pytest.approx(65 / 3)
    assert summary["response_time_p90"] == pytest.approx(22)  # numpy's linear interpolation
    agent = result.agents.iloc[0]
    assert agent["writing_time"] == 90 and agent["writing_share"] == 90 / 36000
    assert agent["concurrency_mean"] == pytest.approx((3 * 70 + 2 * 10 + 10) / 36000)  # of a 10-hour day
    assert summary["agent_concurrency_mean"] == pytest.approx(agent["concurrency_mean"])


def test_message_kpis_are_in_the_summary_of_message_level_runs_only():
    trace = make_trace((0, "a"), (50, "b"))
    lumped = run(make_scenario(), trace).summary
    chats = run(make_scenario(handling=messages()), trace).summary
    message_kpis = {name for name, kpi in kpis.KPIS.items() if kpi.messages}
    assert {"response_time_mean", "response_time_p90", "longest_response_time_mean", "exchanges_mean",
            "agent_concurrency_mean"} <= message_kpis
    assert not message_kpis & set(lumped.columns) and message_kpis <= set(chats.columns)
    assert not any(kpis.KPIS[name].ratio for name in message_kpis)  # no staffing target (yet)


def test_common_random_numbers_give_every_strategy_the_same_turns():
    scenario = busy_day(exchanges={"dist": "lognormal", "mean": 5, "sd": 3})
    result = sim.run(scenario.model_copy(update={"on_shift_end": "finish"}), strategy=["round_robin", "least_busy"])
    c = result.conversations  # each contact's first conversation: opened by the same message in both runs
    first = c.sort_values("opened_at").groupby(["strategy", "contact_id"], observed=True).head(1)
    resolved = first[first["outcome"] == "resolved"].pivot(index="contact_id", columns="strategy", values="exchanges")
    both = resolved.dropna()
    assert len(both) > 50 and (both["round_robin"] == both["least_busy"]).all()
    once, again = (sim.run(scenario, strategy="round_robin") for _ in range(2))
    pd.testing.assert_frame_equal(once.messages, again.messages)  # the same seed: the same messages, bit for bit


# ------------------------------------------------------------------------------ records and files


def test_the_messages_table_is_streamed_or_written_beside_the_others(tmp_path):
    scenario = busy_day()
    with results.MessageStream(tmp_path / "streamed") as stream:
        records = sim.simulate(scenario, message_sink=stream)
    assert records.messages is None
    streamed = pd.read_parquet(tmp_path / "streamed" / "messages.parquet")
    held = sim.run(scenario)
    pd.testing.assert_frame_equal(streamed, held.messages, check_categorical=False)
    # streamed, the run keeps its replies' response times: the same KPIs
    kept = sim.analysis.result.tables(records).summary
    assert kept.drop(columns="strategy").equals(held.summary.drop(columns="strategy"))
    written = results.write(held, tmp_path / "run")
    assert tmp_path / "run" / "messages.parquet" in written
    assert len(results.read(tmp_path / "run").messages) == len(held.messages)
    lumped = results.write(sim.run(make_scenario(), trace=make_trace((0, "a"))), tmp_path / "lumped")
    assert not any(path.name.startswith("messages") for path in lumped)
    # convsim run streams the messages beside the event log
    path = tmp_path / "chats.yaml"
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True, exclude={"base_dir", "source"})))
    assert main(["run", str(path), "--out", str(tmp_path / "cli")]) == 0
    assert len(pd.read_parquet(tmp_path / "cli" / "messages.parquet")) == len(held.messages)
    summary = pd.read_parquet(tmp_path / "cli" / "summary.parquet")
    assert summary["response_time_mean"].iloc[0] == held.summary["response_time_mean"].iloc[0]


def test_trace_fit_learns_reply_and_think_times_and_exchanges_from_a_message_log(tmp_path):
    truth = {"reply_time": {"dist": "gamma", "mean": 40, "sd": 25}, "think_time": EXPONENTIAL | {"mean": 90},
             "resolve_probability": 0.2, "silent_probability": 0.05}
    scenario = make_scenario(duration="2d", record_events=False, handling=messages(**truth),
                             arrivals={"generate": {"profile": [12], "channels": {"whatsapp": 1}}},
                             agents=[{"id": "a", "count": 3, "team": "support", "capacity": 3}])
    log = sim.run(scenario).messages
    fragment, fits = calibration.fit(log)
    fitted = fragment["handling"]["messages"]
    assert fragment["handling"]["mode"] == "messages"
    reply, think = fits["reply_time"][0], fits["think_time"][0]
    assert reply.family in ("gamma", "lognormal") and abs(reply.mean - 40) < 4 * 25 / math.sqrt(reply.n)
    assert abs(think.mean - 90) < 4 * 90 / math.sqrt(think.n)
    closed = log["closes"].sum()
    assert abs(fitted["resolve_probability"] - 0.2) < 4 * math.sqrt(0.2 * 0.8 * 0.2 / closed) + 0.01
    asked = (log["who"] == "agent").sum()
    assert abs(fitted["silent_probability"] - 0.05) < 4 * math.sqrt(0.05 * 0.95 / asked)
    refit = make_scenario(handling=fragment["handling"])  # the fragment is a valid handling section
    assert refit.handling.messages.resolve_probability == fitted["resolve_probability"]
    log.to_parquet(tmp_path / "messages.parquet")
    assert main(["trace", "fit", str(tmp_path / "messages.parquet"), "--out", str(tmp_path / "fitted.yaml")]) == 0
    assert "mode: messages" in (tmp_path / "fitted.yaml").read_text()


# ------------------------------------------------------------------------------------ the study


def test_the_concurrency_study_runs_both_modes_on_the_same_arrivals():
    scenario = make_scenario(duration="2h", record_events=False,
                             handling=messages() | {"mode": "lumped", "handle_time": EXPONENTIAL | {"mean": 300}},
                             arrivals={"generate": {"profile": [40], "channels": {"whatsapp": 1}}},
                             agents=[{"id": "a", "count": 2, "team": "support"}])
    table = concurrency.study(scenario, caps=(1, 3), replications=2)
    assert set(table["cap"]) == {1, 3} and set(table["handling"]) == {"lumped", "messages"}
    opened = table[table["kpi"] == "service_level"].pivot_table(index=["cap", "replication"], columns="handling",
                                                                 values="value", observed=True)
    assert opened.notna().all().all()
    assert set(table[table["handling"] == "lumped"]["kpi"]) == {
        "service_level", "abandonment_rate", "first_response_time_mean", "resolution_time_mean"}
    assert isinstance(concurrency_figure(table), Figure)
    with pytest.raises(sim.ScenarioError, match="needs both handle_time"):
        concurrency.study(make_scenario(), caps=(1,), replications=1)


def test_convsim_concurrency_writes_the_study_and_the_report_draws_it(tmp_path):
    from sim.cli import main

    assert main(["concurrency", "scenarios/default.yaml", "--caps", "1,3", "--replications", "1", "--workers", "1",
                 "--out", str(tmp_path)]) == 0
    table = pd.read_parquet(tmp_path / "concurrency.parquet")
    assert set(table["cap"]) == {1, 3} and set(table["handling"].astype(str)) == {"lumped", "messages"}
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "concurrency.png").stat().st_size > 10_000
    assert "Chat concurrency" in (tmp_path / "report.html").read_text()
    assert main(["concurrency", "scenarios/default.yaml", "--caps", "0,x", "--out", str(tmp_path)]) == 2
