"""The report: figures, the computed conclusion, and report.html as headless Chromium renders it."""

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from sim.analysis import comparison
from sim.errors import ConvsimError
from sim.io import report

CONVSIM = str(Path(sys.executable).parent / "convsim")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=10000"]


def convsim(*args):
    done = subprocess.run([CONVSIM, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three strategies over three days and a roster of the default scenario (its staffing study with it),
    reported — as make demo does, smaller."""
    out = tmp_path_factory.mktemp("report")
    convsim("run", "scenarios/default.yaml", "--strategy", "round_robin", "--strategy", "least_busy",
            "--strategy", "skill_based", "--replications", "3", "--out", str(out))
    convsim("schedule", "scenarios/default.yaml", "--target", "service_level>=0.8@60s", "--interval", "2h",
            "--replications", "3", "--templates", "scenarios/templates/shifts.yaml", "--shrinkage", "0.3",
            "--cost", "25", "--workers", "2", "--out", str(out))
    printed = convsim("report", str(out))
    assert f"report written: {(out / 'report.html').resolve()}" in printed
    return out


def chromium(*args, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "Chromium is needed for this test: `make test` installs it (apt-get install chromium)"
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_the_report_renders_in_headless_chromium_and_passes_its_own_checks(folder, tmp_path):
    page = (folder / "report.html").as_uri()
    dom = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", page, tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr
    assert 'data-checks="ok"' in dom.stdout, re.findall(r'data-checks="[^"]*"', dom.stdout)
    assert 'data-figures="6"' in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console  # no script error or warning on the page
    shot = tmp_path / "report.png"
    done = chromium("--window-size=1280,3000", f"--screenshot={shot}", page, tmp_path=tmp_path)
    assert done.returncode == 0 and shot.exists(), done.stderr
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (3000, 1280)
    ink = (pixels.mean(axis=-1) < 0.9).mean()  # share of the page that is not (near) white
    colour = (pixels.max(axis=-1) - pixels.min(axis=-1) > 0.3).mean()  # strategy colours in the figures
    assert ink > 0.05 and colour > 0.01, (ink, colour)


def test_the_report_is_self_contained_and_its_figures_are_written(folder):
    text = (folder / "report.html").read_text()
    assert not re.search(r"(src|href)=['\"](?!data:)", text)  # nothing fetched: figures are embedded
    for name in ("kpis", "first_response", "through_the_day", "agents", "staffing", "gap"):
        png = folder / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"src='data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}'" in text
    assert "Conclusion" in text and "agent-hours a day" in text
    # a manager's page: the recommendation first, in words; whole-day KPIs under plan, requirement and
    # roster; the roster; no developer footer
    first = re.search(r"<h2>([^<]*)</h2>\n<p class='recommendation'>([^<]*)</p>", text)
    assert first and first.group(1) == "Recommendation" and text.index(first.group(0)) < text.index("Conclusion")
    assert re.match(r"(Hire or move \d+ agents? to meet|The plan holds)", first.group(2)), first.group(2)
    assert "service level at least 80.0% within 60 s" in first.group(2) and "FTE" in first.group(2)
    assert "<th>scenario plan</th><th>requirement</th><th>roster</th>" in text and "Shifts" in text
    assert "footer" not in text and "Page checks" not in text


def test_the_kpi_table_shows_the_intervals_of_the_replications(folder):
    text = (folder / "report.html").read_text()
    summary = pd.read_parquet(folder / "summary.parquet")
    compared = comparison.compare(comparison.tidy(summary))
    row = compared[(compared.kpi == "service_level") & (compared.strategy == "least_busy")].iloc[0]
    shown = f"{row['mean'] * 100:.1f}%"
    assert shown in text and f"[{row['ci_low'] * 100:.1f}%, {row['ci_high'] * 100:.1f}%]" in text


def tidy(values: dict[str, list[float]], kpi: str = "service_level") -> pd.DataFrame:
    rows = [{"strategy": name, "replication": r, "seed": r, "kpi": kpi, "value": v}
            for name, series in values.items() for r, v in enumerate(series)]
    table = pd.DataFrame(rows)
    table["strategy"] = pd.Categorical(table["strategy"], categories=list(values))
    return table


def test_the_conclusion_names_the_leader_and_says_whether_its_lead_is_significant():
    rng = np.random.default_rng(1)
    noise, other = rng.normal(0, 0.01, 10), rng.normal(0, 0.01, 10)
    clear = tidy({"a": list(0.70 + noise), "b": list(0.80 + other), "c": list(0.6 + noise)})
    text = report.conclusion(clear)
    assert text.startswith("b has the highest service level (") and " pts higher) is significant" in text
    assert "is significant" in text
    close = tidy({"a": list(0.70 + noise), "b": list(0.70 + noise[::-1])})
    text = report.conclusion(close)
    assert "within the noise of 10 replications" in text
    alone = report.conclusion(tidy({"a": list(0.70 + noise)}))
    assert alone.startswith("One strategy, a, over 10 replication(s): service level 70.")


def test_one_colour_per_strategy_across_figures(folder):
    colours = report.palette(["mine", "least_busy", "round_robin"])
    assert colours["least_busy"] == report.BUILT_IN["least_busy"] and colours["mine"] not in report.BUILT_IN.values()
    figure = report.first_response_figure(pd.read_parquet(folder / "conversations.parquet"), 60.0)
    lines = {line.get_label(): matplotlib.colors.to_hex(line.get_color()) for line in figure.axes[0].get_lines()}
    for name in ("round_robin", "least_busy", "skill_based"):
        assert lines[name] == report.BUILT_IN[name]


def test_a_comparison_folder_is_reported_too(tmp_path):
    convsim("compare", "scenarios/default.yaml", "--strategies", "round_robin,least_busy", "--replications", "3",
            "--workers", "2", "--out", str(tmp_path))
    convsim("report", str(tmp_path))
    assert (tmp_path / "kpis.png").exists() and "Conclusion" in (tmp_path / "report.html").read_text()


def test_a_folder_without_results_is_named(tmp_path):
    with pytest.raises(ConvsimError, match=re.escape(str(tmp_path))):
        report.build(tmp_path)
    with pytest.raises(ConvsimError, match="no such folder"):
        report.build(tmp_path / "missing")


def test_figures_show_themselves_in_a_notebook_whatever_the_backend():
    figure = report.kpi_figure(pd.DataFrame({
        "kpi": report.HEADLINE, "strategy": ["round_robin"] * 4, "mean": [0.8, 0.05, 40.0, 0.7],
        "ci_low": [0.7, 0.04, 35.0, 0.6], "ci_high": [0.9, 0.06, 45.0, 0.8]}))
    assert figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_recommendation_says_the_plan_holds_or_how_many_agents_to_hire_or_move(folder):
    from sim.io import results

    study = results.read_staffing(folder)
    holding = results.Staffing(study.cells.assign(planned=study.cells["required"] + 1.0, status="over"), study.kpis,
                               study.settings)
    assert report.recommendation(holding).startswith("The plan holds: every team has the agents each interval needs")
    short = study.cells.assign(planned=study.cells["required"] + 1.0)
    short.loc[(short["team"] == "sales") & (short["interval"] == 5), "planned"] -= 3.5  # 2.5 short: 3 agents
    text = report.recommendation(results.Staffing(short, study.kpis, study.settings))
    assert text.startswith("Hire or move 3 agents to meet service level at least 80.0% within 60 s: "
                           "sales 3 (short at 10:00) (support has 1 to spare all day")
    assert report._level_target(study, 60.0) == 0.8 and report._level_target(study, 30.0) is None


def test_a_sweep_is_drawn_per_kpi_with_a_line_per_strategy():
    rows = [{"agents.0.count": count, "strategy": strategy, "replication": r, "seed": r, "kpi": kpi,
             "value": 0.5 + 0.1 * count + 0.01 * r}
            for count in (1, 2, 3) for strategy in ("round_robin", "least_busy") for r in range(3)
            for kpi in report.HEADLINE]
    figure = report.sweep_figure(pd.DataFrame(rows))
    drawn = {bars.get_label(): bars.lines[0] for bars in figure.axes[0].containers}
    assert set(drawn) == {"round_robin", "least_busy"} and list(drawn["least_busy"].get_xdata()) == [1, 2, 3]
    assert figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
