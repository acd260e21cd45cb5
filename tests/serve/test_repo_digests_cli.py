"""``RepoDigests`` of images the daemon pulled by tag however the pull came (the real docker CLI).

dockerd's graphdriver store adds, beside the tag, the digest reference of the digest the registry gave for the
tag at the end of every pull by tag (github.com/moby/moby distribution/pull_v2.go ``pullTag`` and
``addDigestReference``, an up-to-date pull included); a legacy build's missing ``FROM`` base is pulled through
the same pull (daemon/images/image_builder.go ``pullForBuilder``), and ``docker run`` of a missing image pulls
through ``POST /images/create`` as ``docker pull`` does. A host's preloaded images stand for images pulled by
tag before the session (docs/serve.md). The digest expected is the tag's index digest in the catalog's entry
(its Docker Hub page), not dsim's output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from tests.serve.test_docker_cli import ServeProcess, docker, needs_cli

CATALOG = json.loads(resources.files("dsim.scenarios").joinpath("catalog/real-images.json").read_text())["images"]

SCENARIO = """\
name: serve-repo-digests
hosts:
  docker:
    nic: 10Gbps
    daemon: {api_service_time: 0s}
    storage: {write_rate: inf}
    preloaded: ['nginx:1.25']
"""


def index_digest(ref: str) -> str:
    return str(CATALOG[ref]["index_digest"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-repo-digests"), speed=200.0, scenario=SCENARIO)
    yield proc
    proc.stop()


def repo_digests(server: ServeProcess, ref: str) -> list[str]:
    shown = docker(server, "image", "inspect", "-f", "{{json .RepoDigests}}", ref)
    assert shown.returncode == 0, shown.stderr
    return list(json.loads(shown.stdout))


@needs_cli
def test_a_preloaded_image_has_the_digest_reference_of_its_earlier_pull(server: ServeProcess) -> None:
    assert repo_digests(server, "nginx:1.25") == [f"nginx@{index_digest('nginx:1.25')}"]
    by_digest = docker(server, "image", "inspect", "-f", "{{json .RepoTags}}", f"nginx@{index_digest('nginx:1.25')}")
    assert json.loads(by_digest.stdout) == ["nginx:1.25"]


@needs_cli
def test_run_of_a_missing_image_stores_its_digest_reference(server: ServeProcess) -> None:
    ran = docker(server, "run", "--rm", "busybox", "true")
    assert ran.returncode == 0, ran.stderr
    assert repo_digests(server, "busybox") == [f"busybox@{index_digest('busybox:latest')}"]


@needs_cli
def test_a_legacy_builds_base_pulled_by_tag_stores_its_digest_reference(server: ServeProcess, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM memcached:latest\nRUN true\n")
    built = docker(server, "build", "-t", "on-memcached:1", str(tmp_path), env={"DOCKER_BUILDKIT": "0"})
    assert built.returncode == 0, built.stdout + built.stderr
    assert repo_digests(server, "memcached") == [f"memcached@{index_digest('memcached:latest')}"]
    assert repo_digests(server, "on-memcached:1") == []  # a build has none until pushed


@needs_cli
def test_an_up_to_date_pull_stores_the_digest_reference_again(server: ServeProcess) -> None:
    """pullTag: the tag already names the image pulled, ``addDigestReference`` all the same."""
    assert docker(server, "pull", "alpine:3.20").returncode == 0
    digest = f"alpine@{index_digest('alpine:3.20')}"
    assert docker(server, "rmi", digest).returncode == 0
    assert repo_digests(server, "alpine:3.20") == []
    again = docker(server, "pull", "alpine:3.20")
    assert "Image is up to date for alpine:3.20" in again.stdout
    assert repo_digests(server, "alpine:3.20") == [digest]
