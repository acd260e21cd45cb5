"""The daemon's Engine verbs (dsim/components/daemon_api.py), driven directly, with figures worked out by hand.

Disk: a pulled layer costs its compressed blob plus its unpacked size. ``base:1`` has one layer of 10 MB
that unpacks to 25 MB; ``app:1`` adds a 20 MB layer (40 MB unpacked) on top of it, ``tool:1`` a 5 MB one
(15 MB unpacked). Pulling ``app:1`` writes 10 + 25 + 20 + 40 = 95 MB; with ``tool:1`` as well, the shared
base counts once: 95 + 5 + 15 = 115 MB.

``docker rmi`` (moby's ImageDelete): the tag goes; when no other tag names the image and no container uses
it, the image is deleted with the layers no other image holds, listed top layer first after the image ID.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from dsim.components.daemon import Daemon, ImageInUse
from dsim.components.errors import ApiError
from dsim.components.layer_events import LayerEvent, PullBegan
from dsim.domain.containers import ContainerSpec
from dsim.domain.refs import HUB
from dsim.progress_words import LayerStage
from dsim.scenarios.loader import load_scenario_text
from dsim.scenarios.model import CreateStep
from dsim.scenarios.to_domain import container_spec
from dsim.world import World

MB = 1e6

SCENARIO = """
name: rmi
registries:
  reg: {bandwidth: 1GB/s, latency: 1ms}
images:
  base:1: {registry: reg, layers: [{size: 10MB, uncompressed: 25MB}]}
  app:1: {registry: reg, from: "base:1", layers: [{size: 20MB, uncompressed: 40MB}]}
  tool:1: {registry: reg, from: "base:1", layers: [{size: 5MB, uncompressed: 15MB}]}
hosts:
  h: {disk: 1GB, nic: inf}
"""


def world() -> tuple[World, Daemon]:
    resolved = load_scenario_text(SCENARIO, serving=True)  # no workloads: the test is the client
    built = World(resolved)
    return built, built.daemons["h"]


def run(built: World, steps: Generator[Any, Any, Any]) -> Any:
    process = built.env.process(steps)
    built.env.run(process)
    return process.value


def spec(image: str, name: str) -> ContainerSpec:
    return container_spec(CreateStep.model_validate({"image": image, "name": name}))


def pulled(daemon: Daemon, *refs: str) -> Generator[Any, Any, None]:
    for ref in refs:
        yield from daemon.pull(ref, job=1)


def test_serving_loads_without_workloads_and_with_docker_hub() -> None:
    resolved = load_scenario_text(SCENARIO, serving=True)
    assert dict(resolved.workloads) == {} and resolved.registries[HUB].auth == "token"


def test_rmi_of_a_pulled_image_gives_its_disk_back() -> None:
    built, daemon = world()
    run(built, pulled(daemon, "app:1"))
    assert daemon.store.disk_used == pytest.approx(95 * MB)
    image = daemon.store.image("app:1")
    assert image is not None
    deletion = run(built, daemon.rmi("app:1", job=2))
    assert daemon.store.disk_used == pytest.approx(0.0)
    assert daemon.store.image("app:1") is None
    top, bottom = image.layers[1].chain_id, image.layers[0].chain_id
    assert deletion.response() == [{"Untagged": "app:1"}, {"Deleted": image.manifest_digest},
                                   {"Deleted": top}, {"Deleted": bottom}]
    assert not daemon.store.has_layer(top) and not daemon.store.has_blob(image.layers[0].digest)


def test_rmi_keeps_layers_another_image_shares() -> None:
    built, daemon = world()
    run(built, pulled(daemon, "app:1", "tool:1"))
    assert daemon.store.disk_used == pytest.approx(115 * MB)
    app = daemon.store.image("app:1")
    assert app is not None
    deletion = run(built, daemon.rmi("app:1", job=2))
    assert daemon.store.disk_used == pytest.approx(115 * MB - 60 * MB)  # app's own layer: 20 + 40 MB
    assert deletion.layers == (app.layers[1].chain_id,)
    assert daemon.store.has_layer(app.layers[0].chain_id)


def test_rmi_of_one_of_two_tags_only_untags() -> None:
    built, daemon = world()
    run(built, pulled(daemon, "app:1"))
    run(built, daemon.tag("app:1", "mine:2", job=2))
    deletion = run(built, daemon.rmi("app:1", job=3))
    assert deletion.response() == [{"Untagged": "app:1"}]
    assert daemon.store.disk_used == pytest.approx(95 * MB)
    assert daemon.store.image("mine:2") is not None


def test_rmi_of_an_image_a_container_uses_is_refused_unless_forced() -> None:
    built, daemon = world()
    run(built, pulled(daemon, "app:1"))
    container = run(built, daemon.create(spec("app:1", "web"), job=2))
    with pytest.raises(ImageInUse) as refused:
        run(built, daemon.rmi("app:1", job=3))
    assert refused.value.status == 409 and "(must force)" in str(refused.value)
    assert refused.value.container is container
    deletion = run(built, daemon.rmi("app:1", force=True, job=4))
    assert deletion.response() == [{"Untagged": "app:1"}]  # the image stays for its container (dangling)
    assert daemon.store.image("app:1") is None
    assert daemon.store.disk_used == pytest.approx(95 * MB)
    run(built, pulled(daemon, "tool:1"))
    run(built, daemon.rmi("tool:1", job=5))  # the shared base stays: the dangling image still holds it
    assert daemon.store.disk_used == pytest.approx(95 * MB)


def test_a_tag_and_its_repositorys_digest_reference_are_one_reference_a_container_holds() -> None:
    """moby daemon/images/image_delete.go isSingleReference: ``app:1`` with ``app@sha256:...`` is a single
    reference, so a container's use refuses the tag's removal; forced, the digest reference goes with the
    repository's last tag. A second digest reference of another repository makes it two: the tag goes alone."""
    built, daemon = world()
    run(built, pulled(daemon, "app:1"))
    image = daemon.store.image("app:1")
    assert image is not None
    daemon.add_digest_reference("app:1", image.manifest_digest)
    for name in (f"app@{image.manifest_digest}", f"docker.io/library/app:9@{image.manifest_digest}"):
        assert daemon.find_image(name) is not None, name  # the digest wins over a tag beside it
    assert daemon.find_image(f"tool@{image.manifest_digest}") is None
    run(built, daemon.create(spec("app:1", "web"), job=2))
    with pytest.raises(ImageInUse):
        run(built, daemon.rmi("app:1", job=3))
    deletion = run(built, daemon.rmi("app:1", force=True, job=4))
    assert deletion.response() == [{"Untagged": "app:1"}, {"Untagged": f"app@{image.manifest_digest}"}]
    run(built, daemon.tag(image.manifest_digest, "app:1", job=5))
    run(built, daemon.tag(image.manifest_digest, "other:1", job=6))
    daemon.add_digest_reference("other:1", image.manifest_digest)
    run(built, daemon.rmi("other:1", job=7))  # other@... is left alone: app:1 is another repository's tag
    assert daemon.find_image(f"other@{image.manifest_digest}") is None
    assert daemon.find_image("app:1") is not None


