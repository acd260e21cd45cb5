"""Hypothesis properties of distribution: whatever the mix of hosts, jobs, cache size, merging and peers,
the bytes the summary attributes to each registry are the bytes that left its node in the network model,
every job completes, and each cache request is a hit or a miss."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsim.api import load_scenario_text
from dsim.world import World


def mirror_scenario(hosts: int, jobs: int, layers: list[int], storage: int | None, merge: bool) -> str:
    mirror: dict[str, object] = {"bandwidth": "200MB/s", "latency": "1ms", "upstream": "hub",
                                 "merge_misses": merge}
    if storage is not None:
        mirror["storage"] = f"{storage}MB"
    return yaml.safe_dump({
        "name": "prop-mirror",
        "registries": {"hub": {"bandwidth": "50MB/s", "latency": "20ms"}, "mirror": mirror},
        "images": {"a:1": {"layers": [f"{n}MB" for n in layers]},
                   "b:1": {"from": "a:1", "layers": [f"{n}MB" for n in reversed(layers)]}},
        "hosts": {"h": {"count": hosts, "nic": "100MB/s", "daemon": {"registry_mirrors": ["mirror"]}}},
        "workloads": {"w": {"arrival": {"rate": "5/s", "count": jobs}, "placement": "random",
                            "steps": [{"pull": "a:1"}, {"pull": "b:1"}]}},
    })


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hosts=st.integers(1, 5), jobs=st.integers(1, 10), layers=st.lists(st.integers(1, 40), min_size=1, max_size=4),
       storage=st.one_of(st.none(), st.integers(1, 150)), merge=st.booleans())
def test_mirror_bytes_are_the_networks(hosts: int, jobs: int, layers: list[int], storage: int | None,
                                       merge: bool) -> None:
    world = World(load_scenario_text(mirror_scenario(hosts, jobs, layers, storage, merge)))
    result = world.run()
    assert all(job.status == "completed" for job in result.jobs)
    summary = result.summary()["registries"]
    for name in ("hub", "mirror"):
        assert abs(world.network.node_egress_bytes(name) - summary[name]["bytes_sent"]) < 1.0
    assert summary["mirror"]["bytes_received"] == summary["hub"]["bytes_sent"]
    downloads = result.spans_of("download")
    assert summary["mirror"]["hits"] + summary["mirror"]["misses"] == len(downloads)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hosts=st.integers(1, 12), sources=st.integers(1, 4), uploads=st.integers(1, 4),
       layers=st.lists(st.integers(1, 50), min_size=1, max_size=3))
def test_p2p_bytes_come_from_the_origin_or_from_peers(hosts: int, sources: int, uploads: int,
                                                      layers: list[int]) -> None:
    text = yaml.safe_dump({
        "name": "prop-p2p",
        "registries": {"origin": {"bandwidth": "100MB/s", "latency": "1ms", "p2p": True, "p2p_sources": sources,
                                  "p2p_uploads": uploads}},
        "images": {"a:1": {"registry": "origin", "layers": [f"{n}MB" for n in layers]}},
        "hosts": {"h": {"count": hosts, "nic": "50MB/s"}},
        "workloads": {"w": {"arrival": {"burst": hosts}, "steps": [{"pull": "a:1"}]}},
    })
    world = World(load_scenario_text(text))
    result = world.run()
    assert all(job.status == "completed" for job in result.jobs)
    summary = result.summary()["registries"]["origin"]
    image = sum(layers) * 1e6
    assert abs(summary["bytes_sent"] + summary["bytes_from_peers"] - hosts * image) < 1.0
    assert abs(world.network.node_egress_bytes("origin") - summary["bytes_sent"]) < 1.0
    peers = sum(world.network.node_egress_bytes(host) for host in world.daemons)
    assert abs(peers - summary["bytes_from_peers"]) < 1.0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store=st.sampled_from(["containerd", "graphdriver"]), hosts=st.integers(1, 3), jobs=st.integers(1, 8),
       layers=st.lists(st.integers(1, 30), min_size=1, max_size=3), rate=st.sampled_from(["1/s", "20/s"]))
def test_each_store_ends_with_its_own_disk_and_one_transfer_per_blob_or_chain(
        store: str, hosts: int, jobs: int, layers: list[int], rate: str) -> None:
    """Whatever pulls overlap: containerd's store ends holding every pulled blob and unpacked layer once, each
    blob downloaded once a host; moby's graphdriver store the unpacked layers only (every blob's temporary file
    deleted), each layer chain downloaded once a host (docs/distribution.md)."""
    text = yaml.safe_dump({
        "name": "prop-store",
        "registries": {"reg": {"bandwidth": "100MB/s", "latency": "1ms"}},
        "images": {"a:1": {"registry": "reg", "layers": [f"{n}MB" for n in layers]},
                   "b:1": {"registry": "reg", "from": "a:1", "layers": ["7MB"]}},
        "hosts": {"h": {"count": hosts, "nic": "1GB/s", "disk": "10GB", "daemon": {"image_store": store}}},
        "workloads": {"w": {"arrival": {"rate": rate, "count": jobs}, "placement": "random",
                            "steps": [{"pull": "b:1"}, {"pull": "a:1"}]}},
    })
    world = World(load_scenario_text(text))
    result = world.run()
    assert all(job.status == "completed" for job in result.jobs)
    for name, daemon in world.daemons.items():
        image = daemon.store.image("b:1")
        if image is None:
            continue  # no job landed here
        blobs = sum(layer.size for layer in image.layers)
        unpacked = sum(layer.uncompressed for layer in image.layers)
        kept = store == "containerd"
        assert daemon.store.disk_used == pytest.approx(unpacked + (blobs if kept else 0.0))
        assert [daemon.store.has_blob(layer.digest) for layer in image.layers] == [kept] * len(image.layers)
        downloads = [span.subject for span in result.spans_of("download") if span.host == name]
        assert sorted(downloads) == sorted(layer.digest for layer in image.layers)  # one transfer each
