"""Issue 17: nothing a user writes can hang dsim, exhaust the machine or escape its folder. Each input is
refused when the scenario loads, as one ScenarioError naming file:line:column and the field (exit 2)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario, load_scenario_text
from dsim.cli import app
from dsim.domain.health import MAX_PROBES
from dsim.errors import ScenarioError
from dsim.scenarios.resolve import MAX_FLOW_LAYERS, MAX_FROM_DEPTH, MAX_LINKS, MAX_REQUESTS
from tests.helpers import ROOT

FIELD = "workloads.dev.steps[0].build.dockerfile"
SECRET = "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\n"


def build_scenario(dockerfile: str) -> str:
    return textwrap.dedent(f"""\
        name: inputs
        hosts:
          dev: {{cpus: 2}}
        workloads:
          dev:
            arrival: {{burst: 1}}
            steps:
              - build: {{dockerfile: '{dockerfile}'}}
        """)


def load_error(tmp_path: Path, dockerfile: str) -> ScenarioError:
    path = tmp_path / "s.yaml"
    path.write_text(build_scenario(dockerfile))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value


def _limited() -> None:
    """The child may use at most 2 GiB of address space: reading /dev/zero whole would exceed it."""
    resource.setrlimit(resource.RLIMIT_AS, (2**31, 2**31))


def dsim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dsim", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, preexec_fn=_limited)


# ------------------------------------------------------------ 1. only regular files, at most 1 MiB


def test_dockerfile_plan_refuses_a_device_and_a_fifo_without_reading_or_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        result = dsim("dockerfile", "plan", path, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"dsim: error: {path}: cannot read Dockerfile: not a regular file\n"


def test_a_build_steps_fifo_dockerfile_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "s.yaml").write_text(build_scenario("pipe"))
    result = dsim("validate", "s.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"dsim: error: s.yaml:8:29: {FIELD}: cannot read Dockerfile 'pipe': "
                             "not a regular file\n")


def test_a_dockerfile_over_1_mib_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big").write_text("FROM alpine:3.24\n" + "#" * 2**20 + "\n")
    err = load_error(tmp_path, "big")
    assert (err.field, err.line, err.column) == (FIELD, 8, 29)
    assert err.message == (f"cannot read Dockerfile '{tmp_path / 'big'}': {2**20 + 18:,} bytes is over dsim's "
                           f"limit of 1,048,576 bytes (1 MiB) for a Dockerfile")


def test_a_binary_dockerfile_is_refused_with_the_field(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"FROM alpine\n\xff\xfe\x00")
    err = load_error(tmp_path, "bin")
    assert err.field == FIELD
    assert err.message == f"cannot read Dockerfile '{tmp_path / 'bin'}': not UTF-8 text (byte 12: invalid start byte)"
    result = CliRunner().invoke(app, ["dockerfile", "plan", str(tmp_path / "bin")])
    assert result.exit_code == 2 and "not UTF-8 text (byte 12: invalid start byte)" in result.output


# ------------------------------------------------------------ 2. inside the scenario's folder; contents never echoed


@pytest.mark.parametrize("written", ["/etc/shadow", "/etc/passwd", "../outside.Dockerfile",
                                     "sub/../../outside.Dockerfile"])
def test_a_dockerfile_outside_the_scenarios_folder_is_not_read(tmp_path: Path, written: str) -> None:
    folder = tmp_path / "scenario"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "outside.Dockerfile").write_text(SECRET)
    err = load_error(folder, written)
    assert (err.field, err.line) == (FIELD, 8)
    assert err.message == (f"'{written}' is outside the scenario's folder ({folder.resolve()}); a scenario reads "
                           "files only from its own folder and below")


def test_a_symlink_leading_outside_the_folder_is_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    folder.mkdir()
    (tmp_path / "secret").write_text(SECRET)
    (folder / "Dockerfile").symlink_to(tmp_path / "secret")
    (folder / "zero").symlink_to("/dev/zero")
    for name in ("Dockerfile", "zero"):
        err = load_error(folder, name)
        assert err.message.startswith(f"'{name}' is outside the scenario's folder")
        assert "saltsalt" not in str(err)


def test_an_absolute_path_inside_the_folder_and_a_symlink_within_it_are_read(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "app.Dockerfile").write_text("FROM alpine:3.24\nRUN true\n")
    (tmp_path / "Dockerfile").symlink_to(tmp_path / "docker" / "app.Dockerfile")
    for written in (str(tmp_path / "docker" / "app.Dockerfile"), "Dockerfile"):
        path = tmp_path / "s.yaml"
        path.write_text(build_scenario(written))
        [spec] = load_scenario(path).builds.values()
        assert [stage.base_image for stage in spec.stages] == ["alpine:3.24"]


def test_a_file_that_is_no_dockerfile_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "copied").write_text(SECRET)
    err = load_error(tmp_path, "copied")
    assert (err.file, err.line, err.field) == (str(tmp_path / "copied"), 1, FIELD)
    assert err.message == "unknown instruction (the line does not start with a Dockerfile keyword)"
    (tmp_path / "typo").write_text("FROM alpine:3.24\nFORM x secret\n")
    assert load_error(tmp_path, "typo").message == "unknown instruction: FORM"  # a keyword, not the line


# ------------------------------------------------------------ 3. topology size


def test_links_expanding_past_the_limit_are_refused_before_anything_is_built() -> None:
    text = textwrap.dedent("""\
        name: big
        hosts:
          hub-side: {count: 10}
          a: {count: 1001}
          b: {count: 1000}
        network:
          links:
            - {a: a, b: hub-side}
            - {a: a, b: b}
        workloads:
          w: {arrival: {burst: 1}, steps: [{sleep: 1s}]}
        """)
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, filename="big.yaml")
    err = caught.value
    assert MAX_LINKS == 1_000_000
    assert (err.field, err.line, err.column) == ("network.links[1]", 9, 7)
    assert err.message == "the links up to this one expand to 1,011,010 host links, over dsim's limit of 1,000,000"


# ------------------------------------------------------------ 4. from chains


def chain_scenario(depth: int, base_layers: int = 1, extra_images: str = "") -> str:
    """``depth`` images, each from the next, listed derived first (img0 from img1 ... from base)."""
    lines = ["name: chain", "images:"]
    lines += [f"  img{i}: {{from: img{i + 1}, layers: [1MB]}}" for i in range(depth)]
    lines.append(f"  img{depth}: {{layers: [{', '.join(['1kB'] * base_layers)}]}}")
    lines.append(extra_images)
    lines += ["hosts:", "  node: {}", "workloads:", "  w: {arrival: {burst: 1}, steps: [{pull: img0}]}"]
    return "\n".join(lines) + "\n"


def test_a_deep_from_chain_listed_derived_first_resolves_iteratively() -> None:
    started = time.monotonic()
    resolved = load_scenario_text(chain_scenario(900), filename="chain.yaml")
    assert len(resolved.images["img0:latest"].layers) == 901
    assert time.monotonic() - started < 10


def test_a_from_chain_deeper_than_the_limit_is_refused_at_the_image() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(chain_scenario(MAX_FROM_DEPTH + 1), filename="chain.yaml")
    err = caught.value
    # img0 ... img999 (1,000 images) wait for their bases; img1000's from would make the 1,001st
    assert (err.field, err.line) == (f"images.img{MAX_FROM_DEPTH}.from", MAX_FROM_DEPTH + 3)
    assert err.message == f"'from' chain deeper than dsim's limit of {MAX_FROM_DEPTH:,} images"


def test_an_image_over_the_layer_limit_is_refused() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(chain_scenario(1, base_layers=MAX_FLOW_LAYERS), filename="chain.yaml")
    err = caught.value  # img1 has 10,000 layers; img0 adds one
    assert (err.field, err.line) == ("images.img0", 3)
    assert err.message == "10,001 layers (with its 'from' chain's) is over dsim's limit of 10,000 per image"


def test_many_images_over_a_large_base_are_refused_by_the_total() -> None:
    siblings = "\n".join(f"  s{i}: {{from: img1, layers: [1MB]}}" for i in range(100))
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(chain_scenario(1, base_layers=9_999, extra_images=siblings), filename="chain.yaml")
    err = caught.value
    # img1 9,999 + img0 10,000 + s0..s97 10,000 each = 999,999; s98 brings 1,009,999
    assert err.field == "images.s98"
    assert err.message == ("the images up to this one have 1,009,999 layers (each counting its 'from' chain's), "
                           "over dsim's limit of 1,000,000")


# ------------------------------------------------------------ 6. network paths, found by validate as by run


UNREACHABLE = """\
name: island
registries:
  local: {bandwidth: 1Gbps}
