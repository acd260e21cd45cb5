"""The recipes in docs/ run as written, and give what their text says."""

from __future__ import annotations

import re

from dsim.api import load_scenario_text, simulate
from tests.helpers import ROOT


def test_the_private_pull_through_recipe() -> None:
    """docs/distribution.md: 10 runners pull a 350 MB image through a cold cache at once; distribution does
    not merge concurrent misses, so the company registry sends 10 x 350 MB, and the cache passes it all on."""
    text = (ROOT / "docs" / "distribution.md").read_text()
    section = text.split("### Recipe: a pull-through cache in front of a private registry", 1)[1]
    [yaml] = re.findall(r"```yaml\n(.+?)```", section.split("\n## ", 1)[0], flags=re.S)[:1]
    summary = simulate(load_scenario_text(yaml)).summary()
    assert summary["jobs"]["completed"] == 10
    assert summary["registries"]["company"]["bytes_sent"] == 10 * 350e6
    assert summary["registries"]["cache"]["bytes_sent"] == 10 * 350e6
    assert summary["registries"]["cache"]["misses"] == 10 * 2  # two layers each
