"""The image side of ``dsim serve`` driven by the real docker CLI (and the SDK for raw shapes): the grown
catalog and Docker's exact errors, built images' config and content IDs, the classic builder's failures and
cache, history, login and Hub's push rule, system df, the prunes, save and load.

Every test starts from what it pulls or builds itself (names no other test uses), so they run in any order
on one module-scoped server. Expectations come from the rules (docs/serve.md, docs/build.md): e.g. an image
ID is a digest of the image's content, so one Dockerfile built twice under two tags has one ID.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsim.domain.images import DEFAULT_UNCOMPRESSED_RATIO
from dsim.serve.image_config import DEFAULT_PATH
from tests.serve.image_shapes import definition_problems, response_problems
from tests.serve.test_docker_cli import ServeProcess, docker, needs_cli

SCENARIO = """\
name: serve-images
hosts:
  docker:
    nic: 10Gbps
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
"""
LEGACY = {"DOCKER_BUILDKIT": "0"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-images"), speed=200.0, scenario=SCENARIO)
    yield proc
    proc.stop()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[ServeProcess]:
    """A server of this test's own, for a test that needs a host with no image yet (every layer pulled)."""
    proc = ServeProcess(tmp_path, speed=200.0, scenario=SCENARIO)
    yield proc
    proc.stop()