images:
  app:1: {registry: local, layers: [10MB]}
hosts:
  near: {}
  far: {}
network:
  links:
    - {a: local, b: near}
workloads:
  w: {arrival: {burst: 2}, steps: [{pull: app:1}]}
"""


@pytest.mark.parametrize("command", ["validate", "run"])
def test_no_path_to_the_registry_is_found_by_validate_and_run(tmp_path: Path, command: str) -> None:
    (tmp_path / "s.yaml").write_text(UNREACHABLE)
    args = [command, str(tmp_path / "s.yaml")] + (["--out", str(tmp_path / "out")] if command == "run" else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert (f"dsim: error: {tmp_path / 's.yaml'}:11:5: network.links: no network path from host 'far' to "
            "registry 'local'") in result.output


# ------------------------------------------------------------ 5. values that crashed at run time


def base_text(*, top: str = "", host: str = "{}", step: str = "{sleep: 1s}", arrival: str = "{burst: 1}",
              network: str = "") -> str:
    return (f"name: values\n{top}hosts:\n  node: {host}\n{network}"
            f"workloads:\n  w: {{arrival: {arrival}, steps: [{step}]}}\n")


@pytest.mark.parametrize(("text", "field", "message"), [
    (base_text(top="until: 0s\n"), "until", "must be greater than 0, got '0s'"),
    (base_text(host="{cpus: 1e400}"), "hosts.node.cpus", "expected a finite number, got '1e400'"),
    (base_text(step="{run: {image: alpine:3.24, cpus: .inf}}"), "workloads.w.steps[0].run.cpus",
     "expected a finite number, got inf"),
    (base_text(host="{storage: {decompress_rate: {gzip: 0}}}"), "hosts.node.storage.decompress_rate.gzip",
     "a rate must be above 0 (write inf for no limit)"),
    (base_text(host="{storage: {write_rate: 0MB/s}}"), "hosts.node.storage.write_rate",
     "a rate must be above 0 (write inf for no limit)"),
    (base_text(network="network:\n  links: [{a: node, b: hub, bandwidth: 0Gbps}]\n"), "network.links[0].bandwidth",
     "a rate must be above 0 (write inf for no limit)"),
    (base_text(step="{sleep: 'exponential(mean=1e400s)'}"), "workloads.w.steps[0].sleep",
     "invalid duration '1e400s': too large (write inf for no limit)"),
    (base_text(step="{sleep: 'exponential(mean=inf)'}"), "workloads.w.steps[0].sleep",
     "invalid distribution 'exponential(mean=inf)': its parameters must be finite"),
    (base_text(host="{disk: 1e400GB}"), "hosts.node.disk",
     "invalid size '1e400GB': too large (write inf for no limit)"),
    (base_text(host="{memory: 1" + "0" * 400 + "}"), "hosts.node.memory", "invalid size: too large (write inf for "
     "no limit)"),  # an int no float holds (OverflowError before)
    (base_text(host="{runtime: {start: inf}}"), "hosts.node.runtime.start",
     "must be finite here (inf would never end)"),
    (base_text(step="{stop: {timeout: inf}}"), "workloads.w.steps[0].stop.timeout",
     "must be finite here (inf would never end)"),
    (base_text(arrival="{burst: 1, at: inf}"), "workloads.w.arrival.at", "must be finite here (inf would never end)"),
    (base_text(step="{run: {image: alpine:3.24, ports: ['99999:80']}}"), "workloads.w.steps[0].run",
     "invalid port mapping '99999:80': ports are 1-65535"),
    (base_text(step="{run: {image: alpine:3.24, expose: [0]}}"), "workloads.w.steps[0].run",
     "invalid port mapping '0': ports are 1-65535"),
    (base_text(top="images:\n  app:1: {layers: [inf]}\n"), "images.app:1.layers[0]",
     "must be finite here (bytes that are moved or written)"),
    (base_text(step="{run: {image: alpine:3.24, writes: inf}}"), "workloads.w.steps[0].run.writes",
     "must be finite here (bytes that are moved or written)"),
    (base_text(step="{build: {dockerfile_text: 'FROM alpine:3.24', default_layer_size: inf}}"),
     "workloads.w.steps[0].build.default_layer_size", "must be finite here (bytes that are moved or written)"),
    (base_text(host="{count: true}"), "hosts.node.count", "expected an integer, got true"),
    (base_text(arrival="{burst: true}"), "workloads.w.arrival.burst", "expected an integer, got true"),
])
def test_values_that_crashed_at_run_time_are_refused_with_their_field(text: str, field: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, filename="v.yaml")
    err = caught.value
    assert (err.field, err.file) == (field, "v.yaml") and err.line is not None
    assert err.message == message


def test_inf_stays_where_it_means_no_limit_or_never() -> None:
    resolved = load_scenario_text(base_text(
        top="until: inf\n", host="{storage: {write_rate: inf, decompress_rate: {gzip: inf}}, disk: inf}",
        step="{run: {image: alpine:3.24, duration: inf, detach: true}}"), filename="v.yaml")
    host = resolved.hosts[0].spec
    assert host.disk == float("inf") and host.storage.write_rate == float("inf")


@pytest.mark.parametrize("name", ["../escape", "a/b", "a\\\\b", ".hidden", "..", "/abs"])
def test_a_scenario_name_is_a_name_not_a_path(name: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(f'name: "{name}"\nhosts: {{n: {{}}}}\nworkloads: {{w: {{arrival: {{burst: 1}}, '
                           'steps: [{sleep: 1s}]}}\n', filename="v.yaml")
    err = caught.value
    assert (err.field, err.line, err.column) == ("name", 1, 7)
    assert err.message.startswith("invalid name ")
    assert err.message.endswith("a name has no '/', '\\', '..', NUL or leading '.'")


@pytest.mark.parametrize("rate", ["1e400/s", "0/s", 10**400, "inf"])
def test_an_arrival_rate_is_finite_and_above_0(rate: object) -> None:
    text = base_text(arrival=f"{{rate: {rate}, count: 2}}")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, filename="v.yaml")
    assert caught.value.field == "workloads.w.arrival.rate"
    assert caught.value.message.startswith("invalid arrival rate ")


def test_a_copy_error_names_the_keyword_not_the_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.24\nCOPY missing/ /secret-destination\n")
    err = load_error(tmp_path, "Dockerfile")
    assert err.message == (f"{tmp_path / 'Dockerfile'}:2: COPY: failed to compute cache key: failed to calculate "
                           'checksum of ref: "/missing": not found (the context has no such file, or .dockerignore '
                           "excludes it)")


def test_a_long_upstream_chain_is_walked_once() -> None:
    """Each registry's upstream chain was walked from scratch with a list for its trail (cubic time)."""
    n = 3000
    registries = "".join(f"  r{i}: {{upstream: r{i + 1}}}\n" for i in range(n)) + f"  r{n}: {{}}\n"
    started = time.monotonic()
    resolved = load_scenario_text(f"name: up\nregistries:\n{registries}" + base_text().split("\n", 1)[1],
                                  filename="u.yaml")
    assert resolved.registries["r0"].upstream == "r1"
    assert time.monotonic() - started < 10


