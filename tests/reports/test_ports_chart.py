"""The host's port table over time, with the failed bind marked; a failed job's error in `explain -o`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsim.api import load_scenario, simulate
from dsim.records import JobEnd, Span, SpanKind
from dsim.reports.charts.ports import Binding, port_table, ports_chart
from dsim.reports.context import ScenarioInfo
from dsim.reports.explain import sequence_diagram
from dsim.reports.style import keeping_figures
from dsim.result import SimResult
from tests.helpers import ROOT

PORT_CONFLICT = ROOT / "scenarios" / "port-conflict.yaml"
BIND_FAILED = "Bind for 0.0.0.0:8080 failed: port is already allocated"


def _result(spans: list[Span], ends: list[JobEnd]) -> SimResult:
    makespan = max([e.end for e in ends] + [s.end for s in spans])
    return SimResult(scenario="synthetic", seed=0, spans=spans, job_ends=ends, expected_jobs=len(ends),
                     registries=(), hosts={}, events=0, wall_s=0.0, makespan_s=makespan, horizon_s=makespan)


def _texts(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [text.get_text() for ax in fig.axes for text in ax.texts]


SYNTHETIC = _result(
    [Span(SpanKind.PUBLISH, "a", "box", 1.0, 1.0, 1, {"ports": ["0.0.0.0:80->80/tcp"]}),
     Span(SpanKind.PROCESS, "a", "box", 1.5, 10.0, 1, {"status": "exited"}),
     Span(SpanKind.PUBLISH, "c", "box", 12.0, 12.0, 3, {"ports": ["0.0.0.0:80->80/tcp"]})],
    [JobEnd(1, "w", "box", 0.0, 1.5, "completed", ""),
     JobEnd(2, "w", "box", 4.0, 5.0, "failed", "Error response from daemon: failed to set up container networking: "
            "driver failed programming external connectivity on endpoint b (box-2): Bind for 0.0.0.0:80 failed: "
            "port is already allocated"),
     JobEnd(3, "w", "box", 12.0, 12.5, "completed", "")])


def test_port_table_from_publish_spans_and_the_failed_job() -> None:
    """a binds 80 at 1 s and holds it until its process exits at 10 s; b's bind at 5 s fails while a holds
    it; c binds 80 at 12 s and still holds it when the run ends (no release: end None)."""
    bindings, failed = port_table(SYNTHETIC)
    assert bindings == [Binding("box", "80/tcp", "a", 1.0, 10.0), Binding("box", "80/tcp", "c", 12.0, None)]
    assert [(f.host, f.port, f.container, f.at, f.job, f.holder) for f in failed] == [
        ("box", "80/tcp", "b", 5.0, 2, "a")]


def test_the_port_chart_marks_the_conflict_on_the_ports_row(tmp_path: Path) -> None:
    """One row (80/tcp): a's bar and c's bar on it, and a cross at (5 s, row 0) where b's bind failed."""
    with keeping_figures() as figures:
        chart = ports_chart(SYNTHETIC, tmp_path / "p.png")
    assert chart is not None and (tmp_path / "p.png").stat().st_size > 0
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["80/tcp"]
    crosses = [(list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines  # type: ignore[arg-type]
               if line.get_marker() == "X" and len(list(line.get_xdata()))]  # type: ignore[arg-type]
    assert crosses == [([5.0], [0])]
    # the container that failed is named with the workload whose job started it (w)
    message = "b (w): Bind for 0.0.0.0:80 failed: port is already allocated (held by a)"
    assert any(message in t for t in _texts(figures[0]))


def test_no_port_chart_without_published_ports(tmp_path: Path) -> None:
    quiet = _result([Span(SpanKind.PROCESS, "a", "box", 0.0, 1.0, 1, {"status": "exited"})],
                    [JobEnd(1, "w", "box", 0.0, 1.0, "completed", "")])
    assert ports_chart(quiet, tmp_path / "p.png") is None


@pytest.fixture(scope="module")
def port_conflict() -> tuple[SimResult, ScenarioInfo]:
    resolved = load_scenario(PORT_CONFLICT)
    return simulate(resolved), ScenarioInfo.from_resolved(resolved, PORT_CONFLICT)


def test_port_conflict_scenario_table(port_conflict: tuple[SimResult, ScenarioInfo]) -> None:
    """The scenario's story: web-a holds 8080 from its start (well before 5 s) until it is stopped at about
    20 s; web-b's start at 5 s fails on 8080 while web-a holds it; web-c's -P lands on 49153, the first
    ephemeral port, from about 10 s on; web-b holds 8080 from its second start at 25 s to the end."""
    bindings, failed = port_table(port_conflict[0])
    held = {(b.container, b.port): b for b in bindings}
    assert set(held) == {("web-a", "8080/tcp"), ("web-b", "8080/tcp"), ("web-c", "49153/tcp")}
    a, b, c = held[("web-a", "8080/tcp")], held[("web-b", "8080/tcp")], held[("web-c", "49153/tcp")]
    assert a.start < 5.0 and a.end is not None and 20.0 <= a.end < 25.0
    assert b.start >= 25.0 and b.end is None and c.start >= 10.0 and c.end is None
    assert [(f.container, f.port, f.holder) for f in failed] == [("web-b", "8080/tcp", "web-a")]
    assert 5.0 <= failed[0].at < 10.0


def test_explain_diagram_of_the_failed_start_says_docker_s_error(
        port_conflict: tuple[SimResult, ScenarioInfo], tmp_path: Path) -> None:
    """`dsim explain port-conflict.yaml --job 2 -o`: the kernel refuses the bind, the daemon answers with an
    error, and the CLI's own line is drawn (wrapped), in Docker's words."""
    result, info = port_conflict
    with keeping_figures() as figures:
        sequence_diagram(result, 2, tmp_path / "seq.png", info)
    texts = [t for t in _texts(figures[0]) if t and not re.fullmatch(r"[\d.]+s", t)]  # without the timestamps
    assert BIND_FAILED in texts and "Error response from daemon" in texts
    error = next(end.error for end in result.job_ends if end.job == 2)
    lines = [t for t in texts if t.startswith("docker: Error response")]
    assert len(lines) == 1
    start = texts.index(lines[0])
    assert " ".join(texts[start:start + 3]) == f"docker: {error}"


def test_explain_diagram_of_a_rate_limited_pull() -> None:
    """A 429 comes from the registry: its words (toomanyrequests: ...) on the registry -> daemon arrow."""
    from dsim.reports.derive import SpanIndex
    from dsim.reports.explain import _messages

    error = ("Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase "
             "the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit")
    result = _result([], [JobEnd(1, "w", "node", 0.0, 0.2, "failed", error)])
    msgs = _messages(result, 1, None, SpanIndex(result))
    assert msgs[0][1:] == ("registry", "daemon", "toomanyrequests: You have reached your pull rate limit", "error")
    assert msgs[1][1:] == ("daemon", "client", "Error response from daemon", "error")
    assert " ".join(m[3] for m in msgs[2:]) == f"docker: {error}"