def api(server: ServeProcess, path: str, method: str = "GET", body: bytes | None = None) -> Any:
    request = urllib.request.Request(f"{server.url}/v1.50{path}", data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def build(server: ServeProcess, folder: Path, dockerfile: str, *args: str, files: dict[str, str] | None = None,
          ignore: str | None = None) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    if ignore is not None:
        (folder / ".dockerignore").write_text(ignore)
    return docker(server, "build", *args, str(folder), env=LEGACY)


def image_id(server: ServeProcess, ref: str) -> str:
    return docker(server, "image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


@needs_cli
def test_common_images_pull_with_their_real_layers(fresh: ServeProcess) -> None:
    server = fresh
    # nginx:alpine's repo-info page lists 8 layers for linux/amd64; busybox and hello-world one each
    for ref, layers in (("nginx:alpine", 8), ("busybox", 1), ("hello-world", 1), ("alpine:3.20", 1)):
        result = docker(server, "pull", ref)
        assert result.returncode == 0, result.stderr
        assert result.stdout.count(": Pull complete") == layers, ref
    # the ID is the linux/amd64 manifest digest the page gives (containerd image store)
    assert image_id(server, "hello-world").startswith("sha256:d1a8d0a4eeb6")


@needs_cli
def test_unknown_tag_of_a_known_repository_is_manifest_unknown(server: ServeProcess) -> None:
    result = docker(server, "pull", "nginx:9.9.9")
    assert result.returncode == 1
    assert ("Error response from daemon: manifest for nginx:9.9.9 not found: manifest unknown: manifest unknown"
            in result.stderr)
    denied = docker(server, "pull", "dsim-nowhere:1")
    assert "pull access denied for dsim-nowhere, repository does not exist" in denied.stderr


@needs_cli
def test_from_an_unknown_tag_fails_the_build_with_manifest_unknown(server: ServeProcess, tmp_path: Path) -> None:
    result = build(server, tmp_path, "FROM python:0.0.1\nRUN true\n")
    assert result.returncode == 1
    assert "manifest for python:0.0.1 not found: manifest unknown: manifest unknown" in result.stdout + result.stderr


@needs_cli
def test_built_config_inherits_and_overrides_and_the_id_is_content(server: ServeProcess, tmp_path: Path) -> None:
    dockerfile = ("FROM busybox\nARG GREETING=hi\nENV APP_MODE=prod MSG=$GREETING\nWORKDIR /srv\nWORKDIR app\n"
                  "COPY main.sh .\nEXPOSE 8080 9090/udp\nLABEL team=core\nUSER 1000\nVOLUME /data\n"
                  'CMD ["sh", "main.sh"]\n')
    first = build(server, tmp_path, dockerfile, "-t", "cfg-one:1", files={"main.sh": "echo hi\n"})
    assert first.returncode == 0, first.stdout + first.stderr
    second = build(server, tmp_path, dockerfile, "-t", "cfg-two:7")
    assert second.returncode == 0
    # same content (every step a cache hit, same config) -> one image ID whatever the tag
    assert image_id(server, "cfg-one:1") == image_id(server, "cfg-two:7") != image_id(server, "busybox")
    config = json.loads(docker(server, "image", "inspect", "--format", "{{json .Config}}", "cfg-two:7").stdout)
    # busybox's page sets no ENV: its config has Docker's default PATH, which the build keeps first
    assert config["Env"] == [DEFAULT_PATH, "APP_MODE=prod", "MSG=hi"]
    assert config["Cmd"] == ["sh", "main.sh"]
    assert config["WorkingDir"] == "/srv/app"  # a relative WORKDIR resolves against the previous one
    assert config["ExposedPorts"] == {"8080/tcp": {}, "9090/udp": {}}
    assert config["Labels"] == {"team": "core"} and config["User"] == "1000" and config["Volumes"] == {"/data": {}}
    docker(server, "tag", "cfg-one:1", "cfg-three:x")
    assert image_id(server, "cfg-three:x") == image_id(server, "cfg-one:1")  # a tag never changes the ID
    labelled = docker(server, "images", "--filter", "label=team=core", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert "cfg-one:1" in labelled.split() and "busybox:latest" not in labelled.split()
    body = api(server, "/images/cfg-two:7/json")
    assert definition_problems("ImageInspect", body) == []


@needs_cli
def test_entrypoint_and_cmd_are_inherited_and_entrypoint_resets_cmd(server: ServeProcess, tmp_path: Path) -> None:
    assert build(server, tmp_path / "a", "FROM nginx:alpine\nENV X=1\n", "-t", "inherit:1").returncode == 0
    config = json.loads(docker(server, "image", "inspect", "--format", "{{json .Config}}", "inherit:1").stdout)
    # nginx:alpine's page: Entrypoint /docker-entrypoint.sh, Cmd nginx -g 'daemon off;', EXPOSE 80, SIGQUIT
    assert config["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert config["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert config["ExposedPorts"] == {"80/tcp": {}} and config["StopSignal"] == "SIGQUIT"
    assert config["Env"][-1] == "X=1"
    assert build(server, tmp_path / "b", 'FROM nginx:alpine\nENTRYPOINT ["top"]\n', "-t", "inherit:2").returncode == 0
    reset = json.loads(docker(server, "image", "inspect", "--format", "{{json .Config}}", "inherit:2").stdout)
    assert reset["Entrypoint"] == ["top"] and reset.get("Cmd") is None


@needs_cli
def test_a_built_image_is_a_base_for_the_next_build(server: ServeProcess, tmp_path: Path) -> None:
    parent = build(server, tmp_path / "p", "FROM busybox\nENV LAYER=parent\nEXPOSE 7000\n", "-t", "parent:1")
    assert parent.returncode == 0
    child = build(server, tmp_path / "c", 'FROM parent:1\nCMD ["echo", "child"]\n', "-t", "child:1")
    assert child.returncode == 0, child.stdout + child.stderr
    # the legacy builder uses a local image as is: no pull, the parent's ID under FROM
    assert f" ---> {image_id(server, 'parent:1')[7:19]}" in child.stdout and "Pulling" not in child.stdout
    config = json.loads(docker(server, "image", "inspect", "--format", "{{json .Config}}", "child:1").stdout)
    assert config["Env"][-1] == "LAYER=parent" and config["ExposedPorts"] == {"7000/tcp": {}}
    rows = api(server, "/images/child:1/history")
    # moby internals.go withCmdComment: "#(nop) " and the instruction are two arguments, joined by a space
    assert [row["CreatedBy"] for row in rows[:3]] == ['/bin/sh -c #(nop)  CMD ["echo" "child"]',
                                                      "/bin/sh -c #(nop)  EXPOSE 7000",
                                                      "/bin/sh -c #(nop)  ENV LAYER=parent"]


@needs_cli
def test_rebuild_shows_every_step_from_the_cache(server: ServeProcess, tmp_path: Path) -> None:
    dockerfile = "FROM busybox\nENV STAGE=cache-test\nCOPY a.txt /\nLABEL v=1\nCMD [\"cat\", \"/a.txt\"]\n"
    assert build(server, tmp_path, dockerfile, "-t", "cached:1", files={"a.txt": "a"}).returncode == 0
    again = build(server, tmp_path, dockerfile, "-t", "cached:1")
    # the classic builder probes its cache for every step after FROM: 4 steps, 4 hits, no container run
    assert again.stdout.count(" ---> Using cache") == 4
    assert "Running in" not in again.stdout
    no_cache = build(server, tmp_path, dockerfile, "--no-cache", "-t", "cached:1")
    assert " ---> Using cache" not in no_cache.stdout


@needs_cli
def test_untagged_build_is_listed_as_none(server: ServeProcess, tmp_path: Path) -> None:
    result = build(server, tmp_path, 'FROM busybox\nCMD ["echo", "untagged-build"]\n', "-q")
    assert result.returncode == 0, result.stderr
    ident = result.stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", ident)
    listed = docker(server, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert f"<none>:<none> {ident[7:19]}" in listed
    # the dangling filter selects exactly the untagged ones
    assert ident[7:19] in docker(server, "images", "-q", "--filter", "dangling=true").stdout.split()
    assert ident[7:19] not in docker(server, "images", "-q", "--filter", "dangling=false").stdout.split()
    # the same content built again with a tag: the image is named now, no longer dangling
    tagged = build(server, tmp_path, 'FROM busybox\nCMD ["echo", "untagged-build"]\n', "-t", "named-later:1")
    assert tagged.returncode == 0 and image_id(server, "named-later:1") == ident
    assert ident[7:19] not in docker(server, "images", "-q", "--filter", "dangling=true").stdout.split()


@needs_cli
def test_a_rebuild_with_new_content_leaves_the_old_image_dangling(server: ServeProcess, tmp_path: Path) -> None:
    assert build(server, tmp_path, 'FROM busybox\nCMD ["echo", "v1"]\n', "-t", "moving:1").returncode == 0
    old = image_id(server, "moving:1")
    assert build(server, tmp_path, 'FROM busybox\nCMD ["echo", "v2"]\n', "-t", "moving:1").returncode == 0
    new = image_id(server, "moving:1")
    # the tag moves to the new content; the old image stays, named by nothing: <none>:<none>
    assert new != old
    listed = docker(server, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert f"<none>:<none> {old[7:19]}" in listed


def _listed(server: ServeProcess) -> list[str]:
    listed = docker(server, "images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    return listed.stdout.split("\n")


def test_a_build_and_a_commit_are_one_image_each_and_a_moved_tag_leaves_the_old_one_dangling(
        server: ServeProcess, tmp_path: Path) -> None:
    # dsim serve names a build and a commit by their content after the daemon has tagged them: that must leave
    # no <none> beside them (docker images -a lists exactly the two tags and the commit). docker tag moving a
    # tag off an image nothing else names leaves that image dangling, as dockerd does.
    dangling = {line for line in _listed(server) if line.startswith("<none>")}  # other tests' (one server)
    made = build(server, tmp_path, 'FROM busybox\nCMD ["echo", "once"]\n', "-t", "once:1", "-t", "once:2")
    assert made.returncode == 0, made.stderr
    built = image_id(server, "once:1")
    assert docker(server, "run", "-d", "--name", "once-snap", "busybox", "sleep", "1000").returncode == 0
    committed = docker(server, "commit", "once-snap", "once-snap:1").stdout.strip()
    listed = _listed(server)
    assert sorted(line for line in listed if line.startswith("once")) == [
        f"once-snap:1 {committed}", f"once:1 {built}", f"once:2 {built}"]
    assert {line for line in listed if line.startswith("<none>")} == dangling
    assert docker(server, "tag", "busybox", "once-snap:1").returncode == 0
    assert {line for line in _listed(server) if line.startswith("<none>")} - dangling == {f"<none>:<none> {committed}"}
    assert docker(server, "rm", "-f", "once-snap").returncode == 0


@needs_cli
def test_pull_prints_the_index_digest_the_tag_points_at(server: ServeProcess) -> None:
    result = docker(server, "pull", "busybox")
    # busybox:latest's page: index sha256:dc2d74b2..., its linux/amd64 manifest sha256:1cfa4e2b...
    assert "Digest: sha256:dc2d74b28e4cf8984fa52af1f39bc7c3d9c73760b41a74d629f5d11b1ab28616" in result.stdout
    digests = docker(server, "image", "inspect", "--format", "{{json .RepoDigests}}", "busybox").stdout
    assert "busybox@sha256:dc2d74b28e4cf8984fa52af1f39bc7c3d9c73760b41a74d629f5d11b1ab28616" in digests


@needs_cli
def test_copy_of_a_missing_or_ignored_file_fails_as_the_classic_builder_does(server: ServeProcess,
                                                                            tmp_path: Path) -> None:
    missing = build(server, tmp_path / "m", "FROM busybox\nCOPY nothere.txt /\n")
    assert missing.returncode == 1
    assert ("COPY failed: file not found in build context or excluded by .dockerignore: stat nothere.txt: file "
            "does not exist") in missing.stdout + missing.stderr
    ignored = build(server, tmp_path / "i", "FROM busybox\nCOPY secret.env /\n", files={"secret.env": "x"},
                    ignore="*.env\n")
    assert ignored.returncode == 1
    assert "stat secret.env: file does not exist" in ignored.stdout + ignored.stderr


@needs_cli
def test_failing_run_stops_the_build_with_its_exit_code(server: ServeProcess, tmp_path: Path) -> None:
    failed = build(server, tmp_path / "f", "FROM busybox\nRUN false\nRUN echo never\n", "-t", "never:1")
    assert failed.returncode == 1
    out = failed.stdout + failed.stderr
    assert "The command '/bin/sh -c false' returned a non-zero code: 1" in out
    assert "Step 3/3" not in out  # the builder stops at the failing step
    assert docker(server, "image", "inspect", "never:1").returncode == 1  # no image is tagged
    three = build(server, tmp_path / "e", "FROM busybox\nRUN echo ok && exit 3\n")
    assert three.returncode == 3  # the CLI exits with the error's code
    assert "The command '/bin/sh -c echo ok && exit 3' returned a non-zero code: 3" in three.stdout + three.stderr


@needs_cli
def test_run_steps_print_what_their_commands_print(server: ServeProcess, tmp_path: Path) -> None:
    """The classic builder streams a RUN's output between "Running in" and "Removed intermediate container": the
    shell form sees the stage's ENV, ARGs (``--build-arg`` over the default) and WORKDIR; the exec form is not
    expanded; a failing RUN shows what it printed before its error; a cached RUN prints nothing."""
    dockerfile = ("FROM busybox\nENV GREETING=hello\nARG WHO=world\nRUN echo \"$GREETING $WHO\"\nWORKDIR /app\n"
                  "RUN pwd; echo to-stderr >&2\nRUN [\"echo\", \"$GREETING\"]\n")
    built = build(server, tmp_path / "r", dockerfile, "--build-arg", "WHO=you")
    assert built.returncode == 0, built.stderr
    lines = built.stdout.splitlines()
    for step, printed in (("Step 4/7", ["hello you"]), ("Step 6/7", ["/app", "to-stderr"]),
                          ("Step 7/7", ["$GREETING"])):
        at = next(i for i, line in enumerate(lines) if line.startswith(step))
        assert lines[at + 1].startswith(" ---> Running in ")
        assert lines[at + 2:at + 2 + len(printed)] == printed
        assert lines[at + 2 + len(printed)].startswith(" ---> Removed intermediate container ")
    again = build(server, tmp_path / "r", dockerfile, "--build-arg", "WHO=you")
    assert "hello you" not in again.stdout and again.stdout.count("Using cache") >= 4
    failed = build(server, tmp_path / "f2", "FROM busybox\nRUN echo before && exit 4\n")
    assert failed.returncode == 4 and "before\n" in failed.stdout


@needs_cli
def test_commit_makes_an_image_of_the_writable_layer(server: ServeProcess) -> None:
    """``docker commit``: busybox's layers plus one of the 50 MB the container wrote (the image is 50 MB
    bigger); its history line is the container's Cmd with the message; ``--change``s apply as Dockerfile
    instructions (the image runs the new CMD, sees the new ENV); a change that is not allowed and an unknown
    container are dockerd's errors; without a name the image is dangling; the container is paused meanwhile."""
    started = docker(server, "run", "-d", "--name", "snap", "-l", "dsim.writes=50MB", "busybox", "sleep", "1000")
    assert started.returncode == 0, started.stderr
    since = int(time.time()) - 1
    made = docker(server, "commit", "-m", "with data", "-c", 'CMD ["echo", "from the commit"]', "-c", "ENV X=1",
                  "snap", "snap:1")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == image_id(server, "snap:1")
    base = int(docker(server, "image", "inspect", "--format", "{{.Size}}", "busybox").stdout)
    assert int(docker(server, "image", "inspect", "--format", "{{.Size}}", "snap:1").stdout) == base + 50_000_000
    top = docker(server, "history", "--format", "{{.CreatedBy}}|{{.Size}}|{{.Comment}}", "snap:1").stdout
    assert top.splitlines()[0] == "sleep 1000|50MB|with data"
    assert docker(server, "run", "--rm", "snap:1").stdout == "from the commit\n"
    assert docker(server, "run", "--rm", "snap:1", "sh", "-c", "echo $X").stdout == "1\n"
    assert "run is not a valid change command" in docker(server, "commit", "-c", "RUN true", "snap", "x:1").stderr
    assert "No such container: nosuch" in docker(server, "commit", "nosuch", "x:1").stderr
    dangling = docker(server, "commit", "snap").stdout.strip()
    assert dangling in docker(server, "images", "-a", "--no-trunc", "--format", "{{.Repository}} {{.ID}}").stdout
    assert docker(server, "ps", "--filter", "name=snap", "--format", "{{.Status}}").stdout.startswith("Up")
    kinds = [f"event={kind}" for kind in ("pause", "commit", "unpause")]
    events = docker(server, "events", "--since", str(since), "--until", str(int(time.time()) + 1), "--filter",
                    "container=snap", *[arg for kind in kinds for arg in ("--filter", kind)],
                    "--format", "{{.Action}}").stdout.split()
    assert events == ["pause", "commit", "unpause", "pause", "commit", "unpause"]  # paused while committed
    assert docker(server, "rm", "-f", "snap").returncode == 0


@needs_cli
def test_files_a_shell_writes_are_in_the_layer_its_diff_and_its_commit(server: ServeProcess) -> None:
    """The classic layers demo: a run writes /hello.txt and /tmp/a; ``docker diff`` lists them (and /tmp, which
    changed); the commit's new layer is their 14 bytes; a container of the new image reads them back, and
    rewriting /hello.txt there copies it up (C); a ``docker exec`` writes into the running container's layer."""
    script = "echo hello > /hello.txt; echo one > /tmp/a; echo two >> /tmp/a; cat /tmp/a"
    ran = docker(server, "run", "--name", "writer", "busybox", "sh", "-c", script)
    assert (ran.returncode, ran.stdout) == (0, "one\ntwo\n"), ran.stderr
    assert docker(server, "diff", "writer").stdout.splitlines() == ["A /hello.txt", "C /tmp", "A /tmp/a"]
    assert docker(server, "commit", "writer", "written:1").returncode == 0
    top = docker(server, "history", "--format", "{{.Size}}", "written:1").stdout.splitlines()[0]
    assert top == "14B"  # "hello\n" and "one\ntwo\n"
    assert docker(server, "run", "--rm", "written:1", "cat", "/hello.txt", "/tmp/a").stdout == "hello\none\ntwo\n"
    assert docker(server, "run", "--name", "rewriter", "written:1", "sh", "-c", "echo bye > /hello.txt").returncode == 0
    assert docker(server, "diff", "rewriter").stdout.splitlines() == ["C /hello.txt"]
    assert docker(server, "run", "-d", "--name", "execd", "busybox", "sleep", "100").returncode == 0
    assert docker(server, "exec", "execd", "sh", "-c", "echo x > /srv/f").returncode == 0
    assert docker(server, "exec", "execd", "cat", "/srv/f").stdout == "x\n"
    assert "A /srv/f" in docker(server, "diff", "execd").stdout.splitlines()
    assert docker(server, "rm", "-f", "writer", "rewriter", "execd").returncode == 0


@needs_cli
def test_files_under_a_volume_or_a_tmpfs_stay_out_of_the_layer(server: ServeProcess) -> None:
    """A write under a volume's mount lands in the volume: another container mounting it (elsewhere) reads it,
    and neither ``docker diff`` nor ``docker commit`` has it; a tmpfs's likewise stays out of the layer."""
    script = "echo shared > /data/f; echo temp > /scratch/t; echo layer > /l"
    made = docker(server, "run", "--name", "vols", "-v", "filesvol:/data", "--tmpfs", "/scratch", "busybox", "sh", "-c",
                  script)
    assert made.returncode == 0, made.stderr
    assert docker(server, "diff", "vols").stdout.splitlines() == ["A /l"]
    assert docker(server, "run", "--rm", "-v", "filesvol:/mnt", "busybox", "cat", "/mnt/f").stdout == "shared\n"
    assert docker(server, "commit", "vols", "vols:1").returncode == 0
    assert docker(server, "run", "--rm", "vols:1", "cat", "/l", "/data/f").stdout == "layer\n"
    assert docker(server, "rm", "vols").returncode == 0


@needs_cli
def test_files_run_steps_write_are_in_the_built_image(server: ServeProcess, tmp_path: Path) -> None:
    """A RUN's ``> FILE`` is in the stage's later RUNs and in the image: a stage built on another sees its files,
    the build argument changes what is written, and the image's CMD reads it back and ends."""
    dockerfile = ("FROM busybox AS base\nRUN echo hello > /greeting\nFROM base\nARG WHO=you\n"
                  "RUN echo \"$WHO\" >> /greeting && cat /greeting\nCMD [\"cat\", \"/greeting\"]\n")
    built = build(server, tmp_path / "g", dockerfile, "-t", "greet:1")
    assert built.returncode == 0 and "hello\nyou\n" in built.stdout, built.stderr
    ran = docker(server, "run", "--rm", "greet:1")
    assert (ran.returncode, ran.stdout) == (0, "hello\nyou\n")
    assert build(server, tmp_path / "g", dockerfile, "-t", "greet:2", "--build-arg", "WHO=me").returncode == 0
    assert docker(server, "run", "--rm", "greet:2").stdout == "hello\nme\n"


@needs_cli
def test_history_of_a_catalog_image_and_of_a_build(server: ServeProcess, tmp_path: Path) -> None:
    assert docker(server, "pull", "hello-world").returncode == 0
    rows = api(server, "/images/hello-world/history")
    assert response_problems("ImageHistory", rows) == []
    # the page's history: COPY hello / (the one 2415-byte layer), then CMD ["/hello"]; newest first
    assert [row["CreatedBy"] for row in rows] == ['CMD ["/hello"]', "COPY hello / # buildkit"]
    assert rows[0]["Id"].startswith("sha256:d1a8d0a4eeb6") and rows[0]["Tags"] == ["hello-world:latest"]
    assert rows[1]["Id"] == "<missing>" and rows[1]["Size"] == int(2415 * DEFAULT_UNCOMPRESSED_RATIO)
    assert build(server, tmp_path, "FROM hello-world\nLABEL x=y\n", "-t", "hist:1").returncode == 0
    built = api(server, "/images/hist:1/history")
    assert [row["CreatedBy"] for row in built] == ["/bin/sh -c #(nop)  LABEL x=y", 'CMD ["/hello"]',
                                                   "COPY hello / # buildkit"]
    # BuildKit marks its lines (the catalog image's); the legacy builder's own lines carry no comment
    assert [row["Comment"] for row in built] == ["", "buildkit.dockerfile.v0", "buildkit.dockerfile.v0"]
    shown = docker(server, "history", "hist:1")
    assert shown.returncode == 0 and "LABEL x=y" in shown.stdout


@needs_cli
def test_push_to_docker_hub_needs_login_into_your_namespace(server: ServeProcess) -> None:
    assert docker(server, "pull", "busybox").returncode == 0
    docker(server, "tag", "busybox", "mybox:1")
    anonymous = docker(server, "push", "mybox:1")
    assert anonymous.returncode == 1
    assert "denied: requested access to the resource is denied" in anonymous.stderr + anonymous.stdout
    logged = _login(server, "alice")
    assert logged.returncode == 0 and "Login Succeeded" in logged.stdout
    docker(server, "tag", "busybox", "alice/box:1")
    pushed = docker(server, "push", "alice/box:1")
    assert pushed.returncode == 0, pushed.stderr
    found = re.search(r"^1: digest: (sha256:[0-9a-f]{64}) size: \d+$", pushed.stdout, re.M)
    assert found is not None
    # push_v2.go stores the pushed manifest's digest reference beside the tag (addDigestReference)
    shown = docker(server, "image", "inspect", "-f", "{{json .RepoDigests}}", "alice/box:1").stdout
    assert f'"alice/box@{found.group(1)}"' in shown, shown
    docker(server, "tag", "busybox", "bob/box:1")
    other = docker(server, "push", "bob/box:1")
    assert other.returncode == 1 and "denied: requested access to the resource is denied" in other.stdout + other.stderr
    docker(server, "logout")


def _login(server: ServeProcess, user: str) -> Any:
    import os
    import subprocess

    environment = {**os.environ, "DOCKER_HOST": server.address, "DOCKER_CONFIG": str(server.tmp / "docker-config")}
    return subprocess.run(["docker", "login", "-u", user, "--password-stdin"], input="s3cret\n", text=True,
                          capture_output=True, env=environment, timeout=60)


@needs_cli
def test_system_df_counts_images_and_build_cache(server: ServeProcess) -> None:
    body = api(server, "/system/df")
    assert response_problems("SystemDataUsage", body) == []
    # every layer counted once: an image none of whose layers another listed image has shares nothing, and
    # LayersSize is the sum of the images' sizes exactly when no layer is shared
    layers = {summary["Id"]: api(server, f"/images/{summary['Id']}/json")["RootFS"]["Layers"]
              for summary in body["Images"]}
    shared_any = False
    for summary in body["Images"]:
        others = {chain for ident, chains in layers.items() if ident != summary["Id"] for chain in chains}
        if not others & set(layers[summary["Id"]]):
            assert summary["SharedSize"] == 0
        else:
            shared_any = True
            assert summary["SharedSize"] > 0
    total = sum(summary["Size"] for summary in body["Images"])
    assert body["LayersSize"] < total if shared_any else body["LayersSize"] == total
    shown = docker(server, "system", "df")
    assert shown.returncode == 0
    assert re.search(rf"^Images\s+{len(body['Images'])}\s", shown.stdout, re.M)


@needs_cli
def test_save_and_load_round_trip(server: ServeProcess, tmp_path: Path) -> None:
    assert docker(server, "pull", "alpine:3.20").returncode == 0
    before = image_id(server, "alpine:3.20")
    archive = tmp_path / "alpine.tar"
    saved = docker(server, "save", "-o", str(archive), "alpine:3.20")
    assert saved.returncode == 0, saved.stderr
    import tarfile

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert {"manifest.json", "index.json", "oci-layout"} <= set(names)
    assert manifest[0]["RepoTags"] == ["alpine:3.20"] and len(manifest[0]["Layers"]) == 1
    assert docker(server, "rmi", "alpine:3.20").returncode == 0
    loaded = docker(server, "load", "-i", str(archive))
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded image: alpine:3.20" in loaded.stdout
    assert image_id(server, "alpine:3.20") == before  # the same image: same layers, same ID


@needs_cli
def test_prunes(server: ServeProcess, tmp_path: Path) -> None:
    assert build(server, tmp_path, 'FROM busybox\nCMD ["echo", "to-be-pruned"]\n', "-q").returncode == 0
    pruned = api(server, "/images/prune", "POST", b"")
    assert response_problems("ImagePrune", pruned) == []
    # only dangling images go by default: no tagged image is untagged
    assert not any("Untagged" in item for item in pruned["ImagesDeleted"] or [])
    assert "<none>" not in docker(server, "images", "--format", "{{.Repository}}").stdout
    cache = api(server, "/build/prune", "POST", b"")
    assert response_problems("BuildPrune", cache) == []
    assert docker(server, "system", "prune", "-f").returncode == 0


@needs_cli
def test_rmi_f_of_the_last_tag_of_an_image_a_container_uses_leaves_it_dangling(server: ServeProcess) -> None:
    """moby keeps the image, untagged, for its container (daemon/containerd/soft_delete.go): `docker images` lists
    it as <none>, it inspects by ID, and `image prune` removes it once no container uses it. It vanished before."""
    pulled = docker(server, "pull", "memcached").stdout
    digest = next(line[len("Digest: "):] for line in pulled.splitlines() if line.startswith("Digest: "))
    ident = docker(server, "image", "inspect", "-f", "{{.Id}}", "memcached").stdout.strip()
    assert docker(server, "create", "--name", "usesmem", "memcached").returncode == 0
    # the pull stored memcached:latest and memcached@<digest> (pull_v2.go addDigestReference): one tag and its
    # repository's digest are a single reference (image_delete.go isSingleReference), so the container's use
    # refuses the tag's removal, and forced, the tag takes the repository's digest reference with it
    refused = docker(server, "rmi", "memcached")
    assert refused.returncode == 1 and "(must force) - container" in refused.stderr
    forced = docker(server, "rmi", "-f", "memcached").stdout
    assert forced == f"Untagged: memcached:latest\nUntagged: memcached@{digest}\n", forced
    rows = docker(server, "images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").stdout.splitlines()
    assert f"<none> <none> {ident[7:19]}" in rows
    assert docker(server, "image", "inspect", "-f", "{{.RepoTags}}", ident[7:19]).stdout == "[]\n"
    assert docker(server, "rm", "usesmem").returncode == 0
    pruned = docker(server, "image", "prune", "-f")
    assert f"deleted: {ident}" in pruned.stdout


@needs_cli
def test_rmi_by_id_deletes_every_reference_or_names_its_conflict(server: ServeProcess) -> None:
    """By ID, moby deletes the image with all its references (daemon/containerd/image_delete.go deleteAll):
    unless forced, not while a second reference or a stopped container has it; never while one runs. Before,
    one tag went and the command succeeded."""
    pulled = docker(server, "pull", "httpd").stdout
    digest = next(line[len("Digest: "):] for line in pulled.splitlines() if line.startswith("Digest: "))
    assert docker(server, "tag", "httpd", "web/httpd:2").returncode == 0
    ident = docker(server, "image", "inspect", "-f", "{{.Id}}", "httpd").stdout.strip()
    short = ident[7:19]
    refused = docker(server, "rmi", short)
    assert (f"Error response from daemon: conflict: unable to delete {short} (must be forced) - image is referenced "
            "in multiple repositories") in refused.stderr
    running = docker(server, "run", "-d", "--name", "httpdrun", "httpd").stdout.strip()
    hard = docker(server, "rmi", "-f", short)
    assert (f"conflict: unable to delete {short} (cannot be forced) - image is being used by running container "
            f"{running[:12]}") in hard.stderr
    assert docker(server, "rm", "-f", "httpdrun").returncode == 0
    gone = docker(server, "rmi", "-f", short)
    # every reference, the pull's digest reference too, in the reference store's order (refstore/store.go
    # lexicalRefs: docker.io/library/httpd:latest < docker.io/library/httpd@sha256:... < docker.io/web/httpd:2)
    assert gone.stdout.startswith(f"Untagged: httpd:latest\nUntagged: httpd@{digest}\nUntagged: web/httpd:2\n"), \
        gone.stdout
    assert f"Deleted: {ident}\n" in gone.stdout
    assert docker(server, "image", "inspect", short).returncode == 1


@needs_cli
def test_pull_and_run_by_digest(server: ServeProcess) -> None:
    """REPO@DIGEST names the image with that digest (the tag was ignored before: an unknown digest pulled
    `latest` and succeeded), and is pulled under that digest reference, not a tag (it was tagged `latest`);
    an unknown digest is the registry's manifest unknown."""
    assert docker(server, "pull", "mongo").returncode == 0
    pinned = docker(server, "image", "inspect", "-f", "{{index .RepoDigests 0}}", "mongo").stdout.strip()
    digest = pinned.partition("@")[2]
    assert digest.startswith("sha256:") and docker(server, "rmi", "mongo").returncode == 0
    pulled = docker(server, "pull", f"mongo@{digest}")
    assert pulled.returncode == 0 and f"Digest: {digest}" in pulled.stdout
    run = docker(server, "run", "--rm", f"mongo@{digest}", "echo", "pinned")
    assert (run.returncode, run.stdout) == (0, "pinned\n")
    # pull_v2.go pullTag: the progress names the Canonical reference (its String()), writeStatus its familiar
    # form, and the reference store gets the digest reference only (AddDigest): no tag
    lines = pulled.stdout.splitlines()
    assert lines[0] == f"docker.io/library/mongo@{digest}: Pulling from library/mongo", lines[0]
    assert f"Status: Downloaded newer image for mongo@{digest}" in lines
    assert lines[-1] == f"docker.io/library/mongo@{digest}"
    listed = docker(server, "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", "mongo")
    assert listed.stdout.splitlines() == [f"mongo <none> {digest}"]
    shown = docker(server, "image", "inspect", "-f", "{{json .RepoTags}} {{json .RepoDigests}}", f"mongo@{digest}")
    assert shown.stdout.strip() == f'[] ["mongo@{digest}"]'
    again = docker(server, "pull", f"mongo@{digest}")
    assert f"Status: Image is up to date for mongo@{digest}" in again.stdout.splitlines()
    # image_list.go: dangling=true keeps images without a tag, dangling=false those with any reference, so an
    # image known by its digest alone is listed by both
    for dangling in ("true", "false"):
        shown = docker(server, "images", "-f", f"dangling={dangling}", "--format", "{{.Repository}} {{.Tag}}")
        assert "mongo <none>" in shown.stdout.splitlines(), (dangling, shown.stdout)
    # a tag new to the image: its reference is added, a "newer image" although every layer already exists
    tagged = docker(server, "pull", "mongo")
    assert "Status: Downloaded newer image for mongo:latest" in tagged.stdout.splitlines(), tagged.stdout
    assert "Pull complete" not in tagged.stdout
    # image_delete.go: the repository's last tag takes its digest references with it, then the image goes
    removed = docker(server, "rmi", "mongo")
    assert removed.stdout.startswith(f"Untagged: mongo:latest\nUntagged: mongo@{digest}\nDeleted: "), removed.stdout
    assert docker(server, "images", "-q", "mongo").stdout == ""
    unknown = "sha256:" + "0" * 64
    missing = docker(server, "pull", f"mongo@{unknown}")
    assert missing.returncode == 1
    assert (f"Error response from daemon: manifest for mongo@{unknown} not found: manifest unknown: manifest unknown"
            in missing.stderr)


def _pulled_digest(output: str) -> str:
    return next(line[len("Digest: "):] for line in output.splitlines() if line.startswith("Digest: "))


@needs_cli
def test_a_digest_names_a_local_image_only_through_its_stored_digest_reference(server: ServeProcess) -> None:
    """The graphdriver store's GetImage (moby daemon/images/image.go) finds REPO@DIGEST in the reference store
    only: a pull by tag stores the digest the registry gave for the tag (a multi-platform image's index digest,
    pull_v2.go addDigestReference), not the platform manifest's, and `docker tag` stores none (refstore/store.go
    Get: a tag beside the digest is ignored). Before, a local image of the repository whose manifest or index
    digest it was was found, and each tag got a made-up RepoDigest."""
    pulled = docker(server, "pull", "traefik")
    digest = _pulled_digest(pulled.stdout)
    ident = docker(server, "image", "inspect", "-f", "{{.Id}}", "traefik").stdout.strip()
    assert digest.startswith("sha256:") and digest != ident  # the index's, not the linux/amd64 manifest's
    for name in (f"traefik@{digest}", f"traefik:latest@{digest}", f"traefik:other@{digest}"):
        shown = docker(server, "image", "inspect", "-f", "{{.Id}} {{json .RepoDigests}}", name)
        assert shown.stdout.strip() == f'{ident} ["traefik@{digest}"]', (name, shown.stdout, shown.stderr)
    by_manifest = docker(server, "image", "inspect", f"traefik@{ident}")
    assert by_manifest.returncode == 1 and f"No such image: traefik@{ident}" in by_manifest.stderr
    assert docker(server, "tag", "traefik", "proxy:1").returncode == 0
    assert docker(server, "image", "inspect", f"proxy@{digest}").returncode == 1
    # both lists in the reference store's order (refstore/store.go lexicalRefs; dsim listed the tags as made)
    listed = docker(server, "image", "inspect", "-f", "{{json .RepoTags}} {{json .RepoDigests}}", "proxy:1").stdout
    assert listed.strip() == f'["proxy:1","traefik:latest"] ["traefik@{digest}"]'
    rows = docker(server, "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", "proxy")
    assert rows.stdout.splitlines() == ["proxy 1 <none>"]
    rows = docker(server, "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", "traefik")
    assert rows.stdout.splitlines() == [f"traefik latest {digest}"]


@needs_cli
def test_legacy_build_from_a_digest_builds_on_that_image(server: ServeProcess, tmp_path: Path) -> None:
    """The legacy builder pulls and uses FROM repo@digest by its digest (moby daemon/images/image_builder.go
    pullForBuilder: reference.TagNameOnly keeps a digest), the digest winning over a tag beside it; the pull
    stores the digest reference only. Before, the digest was dropped and the tag's image pulled and used."""
    pulled = docker(server, "pull", "mysql:8.4")
    digest = _pulled_digest(pulled.stdout)
    ident = docker(server, "image", "inspect", "-f", "{{.Id}}", "mysql:8.4").stdout.strip()
    assert docker(server, "rmi", "mysql:8.4").returncode == 0
    made = build(server, tmp_path / "d", f"FROM mysql:latest@{digest}\nRUN true\n", "-t", "pinned-mysql:1")
    assert made.returncode == 0, made.stdout + made.stderr
    assert f" ---> {ident[7:19]}\n" in made.stdout, made.stdout
    shown = docker(server, "image", "inspect", "-f", "{{.Id}} {{json .RepoTags}}", f"mysql@{digest}").stdout
    assert shown.strip() == f"{ident} []"
    assert docker(server, "image", "inspect", "mysql:latest").returncode == 1
    unknown = "sha256:" + "0" * 64
    failed = build(server, tmp_path / "u", f"FROM mysql@{unknown}\nRUN true\n")
    assert failed.returncode == 1
    assert (f"manifest for mysql@{unknown} not found: manifest unknown: manifest unknown"
            in failed.stdout + failed.stderr)


@needs_cli
def test_legacy_build_of_a_global_arg_and_a_from_that_expands_it(server: ServeProcess, tmp_path: Path) -> None:
    """moby builder.go: a global ARG's step is its line alone; every FROM prints its base's ID, its reference
    expanded with the global ARGs (a ` ---> ...` after `ARG` and none after `FROM ${BASE}` before)."""
    (tmp_path / "Dockerfile").write_text("ARG BASE=alpine\nFROM ${BASE}\nRUN true\n")
    assert docker(server, "pull", "alpine").returncode == 0
    ident = docker(server, "image", "inspect", "-f", "{{.Id}}", "alpine").stdout.strip()
    result = docker(server, "build", str(tmp_path), env={"DOCKER_BUILDKIT": "0"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("Step 1/3 : ARG BASE=alpine")
    assert lines[at + 1:at + 4] == ["Step 2/3 : FROM ${BASE}", f" ---> {ident[7:19]}", "Step 3/3 : RUN true"]


@needs_cli
def test_legacy_build_shows_the_pull_of_a_base_that_is_not_here(server: ServeProcess, tmp_path: Path) -> None:
    """The classic builder pulls a missing base under its FROM step with the pull's own lines (the pull could end
    before the first look at the build, which then showed none)."""
    (tmp_path / "Dockerfile").write_text("FROM rabbitmq:latest\nRUN true\n")
    result = docker(server, "build", str(tmp_path), env={"DOCKER_BUILDKIT": "0"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    step = out.index("Step 1/2 : FROM rabbitmq:latest\n")
    assert out.index("latest: Pulling from library/rabbitmq\n") > step
    assert "Status: Downloaded newer image for rabbitmq:latest\n" in out
    assert out.index("Status: Downloaded newer image") < out.index("Step 2/2 : RUN true")


@needs_cli
def test_a_legacy_builds_base_pull_is_an_image_pull_event(server: ServeProcess, tmp_path: Path) -> None:
    """The classic builder pulls a FROM image it lacks through the daemon's pull (moby daemon/images/
    image_builder.go pullForBuilder), which logs ``image pull`` as ``docker pull`` does (daemon/internal/
    distribution/pull.go: actor the familiar reference, ``name`` the repository); there was none."""
    since = int(time.time()) - 1
    result = build(server, tmp_path / "ctx", "FROM redis:alpine\nRUN true\n", "-t", "on-redis:1")
    assert result.returncode == 0, result.stderr
    pulls = docker(server, "events", "--since", str(since), "--until", str(int(time.time()) + 1), "--filter",
                   "type=image", "--filter", "event=pull", "--filter", "image=redis",
                   "--format", "{{.Actor.ID}} {{.Actor.Attributes.name}}")
    assert pulls.stdout.splitlines() == ["redis:alpine redis"]
