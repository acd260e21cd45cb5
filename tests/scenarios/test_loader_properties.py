"""Hypothesis properties of the spine (docs/validation.md)."""

from __future__ import annotations

import random
from collections import defaultdict

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsim.api import load_scenario_text
from dsim.errors import ScenarioError
from dsim.world import World


def pull_scenario(hosts: int, layers: list[int], jobs: int, slots: int, preload_base: bool) -> str:
    base = layers[: len(layers) // 2] or layers[:1]
    top = layers[len(base):] or [1]
    return yaml.safe_dump({
        "name": "prop",
        "registries": {"reg": {"bandwidth": "100MB/s", "latency": "5ms"}},
        "images": {"base:1": {"registry": "reg", "layers": [f"{n}MB" for n in base]},
                   "app:1": {"registry": "reg", "from": "base:1", "layers": [f"{n}MB" for n in top]}},
        "hosts": {"h": {"count": hosts, "nic": "50MB/s", "daemon": {"max_concurrent_downloads": slots},
                        "preloaded": ["base:1"] if preload_base else []}},
        "workloads": {"w": {"arrival": {"rate": "20/s", "count": jobs}, "placement": "random",
                            "steps": [{"pull": "app:1"}, {"run": {"image": "app:1", "duration": "1s"}}]}},
    })


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hosts=st.integers(1, 4), layers=st.lists(st.integers(1, 60), min_size=1, max_size=6),
       jobs=st.integers(1, 12), slots=st.integers(1, 4), preload_base=st.booleans())
def test_pull_invariants(hosts: int, layers: list[int], jobs: int, slots: int, preload_base: bool) -> None:
    world = World(load_scenario_text(pull_scenario(hosts, layers, jobs, slots, preload_base)))
    result = world.run()
    downloads = result.spans_of("download")
    # bytes that left the registry through the network = bytes the download spans account for
    assert abs(world.network.node_egress_bytes("reg") - sum(s.attrs["bytes"] for s in downloads)) < 1e-3
    # one download per blob per daemon: never twice, so never twice at once
    per_host = defaultdict(list)
    for span in downloads:
        per_host[(span.host, span.subject)].append(span)
    assert all(len(spans) == 1 for spans in per_host.values())
    # every job completes; no container starts before its image's last layer is unpacked on that host
    assert all(job.status == "completed" for job in result.jobs)
    unpacked: defaultdict[str, float] = defaultdict(float)
    for span in result.spans_of("unpack"):
        unpacked[span.host] = max(unpacked[span.host], span.end)
    for span in result.spans_of("start"):
        assert span.start >= unpacked[span.host] - 1e-9 or unpacked[span.host] == 0.0


GOOD = yaml.safe_load(pull_scenario(2, [10, 20, 30], 3, 3, False))
#: a scenario with the fields issue 17 is about: a network, a horizon, a build step's Dockerfile, runtime costs,
#: ports, a stop timeout, a ``from`` chain
GOOD_WIDE = {
    "name": "wide", "until": "1h",
    "registries": {"reg": {"bandwidth": "100MB/s", "latency": "5ms"}},
    "images": {"base:1": {"registry": "reg", "layers": ["5MB"]},
               "app:1": {"registry": "reg", "from": "base:1", "layers": ["1MB"]}},
    "hosts": {"h": {"count": 2, "storage": {"write_rate": "400MB/s", "decompress_rate": {"gzip": "200MiB/s"}},
                    "runtime": {"start": "450ms"}}},
    "network": {"links": [{"a": "reg", "b": "h", "bandwidth": "1Gbps", "latency": "1ms"}]},
    "workloads": {"w": {"arrival": {"burst": 2}, "steps": [
        {"build": {"dockerfile_text": "FROM base:1\nRUN true\n", "tag": "local/x:1"}},
        {"run": {"image": "app:1", "duration": "1s", "ports": ["8080:80"], "detach": True}},
        {"stop": {"timeout": "10s"}},
        {"sleep": "exponential(mean=2s)"},
    ]}},
}
#: values that crashed or hung a run before issue 17 (devices, escapes, zeros, overflows, infinities, ports)
HOSTILE = st.sampled_from(["0s", "0", "inf", "-1", "1e400s", "1e400GB", "0Gbps", "exponential(mean=1e400s)",
                           "exponential(mean=inf)", "uniform(0s, inf)", "99999:80", "0:80", "/dev/zero",
                           "/etc/shadow", "../x", "..", "a/b", ".x", "Dockerfile", 10**400, True, float("inf")])
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True),
                 st.text(max_size=12), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                                           st.integers(), max_size=2),
                 HOSTILE)


def mutate(data: object, rng: random.Random, junk: list[object]) -> object:
    """Replace, delete or keep each value at random, recursively."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            roll = rng.random()
            if roll < 0.1:
                continue
            out[key if rng.random() > 0.05 else key + "x"] = junk.pop() if roll < 0.2 and junk else mutate(
                value, rng, junk)
        return out
    if isinstance(data, list):
        return [mutate(item, rng, junk) for item in data if rng.random() > 0.1]
    return junk.pop() if junk and rng.random() < 0.2 else data


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), junk=st.lists(JUNK, max_size=8), wide=st.booleans())
def test_loader_raises_nothing_but_scenario_error(seed: int, junk: list[object], wide: bool) -> None:
    text = yaml.safe_dump(mutate(GOOD_WIDE if wide else GOOD, random.Random(seed), list(junk)))
    try:
        load_scenario_text(text, filename="m.yaml")
    except ScenarioError as err:
        assert "\n" not in str(err)
