"""``hosts.X.runtime.overlay``: read into the domain as written, bad values refused with one located line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario_text
from dsim.cli import app
from dsim.domain.overlay_mount import DEFAULT_OVERLAY_MOUNT

SCENARIO = """\
name: t
hosts:
  box: {{runtime: {{overlay: {overlay}}}}}
workloads:
  w: {{arrival: {{burst: 1}}, steps: [{{run: {{image: 'alpine:3.24'}}}}]}}
"""


def test_fields_reach_the_domain_and_default_to_the_sourced_values() -> None:
    resolved = load_scenario_text(SCENARIO.format(overlay="{per_layer: 5us, helper: 7.51ms, page_layers: 0}"))
    overlay = resolved.hosts[0].spec.runtime.overlay
    assert overlay.per_layer == pytest.approx(5e-6) and overlay.helper == pytest.approx(0.00751)
    assert overlay.page_layers == 0
    assert overlay.covered_layers == 7
    default = load_scenario_text(SCENARIO.format(overlay="{}")).hosts[0].spec.runtime.overlay
    assert default == DEFAULT_OVERLAY_MOUNT
    assert (default.per_layer, default.helper, default.page_layers) == (3.86e-6, 0.0, 70)


def test_a_negative_page_layers_is_one_located_error_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(textwrap.dedent(SCENARIO.format(overlay="{page_layers: -1}")))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith("dsim: error: ")
    assert "x.yaml:3:" in message and "hosts.box.runtime.overlay.page_layers" in message