def calls_scenario(calls: str, jobs: int = 1) -> str:
    return textwrap.dedent(f"""\
        name: calls
        hosts: {{h: {{networks: {{net: {{}}}}}}}}
        workloads:
          srv:
            arrival: {{times: [0s]}}
            steps:
              - run: {{image: nginx, name: web, duration: inf, detach: true, network: net}}
          cli:
            arrival: {{burst: {jobs}}}
            steps:
              - run: {{image: alpine:3.20, network: net, calls: {calls}}}
        """)


@pytest.mark.parametrize(
    ("calls", "jobs", "total"),
    [
        # one call of 100 million requests (it ran for hours before)
        ("[{to: web, requests: 100000000}]", 1, 100_000_000),
        # the server's own calls are made for every request it serves: 500 x (1 + 500 x (1 + 500))
        ("[{to: web, requests: 500, calls: [{to: web, requests: 500, calls: [{to: web, requests: 500}]}]}]",
         1, 125_250_500),
        # every job makes them: 2 x 5,000,001
        ("[{to: web, requests: 5000001}]", 2, 10_000_002),
    ],
)
def test_service_call_requests_over_the_limit_are_refused(calls: str, jobs: int, total: int) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(calls_scenario(calls, jobs), filename="calls.yaml")
    err = caught.value
    assert (err.field, err.line) == ("workloads.cli.steps[0].run.calls", 11)
    assert err.message == (f"{total:,} service-call requests is over dsim's limit of {MAX_REQUESTS:,} per scenario "
                           "(requests x nested calls x jobs)")


