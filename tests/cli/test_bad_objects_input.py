"""Bad networks, volumes and mounts end with exit code 2 and one line naming file:line:column and the field
(the pattern of test_bad_input.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_bad_input import check

GOOD = """\
name: t
hosts:
  box: {networks: {app: {}}, volumes: [data]}
workloads:
  w:
    arrival: {burst: 1}
    placement: box
    steps:
      - run: {image: "nginx:1.25", network: app, mounts: [{source: data, target: /data}]}
"""


def test_an_unknown_network_names_the_step_and_the_group(tmp_path: Path) -> None:
    check(tmp_path, GOOD.replace("network: app", "network: apps"), "x.yaml:9:", "steps[0].run.network",
          "unknown network 'apps' (did you mean 'app'?) on host group 'box'")


def test_a_bad_subnet_is_refused(tmp_path: Path) -> None:
    check(tmp_path, GOOD.replace("app: {}", "app: {subnet: 10.0.0.0/33}"), "x.yaml:3:",
          "hosts.box.networks.app.subnet", "invalid subnet '10.0.0.0/33'")


def test_a_subnet_too_small_for_a_container_is_refused(tmp_path: Path) -> None:
    check(tmp_path, GOOD.replace("app: {}", "app: {subnet: 10.0.0.0/31}"), "x.yaml:3:", "too small")


def test_a_bind_mount_without_a_source_is_refused(tmp_path: Path) -> None:
    check(tmp_path, GOOD.replace("{source: data, target: /data}", "{type: bind, target: /data}"), "x.yaml:9:",
          "a bind mount needs a source")


def test_a_relative_mount_target_is_refused(tmp_path: Path) -> None:
    check(tmp_path, GOOD.replace("target: /data", "target: data"), "x.yaml:9:", "invalid mount target 'data'")


def test_a_network_named_like_a_predefined_one_is_refused(tmp_path: Path) -> None:
    check(tmp_path, GOOD.replace("networks: {app: {}}", "networks: {app: {}, host: {}}"), "x.yaml:3:",
          "not a predefined network")
