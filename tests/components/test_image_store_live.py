"""The image store's live content (what tagged and dangling images list) is counted as images come and go,
and what pinned images list is read at a sweep. A removal sweeps what neither holds; these tests check the
counts against a recount from scratch and the store's behaviour against one that recounts whenever it asks, as
the store used to."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dsim.components.image_store import ImageStore
from dsim.domain.hosts import ImageGcSpec
from dsim.domain.images import ImageInfo, LayerInfo

MB = 1e6


def layer(digest: str, chain: str, size: float = 10 * MB) -> LayerInfo:
    return LayerInfo(0, f"sha256:{digest}", chain, size, 2 * size)


def image(ref: str, *layers: LayerInfo, manifest: str = "") -> ImageInfo:
    return ImageInfo(ref, "reg", ref.split(":")[0], "1", layers, "gzip", manifest or f"sha256:m-{ref}")


class Recounting(ImageStore):
    """The store as it was before it counted: liveness worked out from every image each time it is read,
    pinned images listed with the tagged and dangling ones (the counted store reads pins apart)."""

    def _recount(self) -> tuple[dict[str, int], dict[str, int]]:
        digests: dict[str, int] = {}
        chains: dict[str, int] = {}
        for image in [*self._images.values(), *(image for held in self._pinned.values() for image in held)]:
            for layer in image.layers:
                digests[layer.digest] = digests.get(layer.digest, 0) + 1
                chains[layer.chain_id] = chains.get(layer.chain_id, 0) + 1
        return digests, chains

    def _pinned_content(self) -> tuple[set[str], set[str]]:
        return set(), set()

    @property
    def _digest_refs(self) -> dict[str, int]:
        return self._recount()[0]

    @_digest_refs.setter
    def _digest_refs(self, value: dict[str, int]) -> None:
        pass

    @property
    def _chain_refs(self) -> dict[str, int]:
        return self._recount()[1]

    @_chain_refs.setter
    def _chain_refs(self, value: dict[str, int]) -> None:
        pass

    def _count(self, image: ImageInfo) -> None:
        pass

    def _uncount(self, image: ImageInfo) -> None:
        pass


def counts(store: ImageStore) -> tuple[dict[str, int], dict[str, int]]:
    return store._digest_refs, store._chain_refs


# ------------------------------------------------------------ by hand

def test_shared_and_held_layers_stay_until_their_last_holder_goes() -> None:
    """base:1 = [b], app:1 = [b, a]; the build cache holds a's chain. Removing app:1 keeps b (base:1 lists
    it) and a's unpacked layer (held) but frees a's blob; releasing the hold frees the layer; removing base:1
    frees b. Each layer is 10 MB compressed + 20 MB unpacked."""
    b, a = layer("b", "cb"), layer("a", "cab")
    store = ImageStore(simpy.Environment(), 1000 * MB)
    base, app = image("base:1", b), image("app:1", b, a)
    store.preload(base)
    store.preload(app)
    store.hold_chain("cab")
    assert counts(store) == ({"sha256:b": 2, "sha256:a": 1}, {"cb": 2, "cab": 1})
    assert store.disk_used == 60 * MB

    assert store.delete(store.untag("app:1")) == []  # a's chain is held, b's listed by base:1
    assert counts(store) == ({"sha256:b": 1}, {"cb": 1})
    assert (store.has_blob("sha256:a"), store.has_layer("cab"), store.disk_used) == (False, True, 50 * MB)

    store.release_chain("cab")
    assert (store.has_layer("cab"), store.disk_used) == (False, 30 * MB)

    store.release_chain("cb")  # never held: b stays, base:1 lists it
    assert store.has_layer("cb")
    assert store.delete(store.untag("base:1")) == ["cb"]
    assert counts(store) == ({}, {})
    assert store.disk_used == 0.0


def test_unpin_drops_the_latest_pin_under_the_ref_whatever_image_it_is_given() -> None:
    """A build pins its steps under one ref and unpins them oldest first; the store pops the newest. What a sweep
    keeps follows what the store pops, not the argument: layer 1 (``first``'s), not layer 2."""
    one, two = layer("1", "c1"), layer("2", "c2")
    store = ImageStore(simpy.Environment(), 1000 * MB)
    for each in (one, two):
        store.add_blob(each)
        store.add_chain(each)
    first, second = image("pin", one), image("pin", one, two)
    store.pin(first)
    store.pin(second)
    store.unpin(first)  # pops ``second``
    assert counts(store) == ({}, {}) == store._recount()  # pins are read at a sweep, never counted
    assert store.delete(image("gone", one, two)) == ["c2"]
    assert (store.has_blob("sha256:1"), store.has_layer("c1"), store.has_blob("sha256:2")) == (True, True, False)
    store.unpin(first)
    assert store.delete(image("gone", one)) == ["c1"]


# ------------------------------------------------------------ random sequences against a recount

LAYERS = [layer("x", "c0"), layer("y", "c1"), layer("x", "c2"), layer("z", "c3"), layer("y", "c4", 30 * MB)]
REFS = ["a:1", "b:1", "c:1"]
images_ = st.builds(lambda ref, picks, manifest: image(ref, *(LAYERS[i] for i in picks), manifest=manifest),
                    st.sampled_from(REFS), st.lists(st.integers(0, len(LAYERS) - 1), max_size=4),
                    st.sampled_from(["", "sha256:m1", "sha256:m2"]))
chains_ = st.sampled_from(sorted({item.chain_id for item in LAYERS}))
ops = st.one_of(
    st.tuples(st.just("preload"), images_),
    st.tuples(st.just("tag"), images_),
    st.tuples(st.just("rmi"), st.sampled_from(REFS)),
    st.tuples(st.just("untag"), st.sampled_from(REFS)),
    st.tuples(st.just("keep_untagged"), images_),
    st.tuples(st.just("pin"), images_),
    st.tuples(st.just("unpin"), images_),
    st.tuples(st.just("hold_chain"), chains_),
    st.tuples(st.just("release_chain"), chains_),
    st.tuples(st.just("make_room"), st.integers(0, 200)),
)


def apply(store: ImageStore, op: tuple[str, Any]) -> object:
    """One public operation; what it returns (or the error it raises) is compared across stores."""
    name, arg = op
    try:
        if name == "rmi":
            return store.delete(store.untag(arg))
        if name == "make_room":
            return store.make_room(arg * MB)
        return getattr(store, name)(arg)
    except KeyError as err:
        return ("KeyError", str(err))


def state(store: ImageStore) -> tuple[object, ...]:
    return (dict(store.images()), store._blobs, store._chains, store._sources, store._held, store.disk_used)


@settings(max_examples=300, deadline=None)
@given(st.lists(ops, max_size=40))
def test_counts_match_a_recount_and_the_store_behaves_as_one_that_recounts(steps: list[tuple[str, Any]]) -> None:
    gc = ImageGcSpec(high=0.3, low=0.1)
    counted = ImageStore(simpy.Environment(), 1000 * MB, gc=gc)
    recounting = Recounting(simpy.Environment(), 1000 * MB, gc=gc)
    for step in steps:
        assert apply(counted, step) == apply(recounting, step), step
        assert counts(counted) == counted._recount()
        assert state(counted) == state(recounting)
        # a digest's sources are kept while its blob or a layer made of it is here, never after
        held = set(counted._blobs) | {item.digest for item in LAYERS if counted.has_layer(item.chain_id)}
        assert set(counted._sources) <= held


def test_a_built_layer_is_registered_once_while_on_disk_and_again_once_made_again() -> None:
    # BuildKit's export registers a built layer in dockerd's layer store once (builder._ensure_layers); the
    # build cache pruning it takes it off the disk, and a build that makes it again must register it again.
    store = ImageStore(simpy.Environment(), 1e12)
    built = layer("built", "chain-built")
    store.add_chain(built)
    store.hold_chain(built.chain_id)
    assert store.register(built.chain_id) is True
    assert store.register(built.chain_id) is False
    store.release_chain(built.chain_id)  # pruned: no image lists it
    assert not store.has_layer(built.chain_id)
    store.add_chain(built)
    assert store.register(built.chain_id) is True


def test_a_built_layers_sources_go_when_the_build_cache_prunes_it() -> None:
    """A built layer is an unpacked layer with no blob; pushed, the daemon remembers where its blob now is (for
    cross-repository mounts). Pruned from the build cache (no image lists it), it is gone, and so is that:
    the sources were kept before, one entry per built layer ever pushed, for as long as the daemon ran."""
    store = ImageStore(simpy.Environment(), 1e12)
    built = layer("built", "chain-built")
    store.add_chain(built)
    store.hold_chain(built.chain_id)
    store.remember_source(built.digest, "hub", "alice/app")
    store.release_chain(built.chain_id)  # still listed by nothing else: it leaves the disk
    assert not store.has_layer(built.chain_id) and store.sources_of(built.digest) == frozenset()
    assert store._sources == {}


def test_a_swept_blob_keeps_its_sources_while_its_unpacked_layer_stays() -> None:
    """app:1 removed while the build cache holds its layer: the blob goes, the layer stays, and a push of an
    image of that layer can still mount it from where it was pulled; once the layer goes, the sources go."""
    a = layer("a", "ca")
    store = ImageStore(simpy.Environment(), 1000 * MB)
    store.preload(image("app:1", a))
    store.hold_chain("ca")
    store.delete(store.untag("app:1"))
    assert not store.has_blob("sha256:a") and store.sources_of("sha256:a") == frozenset({("reg", "app")})
    store.release_chain("ca")
    assert store.sources_of("sha256:a") == frozenset()


def _retagged_store(in_use: tuple[str, ...] = ("app:1",)) -> tuple[ImageStore, ImageInfo, ImageInfo]:
    """app:1 preloaded at time 0 (a 100 MB base unpacking to 200 MB, and its own 10 MB layer unpacking to 20 MB:
    330 MB on a 500 MB disk), then at 10 s a newer app:1 (the base and another 30 MB layer) pulled over it."""
    env = simpy.Environment()
    store = ImageStore(env, 500 * MB, gc=ImageGcSpec(high=0.85, low=0.8), in_use=lambda: in_use)
    base, own1, own2 = layer("base", "c-base", 100 * MB), layer("own1", "c-own1"), layer("own2", "c-own2")
    v1, v2 = image("app:1", base, own1, manifest="sha256:" + "1" * 64), image("app:1", base, own2,
                                                                         manifest="sha256:" + "2" * 64)
    store.preload(v1)
    env.run(until=10.0)
    store.add_blob(own2)
    store.add_chain(own2)
    store.tag(v2)
    return store, v1, v2


def test_a_newer_image_under_a_tag_leaves_the_old_one_dangling_with_its_content_and_last_use() -> None:
    store, v1, v2 = _retagged_store()
    assert dict(store.images()) == {"app:1": v2, "<none>@111111111111": replace(v1, ref="<none>@111111111111")}
    assert store.tagged_at("<none>@111111111111") == 0.0  # last used when it was app:1, not when it dangled
    assert store.disk_used == 360 * MB  # nothing left the disk
    # Above the high mark (360 + 100 > 425 MB), image GC takes the least recently used image no container uses:
    # the dangling one, whose own layer (30 MB) goes; 330 MB is not yet the low mark for 100 MB more (300 MB),
    # but app:1 is in use, so nothing else may go.
    assert store.make_room(100 * MB) == 30 * MB
    assert dict(store.images()) == {"app:1": v2}
    assert store.disk_used == 330 * MB


def test_an_image_another_tag_names_or_named_again_is_not_dangling() -> None:
    store, v1, v2 = _retagged_store()
    store.tag(replace(v1, ref="app:old"))  # named again: no longer <none>
    assert dict(store.images()) == {"app:1": v2, "app:old": replace(v1, ref="app:old")}
    env = simpy.Environment()
    other = ImageStore(env, 500 * MB)
    other.preload(v1)
    other.tag(replace(v1, ref="app:keep"))
    other.tag(v2)  # v1 is still app:keep: nothing dangles
    assert list(other.images()) == ["app:1", "app:keep"]


def test_an_image_reidentified_under_its_tag_leaves_nothing_dangling() -> None:
    # dsim serve names a build by its content after the daemon tagged it under another ID: the same image
    store, v1, v2 = _retagged_store()
    renamed = replace(v2, manifest_digest="sha256:" + "3" * 64)
    store.reidentify(renamed)
    assert dict(store.images()) == {"<none>@111111111111": replace(v1, ref="<none>@111111111111"), "app:1": renamed}
    assert store.disk_used == 360 * MB
