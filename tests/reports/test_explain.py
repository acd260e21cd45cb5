"""``dsim explain``: a job told in docker's own words, in the order docker prints them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsim.api import load_scenario, load_scenario_text, simulate
from dsim.cli import app
from dsim.reports.context import ScenarioInfo
from dsim.reports.explain import narrate, render_text, sequence_diagram
from tests.helpers import ROOT

HELLO = ROOT / "scenarios" / "hello-nginx.yaml"
CATALOG = json.loads((ROOT / "dsim" / "scenarios" / "catalog" / "real-images.json").read_text())["images"]


@pytest.fixture(scope="module")
def hello() -> tuple[list[str], ScenarioInfo]:
    resolved = load_scenario(HELLO)
    result = simulate(resolved)
    info = ScenarioInfo.from_resolved(resolved, HELLO)
    return [line.text for line in narrate(result, 1, info)], info


def test_docker_run_of_a_missing_image_reads_like_docker(hello: tuple[list[str], ScenarioInfo]) -> None:
    """real-docker (Containers; Pull 7): create -> 404 -> 'Unable to find image', then the pull's lines,
    then the digest the tag resolves to (nginx is multi-platform: its index digest) and the status."""
    lines, _ = hello
    nginx = CATALOG["nginx:latest"]
    ids = [layer["digest"].split(":")[1][:12] for layer in nginx["layers"]]
    expected_in_order = [
        "Unable to find image 'nginx:latest' locally",
        "latest: Pulling from library/nginx",
        *[f"{i}: Pulling fs layer" for i in ids],
        f"Digest: {nginx['index_digest']}",
        "Status: Downloaded newer image for nginx:latest",
    ]
    positions = [lines.index(text) for text in expected_in_order]
    assert positions == sorted(positions)
    for ident in ids:  # every layer goes through docker's states, in docker's order
        order = [lines.index(f"{ident}: {state}") for state in
                 ("Pulling fs layer", "Downloading", "Download complete", "Extracting", "Pull complete")]
        assert order == sorted(order), ident
    # with three download slots, layers 4..7 wait for a slot
    assert [f"{i}: Waiting" in lines for i in ids] == [False] * 3 + [True] * 4
    status = lines.index("Status: Downloaded newer image for nginx:latest")
    created = next(i for i, text in enumerate(lines) if text.startswith("container web created"))
    started = next(i for i, text in enumerate(lines) if text.startswith("container web started"))
    assert status < created < started


def test_timestamps_never_go_back() -> None:
    resolved = load_scenario(HELLO)
    lines = narrate(simulate(resolved), 1, ScenarioInfo.from_resolved(resolved))
    times = [line.at for line in lines]
    assert times == sorted(times)
    rendered = render_text(lines)
    assert all(re.match(r"^\[ *\d+\.\d{3}s\] ", text) for text, _ in rendered)


def test_layers_already_present_say_already_exists() -> None:
    """warm-cache preloads python:3.11 (7 layers); ci-runner:1.4 is built on it: 7 'Already exists',
    3 layers pulled."""
    resolved = load_scenario(ROOT / "scenarios" / "warm-cache.yaml")
    lines = [line.text for line in narrate(simulate(resolved), 1, ScenarioInfo.from_resolved(resolved))]
    assert sum(text.endswith(": Already exists") for text in lines) == 7
    assert sum(text.endswith(": Pull complete") for text in lines) == 3
    assert "1.4: Pulling from ci-runner" in lines  # a private registry's repository has no library/ prefix


def test_a_failed_job_ends_with_dockers_error() -> None:
    text = """\
    name: clash
    hosts: {h: {}}
    images: {app:1: {layers: [1MB]}}
    workloads:
      w:
        arrival: {times: [0s]}
        steps:
          - pull: app:1
          - run: {image: app:1, detach: true, ports: ["8080:80"], name: one}
          - run: {image: app:1, detach: true, ports: ["8080:80"], name: two}
    """
    import textwrap

    resolved = load_scenario_text(textwrap.dedent(text))
    lines = narrate(simulate(resolved), 1, ScenarioInfo.from_resolved(resolved))
    assert lines[-1].style == "error"
    assert "Bind for 0.0.0.0:8080 failed: port is already allocated" in lines[-1].text


def test_sequence_diagram_png(tmp_path: Path) -> None:
    resolved = load_scenario(HELLO)
    path = sequence_diagram(simulate(resolved), 1, tmp_path / "seq.png", ScenarioInfo.from_resolved(resolved))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_cli_explain(tmp_path: Path) -> None:
    out = tmp_path / "seq.png"
    result = CliRunner().invoke(app, ["explain", str(HELLO), "--job", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Unable to find image 'nginx:latest' locally" in result.output
    assert "$ docker run -d --name web -p 8080:80 nginx" in result.output
    assert out.stat().st_size > 0
    missing = CliRunner().invoke(app, ["explain", str(HELLO), "--job", "7"])
    assert missing.exit_code == 2 and "no job 7" in missing.output
    huge = CliRunner().invoke(app, ["explain", str(HELLO), "--job", str(2**70)])  # beyond int64: it overflowed
    assert huge.exit_code == 2 and f"no job {2**70}" in huge.output


def test_every_api_call_the_daemon_takes_names_its_engine_api_request() -> None:
    """The narration says ``client -> daemon: POST /containers/{id}/rename``, not the model's call name: every
    name a daemon verb passes to ``api(...)`` (dsim/components/) has its Engine API request."""
    from dsim.reports.explain import ENDPOINTS

    names = {match for path in (ROOT / "dsim" / "components").glob("*.py")
             for match in re.findall(r'self\.api\("([a-z ]+)"', path.read_text())}
    assert names and sorted(names - set(ENDPOINTS)) == []
    assert all(re.fullmatch(r"(GET|POST|DELETE|HEAD) /\S+", request) for request in ENDPOINTS.values())


def test_the_header_spells_steps_as_docker_commands() -> None:
    """Each step as the docker CLI takes it: 4 GiB is docker's ``4g`` (go-units RAMInBytes, binary), 1.5 GiB
    ``1536m``; a restart policy, a network, a runtime, rm -v and stop's grace period only when not docker's
    default (no, bridge, runc, 10 s); a step that acts on the job's container names it CONTAINER."""
    from dsim.reports.explain import steps_text

    text = """\
name: t
registries: {reg: {bandwidth: 1Gbps}}
images: {app:1: {registry: reg, layers: [1MB]}}
hosts: {h: {networks: {net: {}}}}
workloads:
  w:
    arrival: {burst: 1}
    steps:
      - run: {image: app:1, duration: 1s, cpus: 2, memory: 4GiB, detach: true}
      - stop: {timeout: 3s}
      - rm: {volumes: true}
      - run: {image: app:1, duration: 1s, memory: 1.5GiB, network: net, restart: on-failure:3, isolation: runsc,
              aliases: [db], ports: ["8080:80"]}
      - rm: {}
      - commit: {ref: reg/snap:1}
      - commit: {container: web}
      - commit: {container: web, ref: reg/live:1, pause: false}
      - pause: {container: web}
      - unpause: {}
      - exec: {container: web, cpu_time: 1s}
      - exec: {detach: true, duration: 5s}
      - tag: {source: app:1, target: reg/app:1}
      - rmi: {image: app:1, force: true}
      - restart: {timeout: 2s}
      - kill: {container: web, signal: TERM}
      - kill: {}
"""
    info = ScenarioInfo.from_resolved(load_scenario_text(text, filename="t.yaml"))
    assert steps_text(info, "w") == [
        "docker run -d --cpus 2 --memory 4g app:1",
        "docker stop --time 3 CONTAINER",
        "docker rm -v CONTAINER",
        "docker run --memory 1536m -p 8080:80 --network net --network-alias db --restart on-failure:3 "
        "--runtime runsc app:1",
        "docker rm CONTAINER",
        "docker commit CONTAINER reg/snap:1",
        "docker commit web",
        "docker commit --pause=false web reg/live:1",
        "docker pause web",
        "docker unpause CONTAINER",
        "docker exec web COMMAND",
        "docker exec -d CONTAINER COMMAND",
        "docker tag app:1 reg/app:1",
        "docker rmi -f app:1",
        "docker restart --time 2 CONTAINER",
        "docker kill --signal TERM web",
        "docker kill CONTAINER",
    ]


