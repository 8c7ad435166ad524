"""The measurement report reads well: legends beside the data, readable fonts, short cells,
"1 pt", and a print layout. (Checked by eye in headless Chromium at 1280 px and in print;
these tests hold the mechanisms that make it so.)"""

from __future__ import annotations

import re

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from measure_fixtures import recorded_rows, two_tiers, write_jsonl, write_policy

from phaseroute.measure import MeasureSettings, SilentProgress, replay_tasks, run_measurement
from phaseroute.measure._harness import MeasurementRun
from phaseroute.measure._report import gap_plot, html_report, markdown_report, metric_plot
from phaseroute.policy import compile_policy, load_policy
from phaseroute.recorded import read_recorded

TOP, CHEAP = "claude-opus-5-5", "claude-haiku-5-5"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> MeasurementRun:
    root = tmp_path_factory.mktemp("report")
    rows = recorded_rows("screen", 400, [1], [1], top_id=TOP, cheap_id=CHEAP)
    rows += recorded_rows("sort", 300, [1, 1, 0], [1, 0, 0], top_id=TOP, cheap_id=CHEAP)
    rows += recorded_rows("file", 200, [1, 0], [1, 1, 0, 0], top_id=TOP, cheap_id=CHEAP)
    outcomes = write_jsonl(root / "recorded.jsonl", rows)
    data = two_tiers()
    phases = data["workflows"]["wf"]["phases"]
    del phases["triage"]
    phases["screen"]["quality"]["margin"] = 0.01  # one point: "1 pt"
    for name in ("sort", "file"):
        phases[name] = {**phases["screen"], "quality": {"metric": "accuracy", "margin": 0.03}}
    policy = write_policy(root / "policy.yaml", data)
    loaded = load_policy(policy)
    plan = compile_policy(loaded)
    tasks, _ = replay_tasks(loaded, plan, read_recorded(outcomes), list(plan.decisions), None)
    return run_measurement(tasks, plan, loaded, MeasureSettings(), SilentProgress())


def test_one_point_is_singular(run: MeasurementRun) -> None:
    for text in (markdown_report(run, "t"), html_report(run, "t")):
        assert "1 pts" not in text
        assert re.search(r"\b1 pt\b", text)
        assert "3 pts" in text


@pytest.mark.parametrize("plot", [gap_plot, metric_plot])
def test_legends_sit_outside_the_plotted_data(run: MeasurementRun, plot: object) -> None:
    fig = plot(run)  # type: ignore[operator]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    (ax,) = fig.axes
    legend = ax.get_legend()
    assert legend is not None
    renderer = canvas.get_renderer()
    assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


@pytest.mark.parametrize("plot", [gap_plot, metric_plot])
def test_plot_text_is_readable(run: MeasurementRun, plot: object) -> None:
    fig = plot(run)  # type: ignore[operator]
    (ax,) = fig.axes
    sizes = [t.get_fontsize() for t in (*ax.get_yticklabels(), *ax.get_xticklabels())]
    sizes += [t.get_fontsize() for t in ax.get_legend().get_texts()]
    assert min(sizes) >= 10


def test_table_cells_are_at_most_two_lines_and_the_page_prints(run: MeasurementRun) -> None:
    page = html_report(run, "t")
    table = page.split("<table>", 1)[1].split("</table>", 1)[0]
    for cell in re.findall(r"<td[^>]*>(.*?)</td>", table):
        assert cell.count("<br>") <= 1
    assert "white-space:nowrap" in page
    assert "@media print" in page
    assert "break-inside:avoid" in page
    # one workflow: its name is said once, not repeated in every row
    assert "<td>wf/screen</td>" not in table
    assert "<td>screen</td>" in table
