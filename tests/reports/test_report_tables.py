"""report.html's summary tables hold no all-zero rows: a figure that is zero everywhere (a cache never looked
up, a registry never contacted, a host where nothing ran, restarts in a run without any) is named in a line
under its table, or the table gives way to a sentence saying why it is empty."""

from __future__ import annotations

import re

from dsim.reports.html import render
from dsim.reports.table import summary_tables
from tests.helpers import run_text

#: Host `box` pulls app:1 (base:1's 2 layers + its own 3) once, from registry `registry`; `spare` registry
#: and host `idle` are never used; workload `wait` only sleeps. Nothing fails, restarts or is OOM-killed.
PULLING = """\
    name: tables
    registries:
      registry: {bandwidth: 1Gbps}
      spare: {bandwidth: 1Gbps}
    images:
      base:1: {registry: registry, layers: [40MB, 10MB]}
      app:1: {registry: registry, from: "base:1", layers: [30MB, 5MB, 20MB]}
    hosts:
      box: {}
      idle: {}
    workloads:
      fetch:
        arrival: {times: [0s]}
        placement: box
        steps:
          - pull: app:1
      wait:
        arrival: {times: [0s]}
        placement: box
        steps:
          - sleep: 1s
    """


QUIET = "name: q\nhosts: {box: {}}\nworkloads: {w: {arrival: {burst: 1}, steps: [{sleep: 1s}]}}\n"


def _section(page: str, title: str) -> str:
    return page.split(f"<h3>{title}</h3>", 1)[1].split("<h3>", 1)[0].split('<h2 id="charts">', 1)[0]


def _rows(section: str) -> list[list[str]]:
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", section)[1:]]


def test_only_the_figures_that_are_not_zero_get_rows() -> None:
    page = render(run_text(PULLING), [])
    # a cold host pulls every one of the 5 layers: 5 misses, no hit, nothing shared, no build step
    assert _rows(_section(page, "Caches")) == [["layer misses", "5"]]
    registries = _section(page, "Registries")
    assert [row[0] for row in _rows(registries)] == ["registry"]
    assert "Not contacted: spare." in registries
    # hits, misses, bytes received and bytes from peers are 0 for every registry here: no such column
    assert "<th>hits</th>" not in registries and "bytes from peers" not in registries
    hosts = _section(page, "Hosts")
    assert [row[0] for row in _rows(hosts)] == ["box"] and "No activity on 1 host(s): idle." in hosts
    workloads = _section(page, "Workloads")
    assert [row[0] for row in _rows(workloads)][0] == "jobs ended"
    assert "Zero for every workload: failed, restarts, OOM kills." in workloads
    for title in ("Caches", "Registries", "Hosts", "Workloads"):
        for row in _rows(_section(page, title)):
            assert any(cell not in ("0", "0B", "0.0%", "-") for cell in row[1:]), (title, row)


def test_a_run_without_images_says_why_its_cache_and_registry_tables_are_empty() -> None:
    page = render(run_text(QUIET), [])
    caches = _section(page, "Caches")
    assert "<table>" not in caches and "Every cache figure is zero: no job pulled an image" in caches
    registries = _section(page, "Registries")
    assert "<table>" not in registries and "No registry was contacted" in registries


def test_the_terminal_lists_only_registries_that_were_contacted() -> None:
    from rich.console import Console

    console = Console(record=True, width=100)
    console.print(summary_tables(run_text(PULLING).summary()))
    text = console.export_text()
    assert "Registries" in text and "registry" in text and "spare" not in text  # spare served nothing
    console = Console(record=True, width=100)
    console.print(summary_tables(run_text(QUIET).summary()))
    assert "Registries" not in console.export_text()  # nothing pulled: the table would be one row of zeros