def test_span_details_read_to_the_millisecond() -> None:
    """A process's CPU-seconds to the millisecond (not a float's 16 digits), an empty attribute left out."""
    from dsim.reports.derive import attrs_text

    assert attrs_text({"cpu_seconds": 1509.4249091793874, "oom": "", "memory": 0.0, "exit_code": 0,
                       "status": "exited"}) == "cpu_seconds=1509.425 exit_code=0 memory=0 status=exited"
    assert attrs_text({"size": float("inf"), "wait": 0.0005}) == "size=inf wait=0.001"


def test_the_first_create_after_the_pull_tells_its_syncfs(hello: tuple[list[str], ScenarioInfo]) -> None:
    """nginx's files, just unpacked, are still dirty when `docker run` creates the container: the init layer's
    unmount writes them all back (every byte the pull unpacked; the blobs were fsynced as they came in), at the
    default 400 MiB/s, told between the pull's status and the create."""
    lines, _ = hello
    unpacked = sum(span.attrs["bytes"] for span in simulate(load_scenario(HELLO)).spans_of("unpack"))
    [sync] = [i for i, text in enumerate(lines) if "unmount syncs the filesystem" in text]
    text = lines[sync]
    assert text.startswith("the init layer's unmount syncs the filesystem: ")
    assert f"{unpacked / 1e6:.0f}MB" in text
    assert f"in {unpacked / (400 * 2**20) * 1000:.0f}ms" in text
    status = lines.index("Status: Downloaded newer image for nginx:latest")
    created = next(i for i, text in enumerate(lines) if text.startswith("container web created"))
    assert status < sync < created