def test_service_call_requests_at_the_limit_load() -> None:
    load_scenario_text(calls_scenario("[{to: web, requests: 5000000}]", 2), filename="calls.yaml")


def health_scenario(check: str) -> str:
    return textwrap.dedent(f"""\
        name: health
        hosts: {{h: {{}}}}
        workloads:
          w:
            arrival: {{times: [0s]}}
            steps:
              - run: {{image: alpine:3.20, detach: true, duration: inf, healthcheck: {check}}}
        """)


def test_a_healthcheck_needing_too_many_probes_is_refused() -> None:
    """1,000,000 hours at a probe a second: 3.6 billion probes before it can pass (the run went on for hours after
    its only job, probing a detached container until then). With a start period of 1 h probed every 0.5 s:
    7,200 + (3.6e9 - 3,600) probes."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(health_scenario("{interval: 1s, time_to_healthy: 1000000h}"), filename="h.yaml")
    err = caught.value
    assert (err.field, err.line) == ("workloads.w.steps[0].run.healthcheck", 7)
    assert err.message == ("time_to_healthy 3.6e+09s is 3,600,000,000 probes before the check can pass (every 5s in "
                           f"the start period, 1s after), over dsim's limit of {MAX_PROBES:,} per container")
    with pytest.raises(ScenarioError, match="is 3,600,003,600 probes"):
        load_scenario_text(health_scenario("{interval: 1s, start_period: 1h, start_interval: 0.5s, "
                                           "time_to_healthy: 1000000h}"), filename="h.yaml")


@pytest.mark.parametrize("ready", ["10000000s", "inf"])
def test_a_healthcheck_at_the_probe_limit_or_never_ready_loads(ready: str) -> None:
    load_scenario_text(health_scenario(f"{{interval: 1s, time_to_healthy: {ready}}}"), filename="h.yaml")
