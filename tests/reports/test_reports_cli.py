"""The reports from the command line: run's report.html and trace.json, graph, compare, the progress bar."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dsim.cli import app
from dsim.reports.compare import difference, flatten, load_run
from dsim.reports.progress import progress_bar
from tests.helpers import ROOT

CI = ROOT / "scenarios" / "ci-burst.yaml"
WARM = ROOT / "scenarios" / "warm-cache.yaml"


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("runs")
    invoke("run", str(CI), "--out", str(base / "ci"), "--quiet")
    invoke("run", str(WARM), "--out", str(base / "warm"), "--quiet", "--no-charts", "--no-trace")
    return base / "ci", base / "warm"


def test_run_writes_the_report_and_the_trace(runs: tuple[Path, Path]) -> None:
    ci, warm = runs
    page = (ci / "report.html").read_text()
    assert "ci-burst" in page and "200 CI jobs land at 09:00" in page  # the comment header (story)
    assert "max_concurrent_downloads" in page or "registries:" in page  # the YAML
    assert page.count('src="data:image/png;base64,') == len(list((ci / "charts").glob("*.png"))) >= 9
    assert not re.search(r"""(src|href)=["']?https?:""", page), "the page must not load anything from a network"
    assert "slowest jobs" in page
    trace = json.loads((ci / "trace.json").read_text())
    assert {e["args"]["job"] for e in trace["traceEvents"] if e.get("cat") == "job"} == set(range(1, 201))
    assert not (warm / "report.html").exists() and not (warm / "trace.json").exists()
    assert not (warm / "charts").exists()


def test_outputs_do_not_depend_on_the_reports(runs: tuple[Path, Path], tmp_path: Path) -> None:
    ci, _ = runs
    invoke("run", str(CI), "--out", str(tmp_path), "--quiet", "--no-charts", "--no-trace")
    for name in ("jobs.csv", "spans.csv"):
        assert (tmp_path / name).read_bytes() == (ci / name).read_bytes()
    trace = CliRunner().invoke(app, ["run", str(CI), "--out", str(tmp_path / "again"), "--quiet"])
    assert trace.exit_code == 0
    assert (tmp_path / "again" / "trace.json").read_bytes() == (ci / "trace.json").read_bytes()
    assert (tmp_path / "again" / "report.html").read_bytes() == (ci / "report.html").read_bytes()


def test_compare_differences_by_hand() -> None:
    # warm-cache.yaml's comment-block arithmetic: 12.1 GB instead of 19.6 GB is a 38% cut
    delta, pct = difference(19.62e9, 12.1e9)
    assert delta == pytest.approx(-7.52e9) and pct == pytest.approx(-38.33, abs=0.01)
    assert difference(0.0, 5.0) == (5.0, None)
    assert flatten({"a": {"b": 1, "c": {"d": 2.5}}, "s": "x", "t": True}) == {"a.b": 1.0, "a.c.d": 2.5}


def test_cli_compare(runs: tuple[Path, Path], tmp_path: Path) -> None:
    ci, warm = runs
    out = tmp_path / "compare.html"
    text = invoke("compare", str(ci), str(warm), "--out", str(out))
    assert "phases.pull.p50_s" in text and "registries.registry.bytes_sent" in text
    # every registry byte the warm run did not send is a base layer already present: 20 x 376 MB
    a, b = load_run(ci), load_run(warm)
    saved = a.summary["registries"]["registry"]["bytes_sent"] - b.summary["registries"]["registry"]["bytes_sent"]
    assert saved == pytest.approx(20 * (48 + 24 + 64 + 211 + 6 + 20 + 3) * 1e6, rel=1e-6)
    page = out.read_text()
    assert "data:image/png;base64," in page and ">ci<" in page and ">warm<" in page
    assert len(a.samples["pull"]) == 200 and len(b.samples["job"]) == 200


def test_cli_compare_rejects_bad_input(tmp_path: Path, runs: tuple[Path, Path]) -> None:
    one = CliRunner().invoke(app, ["compare", str(runs[0])])
    assert one.exit_code == 2 and "at least two" in one.output
    missing = CliRunner().invoke(app, ["compare", str(runs[0]), str(tmp_path)])
    assert missing.exit_code == 2 and "no summary.json" in missing.output