def test_a_graphdriver_pull_with_naive_diff_tells_its_second_layers_unmount() -> None:
    """moby's graphdriver store with overlay2's naive diff applies a layer on a parent through its mounted overlay
    (components/pull.py): the second layer's unmount syncs both layers' 50 MB of files at 100 MB/s (1 s), told as
    that layer's, before the pull's status; the base layer is applied unmounted, so it tells no sync."""
    resolved = load_scenario_text("""
name: graphdriver-naive
registries: {reg: {bandwidth: 1GB/s, latency: 0ms}}
images:
  app:1: {registry: reg, layers: [{size: 10MB, uncompressed: 50MB}, {size: 10MB, uncompressed: 50MB}]}
hosts:
  h: {daemon: {image_store: graphdriver}, storage: {overlay_diff: naive, write_rate: 100MB/s}}
workloads:
  w: {arrival: {burst: 1}, steps: [{pull: 'app:1'}]}
""", filename="t.yaml")
    result = simulate(resolved)
    second = result.spans_of("unpack")[1].subject
    lines = [line.text for line in narrate(result, 1, ScenarioInfo.from_resolved(resolved))]
    syncs = [i for i, text in enumerate(lines) if "unmount syncs the filesystem" in text]
    assert len(syncs) == 1
    assert lines[syncs[0]] == (f"layer {second[:19]}'s unmount syncs the filesystem: 100MB of dirty pages written "
                               "back in 1s")
    assert syncs[0] < next(i for i, text in enumerate(lines) if text.startswith("Status: "))


def test_an_exits_own_work_is_told_before_the_exit() -> None:
    """``runtime.exit``: its span is told as a note when the process ends, before the run's exit line."""
    resolved = load_scenario_text("""
    name: t
    hosts: {h: {preloaded: ["alpine:3.24"], runtime: {exit: 30ms}}}
    workloads:
      w: {arrival: {burst: 1}, steps: [{run: {image: "alpine:3.24", duration: 1s, name: box}}]}
    """)
    lines = [line.text for line in narrate(simulate(resolved), 1, ScenarioInfo.from_resolved(resolved))]
    told = next(i for i, text in enumerate(lines) if text.startswith("box's process ended"))
    assert "take 30ms before dockerd reports the exit" in lines[told]
    assert told < next(i for i, text in enumerate(lines) if text.startswith("container box exited"))