def test_rmi_by_id_names_a_second_repository_before_a_stopped_container() -> None:
    """By ID, unforced: moby's checkImageDeleteConflict looks at references (more than a single one) before
    stopped containers; a tag with its repository's digest reference is a single one, and both go."""
    built, daemon = world()
    run(built, pulled(daemon, "app:1"))
    image = daemon.store.image("app:1")
    assert image is not None
    ident = image.manifest_digest
    daemon.add_digest_reference("app:1", ident)
    run(built, daemon.create(spec("app:1", "web"), job=2))
    with pytest.raises(ApiError) as stopped:
        run(built, daemon.rmi(ident[7:19], job=3))
    assert "image is being used by stopped container" in str(stopped.value)
    run(built, daemon.tag("app:1", "mine:2", job=4))
    with pytest.raises(ApiError) as two:
        run(built, daemon.rmi(ident[7:19], job=5))
    assert "image is referenced in multiple repositories" in str(two.value)


def test_rmi_of_an_unknown_image_is_404() -> None:
    built, daemon = world()
    with pytest.raises(ApiError) as missing:
        run(built, daemon.rmi("nope:1", job=1))
    assert missing.value.status == 404 and str(missing.value) == "No such image: nope:1"


def test_each_verb_goes_through_the_api_front() -> None:
    built, daemon = world()
    run(built, pulled(daemon, "app:1"))
    container = run(built, daemon.create(spec("app:1", "c"), job=2))
    assert run(built, daemon.start(container, job=3)) is True
    assert run(built, daemon.stop(container, 1.0, job=4)) is True
    run(built, daemon.rm(container, job=5))
    run(built, daemon.images(job=6))
    calls = [span.subject for span in built.recorder.spans if span.kind.value == "api"]
    assert calls == ["pull", "create", "start", "stop", "rm", "images"]


def test_pull_publishes_layer_stages_to_observers() -> None:
    built, daemon = world()
    seen: list[LayerEvent | PullBegan] = []
    stop = daemon.puller.events.subscribe(seen.append)
    run(built, pulled(daemon, "base:1"))
    stop()
    began, *stages = seen
    assert isinstance(began, PullBegan) and began.job == 1 and not began.up_to_date and began.present == frozenset()
    assert [event.stage for event in stages if isinstance(event, LayerEvent)] == [
        LayerStage.WAITING, LayerStage.DOWNLOADING, LayerStage.DOWNLOADED, LayerStage.EXTRACTING, LayerStage.COMPLETE]
    run(built, pulled(daemon, "app:1"))  # no observer: nothing more arrives
    assert len(seen) == 6


def test_catalog_fallback_does_not_change_the_spec() -> None:
    built, daemon = world()
    images_before = dict(built.resolved.images)
    from dsim.serve.images import catalog_image

    daemon.puller.catalog.set_fallback(catalog_image)
    found = daemon.puller.catalog.image("alpine:latest")
    assert found is not None and found.registry == HUB
    assert dict(built.resolved.images) == images_before
    assert daemon.puller.catalog.image("alpine:latest") is found  # now Docker Hub holds it
