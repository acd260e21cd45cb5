"""The image calls of the Python docker SDK against ``dsim serve``: pull, build (config, content ID), history,
login, df, prunes, save and load; each response checked against the Engine API 1.50 schema where the SDK
hands it back raw."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.serve.image_shapes import definition_problems, response_problems
from tests.serve.test_docker_cli import ServeProcess
from tests.serve.test_images_cli import SCENARIO

if TYPE_CHECKING:
    import docker
else:
    docker = pytest.importorskip("docker", reason="the Python docker SDK is a test dependency")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[docker.DockerClient]:
    proc = ServeProcess(tmp_path_factory.mktemp("serve-images-sdk"), speed=200.0, scenario=SCENARIO)
    sdk = docker.DockerClient(base_url=proc.address, version="auto", timeout=60)
    yield sdk
    sdk.close()
    proc.stop()


def test_sdk_pull_build_and_config(client: docker.DockerClient) -> None:
    base = client.images.pull("busybox", tag="latest")
    dockerfile = b'FROM busybox\nENV MODE=sdk\nCMD ["echo", "from-sdk"]\n'
    one, _ = client.images.build(fileobj=io.BytesIO(dockerfile), tag="sdk-built:1", rm=True)
    two, _ = client.images.build(fileobj=io.BytesIO(dockerfile), tag="sdk-built:2", rm=True)
    assert one.id == two.id != base.id  # the same content is one image, whatever its tag
    config = client.api.inspect_image("sdk-built:2")["Config"]
    assert config["Cmd"] == ["echo", "from-sdk"] and config["Env"][-1] == "MODE=sdk"


def test_sdk_history_login_and_df(client: docker.DockerClient) -> None:
    client.images.pull("hello-world", tag="latest")
    rows = client.api.history("hello-world")
    assert response_problems("ImageHistory", rows) == [] and len(rows) == 2
    login = client.login(username="alice", password="secret")
    assert response_problems("SystemAuth", login) == [] and login["Status"] == "Login Succeeded"
    usage = client.df()
    assert response_problems("SystemDataUsage", usage) == []
    assert any("hello-world:latest" in (image["RepoTags"] or []) for image in usage["Images"])


def test_sdk_save_load_and_prunes(client: docker.DockerClient) -> None:
    image = client.images.pull("alpine", tag="3.20")
    data = b"".join(image.save(named=True))
    client.images.remove("alpine:3.20")
    loaded = client.images.load(data)
    assert [i.id for i in loaded] == [image.id]
    assert response_problems("ContainerPrune", client.containers.prune()) == []
    assert response_problems("ImagePrune", client.images.prune()) == []
    assert response_problems("BuildPrune", client.api.prune_builds()) == []


def test_sdk_commit_with_changes_and_a_config(client: docker.DockerClient) -> None:
    """The SDK sends ``conf`` as the body and each change as a ``changes`` parameter: the request's Env goes
    before the container's, a change's CMD over the container's."""
    client.images.pull("busybox", tag="latest")
    container = client.containers.create("busybox", ["sleep", "60"], environment={"A": "1"})
    image = container.commit("sdk-commit", "1", message="from the sdk", author="Ada", changes=['CMD ["echo", "hi"]'],
                             conf={"Env": ["B=2"]})
    inspected = client.api.inspect_image(image.id)
    assert definition_problems("ImageInspect", inspected) == []
    assert (inspected["Author"], inspected["Comment"]) == ("Ada", "from the sdk")
    config = inspected["Config"]
    assert config["Cmd"] == ["echo", "hi"] and config["Env"][:2] == ["B=2", "A=1"]
    assert client.api.history("sdk-commit:1")[0]["Comment"] == "from the sdk"
    container.remove()


def test_sdk_commit_with_a_tag_and_no_repository_is_dangling(client: docker.DockerClient) -> None:
    """moby's RepoTagReference: without a repository the tag is ignored and the image has no name."""
    client.images.pull("busybox", tag="latest")
    container = client.containers.create("busybox", ["true"])
    made = client.api.commit(container.id, tag="lonely")
    assert client.api.inspect_image(made["Id"])["RepoTags"] == []
    container.remove()
