"""``--set PATH=VALUE``: overrides change the raw YAML before validation, so an overridden scenario is
validated exactly like a file that had the value written in it, and errors about the value name the
override. Expected values are read off the scenario text and the units (1Gbps = 1.25e8 B/s)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario, load_scenario_text
from dsim.cli import app
from dsim.errors import ScenarioError
from dsim.scenarios.overrides import apply_overrides, parse_override
from dsim.scenarios.resolve import Resolved
from dsim.scenarios.yamlpos import load_yaml

runner = CliRunner()

TEXT = textwrap.dedent("""\
    name: t
    registries:
      reg: {bandwidth: 1Gbps}
    images:
      python:3.11: {registry: reg, layers: [10MB, 20MB]}
      app:1: {registry: reg, from: python:3.11, layers: [5MB]}
    hosts:
      runner: {count: 2, nic: 1Gbps}
    workloads:
      w:
        arrival: {burst: 2}
        steps:
          - pull: app:1
          - run: {image: app:1, duration: 1s}
    """)


def load(*sets: str) -> Resolved:
    return load_scenario_text(TEXT, filename="x.yaml", overrides=sets)


def error(*sets: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        load(*sets)
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_count_override_expands_hosts() -> None:
    resolved = load("hosts.runner.count=40")
    assert [h.name for h in resolved.hosts] == [f"runner-{i}" for i in range(1, 41)]


def test_values_are_read_as_scenario_yaml() -> None:
    resolved = load("registries.reg.bandwidth=10Gbps", "seed=7", "workloads.w.arrival={burst: 5}",
                    "images.app:1.layers=[1MB, 2MB]")
    assert resolved.registries["reg"].bandwidth == pytest.approx(1.25e9)  # 10 Gbit/s = 1.25e9 B/s
    assert resolved.scenario.seed == 7
    assert resolved.job_counts == {"w": 5}
    # app:1 = python:3.11's two layers then its own two: 10, 20, 1, 2 MB (SI)
    assert [layer.size for layer in resolved.images["app:1"].layers] == [10e6, 20e6, 1e6, 2e6]


def test_missing_mappings_are_created_and_validated_like_the_file() -> None:
    resolved = load("hosts.runner.daemon.workers=3")
    daemon = resolved.hosts[0].spec.daemon
    assert daemon.workers == 3
    assert daemon.max_concurrent_downloads == 3  # the other defaults stay (moby's default 3)
    assert "--set hosts.runner.daemon.workers=0: hosts.runner.daemon.workers: must be greater than or equal to 1" \
        in error("hosts.runner.daemon.workers=0")


def test_list_items_by_index_and_keys_with_dots() -> None:
    resolved = load("workloads.w.steps[1].run.duration=3s", 'images."python:3.11".compression=zstd',
                    "images.python:3.11.registry=reg")
    run = resolved.scenario.workloads["w"].steps[1].run
    assert run is not None
    assert run.duration.mean == pytest.approx(3.0)
    assert resolved.images["python:3.11"].compression == "zstd"
    assert load("workloads.w.steps.0.pull=python:3.11").scenario.workloads["w"].steps[0].pull == "python:3.11"


def test_negative_indices_count_from_the_end_and_errors_name_the_item() -> None:
    """As in Python: [-1] is the last item, [-2] the one before; an error names the item's own index."""
    run = load("workloads.w.steps[-1].run.duration=3s").scenario.workloads["w"].steps[1].run
    assert run is not None and run.duration.mean == pytest.approx(3.0)
    assert load("workloads.w.steps[-2].pull=python:3.11").scenario.workloads["w"].steps[0].pull == "python:3.11"
    # steps[-2] is the pull step (index 0): a run written there lacks its image, and the error says steps[0]
    assert "workloads.w.steps[0].run: missing required field 'image'" in error("workloads.w.steps[-2].run.cpus=2")
    assert "has 2 item(s); index -3 is out of range" in error("workloads.w.steps[-3].pull=x")


def test_the_last_override_of_a_path_wins() -> None:
    assert len(load("hosts.runner.count=3", "hosts.runner.count=5").hosts) == 5


def test_bad_value_names_the_override_not_the_file() -> None:
    message = error("hosts.runner.nic=1 Gbit")
    assert message.startswith("--set hosts.runner.nic=1 Gbit: hosts.runner.nic: invalid rate '1 Gbit'"), message
    assert "x.yaml" not in message


def test_unknown_key_suggests_the_right_one() -> None:
    message = error("hosts.runner.nicc=1Gbps")
    assert message.startswith("--set hosts.runner.nicc=1Gbps: hosts.runner: unknown key 'nicc'"), message
    assert "did you mean 'nic'" in message


def test_reference_problems_name_the_override() -> None:
    message = error("images.app:1.registry=nope")
    assert message.startswith("--set images.app:1.registry=nope: images.app:1.registry: unknown registry 'nope'")


def test_structural_path_errors() -> None:
    assert "has 2 item(s); index 5 is out of range" in error("workloads.w.steps[5].pull=x")
    assert "hosts.runner.nic is a single value" in error("hosts.runner.nic.x=1")
    assert "is a list: use an index" in error("workloads.w.steps.first=1")
    assert "expected PATH=VALUE" in error("hosts.runner.count")
    assert "empty key" in error("hosts..count=1")
    assert "cannot read '[1' as a YAML value" in error("seed=[1")


def test_errors_elsewhere_still_point_into_the_file() -> None:
    bad = TEXT.replace("{count: 2, nic: 1Gbps}", "{count: 2, nic: 1Gbps, cpu: 4}")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(bad, filename="x.yaml", overrides=["hosts.runner.count=4"])
    assert str(caught.value).startswith("x.yaml:8:"), str(caught.value)


def test_overrides_never_change_the_loaded_data() -> None:
    data, positions = load_yaml(TEXT, filename="x.yaml")
    before = json.dumps(data, sort_keys=True)
    changed, _ = apply_overrides(data, positions, [parse_override("hosts.runner.daemon.workers=2")])
    assert json.dumps(data, sort_keys=True) == before
    assert changed["hosts"]["runner"]["daemon"] == {"workers": 2}


def test_cli_run_and_validate_take_set(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(TEXT)
    result = runner.invoke(app, ["validate", str(path), "--set", "hosts.runner.count=4"])
    assert result.exit_code == 0 and "4 hosts" in result.stdout, result.output
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--no-charts", "--json",
                                 "--set", "hosts.runner.count=4", "--set", "workloads.w.arrival.burst=6"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["jobs"] == {"total": 6, "completed": 6, "failed": 0, "unfinished": 0}
    assert sorted(summary["hosts"]) == [f"runner-{i}" for i in range(1, 5)]
    assert load_scenario(path, overrides=["hosts.runner.count=4"]).scenario.hosts["runner"].count == 4


def test_cli_bad_override_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(TEXT)
    result = runner.invoke(app, ["run", str(path), "--quiet", "--set", "hosts.runner.nic=1 Gbit"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == ("dsim: error: --set hosts.runner.nic=1 Gbit: hosts.runner.nic: "
                                     "invalid rate '1 Gbit' (expected e.g. 1Gbps, 125MB/s)")