@pytest.mark.parametrize(
    ("summary", "spans", "said"),
    [
        (b"[]", None, "summary.json: a JSON list, not the object dsim's summary.json holds"),
        ('{"makespan_s": "\u00e9"}'.encode("latin-1"), None,
         "summary.json: not UTF-8 text (is it dsim's summary.json?)"),
        (b'{"makespan_s": 1}', b"kind,start_s,end_s\npull,1,soon\n",
         "spans.csv:2: not dsim's spans.csv: could not convert string to float: 'soon'"),
        (b'{"makespan_s": 1}', b"kind,start_s\npull,1\n", "spans.csv:2: not dsim's spans.csv: no column 'end_s'"),
    ],
)
def test_cli_compare_names_a_run_folder_that_is_not_dsims(tmp_path: Path, runs: tuple[Path, Path], summary: bytes,
                                                           spans: bytes | None, said: str) -> None:
    """Each was a traceback with exit 1 before (an AttributeError, a UnicodeDecodeError, a ValueError)."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_bytes(summary)
    if spans is not None:
        (other / "spans.csv").write_bytes(spans)
    result = CliRunner().invoke(app, ["compare", str(runs[0]), str(other), "--no-html"])
    assert result.exit_code == 2 and result.stderr == f"dsim: error: {other}/{said}\n"


def test_cli_graph(tmp_path: Path) -> None:
    out = tmp_path / "topology.png"
    text = invoke("graph", str(CI), "-o", str(out))
    assert "topology" in text and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "topology.svg"
    invoke("graph", str(CI), "-o", str(svg), "--set", "hosts.runner.count=3")
    assert svg.read_text().lstrip().startswith("<?xml")


def test_cli_graph_of_a_network_with_a_mirror(tmp_path: Path) -> None:
    scenario = tmp_path / "net.yaml"
    scenario.write_text("""\
name: net
registries:
  hub: {bandwidth: 10Gbps}
  mirror: {bandwidth: 10Gbps, upstream: hub}
images: {app:1: {registry: hub, layers: [1MB]}}
hosts:
  runner: {count: 4, daemon: {registry_mirrors: [mirror]}}
network:
  links:
    - {a: hub, b: internet, bandwidth: 10Gbps, latency: 20ms}
    - {a: internet, b: office, bandwidth: 1Gbps, latency: 5ms}
    - {a: mirror, b: office, bandwidth: 10Gbps}
    - {a: office, b: runner, bandwidth: 1Gbps}
workloads: {w: {arrival: {times: [0s]}, steps: [{pull: "app:1"}]}}
""")
    from dsim.api import load_scenario
    from dsim.reports.topology import collapsed_graph

    graph = collapsed_graph(load_scenario(scenario))
    assert graph.nodes["mirror"]["kind"] == "mirror" and graph.nodes["runner"]["members"] == 4
    assert graph["office"]["runner"]["each"] == 4
    invoke("graph", str(scenario), "-o", str(tmp_path / "t.png"))


def test_progress_bar_shows_only_for_long_runs() -> None:
    def read() -> tuple[float, int]:
        return 5.0, 3

    quick = io.StringIO()
    with progress_bar(read, expected_jobs=10, until=None, console=Console(file=quick, force_terminal=True),
                      show_after=1.0):
        pass
    assert quick.getvalue() == ""
    slow = io.StringIO()
    console = Console(file=slow, force_terminal=True, width=100)
    with progress_bar(read, expected_jobs=10, until=None, console=console, show_after=0.0):
        time.sleep(0.3)
    assert "simulating" in slow.getvalue() and "3/10 jobs ended" in slow.getvalue()
    off = io.StringIO()
    with progress_bar(read, expected_jobs=10, until=None, console=Console(file=off, force_terminal=True),
                      enabled=False, show_after=0.0):
        time.sleep(0.05)
    assert off.getvalue() == ""


def test_progress_bar_does_not_change_the_run(tmp_path: Path) -> None:
    """The bar watches from a thread: the run with it is event for event the run without it."""
    from dsim.api import load_scenario
    from dsim.world import World

    resolved = load_scenario(CI)
    plain = World(resolved).run()
    world = World(resolved)
    with progress_bar(lambda: (world.env.now, len(world.recorder.jobs)), expected_jobs=200, until=None,
                      console=Console(file=io.StringIO(), force_terminal=True), show_after=0.0):
        watched = world.run()
    assert watched.events == plain.events
    assert watched.spans == plain.spans
